"""resize_bicubic_matlab: MATLAB `imresize(x, scale, 'bicubic')` on float data (antialiased when shrinking),
the convention of every SR benchmark's LR images. The float op does no rounding.

Output size: Ho = ceil(H·scale), Wo = ceil(W·scale).
Cubic kernel of a = −0.5:  cubic(x) = 1.5|x|³ − 2.5|x|² + 1 (|x| ≤ 1),  −0.5|x|³ + 2.5|x|² − 4|x| + 2 (1 < |x| ≤ 2),
0 elsewhere. When shrinking (scale < 1) the kernel is widened: h(x) = scale·cubic(scale·x), width = 4/scale;
otherwise h = cubic, width = 4.
Separable (see separable.py): along an axis of input size n, output index i = 1..m (1-based, as MATLAB) is centred
at input coordinate u = i/scale + 0.5·(1 − 1/scale) (1-based); its P = ceil(width) + 2 taps are the 1-based
indices j = floor(u − width/2) + p, p = 0..P−1, with weights h(u − j) / Σ_p h(u − j)  (normalised to sum 1).
A tap index outside 1..n is mirrored symmetrically: the index sequence repeats as 1…n, n…1 (period 2n).
The dimension with the smaller scale goes first, rows first when equal: with one scale for both axes,
rows (H) first, then columns (W).

`imresize_uint8` below is the same resize on uint8 images as MATLAB does it: each 1-D pass is summed in
float64 and rounded half away from zero and clipped to 0…255 before the next pass (this makes benchmark LR).
"""

from __future__ import annotations

import math

import numpy as np

from pysr.ops import separable
from pysr.ops.spec import REQUIRED, OpSpec

OP = "resize_bicubic_matlab"


def cubic(x: np.ndarray) -> np.ndarray:
    """MATLAB's `cubic` (imresize.m), a = −0.5, written as MATLAB writes it."""
    absx = np.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    return (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1) + (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * (
        (absx > 1) & (absx <= 2)
    )


def out_size(n: int, scale: float) -> int:
    return int(math.ceil(float(n) * scale))


def taps(n: int, m: int, scale: float):
    """Tap table of one axis (MATLAB `contributions`): idx (m, P) int64 0-based, w (m, P) float64."""
    if scale < 1:
        width = 4.0 / scale

        def h(x):
            return scale * cubic(scale * x)
    else:
        width = 4.0
        h = cubic
    i = np.arange(1, m + 1, dtype=np.float64)
    u = i / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    p = int(math.ceil(width)) + 2
    j = left[:, None] + np.arange(p)[None, :]                 # 1-based tap indices
    w = h(u[:, None] - j)
    w = w / np.sum(w, axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(n), np.arange(n - 1, -1, -1)])   # 1…n, n…1 as 0-based
    idx = mirror[np.mod(j.astype(np.int64) - 1, 2 * n)]
    return idx.astype(np.int64), w


def tables(a, in_shape):
    """(taps of H, taps of W) for an NCHW input shape."""
    _, _, h, w = in_shape
    s = a["scale"]
    return taps(h, out_size(h, s), s), taps(w, out_size(w, s), s)


def n_taps(scale: float) -> int:
    return int(math.ceil(4.0 / scale if scale < 1 else 4.0)) + 2


def _check(a):
    separable.check_scale(OP, a["scale"])


def _shape(a, in_shapes, param_shapes):
    s = separable.one_input(OP, in_shapes)
    return [(s[0], s[1], out_size(s[2], a["scale"]), out_size(s[3], a["scale"]))]


def _reference(a, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    return [separable.apply(x, *tables(a, x.shape))]


def _pass_uint8(x: np.ndarray, idx: np.ndarray, w: np.ndarray, axis: int) -> np.ndarray:
    """One 1-D MATLAB pass along `axis` of a float64 array holding uint8 values: the taps summed in order in
    float64, then rounded half away from zero and saturated to 0…255 (MATLAB's uint8 conversion)."""
    x = np.moveaxis(x, axis, 0)
    acc = np.zeros((idx.shape[0],) + x.shape[1:])
    for k in range(idx.shape[1]):
        acc += w[:, k].reshape((-1,) + (1,) * (x.ndim - 1)) * x[idx[:, k]]
    out = np.clip(np.sign(acc) * np.floor(np.abs(acc) + 0.5), 0, 255)
    return np.moveaxis(out, 0, axis)


def imresize_uint8(img: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB `imresize(img, scale, 'bicubic')` of a uint8 image (H, W) or (H, W, C): bit-exact with MATLAB."""
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"imresize_uint8: expected a (H, W) or (H, W, C) uint8 image, got {img.dtype} {img.shape}")
    if not scale > 0:
        raise ValueError(f"imresize_uint8: scale must be > 0, got {scale!r}")
    h, w = img.shape[:2]
    y = img.astype(np.float64)
    y = _pass_uint8(y, *taps(h, out_size(h, scale), scale), axis=0)      # rows first (equal scales)
    y = _pass_uint8(y, *taps(w, out_size(w, scale), scale), axis=1)
    return y.astype(np.uint8)


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"scale": REQUIRED},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=lambda a, i, p: separable.tolerance(n_taps(a["scale"]), n_taps(a["scale"])),
    doc=__doc__,
)
