"""resize_bicubic_matlab: MATLAB imresize bicubic on float data (a = -0.5, antialiased when
shrinking, mirrored taps): ceil(4/scale) + 2 taps per axis when shrinking, 6 otherwise.

The op is separable: compile builds the per-axis index/weight tables from the spec (pysr/ops/resize_bicubic_matlab.py)
once and captures them; the work is kernels/cpu/separable.py (rows then columns, prange over N·C·output
rows, float32 row scratch per job, float32 accumulation).
"""

from __future__ import annotations

from pysr.kernels.cpu.separable import compile_tables

from pysr.ops.resize_bicubic_matlab import tables


def compile(attrs, params, in_shapes, out_shapes):
    return compile_tables(*tables(attrs, in_shapes[0]))
