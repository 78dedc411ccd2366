"""channel_shuffle: out[n, k·g + gi] = in[n, gi·(C/g) + k], a permutation of whole planes, done by the plane
copy of kernels/cpu/concat.py with the permutation tabled in `compile` (threads over (n, channel, chunk)
tasks; one read and one write per element)."""

from __future__ import annotations

import numpy as np

from pysr.kernels.cpu.concat import copy_channels


def compile(attrs, params, in_shapes, out_shapes):
    c, g = in_shapes[0][1], int(attrs["groups"])
    dst_ch = np.arange(c, dtype=np.int64)
    src_ch = (dst_ch % g) * (c // g) + dst_ch // g     # out channel k·g + gi reads in channel gi·(C/g) + k

    def run(inputs, outputs):
        copy_channels(inputs[0], outputs[0], src_ch, dst_ch)

    return run
