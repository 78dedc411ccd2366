"""Checkpoint (PyTorch .pth/.pt, read without torch) + architecture name -> a pysr Model."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from pysr.errors import CheckpointError
from pysr.model import Model
from pysr.models import architecture
from pysr.models.colour import DEFAULT_Y_COLOUR


def facts_for(arch_name: str, cfg, provenance: dict, licence: str, name: str | None = None) -> dict:
    arch = architecture(arch_name)
    mode = arch.colour_mode(cfg)
    facts = {
        "architecture": arch_name,
        "config": arch.config_json(cfg),
        "scale": arch.scale(cfg),
        "colour": dict(DEFAULT_Y_COLOUR) if mode == "y" else {"mode": "rgb"},
        "input_range": [0.0, 1.0],
        "receptive_field": arch.receptive_field(cfg),
        "temporal": "single",
        "licence": licence,
        "provenance": provenance,
    }
    if arch.temporal_facts is not None:
        facts.update(arch.temporal_facts(cfg))
    if name:
        facts["name"] = name
    return facts


def import_checkpoint(path: str | os.PathLike, arch_name: str, layout: str = "auto", licence: str = "unknown",
                      name: str | None = None) -> Model:
    from pysr.io.checkpoint import load_checkpoint

    arch = architecture(arch_name)
    state = load_checkpoint(path)
    for key, value in state.items():
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise CheckpointError(f"{path}: tensor {key!r} holds NaN or infinite values")
    cfg, params = arch.from_state_dict(state, layout)
    data = Path(path).read_bytes()
    provenance = {"source": Path(path).name, "sha256": hashlib.sha256(data).hexdigest(),
                  "importer": f"{arch_name}/{layout}"}
    graph = arch.build(cfg, params)
    return Model(graph, facts_for(arch_name, cfg, provenance, licence, name))
