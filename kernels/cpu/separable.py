"""Separable resampling, shared by the CPU resize kernels (resize_bilinear, resize_bicubic_torch,
resize_bicubic_matlab, upsample_bicubic_tecogan); not an op itself.

Computes, for per-axis tap tables (ih, wh) of shape (Ho, Ph) and (iw, ww) of shape (Wo, Pw) built by the op's
spec (pysr/ops/<op>.py, `tables`), rows first and then columns as the references do:
    row[x']              = Σ_a wh[y, a]·in[n, c, ih[y, a], x']        (vertical pass, float32 row of W)
    out[n, c, y, x]      = Σ_b ww[x, b]·row[iw[x, b]]                   (horizontal pass)
Threads: prange over the N·C·Ho output rows, each independent; a job allocates its own row scratch, so the
kernel holds no state between calls.
Layout and traffic: NCHW float32. The vertical pass streams Ph contiguous input rows with unit stride (it
vectorises); the horizontal pass gathers Pw taps per output from the row, which sits in L1. Every input row is
read about Ph·Ho/H times (once per output row that uses it: ~1× when shrinking with a widened kernel, Ph×
scale when enlarging) and every output element is written once. Accumulation is float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def resample(x, out, ih, wh, iw, ww):
    n, c, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    ph, pw = ih.shape[1], iw.shape[1]
    for job in prange(n * c * ho):
        plane = job // ho
        y = job - plane * ho
        b = plane // c
        ch = plane - b * c
        row = np.empty(w, np.float32)
        src = x[b, ch, ih[y, 0]]
        wk = wh[y, 0]
        for i in range(w):
            row[i] = wk * src[i]
        for a in range(1, ph):
            src = x[b, ch, ih[y, a]]
            wk = wh[y, a]
            for i in range(w):
                row[i] += wk * src[i]
        dst = out[b, ch, y]
        for j in range(wo):
            acc = np.float32(0.0)
            for k in range(pw):
                acc += ww[j, k] * row[iw[j, k]]
            dst[j] = acc


def compile_tables(taps_h, taps_w):
    """fn(inputs, outputs) running `resample` with the tables captured (int64 indices, float32 weights)."""
    ih = np.ascontiguousarray(taps_h[0], np.int64)
    wh = np.ascontiguousarray(taps_h[1], np.float32)
    iw = np.ascontiguousarray(taps_w[0], np.int64)
    ww = np.ascontiguousarray(taps_w[1], np.float32)

    def fn(inputs, outputs):
        resample(inputs[0], outputs[0], ih, wh, iw, ww)

    return fn
