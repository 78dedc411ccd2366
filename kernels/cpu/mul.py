"""mul: out = a·b elementwise, in float32 (one product is already correctly rounded).

Threads: prange over chunks of the flattened tensors. Traffic: two reads and one write per element.
"""

from __future__ import annotations

from numba import njit, prange

CHUNK = 1 << 15


@njit(parallel=True, cache=True)
def mul(a4, b4, out4):
    a = a4.reshape(a4.size)
    b = b4.reshape(b4.size)
    out = out4.reshape(out4.size)
    for t in prange((a.size + CHUNK - 1) // CHUNK):
        start, stop = t * CHUNK, min((t + 1) * CHUNK, a.size)
        u, v, dst = a[start:stop], b[start:stop], out[start:stop]   # chunk views: the inner loop vectorises
        for i in range(stop - start):
            dst[i] = u[i] * v[i]


def compile(attrs, params, in_shapes, out_shapes):
    def run(inputs, outputs):
        mul(inputs[0], inputs[1], outputs[0])

    return run
