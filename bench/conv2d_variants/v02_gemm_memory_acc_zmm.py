"""v02 v01 with "prefer-vector-width"="512" (conv2d_llvm.wide_vectors): zmm instead of ymm, but the loop is still
bound by the accumulator loads/stores and per-pass set-up — no gain, ≈ 35-40 GFLOP/s (was the hint that the
accumulators, not the vector width, were the problem)."""

from __future__ import annotations

from numba import njit

from pysr.kernels.cpu.conv2d_llvm import wide_vectors

from .v01_gemm_memory_acc import TT, make_case


@njit(fastmath=True, cache=True)
def gemm(u, v, m):
    wide_vectors()
    nx, cout, cin = u.shape
    for x in range(nx):
        for co in range(0, cout, 4):
            m0, m1, m2, m3 = m[x, co], m[x, co + 1], m[x, co + 2], m[x, co + 3]
            for t in range(TT):
                m0[t] = 0.0
                m1[t] = 0.0
                m2[t] = 0.0
                m3[t] = 0.0
            for ci in range(0, cin, 4):
                v0, v1, v2, v3 = v[x, ci], v[x, ci + 1], v[x, ci + 2], v[x, ci + 3]
                w00, w01, w02, w03 = u[x, co, ci], u[x, co, ci + 1], u[x, co, ci + 2], u[x, co, ci + 3]
                w10, w11, w12, w13 = u[x, co + 1, ci], u[x, co + 1, ci + 1], u[x, co + 1, ci + 2], u[x, co + 1, ci + 3]
                w20, w21, w22, w23 = u[x, co + 2, ci], u[x, co + 2, ci + 1], u[x, co + 2, ci + 2], u[x, co + 2, ci + 3]
                w30, w31, w32, w33 = u[x, co + 3, ci], u[x, co + 3, ci + 1], u[x, co + 3, ci + 2], u[x, co + 3, ci + 3]
                for t in range(TT):
                    a0, a1, a2, a3 = v0[t], v1[t], v2[t], v3[t]
                    m0[t] += w00 * a0 + w01 * a1 + w02 * a2 + w03 * a3
                    m1[t] += w10 * a0 + w11 * a1 + w12 * a2 + w13 * a3
                    m2[t] += w20 * a0 + w21 * a1 + w22 * a2 + w23 * a3
                    m3[t] += w30 * a0 + w31 * a1 + w32 * a2 + w33 * a3


def case(cin, cout):
    return make_case(gemm, cin, cout)
