"""PyTorch twins of pysr's architectures, for training only, and their export to a `.pysr` Model.

One entry per architecture in `TORCH_MODELS`: how to make its config from the command line's numbers, how to
build the torch module for a config, and how to read the module's tensors back under pysr's parameter names.
Export then goes through the same graph builder as an imported checkpoint (`pysr.models.MODELS[arch].build`),
so a trained net and a loaded file can never describe different graphs. torch is imported inside the functions:
`import pysr.train` works without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pysr.errors import PysrError
from pysr.model import Model
from pysr.models import architecture, espcn
from pysr.models.convert import facts_for

TORCH_ACTIVATIONS = ("tanh", "relu", "sigmoid", "none")


def require_torch():
    """Import torch or raise the error the CLI prints."""
    try:
        import torch
    except ImportError as err:
        raise PysrError("training needs PyTorch, which is not installed",
                        'pip install "pysr[train]" (PyTorch is only needed to train, never to run)') from err
    return torch


def _activation(torch, kind: str):
    if kind not in TORCH_ACTIVATIONS:
        raise PysrError(f"activation {kind!r} has no torch twin here; known: {TORCH_ACTIVATIONS}")
    return {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "none": lambda x: x}[kind]


# --- ESPCN ---------------------------------------------------------------------------------------------------

def espcn_config(scale: int, channels: tuple[int, ...] | None = None, in_channels: int = 1) -> espcn.EspcnConfig:
    channels = tuple(channels or (64, 32))
    try:
        return espcn.EspcnConfig(scale=scale, channels=channels, kernels=(5,) + (3,) * len(channels),
                                 in_channels=in_channels)
    except ValueError as err:
        raise PysrError(f"ESPCN config: {err}") from err


def espcn_module(cfg: espcn.EspcnConfig):
    """conv1 … convN named exactly as pysr's parameters, so the state dict needs no renaming."""
    torch = require_torch()
    act, out_act = _activation(torch, cfg.activation), _activation(torch, cfg.output_activation)

    class Espcn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = [f"conv{i + 1}" for i in range(len(cfg.widths()))]
            for name, (cin, cout, k) in zip(self.convs, cfg.widths()):
                self.add_module(name, torch.nn.Conv2d(cin, cout, k, padding=k // 2))

        def forward(self, x):
            for i, name in enumerate(self.convs):
                x = getattr(self, name)(x)
                if i < len(self.convs) - 1:
                    x = act(x)
            return out_act(torch.nn.functional.pixel_shuffle(x, cfg.scale))

    return Espcn()


def state_params(net, cfg) -> dict[str, np.ndarray]:
    """The module's tensors as float32 numpy arrays under their state-dict names (= pysr names for ESPCN)."""
    return {k: v.detach().cpu().numpy().astype(np.float32, copy=True) for k, v in net.state_dict().items()}


@dataclass(frozen=True)
class TorchArchitecture:
    name: str                  # the key of pysr.models.MODELS this trains
    config: Callable           # (scale, channels or None, in_channels) -> config
    module: Callable           # config -> torch.nn.Module
    params: Callable           # (module, config) -> {pysr parameter name: ndarray}
    in_channels: Callable      # config -> 1 (Y) or 3 (RGB)


TORCH_MODELS = {
    "espcn": TorchArchitecture("espcn", espcn_config, espcn_module, state_params, lambda cfg: cfg.in_channels),
}


def torch_architecture(name: str) -> TorchArchitecture:
    if name not in TORCH_MODELS:
        raise PysrError(f"cannot train architecture {name!r}; pysr trains {sorted(TORCH_MODELS)}")
    return TORCH_MODELS[name]


def build(arch: str, cfg):
    """A freshly initialised torch module (torch's default init, seeded by the caller) for `cfg`."""
    return torch_architecture(arch).module(cfg)


def export(net, cfg, provenance: dict, arch: str = "espcn", licence: str = "MIT", name: str | None = None) -> Model:
    """The trained net as a pysr Model: its tensors under pysr's names, the graph from pysr's own builder."""
    params = torch_architecture(arch).params(net, cfg)
    for key, value in params.items():
        if not np.isfinite(value).all():
            raise PysrError(f"cannot export: parameter {key!r} holds NaN or infinite values",
                            "the run diverged; lower --lr or set --clip")
    graph = architecture(arch).build(cfg, params)
    return Model(graph, facts_for(arch, cfg, provenance, licence, name))
