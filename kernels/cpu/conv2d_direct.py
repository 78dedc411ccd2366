"""conv2d for stride-1, groups-1 layers with few output channels (Cout ≤ 4: a flow head 32→2, an image head
32→1, RGB out 4→3), reading the input in place.

For such layers the gemm path's im2col gather (Cin·kh·kw values copied per output pixel into a panel) costs as
much as the multiply-adds it feeds, since only one 4-channel block ever reads each panel. Here the micro-kernel
reads every tap's row segment straight from the input:
    acc[j, t] += w[j, ci, ky, kx] · x[n, ci, iy(y + ky − ph), x0 + t + kx − pw]
with 16 zmm accumulators kept in registers for the whole reduction (the stack-buffer trick of conv2d_llvm.py):
MC = 4 channels × 64 pixels, 2 × 128 or 1 × 256 (Cout = 3 pads to 4 with a zero channel). Per tap: MC weight
broadcasts, 256/MC pixels loaded (unaligned, from L1/L2), 16 FMAs. The taps run as one flat loop over a per-block
list (offset of the tap's first pixel, weight row), so nothing but that loop sits between the accumulators'
zeroing and their use; the results are copied to a second stack buffer for the epilogue (handing the accumulator
buffer itself to the epilogue made LLVM store all 16 registers to it on every tap: 2× slower).

One task = one output row × one block of P = 256/MC pixels. Rows outside the image (zero padding) are skipped,
reflect / replicate rows go through the pad-mode index map (conv2d_gemm.src_index). A block whose taps stay
inside the row reads the input directly; the blocks at the left and right edges (and a ragged last block) first
copy their Cin·kh padded row segments (P + kw − 1 values) into a scratch strip and read that instead.
Threads: prange over chunks of consecutive tasks (one chunk's output rows share their input rows in L2); scratch
per chunk. Traffic: each input row is read kh times from cache per row block, the output written once through
the fused epilogue (conv2d_epilogue.finish). Weights prepacked (Cin·kh·kw, MC), zero-padded channels.
Variant: bench/conv2d_variants/v09_direct_two_rows.py (two output rows per task).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from pysr.kernels.cpu.conv2d_epilogue import finish
from pysr.kernels.cpu.conv2d_gemm import src_index
from pysr.kernels.cpu.conv2d_llvm import stack_f32_256, wide_vectors

MAX_COUT = 4
LANES = 64        # pixels per accumulator group (4 zmm)


def channels_per_block(cout: int) -> int:
    """MC: 1, 2 or 4 output channels per micro-kernel call."""
    return 1 if cout == 1 else 2 if cout == 2 else 4


@njit(fastmath=True, inline="always", cache=True)
def micro4(src, toff, tw, ntaps, wk, acc):
    """acc[j·64 + t] = Σ_{i < ntaps} wk[tw[i], j] · src[toff[i] + t]: 4 channels × 64 pixels."""
    for i in range(256):
        acc[i] = 0
    for i in range(ntaps):
        o = uint64(toff[i])
        k = tw[i]
        w0, w1, w2, w3 = wk[k, 0], wk[k, 1], wk[k, 2], wk[k, 3]
        for t in range(LANES):
            v = src[o + uint64(t)]
            acc[t] += w0 * v
            acc[LANES + t] += w1 * v
            acc[2 * LANES + t] += w2 * v
            acc[3 * LANES + t] += w3 * v


@njit(fastmath=True, inline="always", cache=True)
def micro2(src, toff, tw, ntaps, wk, acc):
    """As micro4 for 2 channels × 128 pixels: acc[j·128 + t]."""
    for i in range(256):
        acc[i] = 0
    for i in range(ntaps):
        o = uint64(toff[i])
        k = tw[i]
        w0, w1 = wk[k, 0], wk[k, 1]
        for t in range(LANES):
            v0 = src[o + uint64(t)]
            v1 = src[o + uint64(LANES + t)]
            acc[t] += w0 * v0
            acc[LANES + t] += w0 * v1
            acc[2 * LANES + t] += w1 * v0
            acc[3 * LANES + t] += w1 * v1


@njit(fastmath=True, inline="always", cache=True)
def micro1(src, toff, tw, ntaps, wk, acc):
    """As micro4 for 1 channel × 256 pixels: acc[t]."""
    for i in range(256):
        acc[i] = 0
    for i in range(ntaps):
        o = uint64(toff[i])
        w0 = wk[tw[i], 0]
        for t in range(LANES):
            acc[t] += w0 * src[o + uint64(t)]
            acc[LANES + t] += w0 * src[o + uint64(LANES + t)]
            acc[2 * LANES + t] += w0 * src[o + uint64(2 * LANES + t)]
            acc[3 * LANES + t] += w0 * src[o + uint64(3 * LANES + t)]


@njit(fastmath=True, error_model="numpy", cache=True)
def block(x, xf, wk, mc, strip, toff, tw, n, y, x0, count, ph, pw, mode, out, res, cout, ints, floats, bias,
          slope):
    """Output row y, pixels x0 … x0+count−1 (count ≤ P), all channels. First the tap list: per tap (ci, ky, kx)
    whose input row exists, the offset of its first pixel in `src` (toff) and its weight row (tw)."""
    wide_vectors()
    acc = stack_f32_256()
    rows = stack_f32_256()
    cin, h, w = x.shape[1], x.shape[2], x.shape[3]
    kw = strip.shape[1] - 256 // mc + 1
    kh = wk.shape[0] // (cin * kw)
    p = 256 // mc
    inside = count == p and x0 - pw >= 0 and x0 + p + kw - 1 - pw <= w
    sw = strip.shape[1]
    ntaps = 0
    for ci in range(cin):
        for ky in range(kh):
            iy = src_index(y + ky - ph, h, mode)
            if iy < 0:
                continue
            r = ci * kh + ky
            if inside:
                o = ((n * cin + ci) * h + iy) * w + x0 - pw
            else:
                o = r * sw
                dst = strip[r]
                base = x0 - pw                          # strip column u holds padded input column base + u
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
                tw[ntaps] = r * kw + kx
                ntaps += 1
    src = xf if inside else strip.reshape(strip.size)
    if mc == 4:
        micro4(src, toff, tw, ntaps, wk, acc)
    elif mc == 2:
        micro2(src, toff, tw, ntaps, wk, acc)
    else:
        micro1(src, toff, tw, ntaps, wk, acc)
    for i in range(256):
        rows[i] = acc[i]
    finish(rows, p, min(mc, cout), count, out, res, n, 0, 1, y, 0, x0, ints, floats, bias, slope)


@njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def conv_direct(x, wk, mc, out, res, kh, kw, ph, pw, mode, ho, wo, cout, ints, floats, bias, slope, threads):
    n_count, cin = x.shape[0], x.shape[1]
    xf = x.reshape(x.size)
    p = 256 // mc
    nxb = (wo + p - 1) // p
    ntasks = n_count * ho * nxb
    nchunks = min(ntasks, 8 * threads)
    for chunk in prange(nchunks):
        strip = np.empty((cin * kh, p + kw - 1), np.float32)
        toff = np.empty(cin * kh * kw, np.int64)
        tw = np.empty(cin * kh * kw, np.int64)
        for task in range(chunk * ntasks // nchunks, (chunk + 1) * ntasks // nchunks):
            xb = task % nxb
            y = (task // nxb) % ho
            n = task // (nxb * ho)
            block(x, xf, wk, mc, strip, toff, tw, n, y, xb * p, min(p, wo - xb * p), ph, pw, mode, out, res, cout,
                  ints, floats, bias, slope)


def pack(weight: np.ndarray) -> np.ndarray:
    """(Cout ≤ 4, Cin, kh, kw) → (Cin·kh·kw, MC) float32, channels zero-padded to MC."""
    cout = weight.shape[0]
    mc = channels_per_block(cout)
    wk = np.zeros((int(np.prod(weight.shape[1:])), mc), np.float32)
    wk[:, :cout] = weight.reshape(cout, -1).T
    return wk
