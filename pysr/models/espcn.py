"""ESPCN (Shi et al. 2016): convs on the LR Y plane, then a sub-pixel (pixel shuffle) upsampler.

conv k0 1→c0 → act → conv k1 c0→c1 → act → … → conv k_last → scale²·out_channels → pixel_shuffle(scale)
→ optional output activation. Two checkpoint layouts import without torch:
  "yjn870"  (ESPCN-pytorch): first_part.0 5×5 1→64 tanh, first_part.2 3×3 64→32 tanh, last_part.0 3×3 32→s².
  "egvsr"   (EGVSR's ESPNet, up_method subconv): conv1 5×5 tanh, conv2 3×3 tanh, conv3 3×3 tanh, pwconv 1×1,
            pixel shuffle, sigmoid. Its reconv.*/deconv.* tensors belong to other variants and are unused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pysr.errors import CheckpointError
from pysr.graph.graph import Graph, Node


@dataclass(frozen=True)
class EspcnConfig:
    scale: int = 4
    channels: tuple[int, ...] = (64, 32)     # hidden widths
    kernels: tuple[int, ...] = (5, 3, 3)     # one per conv: len(channels) + 1
    activation: str = "tanh"
    output_activation: str = "none"          # "sigmoid" in EGVSR's variant
    in_channels: int = 1

    def __post_init__(self):
        if len(self.kernels) != len(self.channels) + 1:
            raise ValueError(f"ESPCN needs {len(self.channels) + 1} kernel sizes, got {self.kernels}")
        if self.scale < 1 or any(k % 2 == 0 for k in self.kernels):
            raise ValueError("ESPCN needs scale >= 1 and odd kernel sizes")

    def widths(self) -> list[tuple[int, int, int]]:
        """(in, out, kernel) per conv."""
        outs = list(self.channels) + [self.in_channels * self.scale**2]
        ins = [self.in_channels] + list(self.channels)
        return list(zip(ins, outs, self.kernels))


def build(cfg: EspcnConfig, params: dict[str, np.ndarray]) -> Graph:
    """The unfused graph (conv, activation, pixel_shuffle nodes); the passes fuse it."""
    nodes, x = [], "lr"
    convs = cfg.widths()
    for i, (_cin, _cout, k) in enumerate(convs):
        name = f"conv{i + 1}"
        nodes.append(Node("conv2d", name, [x], [name], {"weight": f"{name}.weight", "bias": f"{name}.bias"},
                          {"padding": (k // 2, k // 2)}))
        x = name
        if i < len(convs) - 1:
            nodes.append(Node("activation", f"act{i + 1}", [x], [f"act{i + 1}"], {}, {"kind": cfg.activation}))
            x = f"act{i + 1}"
    nodes.append(Node("pixel_shuffle", "shuffle", [x], ["shuffled"], {}, {"scale": cfg.scale}))
    x = "shuffled"
    if cfg.output_activation != "none":
        nodes.append(Node("activation", "out_act", [x], ["hr"], {}, {"kind": cfg.output_activation}))
    else:
        nodes[-1].outputs = ["hr"]
    return Graph({"lr": cfg.in_channels}, ["hr"], nodes, dict(params))


def init_params(cfg: EspcnConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-default-like uniform initialisation (for tests and as a training start)."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (cin, cout, k) in enumerate(cfg.widths()):
        bound = 1.0 / np.sqrt(cin * k * k)
        params[f"conv{i + 1}.weight"] = rng.uniform(-bound, bound, (cout, cin, k, k)).astype(np.float32)
        params[f"conv{i + 1}.bias"] = rng.uniform(-bound, bound, (cout,)).astype(np.float32)
    return params


def receptive_field(cfg: EspcnConfig) -> int:
    """LR pixels on each side that influence one output pixel."""
    return sum(k // 2 for k in cfg.kernels)


LAYOUTS = {
    "yjn870": {
        "map": {"first_part.0": "conv1", "first_part.2": "conv2", "last_part.0": "conv3"},
        "ignore": (),
        "output_activation": "none",
    },
    "egvsr": {
        "map": {"conv1": "conv1", "conv2": "conv2", "conv3": "conv3", "pwconv": "conv4"},
        "ignore": ("reconv.weight", "reconv.bias", "deconv.weight", "deconv.bias"),
        "output_activation": "sigmoid",
    },
}


def detect_layout(state: dict) -> str:
    for name, layout in LAYOUTS.items():
        if {f"{k}.weight" for k in layout["map"]} <= set(state):
            return name
    raise CheckpointError(
        f"not an ESPCN checkpoint of a known layout ({sorted(LAYOUTS)}); its keys are {sorted(state)[:8]}…"
    )


def from_state_dict(state: dict[str, np.ndarray], layout: str = "auto") -> tuple[EspcnConfig, dict]:
    """Map a checkpoint's tensors onto pysr's parameter names; shapes decide channels, kernels and scale."""
    layout = detect_layout(state) if layout == "auto" else layout
    if layout not in LAYOUTS:
        raise CheckpointError(f"unknown ESPCN layout {layout!r}; known: {sorted(LAYOUTS)}")
    spec = LAYOUTS[layout]
    expected = {f"{k}.{p}" for k in spec["map"] for p in ("weight", "bias")} | set(spec["ignore"])
    missing, unknown = sorted(expected - set(spec["ignore"]) - set(state)), sorted(set(state) - expected)
    if missing or unknown:
        raise CheckpointError(f"ESPCN layout {layout!r}: missing tensors {missing}, unexpected tensors {unknown}")
    params, widths, kernels = {}, [], []
    prev_out = None
    for src, dst in spec["map"].items():
        w = np.asarray(state[f"{src}.weight"], np.float32)
        b = np.asarray(state[f"{src}.bias"], np.float32)
        if w.ndim != 4 or w.shape[2] != w.shape[3] or b.shape != (w.shape[0],):
            raise CheckpointError(f"{src}: weight {w.shape} / bias {b.shape} are not a square conv's")
        if prev_out is not None and w.shape[1] != prev_out:
            raise CheckpointError(f"{src}: takes {w.shape[1]} channels but the previous conv gives {prev_out}")
        prev_out = w.shape[0]
        params[f"{dst}.weight"], params[f"{dst}.bias"] = w, b
        widths.append(w.shape[0])
        kernels.append(w.shape[2])
    in_channels = params["conv1.weight"].shape[1]
    scale = int(round(np.sqrt(widths[-1] / in_channels)))
    if scale * scale * in_channels != widths[-1]:
        raise CheckpointError(f"last conv gives {widths[-1]} channels: not in_channels·scale²")
    cfg = EspcnConfig(scale=scale, channels=tuple(widths[:-1]), kernels=tuple(kernels),
                      output_activation=spec["output_activation"], in_channels=in_channels)
    return cfg, params


def config_json(cfg: EspcnConfig) -> dict:
    d = asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def config_from_json(d: dict) -> EspcnConfig:
    return EspcnConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})
