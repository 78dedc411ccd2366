"""Checkpoint state dicts → parameters, the check every importer ends with."""

from __future__ import annotations

import numpy as np

from pysr.errors import CheckpointError


def checked_params(state: dict, shapes: dict[str, tuple[int, ...]], label: str) -> dict[str, np.ndarray]:
    """`state` must hold exactly the tensors of `shapes` (name -> shape), each of that shape; returns them as
    C-contiguous float32. `label` names the architecture and its config in the error."""
    missing, unknown = sorted(set(shapes) - set(state)), sorted(set(state) - set(shapes))
    if missing or unknown:
        raise CheckpointError(f"{label}: missing tensors {missing}, unexpected tensors {unknown}")
    params = {}
    for key, shape in shapes.items():
        v = np.asarray(state[key])
        if v.shape != tuple(shape):
            raise CheckpointError(f"{label} tensor {key}: shape {v.shape}, expected {tuple(shape)}")
        params[key] = np.ascontiguousarray(v, dtype=np.float32)
    return params
