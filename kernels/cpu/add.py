"""add: out = a + scale·b elementwise (a residual connection).

Evaluated in float64 and rounded once (a and scale·b may cancel). Threads: prange over chunks of the
flattened tensors. Traffic: two reads and one write per element (memory-bound).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNK = 1 << 15


@njit(parallel=True, cache=True)
def add(a4, b4, out4, scale):
    a = a4.reshape(a4.size)
    b = b4.reshape(b4.size)
    out = out4.reshape(out4.size)
    for t in prange((a.size + CHUNK - 1) // CHUNK):
        start, stop = t * CHUNK, min((t + 1) * CHUNK, a.size)
        u, v, dst = a[start:stop], b[start:stop], out[start:stop]   # chunk views: the inner loop vectorises
        for i in range(stop - start):
            dst[i] = np.float64(u[i]) + scale * np.float64(v[i])


def compile(attrs, params, in_shapes, out_shapes):
    scale = float(attrs["scale"])

    def run(inputs, outputs):
        add(inputs[0], inputs[1], outputs[0], scale)

    return run
