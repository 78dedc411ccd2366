"""add: elementwise out = a + scale·b of two inputs of the same shape (a residual connection; EDSR's
res_scale is `scale`).
"""

from __future__ import annotations

import numpy as np

from pysr.errors import ShapeError
from pysr.ops.spec import OpSpec, expect_count, expect_number, expect_rank4

OP = "add"
EPS32 = float(np.finfo(np.float32).eps)


def same_shapes(op: str, in_shapes) -> tuple:
    expect_count(op, in_shapes, 2)
    a = expect_rank4(op, "input a", in_shapes[0])
    b = expect_rank4(op, "input b", in_shapes[1])
    if a != b:
        raise ShapeError(f"{op}: inputs must have the same shape, got a {a} and b {b} (no broadcasting)")
    return a


def _reference(attrs, inputs, params):
    a, b = (np.asarray(v, np.float64) for v in inputs)
    return [a + attrs["scale"] * b]


def _tolerance(attrs, in_shapes, param_shapes):
    # a and scale·b can cancel: the error is a few ulps of the larger term (|a|, |b| ≲ 1 assumed).
    return 4.0 * EPS32 * (1.0 + abs(attrs["scale"])), 4.0 * EPS32


SPEC = OpSpec(
    name=OP,
    inputs=("a", "b"),
    params=(),
    attrs={"scale": 1.0},
    check=lambda attrs: expect_number(OP, "scale", attrs["scale"]),
    shape=lambda attrs, in_shapes, param_shapes: [same_shapes(OP, in_shapes)],
    reference=_reference,
    tolerance=_tolerance,
    doc=__doc__,
)
