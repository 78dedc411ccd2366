"""warp: backward warp of img (N, C, H, W) by flow (N, 2, H, W), bilinear with border padding (grid_sample), as
pysr/ops/warp.py defines it (align_corners True: sample x + u; False: (x + u)·W/(W−1) − 0.5; clamped; W == 1
samples column 0).

Threads: prange over the N·H output rows. For its row a job first turns the flow into the two source columns,
two source rows and the two fractions of every pixel (float64 scalars, in per-job scratch of length W), then
for each channel gathers the 4 neighbours and blends them, so the coordinate work is shared by all C channels.
Layout and traffic: NCHW float32. Flow is read once; each output pixel reads 4 input values of its channel,
from at most two input rows near its own when the flow is small (cache-friendly), anywhere for large flows.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, inline="always")
def _coordinate(pos, disp, size, align_corners):
    """Clamped sample coordinate along one axis (float64)."""
    if size == 1:
        return 0.0
    c = pos + disp if align_corners else (pos + disp) * (size / (size - 1.0)) - 0.5
    return min(max(c, 0.0), size - 1.0)


@njit(parallel=True, cache=True)
def _warp(img, flow, out, flow_scale, align_corners):
    n, c, h, w = img.shape
    for job in prange(n * h):
        b = job // h
        y = job - b * h
        i0 = np.empty(w, np.int64)
        i1 = np.empty(w, np.int64)
        j0 = np.empty(w, np.int64)
        j1 = np.empty(w, np.int64)
        al = np.empty(w, np.float64)
        be = np.empty(w, np.float64)
        for x in range(w):
            ix = _coordinate(float(x), flow_scale * flow[b, 0, y, x], w, align_corners)
            iy = _coordinate(float(y), flow_scale * flow[b, 1, y, x], h, align_corners)
            fx = int(math.floor(ix))
            fy = int(math.floor(iy))
            i0[x] = fx
            j0[x] = fy
            i1[x] = min(fx + 1, w - 1)
            j1[x] = min(fy + 1, h - 1)
            al[x] = ix - fx
            be[x] = iy - fy
        for ch in range(c):
            p = img[b, ch]
            dst = out[b, ch, y]
            for x in range(w):
                a = al[x]
                top = (1.0 - a) * p[j0[x], i0[x]] + a * p[j0[x], i1[x]]
                bot = (1.0 - a) * p[j1[x], i0[x]] + a * p[j1[x], i1[x]]
                dst[x] = (1.0 - be[x]) * top + be[x] * bot


def compile(attrs, params, in_shapes, out_shapes):
    flow_scale = float(attrs["flow_scale"])
    align_corners = bool(attrs["align_corners"])

    def fn(inputs, outputs):
        _warp(inputs[0], inputs[1], outputs[0], flow_scale, align_corners)

    return fn
