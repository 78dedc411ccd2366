"""v03 (winner, kernels/cpu/conv2d_gemm.micro) 4 channels × 64 tiles accumulated in a stack buffer that LLVM keeps in
16 zmm registers over the whole Cin loop: per k 4 broadcasts + 4 loads + 16 FMAs; with V laid out [ξ][ci][t]
(one spare ci row) — ≈ 100-110 GFLOP/s on one core (Cin 64, Cout 32), 64-68 % of the 160 GFLOP/s FMA peak."""

from __future__ import annotations

import numpy as np

from pysr.kernels.cpu.conv2d_winograd import gemm_block

TT = 64


def case(cin, cout, rng=None):
    rng = rng or np.random.default_rng(0)
    u = rng.standard_normal((36, cout // 4, cin, 4)).astype(np.float32)
    v = rng.standard_normal((36, cin + 1, TT)).astype(np.float32)
    m = np.zeros((36, cout + 1, TT), np.float32)

    def check():
        ref = np.einsum("xbcj,xct->xbjt", u.astype(np.float64), v[:, :cin]).reshape(36, cout, TT)
        return float(np.abs(ref - m[:, :cout]).max())

    return (lambda: gemm_block(u, v, m)), 2.0 * 36 * cin * cout * TT, check
