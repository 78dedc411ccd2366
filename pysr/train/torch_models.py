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
from pysr.models import architecture, espcn, fedsr, tcsr
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


# --- F-EDSR ---------------------------------------------------------------------------------------------------

def fedsr_config(scale: int, channels: tuple[int, ...] | None = None, in_channels: int = 1) -> fedsr.FedsrConfig:
    """`--channels WIDTH [BLOCKS]` (default 32 8): F-EDSR's one width and, optionally, its residual block count
    (the command line has no --blocks; keeping both numbers in `channels` also makes a resume check them)."""
    channels = tuple(channels or ())
    if len(channels) > 2:
        raise PysrError(f"F-EDSR takes --channels WIDTH [BLOCKS], got {len(channels)} numbers: {channels}")
    default = fedsr.FedsrConfig()
    width, blocks = (channels + (default.channels, default.blocks)[len(channels):])[:2]
    try:
        return fedsr.FedsrConfig(scale=scale, channels=width, blocks=blocks, in_channels=in_channels)
    except ValueError as err:
        raise PysrError(f"F-EDSR config: {err}") from err


def fedsr_module(cfg: fedsr.FedsrConfig):
    """EDSR's module tree (head, body.<i>.body, body.<B>, tail.0, tail.1), so state-dict names = pysr's."""
    torch = require_torch()
    nn = torch.nn

    def conv(cin, cout, k=3):
        return nn.Conv2d(cin, cout, k, padding=k // 2)

    class ResBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(conv(cfg.channels, cfg.channels), nn.ReLU(), conv(cfg.channels, cfg.channels))

        def forward(self, x):
            return x + cfg.res_scale * self.body(x)

    class Fedsr(nn.Module):
        def __init__(self):
            super().__init__()
            c = cfg.channels
            self.head = nn.Sequential(conv(cfg.in_channels, c, cfg.head_kernel))
            self.body = nn.Sequential(*[ResBlock() for _ in range(cfg.blocks)], conv(c, c))
            up = []
            for f in cfg.stages():
                up += [conv(c, c * f * f), nn.PixelShuffle(f)]
            self.tail = nn.Sequential(nn.Sequential(*up), conv(c, cfg.in_channels))

        def forward(self, x):
            h = self.head(x)
            return self.tail(h + self.body(h))

    return Fedsr()


# --- TCSR -----------------------------------------------------------------------------------------------------

TCSR_ALPHA, TCSR_BETA = 0.01, 0.1        # warp-loss weights of flow level 1 (½ size) and level 2: α < β < 1


def tcsr_config(scale: int, channels: tuple[int, ...] | None = None, in_channels: int = 1) -> tcsr.TcsrConfig:
    """TCSR works at its input's size (scale 1, after F-EDSR); the window radius is set by `pysr train --radius`
    (pysr/train/tcsr_loop.py model_config)."""
    from pysr.train.tcsr_loop import model_config

    return model_config(channels, radius=1)


def warp_torch(torch, img, flow, flow_scale: float):
    """op warp (bilinear, border, align_corners True) in torch: flow channel 0 = x, 1 = y, in flow_scale pixels."""
    n, _, h, w = img.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=img.dtype), torch.arange(w, dtype=img.dtype), indexing="ij")
    gx = -1 + 2 * (xs + flow_scale * flow[:, 0]) / max(w - 1, 1) if w > 1 else torch.zeros_like(flow[:, 0])
    gy = -1 + 2 * (ys + flow_scale * flow[:, 1]) / max(h - 1, 1) if h > 1 else torch.zeros_like(flow[:, 1])
    return torch.nn.functional.grid_sample(img, torch.stack([gx, gy], dim=-1), mode="bilinear",
                                           padding_mode="border", align_corners=True)


def tcsr_module(cfg: tcsr.TcsrConfig):
    """TCSR with pysr's parameter names. forward(frames (N, 2k+1, H, W)) -> (out (N, 1, H, W),
    [flow_l1 per neighbour (N, 2, H/2, W/2)], [flow_l2 per neighbour (N, 2, H, W)]), neighbours in frame order."""
    torch = require_torch()
    nn, F = torch.nn, torch.nn.functional

    def lrelu(x):
        return F.leaky_relu(x, 0.1)

    class ResB(nn.Module):                        # SOF-VSR's: channel halves, 1×1 / depthwise 3×3 / 1×1, shuffle
        def __init__(self, c):
            super().__init__()
            h = c // 2
            self.body = nn.Sequential(nn.Conv2d(h, h, 1, bias=False), nn.LeakyReLU(0.1),
                                      nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False),
                                      nn.Conv2d(h, h, 1, bias=False), nn.LeakyReLU(0.1))

        def forward(self, x):
            keep, work = x.chunk(2, dim=1)
            y = torch.cat([keep, self.body(work)], dim=1)
            n, c, h, w = y.shape
            return y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

    class CasResB(nn.Module):
        def __init__(self, c, blocks):
            super().__init__()
            self.body = nn.Sequential(*[ResB(c) for _ in range(blocks)])

        def forward(self, x):
            return self.body(x)

    class Ofr(nn.Module):
        def __init__(self):
            super().__init__()
            c = cfg.ofr_channels
            self.RNN1 = nn.Sequential(nn.Conv2d(4, c, 3, padding=1, bias=False), nn.LeakyReLU(0.1),
                                      CasResB(c, cfg.ofr_blocks))
            self.RNN2 = nn.Sequential(nn.Conv2d(c, 2, 3, padding=1, bias=False))

        def forward(self, nb, centre):
            pair = torch.cat([F.avg_pool2d(nb, 2), F.avg_pool2d(centre, 2)], dim=1)
            flow_l1 = self.RNN2(self.RNN1(torch.cat([pair, torch.zeros_like(pair)], dim=1)))
            up = 2 * F.interpolate(flow_l1, scale_factor=2, mode="bilinear", align_corners=False)
            warped = warp_torch(torch, nb, up, cfg.flow_scale)
            flow_l2 = up + self.RNN2(self.RNN1(torch.cat([warped, centre, up], dim=1)))
            return flow_l1, flow_l2

    class Fusion(nn.Module):
        def __init__(self):
            super().__init__()
            a = cfg.attention_channels
            self.emb_nb = nn.Conv2d(1, a, 3, padding=1)
            self.emb_ref = nn.Conv2d(1, a, 3, padding=1)
            self.conv = nn.Conv2d(2 * cfg.radius * a + 1, cfg.channels, 3, padding=1)

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1))

        def forward(self, x):
            return x + self.body(x)

    class Tcsr(nn.Module):
        def __init__(self):
            super().__init__()
            c = cfg.channels
            self.OFR = Ofr()
            self.fusion = Fusion()
            self.recon = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), Block(c), nn.Conv2d(c, 1, 3, padding=1))

        def forward(self, frames):
            k = cfg.radius
            centre = frames[:, k : k + 1]
            ref = self.fusion.emb_ref(centre)
            feats, l1, l2 = [], [], []
            for t in range(cfg.frames):
                if t == k:
                    feats.append(centre)
                    continue
                nb = frames[:, t : t + 1]
                flow_l1, flow_l2 = self.OFR(nb, centre)
                l1.append(flow_l1)
                l2.append(flow_l2)
                aligned = warp_torch(torch, nb, flow_l2, cfg.flow_scale)
                dist = torch.sigmoid(self.fusion.emb_nb(aligned) * ref)
                feats.append(dist * aligned)          # broadcasts the one aligned channel over E
            x = torch.relu(self.fusion.conv(torch.cat(feats, dim=1)))
            x = self.recon[1](torch.relu(self.recon[0](x)))
            return centre + self.recon[2](x), l1, l2

    return Tcsr()


def tcsr_loss(net_out, frames, target, cfg: tcsr.TcsrConfig, alpha: float = TCSR_ALPHA, beta: float = TCSR_BETA):
    """L1(out, target) + α·warp loss at flow level 1 + β·warp loss at level 2 (α < β < 1, seed 001's claim 5).

    warp loss of a level = mean over the 2k neighbours of L1(warp(neighbour, flow), target frame), on ½-size
    average-pooled frames for level 1 and the frames themselves for level 2 (the frames are TCSR's inputs, the
    F-EDSR outputs, as in SOF-VSR's OFR loss on its own inputs). Returns (total, {"rec", "warp1", "warp2"})."""
    torch = require_torch()
    F = torch.nn.functional
    if not 0 <= alpha < beta < 1:
        raise PysrError(f"TCSR loss weights need 0 <= α < β < 1, got α={alpha}, β={beta}")
    out, flows_l1, flows_l2 = net_out
    k = cfg.radius
    centre = frames[:, k : k + 1]
    nbs = [frames[:, t : t + 1] for t in range(cfg.frames) if t != k]
    pooled_centre = F.avg_pool2d(centre, 2)
    warp1 = sum(F.l1_loss(warp_torch(torch, F.avg_pool2d(nb, 2), f, cfg.flow_scale), pooled_centre)
                for nb, f in zip(nbs, flows_l1)) / len(nbs)
    warp2 = sum(F.l1_loss(warp_torch(torch, nb, f, cfg.flow_scale), centre) for nb, f in zip(nbs, flows_l2)) / len(nbs)
    rec = F.l1_loss(out, target)
    return rec + alpha * warp1 + beta * warp2, {"rec": rec.detach(), "warp1": warp1.detach(), "warp2": warp2.detach()}


@dataclass(frozen=True)
class TorchArchitecture:
    name: str                  # the key of pysr.models.MODELS this trains
    config: Callable           # (scale, channels or None, in_channels) -> config
    module: Callable           # config -> torch.nn.Module
    params: Callable           # (module, config) -> {pysr parameter name: ndarray}
    in_channels: Callable      # config -> 1 (Y) or 3 (RGB)


TORCH_MODELS = {
    "espcn": TorchArchitecture("espcn", espcn_config, espcn_module, state_params, lambda cfg: cfg.in_channels),
    "fedsr": TorchArchitecture("fedsr", fedsr_config, fedsr_module, state_params, lambda cfg: cfg.in_channels),
    "tcsr": TorchArchitecture("tcsr", tcsr_config, tcsr_module, state_params, lambda cfg: 1),
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
