"""batch_norm: inference-mode batch normalisation with per-channel parameters, all of shape (C,):

out[n, c, h, w] = (x[n, c, h, w] − mean[c]) / sqrt(var[c] + eps) · weight[c] + bias[c]

(`weight` = γ, `bias` = β, running `mean` and `var`; PyTorch F.batch_norm(training=False)). The graph pass
fold_batchnorm_into_conv folds it into the producing conv, so backends never run it.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops.spec import OpSpec, eps32_tolerance, expect_count, expect_number, expect_rank4

OP = "batch_norm"
PARAMS = ("weight", "bias", "mean", "var")


def _check(attrs):
    expect_number(OP, "eps", attrs["eps"])
    if attrs["eps"] < 0:
        raise AttributeSpecError(f"{OP}: eps={attrs['eps']!r} must be >= 0")


def _shape(attrs, in_shapes, param_shapes):
    expect_count(OP, in_shapes, 1)
    s = expect_rank4(OP, "input", in_shapes[0])
    for name in PARAMS:
        if name not in param_shapes:
            raise ShapeError(f"{OP}: parameter {name!r} is missing")
        if tuple(param_shapes[name]) != (s[1],):
            raise ShapeError(f"{OP}: parameter {name!r} must have shape ({s[1]},), got {tuple(param_shapes[name])}")
    return [s]


def _reference(attrs, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    gamma, beta, mean, var = (np.asarray(params[k], np.float64).reshape(1, -1, 1, 1) for k in PARAMS)
    return [(x - mean) / np.sqrt(var + attrs["eps"]) * gamma + beta]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=PARAMS,
    attrs={"eps": 1e-5},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=eps32_tolerance(atol=4e-6, rel_eps=8.0),
    doc=__doc__,
)
