"""resize_bilinear: bilinear resize (PyTorch semantics), 2 taps per axis.

The op is separable: compile builds the per-axis index/weight tables from the spec (pysr/ops/resize_bilinear.py)
once and captures them; the work is kernels/cpu/separable.py (columns first
when enlarging, with the periodic phases of integer factors; float32 throughout; see its header).
"""

from __future__ import annotations

from pysr.kernels.cpu.separable import compile_tables
from pysr.ops.resize_bilinear import tables


def compile(attrs, params, in_shapes, out_shapes):
    return compile_tables(*tables(attrs, in_shapes[0]), in_shapes[0])
