"""The architectures pysr knows: one explicit table, `MODELS`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pysr.errors import PysrError
from pysr.models import egvsr, espcn, fedsr, sofvsr, tcsr


@dataclass(frozen=True)
class Architecture:
    name: str
    build: Callable            # (config, params) -> Graph
    from_state_dict: Callable  # (state dict, layout) -> (config, params)
    config_json: Callable
    config_from_json: Callable
    receptive_field: Callable  # config -> LR pixels
    scale: Callable            # config -> int
    colour_mode: Callable      # config -> "y" | "rgb"
    layouts: tuple[str, ...]
    temporal_facts: Callable | None = None  # config -> {"temporal": ..., "state": ...}; None: single
    for_size: Callable | None = None        # (graph, lr height, lr width) -> the graph for that size; None: as is

    @classmethod
    def of(cls, module, scale: Callable, colour_mode: Callable) -> Architecture:
        """The entry of an architecture module that defines build, from_state_dict, config_json,
        config_from_json, receptive_field, LAYOUTS and, if it is temporal, temporal_facts (and for_size)."""
        return cls(module.__name__.rsplit(".", 1)[-1], module.build, module.from_state_dict, module.config_json,
                   module.config_from_json, module.receptive_field, scale, colour_mode, tuple(module.LAYOUTS),
                   getattr(module, "temporal_facts", None), getattr(module, "for_size", None))


def _y_or_rgb(cfg) -> str:
    return "y" if cfg.in_channels == 1 else "rgb"


def _own_scale(cfg) -> int:
    return cfg.scale


MODELS = {a.name: a for a in (
    Architecture.of(espcn, _own_scale, _y_or_rgb),
    Architecture.of(egvsr, _own_scale, lambda cfg: "rgb"),
    Architecture.of(sofvsr, _own_scale, lambda cfg: "y"),
    Architecture.of(fedsr, _own_scale, _y_or_rgb),
    Architecture.of(tcsr, lambda cfg: 1, lambda cfg: "y"),         # refines HR frames at their own size
)}


def architecture(name: str) -> Architecture:
    if name not in MODELS:
        raise PysrError(f"unknown architecture {name!r}; pysr knows {sorted(MODELS)}")
    return MODELS[name]
