"""warp: backward warp of img (N, C, H, W) by flow (N, 2, H, W), bilinear with border padding (grid_sample), as
pysr/ops/warp.py defines it (align_corners True: sample x + u; False: (x + u)·W/(W−1) − 0.5; clamped; W == 1
samples column 0).

Threads: prange over bands of output rows of one image (N·⌈H/band⌉ jobs). Per row a job first turns the flow
into one flat source offset (uint32) and the two fractions of every pixel (float32, per-job scratch of length
W; a unit-stride loop that vectorises), then, three channels at a time, reads the 4 neighbours at offset, +1,
+W, +W+1 and blends them, so the coordinate work is shared by all C channels.
The clamp keeps the top-left neighbour at column ≤ W−2 (row ≤ H−2): a sample on the last column is taken as
column W−2 with α = 1, which is exactly the border value, so no neighbour needs its own clamp and all four
share one offset (a NaN coordinate clamps to 0 instead of reading out of bounds). Coordinates are float32: the
spec's tolerance allows eps·max(H, W) pixels of rounding.
The blend stays scalar on purpose: LLVM will not vectorise its indirect loads (it cannot rule out aliasing with
the output), and where it was made to (vgatherqps) it ran 2× slower on this machine.
Layout and traffic: NCHW float32. Flow is read once, the output written once; each output pixel reads 4 input
values of its channel from two adjacent input rows near its own when the flow is small (cache-friendly),
anywhere for large flows. Indices are uint32: planes below 2^32 pixels (`supports`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

BAND_ROWS = 8   # output rows per job: amortises the scratch allocation, still ≥ 100 jobs for video frames


@njit(cache=True, inline="always")
def _clamp(v, hi):
    """v clamped to [0, hi]; NaN gives 0 (the comparisons are false for NaN)."""
    v = v if v > np.float32(0.0) else np.float32(0.0)
    return v if v < hi else hi


@njit(cache=True, inline="always", fastmath={"contract"})
def _bilinear(p, o, dx, dy, a, b):
    """Blend of p[o], p[o + dx] (fraction a) and the row below, p[o + dy], p[o + dy + dx] (fraction b)."""
    p00 = p[o]
    p10 = p[o + dy]
    top = p00 + a * (p[o + dx] - p00)
    bot = p10 + a * (p[o + dy + dx] - p10)
    return top + b * (bot - top)


@njit(parallel=True, cache=True, fastmath={"contract"})
def _warp(img, flow, out, flow_scale, align_corners):
    n, c, h, w = img.shape
    fs = np.float32(flow_scale)
    # Source position = (pos + disp)·k + shift, clamped; k = W/(W−1), shift = −0.5 when not corner-aligned.
    kx = np.float32(1.0) if align_corners or w == 1 else np.float32(w / (w - 1.0))
    ky = np.float32(1.0) if align_corners or h == 1 else np.float32(h / (h - 1.0))
    shift = np.float32(0.0) if align_corners else np.float32(-0.5)
    xmax = np.float32(w - 1)
    ymax = np.float32(h - 1)
    i_top = np.uint32(max(w - 2, 0))   # largest left-neighbour column (0 for a single column)
    j_top = np.uint32(max(h - 2, 0))
    uw = np.uint32(w)
    dx = np.uint32(1 if w > 1 else 0)  # offset of the right / lower neighbour
    dy = np.uint32(w if h > 1 else 0)
    nb = (h + BAND_ROWS - 1) // BAND_ROWS
    for job in prange(n * nb):
        b = job // nb
        y0 = (job - b * nb) * BAND_ROWS
        y1 = min(y0 + BAND_ROWS, h)
        off = np.empty(w, np.uint32)
        al = np.empty(w, np.float32)
        be = np.empty(w, np.float32)
        for y in range(y0, y1):
            fu = flow[b, 0, y]
            fv = flow[b, 1, y]
            yf = np.float32(y)
            for x in range(w):
                ix = _clamp((np.float32(x) + fs * fu[x]) * kx + shift, xmax)
                iy = _clamp((yf + fs * fv[x]) * ky + shift, ymax)
                i0 = min(np.uint32(ix), i_top)          # ix ≥ 0: truncation is floor
                j0 = min(np.uint32(iy), j_top)
                off[x] = j0 * uw + i0
                al[x] = ix - np.float32(i0)
                be[x] = iy - np.float32(j0)
            # Channels three at a time (RGB in one pass: the offsets and fractions are loaded once per pixel,
            # measured 8-13% faster than channel by channel), then any left over one at a time.
            for ch in range(0, c - c % 3, 3):
                p0 = img[b, ch].ravel()
                p1 = img[b, ch + 1].ravel()
                p2 = img[b, ch + 2].ravel()
                d0 = out[b, ch, y]
                d1 = out[b, ch + 1, y]
                d2 = out[b, ch + 2, y]
                for x in range(w):
                    o = off[x]
                    a = al[x]
                    bb = be[x]
                    d0[x] = _bilinear(p0, o, dx, dy, a, bb)
                    d1[x] = _bilinear(p1, o, dx, dy, a, bb)
                    d2[x] = _bilinear(p2, o, dx, dy, a, bb)
            for ch in range(c - c % 3, c):
                p = img[b, ch].ravel()
                dst = out[b, ch, y]
                for x in range(w):
                    dst[x] = _bilinear(p, off[x], dx, dy, al[x], be[x])


def supports(attrs, in_shapes) -> bool:
    _, _, h, w = in_shapes[0]
    return h * w < 2**32              # uint32 offsets


def compile(attrs, params, in_shapes, out_shapes):
    flow_scale = float(attrs["flow_scale"])
    align_corners = bool(attrs["align_corners"])

    def fn(inputs, outputs):
        _warp(inputs[0], inputs[1], outputs[0], flow_scale, align_corners)

    return fn
