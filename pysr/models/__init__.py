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


MODELS = {
    "espcn": Architecture(
        name="espcn",
        build=espcn.build,
        from_state_dict=espcn.from_state_dict,
        config_json=espcn.config_json,
        config_from_json=espcn.config_from_json,
        receptive_field=espcn.receptive_field,
        scale=lambda cfg: cfg.scale,
        colour_mode=lambda cfg: "y" if cfg.in_channels == 1 else "rgb",
        layouts=tuple(espcn.LAYOUTS),
    ),
    "egvsr": Architecture(
        name="egvsr",
        build=egvsr.build,
        from_state_dict=egvsr.from_state_dict,
        config_json=egvsr.config_json,
        config_from_json=egvsr.config_from_json,
        receptive_field=egvsr.receptive_field,
        scale=lambda cfg: cfg.scale,
        colour_mode=lambda cfg: "rgb",
        layouts=egvsr.LAYOUTS,
        temporal_facts=egvsr.temporal_facts,
        for_size=egvsr.for_size,
    ),
    "sofvsr": Architecture(
        name="sofvsr",
        build=sofvsr.build,
        from_state_dict=sofvsr.from_state_dict,
        config_json=sofvsr.config_json,
        config_from_json=sofvsr.config_from_json,
        receptive_field=sofvsr.receptive_field,
        scale=lambda cfg: cfg.scale,
        colour_mode=lambda cfg: "y",
        layouts=tuple(sofvsr.LAYOUTS),
        temporal_facts=sofvsr.temporal_facts,
    ),
    "fedsr": Architecture(
        name="fedsr",
        build=fedsr.build,
        from_state_dict=fedsr.from_state_dict,
        config_json=fedsr.config_json,
        config_from_json=fedsr.config_from_json,
        receptive_field=fedsr.receptive_field,
        scale=lambda cfg: cfg.scale,
        colour_mode=lambda cfg: "y" if cfg.in_channels == 1 else "rgb",
        layouts=tuple(fedsr.LAYOUTS),
    ),
    "tcsr": Architecture(
        name="tcsr",
        build=tcsr.build,
        from_state_dict=tcsr.from_state_dict,
        config_json=tcsr.config_json,
        config_from_json=tcsr.config_from_json,
        receptive_field=tcsr.receptive_field,
        scale=lambda cfg: 1,
        colour_mode=lambda cfg: "y",
        layouts=tuple(tcsr.LAYOUTS),
        temporal_facts=tcsr.temporal_facts,
    ),
}


def architecture(name: str) -> Architecture:
    if name not in MODELS:
        raise PysrError(f"unknown architecture {name!r}; pysr knows {sorted(MODELS)}")
    return MODELS[name]
