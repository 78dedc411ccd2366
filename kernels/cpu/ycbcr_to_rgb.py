"""ycbcr_to_rgb: the inverse affine map of kernels/cpu/rgb_to_ycbcr.py, M⁻¹·(in − o), inverted in float64
in `compile` and run by the same per-pixel 3×3 kernel (threads over (n, chunk) tasks; 3 reads, 3 writes
per pixel)."""

from __future__ import annotations

import numpy as np

from pysr.kernels.cpu.rgb_to_ycbcr import colour_matrix, transform


def compile(attrs, params, in_shapes, out_shapes):
    m, o = colour_matrix(attrs["matrix"], attrs["range"])
    inv = np.linalg.inv(m)
    shift = -inv @ o

    def run(inputs, outputs):
        transform(inputs[0], outputs[0], inv, shift)

    return run
