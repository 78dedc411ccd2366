"""pixel_shuffle: depth to space by a factor r, in one of two channel orders.

order "pytorch" (CRD, torch.nn.PixelShuffle): out[n, c, h*r+i, w*r+j] = in[n, c*r*r + i*r + j, h, w]
order "tf"      (DCR, tf.nn.depth_to_space): out[n, c, h*r+i, w*r+j] = in[n, (i*r + j)*C + c, h, w]
with C = in_channels / r². `space_to_depth` with the same order is its exact inverse.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import ShapeError
from pysr.ops.spec import REQUIRED, OpSpec, expect_choice, expect_count, expect_int, expect_rank4

ORDERS = ("pytorch", "tf")


def check_order(op: str, attrs: dict, key: str = "order") -> None:
    expect_choice(op, key, attrs[key], ORDERS)


def shuffle(x: np.ndarray, r: int, order: str) -> np.ndarray:
    """Reference depth-to-space on an NCHW array (any dtype; float64 in the spec)."""
    n, cin, h, w = x.shape
    c = cin // (r * r)
    if order == "pytorch":
        y = x.reshape(n, c, r, r, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        y = x.reshape(n, r, r, c, h, w).transpose(0, 3, 4, 1, 5, 2)
    return y.reshape(n, c, h * r, w * r)


def shuffled_shape(op: str, s, r: int):
    if s[1] % (r * r):
        raise ShapeError(
            f"{op}: input channels {s[1]} are not a multiple of scale² = {r * r}",
            hint="the conv before a pixel shuffle must output out_channels·r² channels",
        )
    return (s[0], s[1] // (r * r), s[2] * r, s[3] * r)


def _check(attrs):
    expect_int("pixel_shuffle", "scale", attrs["scale"], lo=1)
    check_order("pixel_shuffle", attrs)


def _shape(attrs, in_shapes, param_shapes):
    expect_count("pixel_shuffle", in_shapes, 1)
    s = expect_rank4("pixel_shuffle", "input", in_shapes[0])
    return [shuffled_shape("pixel_shuffle", s, attrs["scale"])]


SPEC = OpSpec(
    name="pixel_shuffle",
    inputs=("x",),
    params=(),
    attrs={"scale": REQUIRED, "order": "pytorch"},
    check=_check,
    shape=_shape,
    reference=lambda a, inputs, params: [shuffle(np.asarray(inputs[0], np.float64), a["scale"], a["order"])],
    tolerance=lambda attrs, i, p: (0.0, 0.0),
    doc=__doc__,
)
