"""The closed op set. `OpType` is the list; each op's spec lives in `pysr/ops/<name>.py` (`SPEC`),
its CPU kernel in `kernels/cpu/<name>.py`, its CUDA kernel in `kernels/cuda/<name>.cu`: one stem everywhere.
"""

from __future__ import annotations

import importlib
from enum import Enum

from pysr.errors import GraphError
from pysr.ops.spec import OpSpec


class OpType(str, Enum):
    CONV2D = "conv2d"
    BATCH_NORM = "batch_norm"
    ACTIVATION = "activation"
    AFFINE = "affine"
    ADD = "add"
    MUL = "mul"
    PIXEL_SHUFFLE = "pixel_shuffle"
    SPACE_TO_DEPTH = "space_to_depth"
    CONCAT = "concat"
    SPLIT = "split"
    CHANNEL_SHUFFLE = "channel_shuffle"
    POOL2D = "pool2d"
    PAD = "pad"
    RESIZE_BILINEAR = "resize_bilinear"
    RESIZE_BICUBIC_TORCH = "resize_bicubic_torch"
    RESIZE_BICUBIC_MATLAB = "resize_bicubic_matlab"
    UPSAMPLE_BICUBIC_TECOGAN = "upsample_bicubic_tecogan"
    WARP = "warp"
    RGB_TO_YCBCR = "rgb_to_ycbcr"
    YCBCR_TO_RGB = "ycbcr_to_rgb"


_SPECS: dict[OpType, OpSpec] = {}


def spec(op: OpType | str) -> OpSpec:
    """The spec of an op, by enum or by name; unknown names raise GraphError."""
    try:
        op = OpType(op)
    except ValueError:
        raise GraphError(f"unknown op {op!r}; known ops: {[o.value for o in OpType]}") from None
    if op not in _SPECS:
        _SPECS[op] = importlib.import_module(f"pysr.ops.{op.value}").SPEC
    return _SPECS[op]


def all_specs() -> dict[OpType, OpSpec]:
    return {op: spec(op) for op in OpType}
