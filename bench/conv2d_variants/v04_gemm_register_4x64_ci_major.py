"""v04 v03's micro-kernel with V laid out [ci][ξ][t] (what the input transform writes most cheaply): for one ξ the
64 panel rows sit 9 KiB apart, 16 of them per L1 set (12 ways) — conflict misses, ≈ 60 GFLOP/s."""

from __future__ import annotations

import numpy as np
from numba import njit

from pysr.kernels.cpu.conv2d_llvm import stack_f32_256, wide_vectors

TT = 64


@njit(fastmath=True, cache=True)
def gemm(u, v, m):
    wide_vectors()
    acc = stack_f32_256()
    cin = u.shape[2]
    for xi in range(36):
        uxi = u[xi]
        for cb in range(u.shape[1]):
            for i in range(4 * TT):
                acc[i] = 0
            for k in range(cin):
                w0, w1, w2, w3 = uxi[cb, k, 0], uxi[cb, k, 1], uxi[cb, k, 2], uxi[cb, k, 3]
                for t in range(TT):
                    val = v[k, xi, t]
                    acc[t] += w0 * val
                    acc[TT + t] += w1 * val
                    acc[2 * TT + t] += w2 * val
                    acc[3 * TT + t] += w3 * val
            for j in range(4):
                mrow = m[xi, cb * 4 + j]
                for t in range(TT):
                    mrow[t] = acc[j * TT + t]


def case(cin, cout, rng=None):
    rng = rng or np.random.default_rng(0)
    u = rng.standard_normal((36, cout // 4, cin, 4)).astype(np.float32)
    v = rng.standard_normal((cin, 36, TT)).astype(np.float32)
    m = np.zeros((36, cout, TT), np.float32)

    def check():
        ref = np.einsum("xbcj,cxt->xbjt", u.astype(np.float64), v).reshape(36, cout, TT)
        return float(np.abs(ref - m).max())

    return (lambda: gemm(u, v, m)), 2.0 * 36 * cin * cout * TT, check
