"""affine: elementwise out = x·scale + shift, with scalar attributes `scale` and `shift`.

Input normalisation (x·255, x − 0.5) and de-normalisation around a network.
"""

from __future__ import annotations

import numpy as np

from pysr.ops.spec import OpSpec, expect_count, expect_number, expect_rank4

OP = "affine"
EPS32 = float(np.finfo(np.float32).eps)


def _check(attrs):
    expect_number(OP, "scale", attrs["scale"])
    expect_number(OP, "shift", attrs["shift"])


def _shape(attrs, in_shapes, param_shapes):
    expect_count(OP, in_shapes, 1)
    return [expect_rank4(OP, "input", in_shapes[0])]


def _reference(attrs, inputs, params):
    return [np.asarray(inputs[0], np.float64) * attrs["scale"] + attrs["shift"]]


def _tolerance(attrs, in_shapes, param_shapes):
    # x·scale and shift can cancel: a float32 kernel is off by a few ulps of the larger term, not of the result
    # (|x| ≲ 1 assumed for the absolute part).
    return 4.0 * EPS32 * (abs(attrs["scale"]) + abs(attrs["shift"])) + 1e-7, 4.0 * EPS32


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"scale": 1.0, "shift": 0.0},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=_tolerance,
    doc=__doc__,
)
