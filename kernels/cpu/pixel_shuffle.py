"""pixel_shuffle (depth to space by r), both channel orders, as one strided copy.

in (N, C·r², H, W) → out (N, C, H·r, W·r): out[n, c, h·r+i, w·r+j] = in[n, c·cs + (i·r+j)·ks, h, w] with
(cs, ks) = (r², 1) for the pytorch order and (1, C) for the tf order, fixed in `compile`.
Threads: prange over the N·C·H input rows; each task writes r whole output rows (contiguous stores,
r-way interleaved loads from r² channel planes). Traffic: every element read once and written once.
"""

from __future__ import annotations

from numba import njit, prange


@njit(parallel=True, cache=True)
def shuffle(x, out, r, cs, ks):
    n_count, c_count, ho, wo = out.shape
    h_count, w_count = ho // r, wo // r
    for t in prange(n_count * c_count * h_count):
        n = t // (c_count * h_count)
        c = (t // h_count) % c_count
        h = t % h_count
        for i in range(r):
            row = out[n, c, h * r + i]
            for j in range(r):
                src = x[n, c * cs + (i * r + j) * ks, h]
                for w in range(w_count):
                    row[w * r + j] = src[w]


def channel_strides(order: str, r: int, channels: int) -> tuple[int, int]:
    """(cs, ks): the input channel of (c, i, j) is c·cs + (i·r + j)·ks; `channels` = C of the depth side."""
    return (r * r, 1) if order == "pytorch" else (1, channels)


def compile(attrs, params, in_shapes, out_shapes):
    r = int(attrs["scale"])
    cs, ks = channel_strides(attrs["order"], r, out_shapes[0][1])

    def run(inputs, outputs):
        shuffle(inputs[0], outputs[0], r, cs, ks)

    return run
