"""v09 direct conv (Cout ≤ 4) computing TWO output rows per task for Cout ≤ 2 (each loaded input row feeds both,
via a weight table with zero taps): faster than the kernel's one row per task on deep inputs (64→1 at 640×360
32 vs 52 ms, 320→2 at 320×180 56 vs 72 ms, 2 threads) but slower on the 32-channel HR heads (32→1 at 1280×720
65 vs 40 ms, 32→2 108 vs 48 ms), which matter more here, so kernels/cpu/conv2d_direct.py keeps one row.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from pysr.kernels.cpu.conv2d_epilogue import finish
from pysr.kernels.cpu.conv2d_gemm import src_index
from pysr.kernels.cpu.conv2d_llvm import stack_f32_256, wide_vectors

MAX_COUT = 4
LANES = 64        # pixels per zmm group of 4


def layout(cout: int) -> tuple[int, int]:
    """(R output rows per task, C channel columns per row): R·C = M columns of the table, 2 or 4."""
    return (2, cout) if cout <= 2 else (1, 4)


@njit(fastmath=True, inline="always", cache=True)
def micro4(src, toff, tw, ntaps, table, acc):
    """acc[m·64 + t] = Σ_{i < ntaps} table[tw[i], m] · src[toff[i] + t] for the 4 columns m, 64 pixels t."""
    for i in range(256):
        acc[i] = 0
    for i in range(ntaps):
        o = uint64(toff[i])
        k = tw[i]
        w0, w1, w2, w3 = table[k, 0], table[k, 1], table[k, 2], table[k, 3]
        for t in range(LANES):
            v = src[o + uint64(t)]
            acc[t] += w0 * v
            acc[LANES + t] += w1 * v
            acc[2 * LANES + t] += w2 * v
            acc[3 * LANES + t] += w3 * v


@njit(fastmath=True, inline="always", cache=True)
def micro2(src, toff, tw, ntaps, table, acc):
    """As micro4 for 2 columns × 128 pixels: acc[m·128 + t]."""
    for i in range(256):
        acc[i] = 0
    for i in range(ntaps):
        o = uint64(toff[i])
        k = tw[i]
        w0, w1 = table[k, 0], table[k, 1]
        for t in range(LANES):
            v0 = src[o + uint64(t)]
            v1 = src[o + uint64(LANES + t)]
            acc[t] += w0 * v0
            acc[LANES + t] += w0 * v1
            acc[2 * LANES + t] += w1 * v0
            acc[3 * LANES + t] += w1 * v1


@njit(fastmath=True, error_model="numpy", cache=True)
def block(x, xf, table, nrow, ncol, strip, toff, tw, n, y, rows, x0, count, ph, pw, mode, out, res, cout, ints,
          floats, bias, slope):
    """Output rows y … y+rows−1 (rows ≤ nrow), pixels x0 … x0+count−1 (count ≤ P), all channels. First the tap
    list: per tap (ci, r, kx) whose input row exists, the offset of its first pixel in `src` (toff) and its table
    row (tw); then the micro-kernel; then the epilogue, one output row at a time."""
    wide_vectors()
    acc = stack_f32_256()
    buf = stack_f32_256()          # a copy for the epilogue: passing acc itself keeps LLVM from holding it in zmm
    cin, h, w = x.shape[1], x.shape[2], x.shape[3]
    m = nrow * ncol
    p = 256 // m
    sw = strip.shape[1]
    kw = sw - p + 1
    nr = strip.shape[0] // cin                     # input rows per task: kh + nrow − 1
    inside = count == p and x0 - pw >= 0 and x0 + p + kw - 1 - pw <= w
    ntaps = 0
    for ci in range(cin):
        for r in range(nr):
            iy = src_index(y + r - ph, h, mode)
            if iy < 0:
                continue
            q = ci * nr + r
            if inside:
                o = ((n * cin + ci) * h + iy) * w + x0 - pw
            else:
                o = q * sw
                dst = strip[q]
                base = x0 - pw                     # strip column u holds padded input column base + u
                lo = min(max(-base, 0), sw)
                hi = max(min(sw, w - base), lo)
                for u in range(lo):
                    j = src_index(base + u, w, mode)
                    dst[u] = x[n, ci, iy, j] if j >= 0 else np.float32(0.0)
                first = uint64(base + lo)
                for u in range(uint64(hi - lo)):
                    dst[uint64(lo) + u] = x[n, ci, iy, first + u]
                for u in range(hi, sw):
                    j = src_index(base + u, w, mode)
                    dst[u] = x[n, ci, iy, j] if j >= 0 else np.float32(0.0)
            for kx in range(kw):
                toff[ntaps] = o + kx
                tw[ntaps] = q * kw + kx
                ntaps += 1
    src = xf if inside else strip.reshape(strip.size)
    if m == 4:
        micro4(src, toff, tw, ntaps, table, acc)
    else:
        micro2(src, toff, tw, ntaps, table, acc)
    for i in range(256):
        buf[i] = acc[i]
    for j in range(rows):
        finish(buf[j * ncol * p:], p, min(ncol, cout), count, out, res, n, 0, 1, y + j, 0, x0, ints, floats, bias,
               slope)


@njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def conv_direct(x, table, nrow, ncol, out, res, kh, kw, ph, pw, mode, ho, wo, cout, ints, floats, bias, slope,
                threads):
    n_count, cin = x.shape[0], x.shape[1]
    xf = x.reshape(x.size)
    p = 256 // (nrow * ncol)
    nxb = (wo + p - 1) // p
    nyb = (ho + nrow - 1) // nrow
    ntasks = n_count * nyb * nxb
    nchunks = min(ntasks, 8 * threads)
    nr = kh + nrow - 1
    for chunk in prange(nchunks):
        strip = np.empty((cin * nr, p + kw - 1), np.float32)
        toff = np.empty(cin * nr * kw, np.int64)
        tw = np.empty(cin * nr * kw, np.int64)
        for task in range(chunk * ntasks // nchunks, (chunk + 1) * ntasks // nchunks):
            y = task % nyb * nrow
            xb = (task // nyb) % nxb
            n = task // (nxb * nyb)
            block(x, xf, table, nrow, ncol, strip, toff, tw, n, y, min(nrow, ho - y), xb * p, min(p, wo - xb * p),
                  ph, pw, mode, out, res, cout, ints, floats, bias, slope)


def pack(weight: np.ndarray) -> np.ndarray:
    """(Cout ≤ 4, Cin, kh, kw) → table (Cin·(kh + R − 1)·kw, R·C) float32: row (ci, r, kx), column (j, c) holds
    w[c, ci, r − j, kx], zero where r − j is no kernel row or c ≥ Cout."""
    cout, cin, kh, kw = weight.shape
    nrow, ncol = layout(cout)
    nr = kh + nrow - 1
    table = np.zeros((cin, nr, kw, nrow, ncol), np.float32)
    for j in range(nrow):
        table[:, j : j + kh, :, j, :cout] = weight.transpose(1, 2, 3, 0)
    return table.reshape(cin * nr * kw, nrow * ncol)


def case(cin, cout, h=720, w=1280, rng=None):
    """(run, flops, (x, weight, out)) of this variant on a zero-padded 3×3 layer, bias only, 1 thread."""
    from pysr.kernels.cpu.conv2d_epilogue import settings
    from pysr.ops import spec

    rng = rng or np.random.default_rng(0)
    x = rng.standard_normal((1, cin, h, w)).astype(np.float32)
    weight = rng.standard_normal((cout, cin, 3, 3)).astype(np.float32)
    ints, floats, bias, slope = settings(spec("conv2d").merge_attrs({"padding": (1, 1)}), {}, cout, (1, cout, h, w))
    out = np.empty(cout * h * w, np.float32)
    table, (nrow, ncol) = pack(weight), layout(cout)

    def run():
        conv_direct(x, table, nrow, ncol, out, out, 3, 3, 1, 1, 0, h, w, cout, ints, floats, bias, slope, 1)

    return run, 2.0 * cin * cout * 9 * h * w, (x, weight, out)
