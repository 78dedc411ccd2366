"""The `cpu` backend: numba kernels from kernels/cpu/<op>.py (installed as pysr.kernels.cpu.<op>).

A kernel module provides `compile(attrs, params, in_shapes, out_shapes) -> fn(inputs, outputs)`,
optionally `supports(attrs, in_shapes) -> bool`, or `UNSUPPORTED = "reason"` when the op never
reaches this backend (batch_norm is always folded away by the graph passes).
"""

from __future__ import annotations

import importlib

import numpy as np

from pysr.backends._host import HostMemory
from pysr.errors import UnsupportedError
from pysr.ops import OpType


def kernel_module(op: OpType | str):
    return importlib.import_module(f"pysr.kernels.cpu.{OpType(op).value}")


class CpuBackend(HostMemory):
    name = "cpu"

    def available(self):
        return True, ""

    def supports(self, op, attrs, in_shapes) -> bool:
        mod = kernel_module(op)
        if hasattr(mod, "UNSUPPORTED"):
            return False
        return mod.supports(attrs, in_shapes) if hasattr(mod, "supports") else True

    def compile_node(self, op, attrs, params, in_shapes, out_shapes):
        mod = kernel_module(op)
        if not self.supports(op, attrs, in_shapes):
            why = getattr(mod, "UNSUPPORTED", "this attribute/shape combination")
            raise UnsupportedError(f"cpu backend cannot run {OpType(op).value}: {why}")
        params = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}
        return mod.compile(attrs, params, [tuple(s) for s in in_shapes], [tuple(s) for s in out_shapes])


BACKEND = CpuBackend()
