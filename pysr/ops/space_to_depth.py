"""space_to_depth: space to depth by a factor r, in one of two channel orders (the inverse of pixel_shuffle).

order "pytorch" (F.pixel_unshuffle):    out[n, c*r*r + i*r + j, h, w] = in[n, c, h*r+i, w*r+j]
order "tf"      (tf.nn.space_to_depth): out[n, (i*r + j)*C + c, h, w] = in[n, c, h*r+i, w*r+j]
for 0 <= i, j < r, with C = in_channels; H and W must be multiples of r. `pixel_shuffle` with the same
order is its exact inverse. EGVSR's SRNet feeds the warped HR estimate through the tf order.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import ShapeError
from pysr.ops.pixel_shuffle import check_order
from pysr.ops.spec import REQUIRED, OpSpec, expect_count, expect_int, expect_rank4

OP = "space_to_depth"


def unshuffle(x: np.ndarray, r: int, order: str) -> np.ndarray:
    """Reference space-to-depth on an NCHW array, one (i, j) phase at a time, as the formula reads."""
    n, c, hh, ww = x.shape
    out = np.empty((n, c * r * r, hh // r, ww // r), dtype=x.dtype)
    for i in range(r):
        for j in range(r):
            phase = x[:, :, i::r, j::r]
            if order == "pytorch":
                out[:, i * r + j :: r * r] = phase
            else:
                out[:, (i * r + j) * c : (i * r + j + 1) * c] = phase
    return out


def _check(attrs):
    expect_int(OP, "scale", attrs["scale"], lo=1)
    check_order(OP, attrs)


def _shape(attrs, in_shapes, param_shapes):
    expect_count(OP, in_shapes, 1)
    n, c, h, w = expect_rank4(OP, "input", in_shapes[0])
    r = attrs["scale"]
    if h % r or w % r:
        raise ShapeError(
            f"{OP}: input height×width {h}×{w} must both be multiples of scale {r}",
            hint="pad or crop the input to a multiple of the scale first",
        )
    return [(n, c * r * r, h // r, w // r)]


def _reference(attrs, inputs, params):
    return [unshuffle(np.asarray(inputs[0], np.float64), attrs["scale"], attrs["order"])]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"scale": REQUIRED, "order": "pytorch"},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=lambda attrs, i, p: (0.0, 0.0),
    doc=__doc__,
)
