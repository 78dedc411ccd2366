"""F-EDSR: the fast EDSR of the live-streaming design (seed 001): the spatial SR network the streamer trains
online and the server runs on every frame.

    head   conv 5×5 in→C                                   (EDSR: 3×3 in→64; F-EDSR: larger kernel, fewer channels)
    body   B × [x + res_scale·conv3×3(relu(conv3×3(x)))]   (no BatchNorm, as EDSR)
           → conv3×3 C→C, + head output                    (global skip)
    tail   upsampler: ×2, ×3 (and ×4 with x4_stages=1): conv3×3 C→s²C → pixel_shuffle(s)
                      ×4 (x4_stages=2, default): two × [conv3×3 C→4C → pixel_shuffle(2)]
           → conv3×3 C→in = hr (unclamped; no bicubic skip, no mean shift: Y in [0, 1] needs none)

All convs zero-padded, stride 1, with bias. Parameter names are EDSR's own (`head.0`, `body.<i>.body.{0,2}`,
`body.<B>`, `tail.0.{0,2}`, `tail.1`), so the torch twin is EDSR's module tree and its state dict needs no renaming.

**×4 upsampler.** Two ×2 stages by default, as EDSR: its second conv runs at 2× resolution, so it costs more
(180·C² MACs per LR pixel against 144·C² for one conv C→16C), but each conv has 4C outputs instead of 16C
(a quarter of the weights to send in a model update), every HR pixel comes from a 3×3 conv at ½ HR resolution
rather than from one LR-resolution conv (fewer checkerboard artefacts), and it keeps EDSR's layout. `x4_stages=1`
is the cheaper choice where MACs count more; both are supported and tested.

**Cost** (`macs_per_lr_pixel`, multiply-accumulates per LR pixel, biases and adds not counted):
    EDSR-baseline ×4 (16 blocks, 64 channels, 3×3 head, RGB):   1 983 168
    F-EDSR ×4 default (8 blocks, 32 channels, 5×5 head, Y):       346 400   → 5.73× cheaper (the bar is ≥ 4×)
    F-EDSR ×4 default with x4_stages=1:                            309 536   → 6.41×
    F-EDSR ×2 / ×3 default:                                        195 488 / 243 008
Most of F-EDSR's cost at ×4 is the upsampler (184 320 of 346 400), so width matters more than depth:
each extra block costs 18 432 (2·9·C²).

The passes fuse every ReLU, every residual add (with its scale) and every pixel shuffle into the convs: the
optimised graph is 2B + 5 (×4, two stages) or 2B + 4 conv2d nodes and nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pysr.errors import CheckpointError
from pysr.graph.graph import Graph, Node
from pysr.models.state import checked_params


@dataclass(frozen=True)
class FedsrConfig:
    scale: int = 4
    channels: int = 32           # C: width of head, body and upsampler
    blocks: int = 8              # B residual blocks
    head_kernel: int = 5
    res_scale: float = 1.0       # EDSR's residual scaling (0.1 in its big models)
    in_channels: int = 1         # 1 = Y (default), 3 = RGB
    x4_stages: int = 2           # ×4 only: 2 = two ×2 stages (EDSR), 1 = one ×4 stage

    def __post_init__(self):
        if self.scale < 2 or self.channels < 1 or self.blocks < 0 or self.in_channels not in (1, 3):
            raise ValueError(f"F-EDSR needs scale >= 2, channels >= 1, blocks >= 0, in_channels 1 or 3, got {self}")
        if self.head_kernel < 1 or self.head_kernel % 2 == 0 or self.x4_stages not in (1, 2):
            raise ValueError(f"F-EDSR needs an odd head kernel and x4_stages 1 or 2, got {self}")

    def stages(self) -> list[int]:
        """Pixel-shuffle factor of each upsampler stage."""
        return [2, 2] if self.scale == 4 and self.x4_stages == 2 else [self.scale]


# EDSR-baseline ×4 (Lim et al. 2017): the reference point of the ≥ 4× cost bar.
EDSR_BASELINE_X4 = FedsrConfig(scale=4, channels=64, blocks=16, head_kernel=3, in_channels=3, x4_stages=2)


def _convs(cfg: FedsrConfig) -> list[tuple[str, int, int, int, float]]:
    """(parameter key, in, out, kernel, area of its grid relative to LR) per conv, in graph order."""
    c, ci = cfg.channels, cfg.in_channels
    out = [("head.0", ci, c, cfg.head_kernel, 1.0)]
    for i in range(cfg.blocks):
        out += [(f"body.{i}.body.0", c, c, 3, 1.0), (f"body.{i}.body.2", c, c, 3, 1.0)]
    out.append((f"body.{cfg.blocks}", c, c, 3, 1.0))
    area = 1.0
    for k, f in enumerate(cfg.stages()):
        out.append((f"tail.0.{2 * k}", c, c * f * f, 3, area))
        area *= f * f
    out.append(("tail.1", c, ci, 3, area))
    return out


def macs_per_lr_pixel(cfg: FedsrConfig) -> int:
    """Multiply-accumulates of all convs per LR input pixel (a conv on a grid s times finer counts s² times)."""
    return int(sum(cin * cout * k * k * area for _, cin, cout, k, area in _convs(cfg)))


def build(cfg: FedsrConfig, params: dict[str, np.ndarray]) -> Graph:
    """The unfused graph (conv2d, activation, add, pixel_shuffle nodes); the passes fuse it into convs."""
    nodes: list[Node] = []

    def conv(x: str, key: str, k: int, name: str | None = None) -> str:
        name = name or key
        nodes.append(Node("conv2d", name, [x], [name], {"weight": f"{key}.weight", "bias": f"{key}.bias"},
                          {"padding": (k // 2, k // 2)}))
        return name

    def op(op_name: str, name: str, inputs: list[str], **attrs) -> str:
        nodes.append(Node(op_name, name, inputs, [name], {}, attrs))
        return name

    head = conv("lr", "head.0", cfg.head_kernel)
    x = head
    for i in range(cfg.blocks):
        y = conv(x, f"body.{i}.body.0", 3)
        y = op("activation", f"body.{i}.relu", [y], kind="relu")
        y = conv(y, f"body.{i}.body.2", 3)
        x = op("add", f"body.{i}.add", [x, y], scale=float(cfg.res_scale))
    x = conv(x, f"body.{cfg.blocks}", 3)
    x = op("add", "body.skip", [head, x])
    for k, f in enumerate(cfg.stages()):
        x = conv(x, f"tail.0.{2 * k}", 3)
        x = op("pixel_shuffle", f"tail.0.{2 * k + 1}", [x], scale=f)
    conv(x, "tail.1", 3, name="hr")
    return Graph({"lr": cfg.in_channels}, ["hr"], nodes, dict(params))


def param_shapes(cfg: FedsrConfig) -> dict[str, tuple[int, ...]]:
    out = {}
    for key, cin, cout, k, _ in _convs(cfg):
        out[f"{key}.weight"], out[f"{key}.bias"] = (cout, cin, k, k), (cout,)
    return out


def init_params(cfg: FedsrConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-default-like uniform initialisation, bound 1/√fan_in (for tests and as a training start)."""
    rng = np.random.default_rng(seed)
    params = {}
    for key, cin, cout, k, _ in _convs(cfg):
        bound = 1.0 / np.sqrt(cin * k * k)
        params[f"{key}.weight"] = rng.uniform(-bound, bound, (cout, cin, k, k)).astype(np.float32)
        params[f"{key}.bias"] = rng.uniform(-bound, bound, (cout,)).astype(np.float32)
    return params


def receptive_field(cfg: FedsrConfig) -> int:
    """LR pixels on each side that can influence one output pixel (an upper bound: each conv on a finer grid
    is counted as a whole LR pixel)."""
    return cfg.head_kernel // 2 + 2 * cfg.blocks + 1 + len(cfg.stages()) + 1


LAYOUTS = {"pysr": "pysr's own names = EDSR's (head.0, body.<i>.body.{0,2}, body.<B>, tail.0.*, tail.1), "
                   "e.g. the state dict of the torch twin; no MeanShift (sub_mean/add_mean) layers"}


def from_state_dict(state: dict[str, np.ndarray], layout: str = "auto") -> tuple[FedsrConfig, dict]:
    """Shapes decide width, blocks, head kernel, colour and scale; every tensor must match exactly. res_scale is
    no tensor and is taken as 1: fold another one into body.<i>.body.2 (weight and bias × res_scale) first."""
    if layout not in ("auto", "pysr"):
        raise CheckpointError(f"unknown F-EDSR layout {layout!r}; known: {sorted(LAYOUTS)}")
    if "sub_mean.weight" in state or "add_mean.weight" in state:
        raise CheckpointError("EDSR checkpoint with MeanShift layers (sub_mean/add_mean): not an F-EDSR layout")
    if "head.0.weight" not in state or "tail.1.weight" not in state:
        raise CheckpointError(f"not an F-EDSR checkpoint; its keys are {sorted(state)[:8]}…")
    head, up = np.asarray(state["head.0.weight"]), np.asarray(state["tail.0.0.weight"] if "tail.0.0.weight" in state
                                                              else np.zeros((0, 1, 1, 1)))
    c, ci = head.shape[0], head.shape[1]
    blocks = len({k.split(".")[1] for k in state if k.startswith("body.") and ".body." in k})
    two = "tail.0.2.weight" in state
    f2 = up.shape[0] // max(c, 1)
    f = int(round(np.sqrt(f2)))
    if f * f != f2 or f < 2:
        raise CheckpointError(f"tail.0.0 gives {up.shape[0]} channels for width {c}: not s²·C for a scale s >= 2")
    try:
        cfg = FedsrConfig(scale=4 if two else f, channels=c, blocks=blocks, head_kernel=head.shape[2],
                          in_channels=ci, x4_stages=2 if two or f != 4 else 1)
    except ValueError as err:
        raise CheckpointError(f"F-EDSR checkpoint: {err}") from None
    params = checked_params(state, param_shapes(cfg), f"F-EDSR ({cfg})")
    return cfg, params


def config_json(cfg: FedsrConfig) -> dict:
    return asdict(cfg)


def config_from_json(d: dict) -> FedsrConfig:
    return FedsrConfig(**d)
