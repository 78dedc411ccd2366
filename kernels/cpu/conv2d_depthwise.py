"""Depthwise conv2d (one input channel per group: groups = Cin, any channel multiplier Cout/Cin, any kernel,
stride and padding) as a direct row kernel.

One task = one output channel co (input channel co // multiplier) × a band of up to RB = 8 output rows. The
input rows the band needs are first copied once into a scratch band, padded through the pad-mode index map
(so every later read is in range and branch-free); then each output row is accumulated over the taps:
for 3×3 stride 1 as one loop with all nine products per pixel (one store per output), otherwise one
multiply-add pass per tap; the finished row goes through the fused epilogue.
Threads: prange over chunks of (n, co, band) tasks, scratch per chunk. Traffic: each input row is read
once from memory per band (plus the kh−1 halo rows per band), each output element written once; depthwise
convolutions are memory-bound (≈ 2 flops per byte), there is no reuse across channels to exploit.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from pysr.kernels.cpu.conv2d_epilogue import finish
from pysr.kernels.cpu.conv2d_gemm import src_index
from pysr.kernels.cpu.conv2d_llvm import wide_vectors

RB = 8        # output rows per task


@njit(fastmath=True, error_model="numpy", cache=True)
def band(x, wd, out, res, band_buf, acc, n, co, y0, rows, s, ph, pw, mode, wo, ints, floats, bias, slope):
    """Output rows y0 … y0+rows−1 of channel co."""
    wide_vectors()
    h, w = x.shape[2], x.shape[3]
    kh, kw = wd.shape[1], wd.shape[2]
    ci = co // (wd.shape[0] // x.shape[1])
    wp = band_buf.shape[1]                          # padded width: w + 2·pw (≥ what the strided taps reach)
    zero = np.float32(0.0)
    nin = (rows - 1) * s + kh
    for r in range(nin):
        iy = src_index(y0 * s + r - ph, h, mode)
        dst = band_buf[r]
        if iy < 0:
            for u in range(wp):
                dst[u] = zero
            continue
        lo = min(pw, wp)
        hi = min(pw + w, wp)
        for u in range(lo):
            j = src_index(u - pw, w, mode)
            dst[u] = x[n, ci, iy, j] if j >= 0 else zero
        for u in range(uint64(hi - lo)):
            dst[uint64(lo) + u] = x[n, ci, iy, u]
        for u in range(hi, wp):
            j = src_index(u - pw, w, mode)
            dst[u] = x[n, ci, iy, j] if j >= 0 else zero
    for yy in range(rows):
        r0 = yy * s
        if kh == 3 and kw == 3 and s == 1:
            a, b, c = band_buf[r0], band_buf[r0 + 1], band_buf[r0 + 2]
            w00, w01, w02 = wd[co, 0, 0], wd[co, 0, 1], wd[co, 0, 2]
            w10, w11, w12 = wd[co, 1, 0], wd[co, 1, 1], wd[co, 1, 2]
            w20, w21, w22 = wd[co, 2, 0], wd[co, 2, 1], wd[co, 2, 2]
            for t in range(wo):
                acc[t] = (w00 * a[t] + w01 * a[t + 1] + w02 * a[t + 2] + w10 * b[t] + w11 * b[t + 1] + w12 * b[t + 2]
                          + w20 * c[t] + w21 * c[t + 1] + w22 * c[t + 2])
        else:
            for t in range(wo):
                acc[t] = zero
            for ky in range(kh):
                src = band_buf[r0 + ky]
                for kx in range(kw):
                    wv = wd[co, ky, kx]
                    if s == 1:
                        for t in range(wo):
                            acc[t] += wv * src[t + kx]
                    else:
                        for t in range(wo):
                            acc[t] += wv * src[t * s + kx]
        finish(acc, 0, 1, wo, out, res, n, co, 0, y0 + yy, 0, 0, ints, floats, bias, slope)


@njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def conv_depthwise(x, wd, out, res, s, ph, pw, mode, ho, wo, ints, floats, bias, slope, threads):
    n_count = x.shape[0]
    cout, kh, kw = wd.shape
    nb = (ho + RB - 1) // RB
    ntasks = n_count * cout * nb
    nchunks = min(ntasks, 8 * threads)
    # the padded band must also cover what the strided taps of the last column reach
    wp = max(x.shape[3] + 2 * pw, (wo - 1) * s + kw)
    for chunk in prange(nchunks):
        band_buf = np.empty(((RB - 1) * s + kh, wp), np.float32)
        acc = np.empty(wo, np.float32)
        for task in range(chunk * ntasks // nchunks, (chunk + 1) * ntasks // nchunks):
            b = task % nb
            co = (task // nb) % cout
            n = task // (nb * cout)
            band(x, wd, out, res, band_buf, acc, n, co, b * RB, min(RB, ho - b * RB), s, ph, pw, mode, wo, ints,
                 floats, bias, slope)
