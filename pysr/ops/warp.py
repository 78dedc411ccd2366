"""warp: backward warp of an image by a flow (grid_sample, bilinear, border padding).

Inputs: img (N, C, H, W) and flow (N, 2, H, W); flow channel 0 = x (horizontal), 1 = y (vertical).
For every output pixel (x, y), in pixels of the grid:
  u = flow_scale·flow[n, 0, y, x],  v = flow_scale·flow[n, 1, y, x]
  normalised grid gx = −1 + 2x/(W−1) + 2u/(W−1)  (gy likewise with y, v, H)
  sample column ix = x + u                     when align_corners is True  (= (gx + 1)·(W − 1)/2)
                ix = ((gx + 1)·W − 1)/2          when align_corners is False
  ix clamped to [0, W−1] (border padding); iy likewise
  i0 = floor(ix), i1 = min(i0 + 1, W − 1), α = ix − i0   (j0, j1, β from iy)
  out[n, c, y, x] = (1−β)·((1−α)·img[j0, i0] + α·img[j0, i1]) + β·((1−α)·img[j1, i0] + α·img[j1, i1])
When W == 1 the normalised gx is defined as 0 and the sample column is 0 whatever the flow (likewise H == 1
and the row): PyTorch's grid would divide by W − 1 = 0 there.
`flow_scale` converts flow units to pixels: 1 for EGVSR/TecoGAN, 15.5 for SOF-VSR (its flow moves the grid by
flow·31/(W−1) in normalised units).
"""

from __future__ import annotations

import numpy as np

from pysr.errors import ShapeError
from pysr.ops import separable
from pysr.ops.spec import OpSpec, expect_count, expect_number, expect_rank4

OP = "warp"


def normalised_grid(pos: np.ndarray, disp: np.ndarray, size: int) -> np.ndarray:
    """gx = −1 + 2x/(W−1) + 2u/(W−1), or 0 when size == 1 (float64)."""
    if size == 1:
        return np.zeros_like(disp)
    return -1.0 + 2.0 * pos / (size - 1) + 2.0 * disp / (size - 1)


def sample_coordinate(pos: np.ndarray, disp: np.ndarray, size: int, align_corners: bool) -> np.ndarray:
    """Pixel coordinate sampled along one axis, clamped to [0, size − 1] (float64)."""
    if size == 1:
        return np.zeros_like(disp)
    c = pos + disp if align_corners else ((normalised_grid(pos, disp, size) + 1.0) * size - 1.0) / 2.0
    return np.clip(c, 0.0, size - 1.0)


def _check(a):
    separable.check_bool(OP, "align_corners", a["align_corners"])
    expect_number(OP, "flow_scale", a["flow_scale"])


def _shape(a, in_shapes, param_shapes):
    expect_count(OP, in_shapes, 2)
    img = expect_rank4(OP, "img", in_shapes[0])
    flow = expect_rank4(OP, "flow", in_shapes[1])
    n, c, h, w = img
    if flow != (n, 2, h, w):
        raise ShapeError(f"{OP}: flow must have shape {(n, 2, h, w)} for img {img}, got {flow}")
    return [img]


def _reference(a, inputs, params):
    img = np.asarray(inputs[0], np.float64)
    flow = np.asarray(inputs[1], np.float64)
    n, c, h, w = img.shape
    u = a["flow_scale"] * flow[:, 0]
    v = a["flow_scale"] * flow[:, 1]
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    ix = sample_coordinate(xs[None], u, w, a["align_corners"])          # (N, H, W)
    iy = sample_coordinate(ys[None], v, h, a["align_corners"])
    i0 = np.floor(ix).astype(np.int64)
    j0 = np.floor(iy).astype(np.int64)
    i1 = np.minimum(i0 + 1, w - 1)
    j1 = np.minimum(j0 + 1, h - 1)
    al = (ix - i0)[:, None]
    be = (iy - j0)[:, None]
    b = np.arange(n)[:, None, None, None]
    ch = np.arange(c)[None, :, None, None]

    def at(j, i):
        return img[b, ch, j[:, None], i[:, None]]

    out = (1 - be) * ((1 - al) * at(j0, i0) + al * at(j0, i1)) + be * ((1 - al) * at(j1, i0) + al * at(j1, i1))
    return [out]


def _tolerance(a, in_shapes, param_shapes):
    # The float32 kernel rounds the sample coordinate (|ix| <= W - 1) to about eps·max(H, W) pixels, and the
    # harness rounds the flow to float32 (eps·|u| pixels whatever flow_scale is; only unclamped coordinates
    # matter, so |u| <= W there too). Bilinear turns a coordinate error into a value error of at most that
    # times the largest neighbour difference (<= 2 for inputs of order 1). Hence an atol growing with size.
    _, _, h, w = in_shapes[0]
    eps = float(np.finfo(np.float32).eps)
    return 8.0 * eps * max(h, w, 4), 8.0 * eps


SPEC = OpSpec(
    name=OP,
    inputs=("img", "flow"),
    params=(),
    attrs={"align_corners": True, "flow_scale": 1.0},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=_tolerance,
    doc=__doc__,
)
