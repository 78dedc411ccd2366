"""v06 Winograd input transform reading the padded row with stride-4 loads (tile t uses row[4t … 4t+5]); LLVM
de-interleaves them with ≈ 22 permutes per 16 tiles and row — ≈ 80 µs per block of 64 tiles × 64 channels on one
core (v07, the winner, splits the row into 4 phases while copying it: ≈ 66 µs; bit-identical output)."""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from pysr.kernels.cpu.conv2d_gemm import TT, src_index
from pysr.kernels.cpu.conv2d_llvm import stack_f32_320, stack_f32_2304, wide_vectors
from pysr.kernels.cpu.conv2d_winograd import H15, H25, HALF, TWO, bt6

F32 = np.float32


@njit(fastmath=True, error_model="numpy", cache=True)
def input_block(x, n, ty, tx0, ph, pw, mode, v):
    """v[a·6 + b, ci, t] = (Bᵀ d B)[a, b] of the 6×6 input tile d of tile (ty, tx0 + t), every channel ci."""
    wide_vectors()
    prow = stack_f32_320()
    h = stack_f32_2304()
    hh, w = x.shape[2], x.shape[3]
    zero = F32(0.0)
    width = 4 * TT + 2
    base = 4 * tx0 - pw
    lo = 0 if base >= 0 else min(-base, width)
    hi = max(min(width, w - base), lo)
    for ci in range(x.shape[1]):
        for i in range(6):
            iy = src_index(4 * ty + i - ph, hh, mode)
            if iy < 0:
                for u in range(width):
                    prow[u] = zero
            else:
                for u in range(lo):
                    j = src_index(base + u, w, mode)
                    prow[u] = x[n, ci, iy, j] if j >= 0 else zero
                # unsigned offsets: numba emits no negative-index fix-up, so the copy is a plain vector loop
                first = uint64(base + lo)
                for u in range(uint64(hi - lo)):
                    prow[uint64(lo) + u] = x[n, ci, iy, first + u]
                for u in range(hi, width):
                    j = src_index(base + u, w, mode)
                    prow[u] = x[n, ci, iy, j] if j >= 0 else zero
            # Bᵀ along the row: tile t reads prow[4t … 4t+5] (stride-4 loads, vectorised with permutes)
            for t in range(TT):
                b = 4 * t
                r0, r1, r2, r3, r4, r5 = bt6(prow[b], prow[b + 1], prow[b + 2], prow[b + 3], prow[b + 4],
                                             prow[b + 5])
                o = i * 6 * TT + t
                h[o] = r0
                h[o + TT] = r1
                h[o + 2 * TT] = r2
                h[o + 3 * TT] = r3
                h[o + 4 * TT] = r4
                h[o + 5 * TT] = r5
        # Bᵀ down the columns, straight into v: two passes of three output rows each, because LLVM gives up
        # on loops with more store streams into one array ("too many memory checks") and leaves them scalar
        for b in range(6):
            for t in range(TT):
                o = b * TT + t
                d0, d1, d2, d3, d4 = h[o], h[o + 6 * TT], h[o + 12 * TT], h[o + 18 * TT], h[o + 24 * TT]
                v[b, ci, t] = d0 + d4 - H15 * d1 - TWO * d2 + H15 * d3
                v[6 + b, ci, t] = d4 + d1 - H25 * d2 + HALF * d3
                v[12 + b, ci, t] = d4 - d1 + HALF * d2 + H25 * d3
            for t in range(TT):
                o = b * TT + t
                d1, d2, d3, d4, d5 = h[o + 6 * TT], h[o + 12 * TT], h[o + 18 * TT], h[o + 24 * TT], h[o + 30 * TT]
                p = d4 - d2
                e = d3 - d1
                v[18 + b, ci, t] = p + TWO * e
                v[24 + b, ci, t] = p - HALF * e
                v[30 + b, ci, t] = d1 + d5 - H15 * d2 - TWO * d3 + H15 * d4


def case(cin, rng=None):
    """(run, µs-per-block normaliser, check) on one 64-tile block of a 270×480 input."""
    from pysr.kernels.cpu.conv2d_winograd import input_block as winner

    rng = rng or np.random.default_rng(0)
    x = rng.standard_normal((1, cin, 270, 480)).astype(np.float32)
    v = np.zeros((36, cin + 1, TT), np.float32)
    ref = np.zeros_like(v)

    def check():
        winner(x, 0, 10, 0, 0, TT, 1, 1, 0, ref)
        return float(np.abs(ref[:, :cin] - v[:, :cin]).max())

    return (lambda: input_block(x, 0, 10, 0, 1, 1, 0, v)), check
