"""resize_bicubic_matlab: MATLAB imresize bicubic on float data (a = -0.5, antialiased when
shrinking, mirrored taps): ceil(4/scale) + 2 taps per axis when shrinking, 6 otherwise.

The op is separable: compile builds the per-axis index/weight tables from the spec (pysr/ops/resize_bicubic_matlab.py)
once and captures them; the work is kernels/cpu/separable.py (columns first
when enlarging, with the periodic phases of integer factors; float32 throughout; see its header).
"""

from __future__ import annotations

from pysr.kernels.cpu.separable import compile_tables
from pysr.ops.resize_bicubic_matlab import tables


def compile(attrs, params, in_shapes, out_shapes):
    return compile_tables(*tables(attrs, in_shapes[0]), in_shapes[0])
