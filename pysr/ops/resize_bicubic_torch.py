"""resize_bicubic_torch: PyTorch's bicubic resize (F.interpolate(mode="bicubic", scale_factor=scale,
recompute_scale_factor=False), antialias off) by one factor on both axes.

Output size: Ho = floor(H·scale), Wo = floor(W·scale), each must be ≥ 1.
Separable (see separable.py): along an axis of input size n and output size m, output index o (0-based) reads
  align_corners False: src = (o + 0.5)/scale − 0.5                (NOT clamped at 0, as PyTorch does for cubic)
  align_corners True:  src = o·(n − 1)/(m − 1), and src = 0 when m == 1
  i = floor(src), t = src − i
  out[o] = Σ_{k=0..3} c_k(t)·in[clamp(i − 1 + k, 0, n − 1)]
with the cubic convolution kernel of a = −0.75
  near(x) = ((a + 2)·x − (a + 3))·x² + 1          (|x| ≤ 1)
  far(x)  = ((a·x − 5a)·x + 8a)·x − 4a            (1 < |x| < 2)
  c_0 = far(t + 1), c_1 = near(t), c_2 = near(1 − t), c_3 = far(2 − t)
rows (H) first, then columns (W). No antialiasing when shrinking (the kernel keeps its width of 4 taps).
"""

from __future__ import annotations

import math

import numpy as np

from pysr.ops import separable
from pysr.ops.resize_bilinear import out_size
from pysr.ops.spec import REQUIRED, OpSpec

OP = "resize_bicubic_torch"
A = -0.75


def cubic_coeffs(t: float, a: float = A) -> tuple[float, float, float, float]:
    """The 4 weights of taps floor(src) − 1 … floor(src) + 2 for the fraction t = src − floor(src)."""

    def near(x):
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0

    def far(x):
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a

    return far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)


def source(o: int, n: int, m: int, scale: float, align_corners: bool) -> float:
    if align_corners:
        return o * (n - 1) / (m - 1) if m > 1 else 0.0
    return (o + 0.5) / scale - 0.5


def taps(n: int, m: int, scale: float, align_corners: bool):
    """Tap table of one axis: idx (m, 4) int64 and w (m, 4) float64."""
    idx = np.zeros((m, 4), np.int64)
    w = np.zeros((m, 4))
    for o in range(m):
        src = source(o, n, m, scale, align_corners)
        i = math.floor(src)
        idx[o] = [min(max(i - 1 + k, 0), n - 1) for k in range(4)]
        w[o] = cubic_coeffs(src - i)
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
    tolerance=lambda a, i, p: separable.tolerance(4, 4),
    doc=__doc__,
)
