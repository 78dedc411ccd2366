"""Shared by the separable resampling ops (resize_bilinear, resize_bicubic_torch, resize_bicubic_matlab,
upsample_bicubic_tecogan): not an op itself.

Each of those ops defines, per axis, a tap table: for output index o, input indices idx[o, k] (already
clamped or mirrored into range) and weights w[o, k], k = 0..P−1. Along one axis out[o] = Σ_k w[o, k]·in[idx[o, k]].
The 2-D op is that rule along the rows (H) and then along the columns (W):
    out[n, c, y, x] = Σ_a Σ_b wh[y, a]·ww[x, b]·in[n, c, ih[y, a], iw[x, b]].
The reference below builds the dense (out × in) matrix of each axis and applies it: obviously correct,
float64, no cleverness. The CPU kernel (kernels/cpu/separable.py) reads the same tables as float32.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops.spec import expect_count, expect_number, expect_rank4


def dense(idx: np.ndarray, w: np.ndarray, n_in: int) -> np.ndarray:
    """(n_out, n_in) float64 matrix M with M[o, i] = Σ_{k: idx[o, k] = i} w[o, k]."""
    m = np.zeros((idx.shape[0], n_in))
    for o in range(idx.shape[0]):
        for k in range(idx.shape[1]):
            m[o, idx[o, k]] += w[o, k]
    return m


def apply(x: np.ndarray, taps_h, taps_w) -> np.ndarray:
    """Apply per-axis tap tables (idx, w) to an NCHW array in float64: rows, then columns."""
    x = np.asarray(x, np.float64)
    mh = dense(*taps_h, x.shape[2])
    mw = dense(*taps_w, x.shape[3])
    return mh @ x @ mw.T      # (Ho, H) · (N, C, H, W) · (W, Wo): rows, then columns


def check_scale(op: str, value) -> None:
    expect_number(op, "scale", value)
    if value <= 0:
        raise AttributeSpecError(f"{op}: attribute scale={value!r} must be > 0")


def check_bool(op: str, key: str, value) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise AttributeSpecError(f"{op}: attribute {key}={value!r} must be true or false")


def one_input(op: str, in_shapes) -> tuple[int, int, int, int]:
    expect_count(op, in_shapes, 1)
    return expect_rank4(op, "input", in_shapes[0])


def nonempty(op: str, in_shape, out_shape, scale) -> None:
    if out_shape[2] < 1 or out_shape[3] < 1:
        raise ShapeError(
            f"{op}: scale {scale} turns a {in_shape[2]}×{in_shape[3]} input into an empty "
            f"{out_shape[2]}×{out_shape[3]} output"
        )


def tolerance(taps_h: int, taps_w: int) -> tuple[float, float]:
    """(atol, rtol) for a float32 separable kernel with taps_h and taps_w taps per axis and a float32
    intermediate, on inputs of order 1 (as the harness and the models feed them).

    With u = eps/2: one pass sums P products of rounded weights and rounded inputs, a worst-case error of
    about (P + 3)·u·Σ|w|·max|in|; Σ|w| < 1.5 for every kernel here and the second pass carries the first one's
    error times its own Σ|w|, so both passes stay below ~1.2·(Ph + Pw + 6)·eps. Twice that is the atol; the
    relative part covers inputs that are not of order 1 (EGVSR flows of several pixels).
    """
    eps = float(np.finfo(np.float32).eps)
    return 2.0 * (taps_h + taps_w + 6) * eps, 8.0 * eps
