"""pad H and W (zeros with a value | reflect | replicate) by index tables built in `compile`.

rows[y] / cols[x] give the source row/column of output row y / column x, or −1 where `value` is written
(zeros mode). Threads: prange over the N·C·Ho output rows; each row copies its W interior elements
contiguously and fills its left and right borders through the column table. Traffic: one read per
interior element, one write per output element.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


def source_index(size: int, before: int, after: int, mode: str) -> np.ndarray:
    """Source index of each padded position along one axis, −1 for a constant."""
    t = np.arange(-before, size + after, dtype=np.int64)
    if mode == "reflect":
        t = np.abs(t)
        return np.where(t >= size, 2 * (size - 1) - t, t)
    if mode == "replicate":
        return np.clip(t, 0, size - 1)
    return np.where((t >= 0) & (t < size), t, -1)


@njit(parallel=True, cache=True)
def pad(x, out, rows, cols, left, value):
    n_count, c_count, ho, wo = out.shape
    w = x.shape[3]
    for t in prange(n_count * c_count * ho):
        n = t // (c_count * ho)
        c = (t // ho) % c_count
        y = t % ho
        dst = out[n, c, y]
        sy = rows[y]
        if sy < 0:
            for i in range(wo):
                dst[i] = value
            continue
        src = x[n, c, sy]
        for i in range(w):
            dst[left + i] = src[i]
        for i in range(left):
            j = cols[i]
            dst[i] = src[j] if j >= 0 else value
        for i in range(left + w, wo):
            j = cols[i]
            dst[i] = src[j] if j >= 0 else value


def compile(attrs, params, in_shapes, out_shapes):
    top, bottom, left, right = (int(p) for p in attrs["pads"])
    _, _, h, w = in_shapes[0]
    rows = source_index(h, top, bottom, attrs["mode"])
    cols = source_index(w, left, right, attrs["mode"])
    value = np.float32(attrs["value"])

    def run(inputs, outputs):
        pad(inputs[0], outputs[0], rows, cols, left, value)

    return run
