"""space_to_depth by r, both channel orders: the exact inverse copy of pixel_shuffle.

in (N, C, H, W) → out (N, C·r², H/r, W/r): out[n, c·cs + (i·r+j)·ks, h, w] = in[n, c, h·r+i, w·r+j],
(cs, ks) = (r², 1) for pytorch (pixel_unshuffle) and (1, C) for tf, as in kernels/cpu/pixel_shuffle.py.
Threads: prange over the N·C·(H/r) output row groups; each task reads r whole input rows (contiguous
loads) and writes r² output rows (stride-r gathers). Traffic: every element read once and written once.
"""

from __future__ import annotations

from numba import njit, prange

from pysr.kernels.cpu.pixel_shuffle import channel_strides


@njit(parallel=True, cache=True)
def unshuffle(x, out, r, cs, ks):
    n_count, c_count, hi, wi = x.shape
    h_count, w_count = hi // r, wi // r
    for t in prange(n_count * c_count * h_count):
        n = t // (c_count * h_count)
        c = (t // h_count) % c_count
        h = t % h_count
        for i in range(r):
            src = x[n, c, h * r + i]
            for j in range(r):
                row = out[n, c * cs + (i * r + j) * ks, h]
                for w in range(w_count):
                    row[w] = src[w * r + j]


def compile(attrs, params, in_shapes, out_shapes):
    r = int(attrs["scale"])
    cs, ks = channel_strides(attrs["order"], r, in_shapes[0][1])

    def run(inputs, outputs):
        unshuffle(inputs[0], outputs[0], r, cs, ks)

    return run
