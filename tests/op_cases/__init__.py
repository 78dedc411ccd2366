"""Test cases of the differential op harness (tests/test_ops.py): one module per op, `CASES` in each.

A module may also define `torch_reference(attrs, inputs, params) -> list[np.ndarray]`, computed with
PyTorch in float64, against which the float64 spec reference is checked when torch is installed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Case:
    attrs: dict
    inputs: list[tuple]                                  # input shapes (NCHW)
    params: dict = field(default_factory=dict)           # name -> shape (random values) or array
    id: str = ""
    low: float = -1.0                                    # input values ~ U(low, high)
    high: float = 1.0
    make_inputs: Callable | None = None                  # rng -> list of arrays (overrides shapes)
    make_params: Callable | None = None                  # rng -> dict of arrays (overrides params)

    def seed(self, op: str) -> int:
        return zlib.crc32(f"{op}/{self.id}/{self.attrs}/{self.inputs}".encode())

    def build(self, op: str):
        """Fresh float64 inputs and params from a fixed per-case seed."""
        rng = np.random.default_rng(self.seed(op))
        if self.make_inputs is not None:
            inputs = [np.asarray(a, np.float64) for a in self.make_inputs(rng)]
        else:
            inputs = [rng.uniform(self.low, self.high, size=s) for s in self.inputs]
        if self.make_params is not None:
            params = {k: np.asarray(v, np.float64) for k, v in self.make_params(rng).items()}
        else:
            params = {}
            for name, value in self.params.items():
                if isinstance(value, np.ndarray):
                    params[name] = value.astype(np.float64)
                elif name == "weight" and len(value) == 4:
                    fan_in = int(np.prod(value[1:]))
                    params[name] = rng.uniform(-1, 1, size=value) * np.sqrt(3.0 / fan_in)
                else:
                    params[name] = rng.uniform(-1, 1, size=value)
        return inputs, params
