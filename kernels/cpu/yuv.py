"""8-bit planar YUV ⇄ interleaved RGB for the video path (pysr/video/colour.py states the formulas and builds the
float32 constants; these kernels only evaluate them).

    yuv_to_rgb(y H×W, u, v Hc×Wc, out H×W×3, fy, fx, k)   chroma sample (i // fy, j // fx) covers pixel (i, j)
    rgb_to_yuv(rgb H×W×3, y H×W, u, v Hc×Wc, fy, fx, k)   chroma = mean of its fy×fx block, edge-padded

Arithmetic: float32, operation for operation what numpy evaluates for colour.py's expressions (no fastmath, so
no FMA contraction and no reassociation), np.rint (half to even), clip, cast: the outputs are bit-identical to
the numpy reference in tests/test_yuv_kernels.py. Every literal is a float32 (a bare 128.0 would promote the
expression to float64 and round differently).

Block mean, the one order numpy does not state: each block row is summed left to right, the row sums are added
top to bottom, and the float32 sum is divided by fy·fx in float64 and rounded to float32 (numpy's true_divide by
an intp count): (a + b) + (c + d) for 4:2:0. NOTE: that is numpy's own order for `reshape(...).mean(axis=(1, 3),
dtype=float32)` whenever the chroma plane is at least 2 samples wide; at 1 sample wide numpy's iterator merges
the block into one run and sums ((a + b) + c) + d, which can differ in the last bit. We keep the first order
always (the test reference states it).

Threads: prange over chroma rows; a task does the fy luma rows of its chroma row, so a chroma row is read or
written once. Layout: planes H×W (any row stride, unit column stride), RGB H×W×3 interleaved. Scratch per task:
a few rows of W floats or bytes (L1/L2). Traffic: one read and one write of each plane and of the RGB frame:
4:2:0 is 1.5 + 3 = 4.5 bytes per pixel either way.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _u8(x):
    """uint8 of clip(rint(x), 0, 255) for a finite float32 x."""
    r = np.rint(x)
    if r < np.float32(0.0):
        r = np.float32(0.0)
    elif r > np.float32(255.0):
        r = np.float32(255.0)
    return np.uint8(r)


@njit(cache=True, inline="always")
def _replicate(src, dst, fx, w):
    """dst[j] = src[j // fx] for j < w (chroma up-sampling by replication along the row)."""
    if fx == 1:
        for j in range(w):
            dst[j] = src[j]
    elif fx == 2:
        for k in range(w // 2):
            dst[2 * k] = src[k]
            dst[2 * k + 1] = src[k]
        if w % 2:
            dst[w - 1] = src[w // 2]
    else:
        for j in range(w):
            dst[j] = src[j // fx]


@njit(parallel=True, cache=True)
def yuv_to_rgb(y, u, v, out, fy, fx, k):
    """k = (luma offset, luma gain, chroma gain, R←Pr, G←Pr, G←Pb, B←Pb), float32:
    Y' = (Y − off)·gy, Pb = (U − 128)·gc, R = Y' + kr·Pr, G = (Y' − kgr·Pr) − kgb·Pb, B = Y' + kb·Pb."""
    h, w = y.shape
    off, gy, gc, k_rr, k_gr, k_gb, k_bb = k
    half = np.float32(128.0)
    hc = (h + fy - 1) // fy
    wc = (w + fx - 1) // fx
    for ci in prange(hc):
        # chroma row at chroma resolution, then replicated to full width (float32: the multiply by gc is per
        # chroma sample, the same value numpy computes after replicating the bytes)
        pb_c = np.empty(wc, np.float32)
        pr_c = np.empty(wc, np.float32)
        ur, vr = u[ci], v[ci]
        for j in range(wc):
            pb_c[j] = (np.float32(ur[j]) - half) * gc
            pr_c[j] = (np.float32(vr[j]) - half) * gc
        pb = np.empty(w, np.float32)
        pr = np.empty(w, np.float32)
        _replicate(pb_c, pb, fx, w)
        _replicate(pr_c, pr, fx, w)
        t = np.empty((3, w), np.uint8)
        t_r, t_g, t_b = t[0], t[1], t[2]
        for i in range(ci * fy, min(ci * fy + fy, h)):
            yr = y[i]
            for j in range(w):
                yf = (np.float32(yr[j]) - off) * gy
                t_r[j] = _u8(yf + k_rr * pr[j])
                t_g[j] = _u8((yf - k_gr * pr[j]) - k_gb * pb[j])
                t_b[j] = _u8(yf + k_bb * pb[j])
            # interleave from byte rows: storing with stride 3 in the loop above stays scalar (see frames.py)
            dst = out[i].ravel()
            for j in range(w):
                dst[3 * j] = t_r[j]
                dst[3 * j + 1] = t_g[j]
                dst[3 * j + 2] = t_b[j]


@njit(parallel=True, cache=True)
def rgb_to_yuv(rgb, y, u, v, fy, fx, k):
    """k = (kr, kg, kb, Pb gain, Pr gain, luma gain, luma offset), float32:
    Y' = (kr·R + kg·G) + kb·B, Y = rint(Y'·gy + off), Pb = (B − Y')·gb, U = rint(mean(Pb) + 128), likewise V."""
    h, w = rgb.shape[0], rgb.shape[1]
    kr, kg, kb, g_b, g_r, gy, off = k
    half = np.float32(128.0)
    hc, wc = u.shape
    wp = wc * fx                      # row width padded to whole blocks
    n = np.float64(fy * fx)
    for ci in prange(hc):
        pb = np.empty((fy, wp), np.float32)
        pr = np.empty((fy, wp), np.float32)
        yl = np.empty(w, np.float32)
        for r in range(fy):
            i = ci * fy + r
            if i >= h:                # edge padding: the block's missing rows repeat the last row
                pb[r] = pb[r - 1]
                pr[r] = pr[r - 1]
                continue
            src = rgb[i].ravel()
            pbr, prr = pb[r], pr[r]
            for j in range(w):
                rf, gf, bf = np.float32(src[3 * j]), np.float32(src[3 * j + 1]), np.float32(src[3 * j + 2])
                l_ = (kr * rf + kg * gf) + kb * bf
                yl[j] = l_
                pbr[j] = (bf - l_) * g_b
                prr[j] = (rf - l_) * g_r
            yr = y[i]
            for j in range(w):
                yr[j] = _u8(yl[j] * gy + off)
            for j in range(w, wp):    # edge padding: missing columns repeat the last column
                pbr[j] = pbr[w - 1]
                prr[j] = prr[w - 1]
        ur, vr = u[ci], v[ci]
        if fy == 1 and fx == 1:
            for j in range(wc):
                ur[j] = _u8(pb[0, j] + half)
                vr[j] = _u8(pr[0, j] + half)
        elif fy == 2 and fx == 2:
            b0, b1, r0, r1 = pb[0], pb[1], pr[0], pr[1]
            for j in range(wc):
                sb = (b0[2 * j] + b0[2 * j + 1]) + (b1[2 * j] + b1[2 * j + 1])
                sr = (r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1])
                ur[j] = _u8(np.float32(sb * np.float32(0.25)) + half)     # ÷4 is exact: as numpy's float64 ÷ 4
                vr[j] = _u8(np.float32(sr * np.float32(0.25)) + half)
        elif fy == 1 and fx == 2:
            b0, r0 = pb[0], pr[0]
            for j in range(wc):
                ur[j] = _u8(np.float32((b0[2 * j] + b0[2 * j + 1]) * np.float32(0.5)) + half)
                vr[j] = _u8(np.float32((r0[2 * j] + r0[2 * j + 1]) * np.float32(0.5)) + half)
        else:
            for j in range(wc):
                sb = np.float32(0.0)
                sr = np.float32(0.0)
                for r in range(fy):
                    rb = pb[r, j * fx]
                    rr = pr[r, j * fx]
                    for c in range(1, fx):
                        rb += pb[r, j * fx + c]
                        rr += pr[r, j * fx + c]
                    sb = rb if r == 0 else sb + rb
                    sr = rr if r == 0 else sr + rr
                ur[j] = _u8(np.float32(np.float64(sb) / n) + half)
                vr[j] = _u8(np.float32(np.float64(sr) / n) + half)
