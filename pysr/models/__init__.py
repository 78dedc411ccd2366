"""The architectures pysr knows: one explicit table, `MODELS`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pysr.errors import PysrError
from pysr.models import espcn


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
}


def architecture(name: str) -> Architecture:
    if name not in MODELS:
        raise PysrError(f"unknown architecture {name!r}; pysr knows {sorted(MODELS)}")
    return MODELS[name]
