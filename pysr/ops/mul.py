"""mul: elementwise out = a·b of two inputs of the same shape (attention maps, gating)."""

from __future__ import annotations

import numpy as np

from pysr.ops.add import same_shapes
from pysr.ops.spec import OpSpec, eps32_tolerance, no_check

OP = "mul"

SPEC = OpSpec(
    name=OP,
    inputs=("a", "b"),
    params=(),
    attrs={},
    check=no_check,
    shape=lambda attrs, in_shapes, param_shapes: [same_shapes(OP, in_shapes)],
    reference=lambda attrs, inputs, params: [np.asarray(inputs[0], np.float64) * np.asarray(inputs[1], np.float64)],
    tolerance=eps32_tolerance(atol=1e-7, rel_eps=2.0),
    doc=__doc__,
)
