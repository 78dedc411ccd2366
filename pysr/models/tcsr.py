"""TCSR: the temporal network of the live-streaming design (seed 001), the cascade's second stage.

TCSR does not upscale: the server feeds it 2k+1 consecutive **F-EDSR outputs** (already at HR) and it rebuilds
the middle one from them ("TCSR的输入为F-EDSR的输出"; the refined flow "Ot+i和It+i尺寸相同", the same size as the
frames). So scale 1, Y only, window(k).

Graph input `frames` (1, 2k+1, H, W): Y planes t−k … t+k, **H and W even** (the coarse flow level works at
½ size and is brought back by ×2). Output `out` (1, 1, H, W), unclamped; with `flows=True` (the default) also
`flow_l1` (2·2k channels, H/2×W/2) and `flow_l2` (2·2k channels, H×W): every neighbour's flow in frame order,
channels (x, y), in units of `flow_scale` pixels of the grid it lives on.

Per neighbour n (target c), OFRnet as SOF-VSR's (pysr/models/sofvsr.py, shared weights `OFR.*`, no biases,
LeakyReLU 0.1, ResB = split / 1×1 / depthwise 3×3 / 1×1 / concat / channel_shuffle), two levels:
  L1   [avgpool2(n), avgpool2(c), 0, 0] → RNN1 → RNN2 = flow_l1              (½ size, zero initial flow)
       up = 2·bilinear×2(flow_l1)                                            (align_corners False)
  L2   [warp(n, up), c, up] → RNN1 → RNN2, + up = flow_l2                    (full size)
  aligned = warp(n, flow_l2)                 warp = bilinear, border, align_corners True
Attention fusion (weights shared by all neighbours; E = `attention_channels`):
  D = sigmoid(conv3×3_nb(aligned) ⊙ conv3×3_ref(c))          (E channels: the "distance map")
  F_n = D ⊙ aligned                                           (aligned repeated E times when E > 1)
  [F_{t−k} … c … F_{t+k}] (the target itself in the middle) → conv3×3 → ReLU = fused (C channels)
Reconstruction: conv3×3 C→C → ReLU → [x + conv3×3(relu(conv3×3(x)))] → conv3×3 C→1, + c = out.

E = 1 is the text literally (a one-channel map weighting the aligned frame); E > 1 gives E gates per neighbour.
The target enters the fusion conv unweighted, as the reference frame does in EDVR's TSA fusion.

Cost (`macs_per_pixel`, per output pixel, default k=1, C_ofr=32, 2 ResB, C=32, E=1): 36 427 MACs: OFRnet and
the embedding 3 809 per neighbour, fusion 873, reconstruction 27 936 (its three C×C convs dominate). TCSR runs
at HR, so per LR pixel of a ×4 cascade that is 16× as much: 582 832, more than F-EDSR ×4 (346 400).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pysr.errors import CheckpointError, ShapeError
from pysr.graph.graph import Graph
from pysr.models.sofvsr import Emit
from pysr.models.state import checked_params


@dataclass(frozen=True)
class TcsrConfig:
    radius: int = 1              # window(k): 2k+1 frames
    channels: int = 32           # C: fusion and reconstruction width
    ofr_channels: int = 32       # OFRnet width (even: ResB works on halves)
    ofr_blocks: int = 2          # ResB in OFR.RNN1
    attention_channels: int = 1  # E: channels of the distance map
    flow_scale: float = 1.0      # pixels per flow unit (15.5 = SOF-VSR's unit, to start from its OFR weights)

    def __post_init__(self):
        if self.radius < 1 or self.channels < 1 or self.ofr_channels < 2 or self.ofr_channels % 2:
            raise ValueError(f"TCSR needs radius >= 1, channels >= 1 and an even ofr_channels >= 2, got {self}")
        if self.ofr_blocks < 0 or self.attention_channels < 1 or not self.flow_scale > 0:
            raise ValueError(f"TCSR needs ofr_blocks >= 0, attention_channels >= 1, flow_scale > 0, got {self}")

    @property
    def frames(self) -> int:
        return 2 * self.radius + 1

    @property
    def align_corners(self) -> bool:
        """The warps' grid convention (read by sofvsr's emitter): flows in pixels, x + u exactly."""
        return True


def _ofr(e: Emit, cfg: TcsrConfig, nb: str, centre: str, pooled_nb: str, pooled_centre: str, p: str):
    """OFRnet's two levels on (neighbour, centre): the values flow_l1, flow_l2 and the aligned neighbour."""
    def flow_net(x, name):
        y = e.conv(x, f"{name}/rnn1", "OFR.RNN1.0", 3, lrelu=True)
        y = e.cas(y, f"{name}/res", "OFR.RNN1.2", cfg.ofr_blocks, cfg.ofr_channels)
        return e.conv(y, f"{name}/rnn2", "OFR.RNN2.0", 3)

    pair = e.op("concat", f"{p}/l1/pair", [pooled_nb, pooled_centre])
    zeros = e.op("affine", f"{p}/l1/zero_flow", [pair], scale=0.0, shift=0.0)
    flow_l1 = flow_net(e.op("concat", f"{p}/l1/in", [pair, zeros]), f"{p}/l1")
    up = e.op("resize_bilinear", f"{p}/l1/up", [flow_l1], scale=2, align_corners=False)
    up = e.op("affine", f"{p}/l1/up.x2", [up], scale=2.0)
    w2 = e.warp(nb, up, f"{p}/l2/warp", cfg, flow_scale=cfg.flow_scale)
    r2 = flow_net(e.op("concat", f"{p}/l2/in", [w2, centre, up]), f"{p}/l2")
    flow_l2 = e.op("add", f"{p}/l2/flow", [up, r2])
    aligned = e.warp(nb, flow_l2, f"{p}/aligned", cfg, flow_scale=cfg.flow_scale)
    return flow_l1, flow_l2, aligned


def build(cfg: TcsrConfig, params: dict[str, np.ndarray], flows: bool = True) -> Graph:
    """The unfused graph; the passes fuse activations and the residual adds into the convs."""
    e, n, c = Emit(), cfg.frames, cfg.radius
    frame = e.op("split", "frames/split", ["frames"], outputs=[f"frame{t}" for t in range(n)], sizes=(1,) * n)
    pooled = e.op("pool2d", "frames/pool", ["frames"], mode="avg")
    pooled = e.op("split", "frames/pool.split", [pooled], outputs=[f"pooled{t}" for t in range(n)], sizes=(1,) * n)
    ref = e.conv(frame[c], "fusion/emb_ref", "fusion.emb_ref", 3, bias=True)
    levels, feats = ([], []), []
    for t in range(n):
        if t == c:
            feats.append(frame[c])
            continue
        p = f"nb{t}"
        flow_l1, flow_l2, aligned = _ofr(e, cfg, frame[t], frame[c], pooled[t], pooled[c], p)
        levels[0].append(flow_l1)
        levels[1].append(flow_l2)
        emb = e.conv(aligned, f"{p}/emb", "fusion.emb_nb", 3, bias=True)
        dist = e.op("activation", f"{p}/dist", [e.op("mul", f"{p}/similarity", [emb, ref])], kind="sigmoid")
        rep = aligned if cfg.attention_channels == 1 else e.op(
            "concat", f"{p}/aligned.rep", [aligned] * cfg.attention_channels)
        feats.append(e.op("mul", f"{p}/feature", [dist, rep]))
    x = e.op("concat", "fusion/cat", feats)
    x = e.op("activation", "fusion/relu", [e.conv(x, "fusion/conv", "fusion.conv", 3, bias=True)], kind="relu")
    x = e.op("activation", "recon/0.relu", [e.conv(x, "recon/0", "recon.0", 3, bias=True)], kind="relu")
    y = e.op("activation", "recon/1.relu", [e.conv(x, "recon/1.0", "recon.1.body.0", 3, bias=True)], kind="relu")
    x = e.op("add", "recon/1.add", [x, e.conv(y, "recon/1.2", "recon.1.body.2", 3, bias=True)])
    e.op("add", "out", [frame[c], e.conv(x, "recon/2", "recon.2", 3, bias=True)])
    outputs = ["out"]
    if flows:
        outputs += [e.op("concat", f"flow_l{k + 1}", level) for k, level in enumerate(levels)]
    return Graph({"frames": n}, outputs, e.nodes, dict(params))


def param_shapes(cfg: TcsrConfig) -> dict[str, tuple[tuple[int, ...], float]]:
    """Parameter name -> (shape, init bound 1/√fan_in)."""
    co, h, c, a = cfg.ofr_channels, cfg.ofr_channels // 2, cfg.channels, cfg.attention_channels
    out = {}

    def conv(key, cout, cin, k, bias=True):
        bound = 1.0 / np.sqrt(cin * k * k)
        out[f"{key}.weight"] = ((cout, cin, k, k), bound)
        if bias:
            out[f"{key}.bias"] = ((cout,), bound)

    conv("OFR.RNN1.0", co, 4, 3, bias=False)
    for i in range(cfg.ofr_blocks):
        conv(f"OFR.RNN1.2.body.{i}.body.0", h, h, 1, bias=False)
        conv(f"OFR.RNN1.2.body.{i}.body.2", h, 1, 3, bias=False)
        conv(f"OFR.RNN1.2.body.{i}.body.3", h, h, 1, bias=False)
    conv("OFR.RNN2.0", 2, co, 3, bias=False)
    conv("fusion.emb_nb", a, 1, 3)
    conv("fusion.emb_ref", a, 1, 3)
    conv("fusion.conv", c, 2 * cfg.radius * a + 1, 3)
    conv("recon.0", c, c, 3)
    conv("recon.1.body.0", c, c, 3)
    conv("recon.1.body.2", c, c, 3)
    conv("recon.2", 1, c, 3)
    return out


def init_params(cfg: TcsrConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-default-like uniform initialisation (for tests)."""
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(-b, b, shape).astype(np.float32) for k, (shape, b) in param_shapes(cfg).items()}


def macs_per_pixel(cfg: TcsrConfig) -> int:
    """Multiply-accumulates of all convs per output pixel (the ½-size level counts ¼)."""
    co, h, c, a = cfg.ofr_channels, cfg.ofr_channels // 2, cfg.channels, cfg.attention_channels
    flow_net = 9 * 4 * co + cfg.ofr_blocks * (2 * h * h + 9 * h) + 9 * co * 2
    per_nb = flow_net / 4 + flow_net + 9 * a                    # L1 at ¼ the pixels, L2, the neighbour embedding
    rest = 9 * a + 9 * (2 * cfg.radius * a + 1) * c + 3 * 9 * c * c + 9 * c
    return int(2 * cfg.radius * per_nb + rest)


def receptive_field(cfg: TcsrConfig) -> int:
    """Pixels on each side that reach one output pixel through convs, pooling and resizes (the warps reach
    further by the flow, which no static bound covers)."""
    net = 1 + cfg.ofr_blocks + 1                  # RNN1 conv, one depthwise 3×3 per ResB, RNN2
    l1 = 2 * net + 1 + 2                          # at ½ size, the pooling, the bilinear ×2
    l2 = l1 + net
    return l2 + 1 + 5                             # embedding conv, fusion conv and the 4 reconstruction convs


def config_json(cfg: TcsrConfig) -> dict:
    return asdict(cfg)


def config_from_json(d: dict) -> TcsrConfig:
    return TcsrConfig(**d)


def temporal_facts(cfg: TcsrConfig) -> dict:
    return {"temporal": f"window({cfg.radius})"}


LAYOUTS = {"pysr": "pysr's own names (OFR.* as SOF-VSR's, fusion.*, recon.*), e.g. the torch twin's state dict"}


def from_state_dict(state: dict[str, np.ndarray], layout: str = "auto") -> tuple[TcsrConfig, dict]:
    """Shapes decide every config field but flow_scale (1: pixels), which a state dict cannot show."""
    if layout not in ("auto", "pysr"):
        raise CheckpointError(f"unknown TCSR layout {layout!r}; known: {sorted(LAYOUTS)}")
    need = ("OFR.RNN1.0.weight", "fusion.emb_nb.weight", "fusion.conv.weight", "recon.0.weight")
    if any(k not in state for k in need):
        raise CheckpointError(f"not a TCSR checkpoint; its keys are {sorted(state)[:8]}…")
    a = state["fusion.emb_nb.weight"].shape[0]
    fin = state["fusion.conv.weight"].shape[1]
    if (fin - 1) % (2 * a):
        raise CheckpointError(f"fusion.conv takes {fin} channels: not 1 + 2k·E for E = {a}")
    blocks = len({k.split(".")[4] for k in state if k.startswith("OFR.RNN1.2.body.")})
    try:
        cfg = TcsrConfig(radius=(fin - 1) // (2 * a), channels=state["recon.0.weight"].shape[0],
                         ofr_channels=state["OFR.RNN1.0.weight"].shape[0], ofr_blocks=blocks, attention_channels=a)
    except ValueError as err:
        raise CheckpointError(f"TCSR checkpoint: {err}") from None
    params = checked_params(state, {k: shape for k, (shape, _) in param_shapes(cfg).items()}, f"TCSR ({cfg})")
    return cfg, params


def check_window(frames: np.ndarray, cfg: TcsrConfig) -> None:
    """Raise a ShapeError unless `frames` is (N, 2k+1, H, W) with H and W even."""
    if frames.ndim != 4 or frames.shape[1] != cfg.frames:
        raise ShapeError(f"TCSR: expected (N, {cfg.frames}, H, W) frames, got {frames.shape}")
    if frames.shape[2] % 2 or frames.shape[3] % 2:
        raise ShapeError(f"TCSR: frames of {frames.shape[2]}×{frames.shape[3]}; height and width must be even",
                         hint="crop one row/column (the coarse flow level works at half size)")
