"""pool2d: 2×2 max or average pooling, stride 2, floor mode (an odd last row/column is ignored).

Threads: prange over the N·C·Ho output rows; each reads its two input rows once, with unit stride, and writes
one output row. Layout NCHW float32; traffic = the input once (less a dropped odd row/column) + the output once.
Average sums the 4 values in float32 and scales by 1/4 (exact).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def _pool(x, out, is_max):
    n, c, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    for job in prange(n * c * ho):
        plane = job // ho
        y = job - plane * ho
        b = plane // c
        ch = plane - b * c
        r0 = x[b, ch, 2 * y]
        r1 = x[b, ch, 2 * y + 1]
        dst = out[b, ch, y]
        if is_max:
            for j in range(wo):
                dst[j] = max(max(r0[2 * j], r0[2 * j + 1]), max(r1[2 * j], r1[2 * j + 1]))
        else:
            for j in range(wo):
                dst[j] = ((r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1])) * np.float32(0.25)


def compile(attrs, params, in_shapes, out_shapes):
    is_max = attrs["mode"] == "max"

    def fn(inputs, outputs):
        _pool(inputs[0], outputs[0], is_max)

    return fn
