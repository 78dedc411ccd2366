"""Buffers in host memory as numpy arrays: the memory half of the backend contract for the backends whose
kernels run on the CPU (cpu, native). Not a backend itself (names() skips modules starting with "_")."""

from __future__ import annotations

import numpy as np


class HostMemory:
    def empty(self, shape):
        return np.empty(shape, dtype=np.float32)

    def to_device(self, array):
        return np.ascontiguousarray(array, dtype=np.float32)

    def to_host(self, array):
        return np.asarray(array)
