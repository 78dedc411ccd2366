"""v07 (winner, kernels/cpu/conv2d_winograd.input_block) Winograd input transform that splits each padded input row
into its 4 phases (x mod 4) while copying it, so the row transform reads six contiguous vectors per 16 tiles —
≈ 66 µs per block of 64 tiles × 64 channels on one core (v06: ≈ 80), about 40 % of it the 600 KiB store of V."""

from __future__ import annotations

import numpy as np

from pysr.kernels.cpu.conv2d_gemm import TT
from pysr.kernels.cpu.conv2d_winograd import input_block


def case(cin, rng=None):
    rng = rng or np.random.default_rng(0)
    x = rng.standard_normal((1, cin, 270, 480)).astype(np.float32)
    v = np.zeros((36, cin + 1, TT), np.float32)
    return (lambda: input_block(x, 0, 10, 0, 0, TT, 1, 1, 0, v)), (lambda: 0.0)
