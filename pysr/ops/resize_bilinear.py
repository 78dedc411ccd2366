"""resize_bilinear: bilinear resize by one factor on both axes (PyTorch F.interpolate(mode="bilinear",
scale_factor=scale, recompute_scale_factor=False) semantics, no antialias).

Output size: Ho = floor(H·scale), Wo = floor(W·scale), each must be ≥ 1.
Separable (see separable.py): along an axis of input size n and output size m, output index o (0-based) reads
  align_corners False: src = max((o + 0.5)/scale − 0.5, 0)      (PyTorch area_pixel_compute_source_index)
  align_corners True:  src = o·(n − 1)/(m − 1), and src = 0 when m == 1
  i0 = min(floor(src), n − 1), i1 = min(i0 + 1, n − 1), λ = src − i0
  out[o] = (1 − λ)·in[i0] + λ·in[i1]
rows (H) first, then columns (W); the same rule on both axes.
"""

from __future__ import annotations

import math

import numpy as np

from pysr.ops import separable
from pysr.ops.spec import REQUIRED, OpSpec

OP = "resize_bilinear"


def out_size(n: int, scale: float) -> int:
    # The same float64 product PyTorch's interpolate floors.
    return int(math.floor(float(n) * scale))


def source(o: int, n: int, m: int, scale: float, align_corners: bool) -> float:
    if align_corners:
        return o * (n - 1) / (m - 1) if m > 1 else 0.0
    return max((o + 0.5) / scale - 0.5, 0.0)


def taps(n: int, m: int, scale: float, align_corners: bool):
    """Tap table of one axis: idx (m, 2) int64 and w (m, 2) float64."""
    idx = np.zeros((m, 2), np.int64)
    w = np.zeros((m, 2))
    for o in range(m):
        src = source(o, n, m, scale, align_corners)
        i0 = min(math.floor(src), n - 1)
        lam = src - i0
        idx[o] = (i0, min(i0 + 1, n - 1))
        w[o] = (1.0 - lam, lam)
    return idx, w


def _check(a):
    separable.check_scale(OP, a["scale"])
    separable.check_bool(OP, "align_corners", a["align_corners"])


def _shape(a, in_shapes, param_shapes):
    s = separable.one_input(OP, in_shapes)
    out = (s[0], s[1], out_size(s[2], a["scale"]), out_size(s[3], a["scale"]))
    separable.nonempty(OP, s, out, a["scale"])
    return [out]


def tables(a, in_shape):
    """(taps of H, taps of W) for an NCHW input shape."""
    _, _, h, w = in_shape
    sc, ac = a["scale"], a["align_corners"]
    return taps(h, out_size(h, sc), sc, ac), taps(w, out_size(w, sc), sc, ac)


def _reference(a, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    return [separable.apply(x, *tables(a, x.shape))]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"scale": REQUIRED, "align_corners": False},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=lambda a, i, p: separable.tolerance(2, 2),
    doc=__doc__,
)
