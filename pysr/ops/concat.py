"""concat: join ≥ 1 inputs along the channel axis (the only axis supported: `axis` must be 1).

out[n, off_k + c, h, w] = x_k[n, c, h, w] with off_k = C_0 + … + C_{k−1}; N, H and W of every input must agree.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops.spec import OpSpec, expect_rank4

OP = "concat"
DIMS = ("N", "C", "H", "W")


def _check(attrs):
    axis = attrs["axis"]
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or axis != 1:
        raise AttributeSpecError(f"{OP}: only axis=1 (channels) is supported, got axis={attrs['axis']!r}")


def _shape(attrs, in_shapes, param_shapes):
    if len(in_shapes) < 1:
        raise ShapeError(f"{OP}: expects at least 1 input, got 0")
    shapes = [expect_rank4(OP, f"input {k}", s) for k, s in enumerate(in_shapes)]
    first = shapes[0]
    for k, s in enumerate(shapes[1:], start=1):
        for d in (0, 2, 3):
            if s[d] != first[d]:
                raise ShapeError(
                    f"{OP}: input {k} has {DIMS[d]}={s[d]} but input 0 has {DIMS[d]}={first[d]} "
                    f"(shapes {s} and {first}); only channels may differ"
                )
    return [(first[0], sum(s[1] for s in shapes), first[2], first[3])]


SPEC = OpSpec(
    name=OP,
    inputs=("x*",),
    params=(),
    attrs={"axis": 1},
    check=_check,
    shape=_shape,
    reference=lambda attrs, inputs, params: [np.concatenate([np.asarray(x, np.float64) for x in inputs], axis=1)],
    tolerance=lambda attrs, i, p: (0.0, 0.0),
    doc=__doc__,
)
