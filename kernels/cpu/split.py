"""split along channels: each output copies its channel range of the input, with the plane copy of
kernels/cpu/concat.py (threads over (n, channel, chunk) tasks; one read and one write per element)."""

from __future__ import annotations

import numpy as np

from pysr.kernels.cpu.concat import copy_channels


def compile(attrs, params, in_shapes, out_shapes):
    plan, offset = [], 0
    for size in attrs["sizes"]:
        size = int(size)
        plan.append((np.arange(offset, offset + size, dtype=np.int64), np.arange(size, dtype=np.int64)))
        offset += size

    def run(inputs, outputs):
        for out, (src_ch, dst_ch) in zip(outputs, plan, strict=True):
            copy_channels(inputs[0], out, src_ch, dst_ch)

    return run
