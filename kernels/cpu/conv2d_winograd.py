"""Winograd F(4×4, 3×3) conv2d for 3×3, stride-1, groups-1 layers (any padding mode, any fused epilogue).

Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A per 6×6 input tile d → 4×4 outputs, with the interpolation points
0, −1, 1, ½, −2 (and ∞). Those points, rather than the usual 0, ±1, ±2, keep the float32 error within a small
multiple of a direct convolution's: on O(1) data with Cin = 64 → 32 the max error is 3.2e-6 on a 37×53 map
(0, ±1, ±2: 1.1e-5; F(6×6): 1.6e-5) and 6.5e-6 over a whole 480×270 frame, against a tolerance of 2.3e-5
(tests/op_cases/conv2d.py checks every path; bench/NOTES.md has the tables).
The weight transform G g Gᵀ is done once in float64 in `pack`, stored (36, ⌈Cout/4⌉, Cin, 4) float32.

One task = a block of TT = 64 consecutive tiles in (n, tile row, tile column) order — usually one segment of
a tile row, sometimes the end of one row and the start of the next (so no lanes are wasted on ragged rows):
  1. input transform, per input channel: the 6 input rows, padded through the pad-mode index map and split
     into 4 phases (x mod 4) into a stack buffer; Bᵀ along each row (six contiguous vector loads per 16
     tiles), then Bᵀ down the columns → V[ξ, ci, tile] (scratch 36 × (Cin+1) × 64 floats: 600 KiB for
     Cin = 64, L2-resident; the spare row keeps the ξ stride off multiples of 4 KiB);
  2. 36 independent GEMMs M[ξ] = U[ξ] · V[ξ] with the 4-channel × 64-tile register micro-kernel of
     conv2d_gemm (per ξ the 16 KiB V slice is reused from L1 by every 4-channel block);
  3. output transform per output channel: Aᵀ M A for the 64 tiles into four 256-wide output rows on the
     stack, then the fused epilogue writes them.
Threads: prange over chunks of tasks. Traffic: input read 1.5× (tile rows overlap by 2 of 6 rows), output
written once, V and M stay in L2; the arithmetic is 36·Cin·Cout multiply-adds per 16 outputs (4× fewer
than direct) plus ≈ 18 ops per input value per channel for Bᵀ d B and ≈ 12 per output for Aᵀ M A.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from pysr.kernels.cpu.conv2d_epilogue import finish
from pysr.kernels.cpu.conv2d_gemm import MC, TT, micro, src_index
from pysr.kernels.cpu.conv2d_llvm import stack_f32_256, stack_f32_320, stack_f32_1024, stack_f32_2304, wide_vectors

F32 = np.float32
H15, H25, HALF, TWO = F32(1.5), F32(2.5), F32(0.5), F32(2.0)
Q, E, FOUR, EIGHT = F32(0.25), F32(0.125), F32(4.0), F32(8.0)

# The 1-D matrices (float64). `pack` applies G; bt6 / at4 below spell out Bᵀ and Aᵀ with shared
# sub-expressions (bench/conv2d_variants/v08_winograd_points.py derives all three from the points).
BT = np.array([[1, -1.5, -2, 1.5, 1, 0],
               [0, 1, -2.5, 0.5, 1, 0],
               [0, -1, 0.5, 2.5, 1, 0],
               [0, -2, -1, 2, 1, 0],
               [0, 0.5, -1, -0.5, 1, 0],
               [0, 1, -1.5, -2, 1.5, 1]])
G = np.array([[1, 0, 0],
              [-1 / 3, 1 / 3, -1 / 3],
              [1 / 3, 1 / 3, 1 / 3],
              [-16 / 15, -8 / 15, -4 / 15],
              [1 / 15, -2 / 15, 4 / 15],
              [0, 0, 1]])
AT = np.array([[1, 1, 1, 1, 1, 0],
               [0, -1, 1, 0.5, -2, 0],
               [0, 1, 1, 0.25, 4, 0],
               [0, -1, 1, 0.125, -8, 1]])


@njit(fastmath=True, inline="always", cache=True)
def bt6(d0, d1, d2, d3, d4, d5):
    p = d4 - d2
    e = d3 - d1
    v0 = d0 + d4 - H15 * d1 - TWO * d2 + H15 * d3
    v1 = p + d1 - H15 * d2 + HALF * d3
    v2 = p - d1 + H15 * d2 + H25 * d3
    v3 = p + TWO * e
    v4 = p - HALF * e
    v5 = d1 + d5 - H15 * d2 - TWO * d3 + H15 * d4
    return v0, v1, v2, v3, v4, v5


@njit(fastmath=True, inline="always", cache=True)
def at4(m0, m1, m2, m3, m4, m5):
    s = m1 + m2
    d = m2 - m1
    return m0 + s + m3 + m4, d + HALF * m3 - TWO * m4, s + Q * m3 + FOUR * m4, d + E * m3 - EIGHT * m4 + m5


@njit(fastmath=True, error_model="numpy", cache=True)
def input_block(x, n, ty, tx0, t0, tn, ph, pw, mode, v):
    """v[a·6 + b, ci, t0 + t] = (Bᵀ d B)[a, b] of the 6×6 input tile d of tile (ty, tx0 + t), t < tn, every channel
    ci (one segment of a block: the tiles of one tile row)."""
    wide_vectors()
    prow = stack_f32_320()
    h = stack_f32_2304()
    hh, w = x.shape[2], x.shape[3]
    zero = F32(0.0)
    width = 4 * tn + 2
    base = 4 * tx0 - pw
    lo = 0 if base >= 0 else min(-base, width)
    hi = max(min(width, w - base), lo)
    ph4 = 80                                    # stride of the four phase rows in prow
    t_lo = min((lo + 3) // 4, tn + 1)
    t_hi = max(min(hi // 4, tn + 1), t_lo)
    for ci in range(x.shape[1]):
        for i in range(6):
            iy = src_index(4 * ty + i - ph, hh, mode)
            if iy < 0:
                for u in range(4 * ph4):
                    prow[u] = zero
            else:
                # phase split while copying: prow[p·80 + t] = padded row[4t + p], so that the row transform
                # below reads six contiguous vectors instead of de-interleaving stride-4 loads
                for t in range(t_lo):
                    for p in range(4):
                        j = src_index(base + 4 * t + p, w, mode)
                        prow[p * ph4 + t] = x[n, ci, iy, j] if j >= 0 else zero
                first = uint64(base + 4 * t_lo)
                for t in range(uint64(t_hi - t_lo)):
                    for p in range(4):
                        prow[uint64(p * ph4 + t_lo) + t] = x[n, ci, iy, first + uint64(4) * t + uint64(p)]
                for t in range(t_hi, tn + 1):
                    for p in range(4):
                        u = 4 * t + p
                        if u < hi:
                            prow[p * ph4 + t] = x[n, ci, iy, base + u]
                        else:
                            j = src_index(base + u, w, mode)
                            prow[p * ph4 + t] = x[n, ci, iy, j] if j >= 0 else zero
            for t in range(tn):
                r0, r1, r2, r3, r4, r5 = bt6(prow[t], prow[ph4 + t], prow[2 * ph4 + t], prow[3 * ph4 + t], prow[t + 1],
                                             prow[ph4 + t + 1])
                o = i * 6 * TT + t
                h[o] = r0
                h[o + TT] = r1
                h[o + 2 * TT] = r2
                h[o + 3 * TT] = r3
                h[o + 4 * TT] = r4
                h[o + 5 * TT] = r5
        # Bᵀ down the columns, straight into v: two passes of three output rows each, because LLVM gives up
        # on loops with more store streams into one array ("too many memory checks") and leaves them scalar
        ut0 = uint64(t0)
        for b in range(6):
            for t in range(uint64(tn)):
                o = b * TT + t
                d0, d1, d2, d3, d4 = h[o], h[o + 6 * TT], h[o + 12 * TT], h[o + 18 * TT], h[o + 24 * TT]
                v[b, ci, ut0 + t] = d0 + d4 - H15 * d1 - TWO * d2 + H15 * d3
                v[6 + b, ci, ut0 + t] = d4 + d1 - H25 * d2 + HALF * d3
                v[12 + b, ci, ut0 + t] = d4 - d1 + HALF * d2 + H25 * d3
            for t in range(uint64(tn)):
                o = b * TT + t
                d1, d2, d3, d4, d5 = h[o + 6 * TT], h[o + 12 * TT], h[o + 18 * TT], h[o + 24 * TT], h[o + 30 * TT]
                p = d4 - d2
                e = d3 - d1
                v[18 + b, ci, ut0 + t] = p + TWO * e
                v[24 + b, ci, ut0 + t] = p - HALF * e
                v[30 + b, ci, ut0 + t] = d1 + d5 - H15 * d2 - TWO * d3 + H15 * d4


@njit(fastmath=True, error_model="numpy", cache=True)
def gemm_block(u, v, m):
    """m[ξ, co, t] = Σ_ci U[ξ, co, ci] · v[ξ, ci, t] for the 36 ξ (4-channel × 64-tile register blocks)."""
    wide_vectors()
    acc = stack_f32_256()
    cin = u.shape[2]
    for xi in range(36):
        uxi = u[xi]
        vxi = v[xi]
        for cb in range(u.shape[1]):
            micro(uxi, cb, vxi, cin, acc)
            for j in range(MC):
                mrow = m[xi, cb * MC + j]
                for t in range(TT):
                    mrow[t] = acc[j * TT + t]


@njit(fastmath=True, error_model="numpy", cache=True)
def output_block(m, out, res, segs, nseg, ho, wo, ints, floats, bias, slope):
    """Aᵀ M A per output channel into four 256-wide rows (all 64 lanes), then the fused epilogue writes each
    segment (n, ty, tx0, first lane, lanes) of the block."""
    wide_vectors()
    z = stack_f32_2304()
    rows = stack_f32_1024()
    for co in range(bias.shape[0]):
        for b in range(6):
            for t in range(TT):
                y0, y1, y2, y3 = at4(m[b, co, t], m[6 + b, co, t], m[12 + b, co, t], m[18 + b, co, t],
                                     m[24 + b, co, t], m[30 + b, co, t])
                o = b * TT + t
                z[o] = y0
                z[o + 6 * TT] = y1
                z[o + 12 * TT] = y2
                z[o + 18 * TT] = y3
        for i in range(4):
            for t in range(TT):
                o = i * 6 * TT + t
                y0, y1, y2, y3 = at4(z[o], z[o + TT], z[o + 2 * TT], z[o + 3 * TT], z[o + 4 * TT], z[o + 5 * TT])
                r = i * 4 * TT + 4 * t
                rows[r] = y0
                rows[r + 1] = y1
                rows[r + 2] = y2
                rows[r + 3] = y3
        for sg in range(nseg):
            n, ty, tx0, t0, tn = segs[sg, 0], segs[sg, 1], segs[sg, 2], segs[sg, 3], segs[sg, 4]
            finish(rows[4 * t0:], 4 * TT, min(4, ho - 4 * ty), min(4 * tn, wo - 4 * tx0), out, res, n, co, 0, 4 * ty,
                   1, 4 * tx0, ints, floats, bias, slope)


@njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def conv_winograd(x, u, out, res, ph, pw, mode, ho, wo, ints, floats, bias, slope, threads):
    n_count, cin = x.shape[0], x.shape[1]
    nty = (ho + 3) // 4
    ntx = (wo + 3) // 4
    total = n_count * nty * ntx                 # tiles, row-major over (n, ty, tx)
    ntasks = (total + TT - 1) // TT             # a block is 64 consecutive tiles, possibly over several tile rows
    nchunks = min(ntasks, 8 * threads)
    for chunk in prange(nchunks):
        # one spare row per ξ: a ξ stride that is a multiple of 4 KiB would put all 36 rows a transform
        # touches into the same L1 set (measured: 4× slower input transform)
        v = np.empty((36, cin + 1, TT), np.float32)
        m = np.empty((36, u.shape[1] * MC + 1, TT), np.float32)
        segs = np.empty((TT, 5), np.int64)
        for task in range(chunk * ntasks // nchunks, (chunk + 1) * ntasks // nchunks):
            g, g1 = task * TT, min(task * TT + TT, total)
            nseg = 0
            while g < g1:
                n, r = g // (nty * ntx), g % (nty * ntx)
                ty, tx = r // ntx, r % ntx
                tn = min(ntx - tx, g1 - g)
                segs[nseg, 0], segs[nseg, 1], segs[nseg, 2], segs[nseg, 3], segs[nseg, 4] = n, ty, tx, g - task * TT, tn
                input_block(x, n, ty, tx, g - task * TT, tn, ph, pw, mode, v)
                nseg += 1
                g += tn
            gemm_block(u, v, m)
            output_block(m, out, res, segs, nseg, ho, wo, ints, floats, bias, slope)


def pack(weight: np.ndarray) -> np.ndarray:
    """(Cout, Cin, 3, 3) → G g Gᵀ in float64, stored (36, ⌈Cout/4⌉, Cin, 4) float32 (zero-padded channels)."""
    cout, cin = weight.shape[:2]
    ut = np.einsum("ak,ockl,bl->aboc", G, weight.astype(np.float64), G).reshape(36, cout, cin)
    ncb = -(-cout // MC)
    up = np.zeros((36, ncb * MC, cin), np.float64)
    up[:, :cout] = ut
    return np.ascontiguousarray(up.reshape(36, ncb, MC, cin).transpose(0, 1, 3, 2), dtype=np.float32)
