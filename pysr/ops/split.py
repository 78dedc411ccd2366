"""split: cut one input along the channel axis into len(sizes) outputs.

out_k[n, c, h, w] = x[n, off_k + c, h, w] for 0 <= c < sizes[k], off_k = sizes[0] + … + sizes[k−1];
`sizes` are positive and sum to the input's channel count.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops.spec import REQUIRED, OpSpec, expect_count, expect_int, expect_rank4

OP = "split"


def _check(attrs):
    sizes = attrs["sizes"]
    if not isinstance(sizes, (list, tuple)) or not sizes:
        raise AttributeSpecError(f"{OP}: sizes must be a non-empty list of positive integers, got {sizes!r}")
    for s in sizes:
        expect_int(OP, "sizes", s, lo=1, hi=1 << 24)


def _shape(attrs, in_shapes, param_shapes):
    expect_count(OP, in_shapes, 1)
    n, c, h, w = expect_rank4(OP, "input", in_shapes[0])
    sizes = [int(s) for s in attrs["sizes"]]
    if sum(sizes) != c:
        raise ShapeError(f"{OP}: sizes {sizes} sum to {sum(sizes)}, the input has {c} channels")
    return [(n, s, h, w) for s in sizes]


def _reference(attrs, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    offsets = np.cumsum([0] + [int(s) for s in attrs["sizes"]])
    return [x[:, offsets[k] : offsets[k + 1]] for k in range(len(attrs["sizes"]))]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"sizes": REQUIRED},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=lambda attrs, i, p: (0.0, 0.0),
    doc=__doc__,
)
