"""rgb_to_ycbcr (and, through `colour_matrix`, ycbcr_to_rgb): out[k] = Σ_j M[k, j]·in[j] + o[k] per pixel.

`compile` builds the 3×3 matrix M and offset o in float64 from Kr, Kb and the range constants (written
out independently of the reference: rows Y', Pb, Pr, then the range's gains); the inverse op inverts it.
The kernel evaluates in float64 and rounds once. Threads: prange over tasks = (n, chunk of ≤ CHUNK pixels);
each task streams the 3 input planes and writes 3 (or 1, y_only) planes. Traffic: 3 reads, 3 (1) writes
per pixel, all contiguous.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

CHUNK = 1 << 14
MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def colour_matrix(matrix: str, rng: str) -> tuple[np.ndarray, np.ndarray]:
    """(M, o) of the forward transform RGB → YCbCr, float64."""
    kr, kb = MATRICES[matrix]
    kg = 1.0 - kr - kb
    rows = np.array([[kr, kg, kb],                                        # Y'
                     [-kr, -kg, 1.0 - kb],                                # B − Y'
                     [1.0 - kr, -kg, -kb]])                               # R − Y'
    rows[1] /= 2.0 * (1.0 - kb)
    rows[2] /= 2.0 * (1.0 - kr)
    if rng == "limited":
        gains, offsets = np.array([219.0, 224.0, 224.0]) / 255.0, np.array([16.0, 128.0, 128.0]) / 255.0
    else:
        gains, offsets = np.ones(3), np.array([0.0, 128.0, 128.0]) / 255.0
    return rows * gains[:, None], offsets


@njit(parallel=True, cache=True)
def transform(x4, out4, m, o):
    n_count, _, h, w = x4.shape
    k_count = out4.shape[1]
    length = h * w
    x = x4.reshape(n_count, 3, length)
    out = out4.reshape(n_count, k_count, length)
    chunks = (length + CHUNK - 1) // CHUNK
    m00, m01, m02, o0 = m[0, 0], m[0, 1], m[0, 2], o[0]
    if k_count == 3:
        m10, m11, m12, o1 = m[1, 0], m[1, 1], m[1, 2], o[1]
        m20, m21, m22, o2 = m[2, 0], m[2, 1], m[2, 2], o[2]
    else:
        m10 = m11 = m12 = o1 = m20 = m21 = m22 = o2 = 0.0
    for t in prange(n_count * chunks):
        n = t // chunks
        start = (t % chunks) * CHUNK
        stop = min(start + CHUNK, length)
        # chunk views: an index loop over [start, stop) of whole planes runs 3x slower
        a, b, c = x[n, 0, start:stop], x[n, 1, start:stop], x[n, 2, start:stop]
        if k_count == 1:
            y = out[n, 0, start:stop]
            for i in range(stop - start):
                y[i] = m00 * np.float64(a[i]) + m01 * np.float64(b[i]) + m02 * np.float64(c[i]) + o0
        else:
            p, q, r = out[n, 0, start:stop], out[n, 1, start:stop], out[n, 2, start:stop]
            for i in range(stop - start):
                u, v, s = np.float64(a[i]), np.float64(b[i]), np.float64(c[i])
                p[i] = m00 * u + m01 * v + m02 * s + o0
                q[i] = m10 * u + m11 * v + m12 * s + o1
                r[i] = m20 * u + m21 * v + m22 * s + o2


def compile(attrs, params, in_shapes, out_shapes):
    m, o = colour_matrix(attrs["matrix"], attrs["range"])
    if attrs["y_only"]:
        m, o = m[:1].copy(), o[:1].copy()

    def run(inputs, outputs):
        transform(inputs[0], outputs[0], m, o)

    return run
