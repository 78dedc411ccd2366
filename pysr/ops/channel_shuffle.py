"""channel_shuffle: interleave `groups` channel groups (ShuffleNet; SOF-VSR's ResB uses groups = 2).

x viewed as (N, g, C/g, H, W), transposed to (N, C/g, g, H, W), flattened back:
out[n, k*g + gi, h, w] = in[n, gi*(C/g) + k, h, w] for 0 <= gi < g, 0 <= k < C/g.
For g = 2: out[2k] = in[k], out[2k+1] = in[C/2 + k].
"""

from __future__ import annotations

import numpy as np

from pysr.errors import ShapeError
from pysr.ops.spec import REQUIRED, OpSpec, expect_count, expect_int, expect_rank4

OP = "channel_shuffle"


def _shape(attrs, in_shapes, param_shapes):
    expect_count(OP, in_shapes, 1)
    s = expect_rank4(OP, "input", in_shapes[0])
    if s[1] % attrs["groups"]:
        raise ShapeError(f"{OP}: input channels {s[1]} are not divisible by groups={attrs['groups']}")
    return [s]


def _reference(attrs, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    n, c, h, w = x.shape
    g = attrs["groups"]
    out = np.empty_like(x)
    for gi in range(g):
        for k in range(c // g):
            out[:, k * g + gi] = x[:, gi * (c // g) + k]
    return [out]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"groups": REQUIRED},
    check=lambda attrs: expect_int(OP, "groups", attrs["groups"], lo=1),
    shape=_shape,
    reference=_reference,
    tolerance=lambda attrs, i, p: (0.0, 0.0),
    doc=__doc__,
)
