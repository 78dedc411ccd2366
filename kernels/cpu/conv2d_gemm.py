"""conv2d as a blocked im2col matrix multiply: the general path (any kernel size, stride, padding, groups).

One block = up to 256 consecutive output pixels of one output row (batch n, group g), in 64-pixel sub-blocks.
`gather` copies the K = Cin/groups·kh·kw input values each pixel needs into a small panel (K × 64 floats per
sub-block; sub-blocks per block are capped so the panel stays ≈ ≤ 256 KiB, L2-resident; there is never a
full-frame im2col buffer). Padding is resolved while gathering (zeros / reflect / replicate index maps), so the
input is never copied padded; interior stride-1 rows are contiguous copies. The micro-kernel then computes 4
output channels × 64 pixels at once: 16 zmm accumulators (a stack buffer that LLVM keeps in registers, see
conv2d_llvm.py), per k one broadcast of each of 4 prepacked weights and 4 vector loads of the panel row, 16
FMAs (≈ 160 GFLOP/s on one core with the panel in L1, ≈ 100-110 in situ). The 4 channels' rows of the block are
collected on the stack and go through the fused epilogue (conv2d_epilogue.finish) while still in L1.
Threads: prange over chunks of (n, g, row, block) tasks, scratch allocated once per chunk.
Traffic per block: each input value is read kh·kw/stride² times from cache by the gather (the panel is
written once and read once per 4-channel block), weights K·Cout from L1/L2, output written once.
Weights are prepacked in `pack` as (groups, Cout/groups/4 rounded up, K, 4), zero-padded channels.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

from pysr.kernels.cpu.conv2d_epilogue import finish
from pysr.kernels.cpu.conv2d_llvm import stack_f32_256, stack_f32_1024, wide_vectors

TT = 64       # output pixels per block: 4 zmm vectors
MC = 4        # output channels per micro-kernel call
ROW = 256     # longest output row segment one block covers
ZEROS, REFLECT, REPLICATE = 0, 1, 2
PAD_CODES = {"zeros": ZEROS, "reflect": REFLECT, "replicate": REPLICATE}


@njit(inline="always", cache=True)
def src_index(i, n, mode):
    """Source index of padded coordinate i (unpadded origin) along an axis of length n; -1 = a zero."""
    if i >= 0 and i < n:
        return i
    if mode == ZEROS:
        return -1
    if mode == REFLECT:
        j = -i if i < 0 else 2 * (n - 1) - i
        # beyond the padded border (Winograd's ragged last tile reads there): any finite value is fine
        return j if (j >= 0 and j < n) else -1
    return 0 if i < 0 else n - 1


@njit(fastmath=True, inline="always", cache=True)
def micro(wp, cb, panel, kc, acc):
    """acc[j·TT + t] = Σ_k wp[cb, k, j] · panel[k, t] for j < 4, t < 64 (acc: a 256-float stack buffer)."""
    for i in range(MC * TT):
        acc[i] = 0
    for k in range(kc):
        w0 = wp[cb, k, 0]
        w1 = wp[cb, k, 1]
        w2 = wp[cb, k, 2]
        w3 = wp[cb, k, 3]
        for t in range(TT):
            v = panel[k, t]
            acc[t] += w0 * v
            acc[TT + t] += w1 * v
            acc[2 * TT + t] += w2 * v
            acc[3 * TT + t] += w3 * v


@njit(fastmath=True, inline="always", cache=True)
def gather(x, n, c0, cpg, y, x0, count, kh, kw, s, ph, pw, mode, panel):
    """panel[k, t] = padded x[n, c0 + ci, y·s + ky − ph, (x0 + t)·s + kx − pw], k = (ci, ky, kx); 0 past count.
    Unsigned offsets: numba adds no negative-index fix-up to them, so the interior copy is a plain vector loop."""
    h, w = x.shape[2], x.shape[3]
    zero = np.float32(0.0)
    k = 0
    for ci in range(cpg):
        for ky in range(kh):
            iy = src_index(y * s + ky - ph, h, mode)
            for kx in range(kw):
                if iy < 0:
                    for t in range(TT):
                        panel[k, t] = zero
                    k += 1
                    continue
                base = x0 * s + kx - pw                      # column of pixel t is base + t·s
                if s == 1:
                    lo = min(max(-base, 0), count)
                    hi = max(min(count, w - base), lo)
                else:
                    lo = 0 if base >= 0 else min((s - 1 - base) // s, count)
                    hi = max(min(count, (w - 1 - base) // s + 1), lo) if base <= w - 1 else lo
                for t in range(lo):
                    j = src_index(base + t * s, w, mode)
                    panel[k, t] = x[n, c0 + ci, iy, j] if j >= 0 else zero
                first = uint64(base + lo * s)
                if s == 1:
                    for t in range(uint64(hi - lo)):
                        panel[k, uint64(lo) + t] = x[n, c0 + ci, iy, first + t]
                else:
                    for t in range(uint64(hi - lo)):
                        panel[k, uint64(lo) + t] = x[n, c0 + ci, iy, first + t * uint64(s)]
                for t in range(hi, count):
                    j = src_index(base + t * s, w, mode)
                    panel[k, t] = x[n, c0 + ci, iy, j] if j >= 0 else zero
                for t in range(count, TT):
                    panel[k, t] = zero
                k += 1


@njit(fastmath=True, error_model="numpy", cache=True)
def block(x, wg, panel, n, g, cpg, y, x0, count, kh, kw, s, ph, pw, mode, out, res, opg, ints, floats, bias,
          slope):
    """One block of up to nsub·64 pixels of one output row: gather the panel, then per 4 output channels the
    micro-kernel on each 64-pixel sub-block, the results collected into 4 rows of ≤ 256 that the fused epilogue
    writes (long rows: fewer epilogue calls, longer contiguous stores per output plane)."""
    wide_vectors()
    acc = stack_f32_256()
    rows = stack_f32_1024()
    used = (count + TT - 1) // TT
    k_count = panel.shape[1]
    for sub in range(used):
        gather(x, n, g * cpg, cpg, y, x0 + sub * TT, min(TT, count - sub * TT), kh, kw, s, ph, pw, mode, panel[sub])
    for cb in range(wg.shape[0]):
        for sub in range(used):
            micro(wg, cb, panel[sub], k_count, acc)
            for j in range(MC):
                for t in range(TT):
                    rows[j * ROW + sub * TT + t] = acc[j * TT + t]
        finish(rows, ROW, min(MC, opg - cb * MC), count, out, res, n, g * opg + cb * MC, 1, y, 0, x0, ints, floats,
               bias, slope)


@njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def conv_gemm(x, wp, out, res, kh, kw, s, ph, pw, mode, ho, wo, nsub, ints, floats, bias, slope, threads):
    n_count = x.shape[0]
    groups, k_count = wp.shape[0], wp.shape[2]
    opg = bias.shape[0] // groups
    cpg = x.shape[1] // groups
    bw = nsub * TT
    nxb = (wo + bw - 1) // bw
    ntasks = n_count * groups * ho * nxb
    nchunks = min(ntasks, 8 * threads)
    for chunk in prange(nchunks):
        panel = np.empty((nsub, k_count, TT), np.float32)
        for task in range(chunk * ntasks // nchunks, (chunk + 1) * ntasks // nchunks):
            xb = task % nxb
            y = (task // nxb) % ho
            g = (task // (nxb * ho)) % groups
            n = task // (nxb * ho * groups)
            block(x, wp[g], panel, n, g, cpg, y, xb * bw, min(bw, wo - xb * bw), kh, kw, s, ph, pw, mode, out, res,
                  opg, ints, floats, bias, slope)


def sub_blocks(k_count: int) -> int:
    """64-pixel sub-blocks per block: up to 4 (256-pixel rows), fewer when the panel would outgrow ≈ 256 KiB."""
    return max(1, min(ROW // TT, 1024 // k_count))


def pack(weight: np.ndarray, groups: int) -> np.ndarray:
    """(Cout, Cin/groups, kh, kw) → (groups, ⌈Cout/groups/4⌉, K, 4) float32, zero-padded output channels."""
    cout = weight.shape[0]
    opg = cout // groups
    k = int(np.prod(weight.shape[1:]))
    ncb = -(-opg // MC)
    w = np.zeros((groups, ncb * MC, k), np.float32)
    w[:, :opg] = weight.reshape(groups, opg, k)
    return np.ascontiguousarray(w.reshape(groups, ncb, MC, k).transpose(0, 1, 3, 2))
