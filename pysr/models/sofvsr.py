"""SOF-VSR, TIP 2020 version (Wang et al., "Deep Video Super-Resolution using HR Optical Flow Estimation"),
exactly as github LongguangWang/SOF-VSR `TIP/` computes it, as ONE graph on a window of 2k+1 LR Y frames.

Graph input `frames` (1, 2k+1, H, W): LR Y planes t−k … t+k, H and W even. Output `hr` (1, 1, sH, sW): HR Y of
frame t, unclamped. With `flows=True` the graph also outputs `flow_l1` (½ LR), `flow_l2` (LR) and `flow_l3`
(HR), each the flows of the neighbours in frame order, 2 channels (x, y) per neighbour, in SOF-VSR's units
(1/15.5 pixel of the grid the flow lives on).

Blocks (conv = zero-padded, stride 1, no bias except the last one; lrelu = LeakyReLU(0.1)):
  ResB       split channels in halves; the second half: conv1×1 → lrelu → depthwise conv3×3 → conv1×1 → lrelu;
             concat [first half, result] → channel_shuffle(2). No residual addition. CasResB(n) = n ResB.
  OFRnet     per neighbour n with the centre c; RNN1 = conv3×3(4→C) → lrelu → CasResB; RNN2 = conv3×3(C→2),
             shared by the levels.
    L1       [avgpool2(n), avgpool2(c), 0, 0] → RNN2(RNN1) = flow_l1;  up1 = 2·bilinear×2(flow_l1)
    L2       [warp(n, up1), c, up1] → RNN2(RNN1) + up1 = flow_l2
    L3       [warp(n, flow_l2), c, flow_l2] → RNN1 → CasResB → conv1×1(C→64s²) → pixel_shuffle(s) → lrelu
             → conv3×3(64→2), + s·bilinear×s(flow_l2) = flow_l3 (HR)
  draft      [c, then per neighbour, per phase (i, j) row-major: warp(n, flow_l3[i::s, j::s] / s)]
             = space_to_depth(flow_l3, s, "tf") split into phase flows (channels (i·s + j)·2 + {x, y}).
  SRnet      conv3×3(1+2k·s² → C) → lrelu → CasResB → conv1×1(C→64s²) → pixel_shuffle(s) → lrelu
             → conv3×3(64→1, bias) = hr (no bicubic skip, no clamp).
bilinear = align_corners False. warp = grid_sample bilinear, border, flow_scale 15.5 (upstream adds
flow·31/(W−1) to the [−1, 1] grid), align_corners True: PyTorch 0.4, which trained the weights, had no
other behaviour; `align_corners=False` reproduces running upstream's code under PyTorch ≥ 1.3.
Level 1's two zero channels are made in the graph (affine ×0 of the pooled pair) so RNN1's weight is used as is.

Parameters keep the checkpoint's key names (`OFR.RNN1.0.weight`, `SR.body.6.bias`, …); the OFRnet nodes of
all neighbours share them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pysr.errors import CheckpointError, ShapeError
from pysr.graph.graph import Graph, Node
from pysr.models.state import checked_params

SLOPE = 0.1            # LeakyReLU slope everywhere in SOF-VSR
FLOW_UNIT = 15.5       # pixels per flow unit: 31/(W−1) in normalised grid units


@dataclass(frozen=True)
class SofvsrConfig:
    scale: int = 2
    radius: int = 1            # window(radius): 2·radius + 1 frames; TIP uses 3 frames
    channels: int = 320        # C of RNN1 and SRnet (ResB halves of C/2)
    ofr_blocks: int = 3        # ResB in OFR.RNN1 and in OFR.SR
    sr_blocks: int = 8         # ResB in SRnet
    align_corners: bool = True

    def __post_init__(self):
        if self.scale < 2 or self.radius < 1 or self.channels < 2 or self.channels % 2:
            raise ValueError(f"SOF-VSR needs scale >= 2, radius >= 1 and an even channel count, got {self}")

    @property
    def frames(self) -> int:
        return 2 * self.radius + 1


class Emit:
    """Appends nodes; every node's (first) output value is named after the node. Also the builder of TCSR,
    which reuses SOF-VSR's OFRnet blocks."""

    def __init__(self):
        self.nodes: list[Node] = []

    def op(self, op: str, name: str, inputs, params=None, outputs=None, **attrs):
        outs = outputs or [name]
        self.nodes.append(Node(op, name, list(inputs), outs, dict(params or {}), attrs))
        return outs[0] if outputs is None else outs

    def conv(self, x, name, key, k, groups=1, bias=False, lrelu=False):
        params = {"weight": f"{key}.weight"}
        if bias:
            params["bias"] = f"{key}.bias"
        y = self.op("conv2d", name, [x], params, padding=(k // 2, k // 2), groups=groups)
        return self.lrelu(y, f"{name}.act") if lrelu else y

    def lrelu(self, x, name):
        return self.op("activation", name, [x], kind="leaky_relu", alpha=SLOPE)

    def upsampler(self, x, name, key_conv, key_out, scale, bias=False, out=None):
        """conv1×1 → pixel_shuffle(s) → lrelu → conv3×3 (the tail of OFR.SR and of SRnet), output named `out`."""
        y = self.conv(x, f"{name}/expand", key_conv, 1)
        y = self.op("pixel_shuffle", f"{name}/shuffle", [y], scale=scale)
        y = self.lrelu(y, f"{name}/shuffle.act")
        return self.conv(y, out or f"{name}/out", key_out, 3, bias=bias)

    def resb(self, x, name, key, channels):
        half = channels // 2
        keep, work = self.op("split", f"{name}/split", [x], outputs=[f"{name}/keep", f"{name}/work"],
                             sizes=(half, half))
        y = self.conv(work, f"{name}/pw1", f"{key}.body.0", 1, lrelu=True)
        y = self.conv(y, f"{name}/dw", f"{key}.body.2", 3, groups=half)
        y = self.conv(y, f"{name}/pw2", f"{key}.body.3", 1, lrelu=True)
        y = self.op("concat", f"{name}/cat", [keep, y])
        return self.op("channel_shuffle", f"{name}/shuffle", [y], groups=2)

    def cas(self, x, name, key, blocks, channels):
        for i in range(blocks):
            x = self.resb(x, f"{name}/{i}", f"{key}.body.{i}", channels)
        return x

    def warp(self, img, flow, name, cfg, flow_scale=FLOW_UNIT):
        return self.op("warp", name, [img, flow], align_corners=cfg.align_corners, flow_scale=flow_scale)


def _ofr(e: Emit, cfg: SofvsrConfig, nb: str, centre: str, pooled_nb: str, pooled_centre: str, p: str):
    """OFRnet on (neighbour, centre): returns the values of flow_l1, flow_l2, flow_l3."""
    def rnn1(x, name):
        y = e.conv(x, f"{name}/conv", "OFR.RNN1.0", 3, lrelu=True)
        return e.cas(y, f"{name}/res", "OFR.RNN1.2", cfg.ofr_blocks, cfg.channels)

    pair = e.op("concat", f"{p}/l1/pair", [pooled_nb, pooled_centre])
    zeros = e.op("affine", f"{p}/l1/zero_flow", [pair], scale=0.0, shift=0.0)
    x1 = e.op("concat", f"{p}/l1/in", [pair, zeros])
    flow_l1 = e.conv(rnn1(x1, f"{p}/l1/rnn1"), f"{p}/l1/flow", "OFR.RNN2.0", 3)
    up1 = e.op("resize_bilinear", f"{p}/l1/up", [flow_l1], scale=2, align_corners=False)
    up1 = e.op("affine", f"{p}/l1/up.x2", [up1], scale=2.0)

    w2 = e.warp(nb, up1, f"{p}/l2/warp", cfg)
    x2 = e.op("concat", f"{p}/l2/in", [w2, centre, up1])
    r2 = e.conv(rnn1(x2, f"{p}/l2/rnn1"), f"{p}/l2/rnn2", "OFR.RNN2.0", 3)
    flow_l2 = e.op("add", f"{p}/l2/flow", [r2, up1])

    w3 = e.warp(nb, flow_l2, f"{p}/l3/warp", cfg)
    x3 = e.op("concat", f"{p}/l3/in", [w3, centre, flow_l2])
    y = e.cas(rnn1(x3, f"{p}/l3/rnn1"), f"{p}/l3/sr", "OFR.SR.0", cfg.ofr_blocks, cfg.channels)
    y = e.upsampler(y, f"{p}/l3/up", "OFR.SR.1", "OFR.SR.4", cfg.scale)
    up2 = e.op("resize_bilinear", f"{p}/l3/flow_up", [flow_l2], scale=cfg.scale, align_corners=False)
    up2 = e.op("affine", f"{p}/l3/flow_up.xs", [up2], scale=float(cfg.scale))
    flow_l3 = e.op("add", f"{p}/l3/flow", [y, up2])
    return flow_l1, flow_l2, flow_l3


def build(cfg: SofvsrConfig, params: dict[str, np.ndarray], flows: bool = False) -> Graph:
    """The unfused graph (the passes fuse activations, shuffles and the flow residuals into the convs)."""
    e, s, n = Emit(), cfg.scale, cfg.frames
    frame = e.op("split", "frames/split", ["frames"], outputs=[f"frame{t}" for t in range(n)], sizes=(1,) * n)
    pooled = e.op("pool2d", "frames/pool", ["frames"], mode="avg")
    pooled = e.op("split", "frames/pool.split", [pooled], outputs=[f"pooled{t}" for t in range(n)], sizes=(1,) * n)
    c = cfg.radius
    levels = ([], [], [])
    draft = [frame[c]]
    for t in [t for t in range(n) if t != c]:
        p = f"ofr{t}"
        for level, flow in zip(levels, _ofr(e, cfg, frame[t], frame[c], pooled[t], pooled[c], p)):
            level.append(flow)
        # Motion compensation at LR: one warp per phase of the HR flow, divided by s (folded into flow_scale).
        phases = e.op("space_to_depth", f"{p}/phases", [levels[2][-1]], scale=s, order="tf")
        names = [f"{p}/phase{i}{j}" for i in range(s) for j in range(s)]
        phase = e.op("split", f"{p}/phases.split", [phases], outputs=names, sizes=(2,) * (s * s))
        for k, flow in enumerate(phase):
            draft.append(e.warp(frame[t], flow, f"{p}/draft{k}", cfg, flow_scale=FLOW_UNIT / s))
    x = e.op("concat", "sr/draft_cube", draft)
    x = e.conv(x, "sr/conv", "SR.body.0", 3, lrelu=True)
    x = e.cas(x, "sr/res", "SR.body.2", cfg.sr_blocks, cfg.channels)
    outputs = [e.upsampler(x, "sr/up", "SR.body.3", "SR.body.6", s, bias=True, out="hr")]
    if flows:
        for k, level in enumerate(levels):
            outputs.append(e.op("concat", f"flow_l{k + 1}", level))
    return Graph({"frames": n}, outputs, e.nodes, dict(params))


def receptive_field(cfg: SofvsrConfig) -> int:
    """LR pixels on each side that reach one output pixel through the convs, pooling and resizes; a warp
    reaches further by its flow (up to ~15.5·|flow| pixels), which no static bound covers."""
    rnn = 1 + cfg.ofr_blocks                          # conv3×3 + one depthwise 3×3 per ResB
    l1 = 2 * (rnn + 1) + 1 + 2                        # RNN1 + RNN2 at ½ LR, pooling, bilinear ×2 (1 px at ½ LR)
    l2 = l1 + rnn + 1                                 # RNN1 + RNN2 at LR
    l3 = l2 + rnn + cfg.ofr_blocks + 1                # RNN1 + OFR.SR's ResBs at LR, conv3×3 at HR (≤ 1 LR px)
    return l3 + 1 + cfg.sr_blocks + 1                 # SRnet: conv3×3, ResBs, HR conv3×3 (≤ 1 LR px)


def init_params(cfg: SofvsrConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-default-like uniform initialisation, checkpoint names (for tests)."""
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(-b, b, shape).astype(np.float32) for k, (shape, b) in _expected(cfg).items()}


def _expected(cfg: SofvsrConfig) -> dict[str, tuple[tuple[int, ...], float]]:
    """Checkpoint key -> (shape, init bound 1/√fan_in)."""
    c, h, s = cfg.channels, cfg.channels // 2, cfg.scale
    out = {}

    def conv(key, cout, cin, k, bias=False):
        bound = 1.0 / np.sqrt(cin * k * k)
        out[f"{key}.weight"] = ((cout, cin, k, k), bound)
        if bias:
            out[f"{key}.bias"] = ((cout,), bound)

    def cas(key, blocks):
        for i in range(blocks):
            conv(f"{key}.body.{i}.body.0", h, h, 1)
            conv(f"{key}.body.{i}.body.2", h, 1, 3)
            conv(f"{key}.body.{i}.body.3", h, h, 1)

    conv("OFR.RNN1.0", c, 4, 3)
    cas("OFR.RNN1.2", cfg.ofr_blocks)
    conv("OFR.RNN2.0", 2, c, 3)
    cas("OFR.SR.0", cfg.ofr_blocks)
    conv("OFR.SR.1", 64 * s * s, c, 1)
    conv("OFR.SR.4", 2, 64, 3)
    conv("SR.body.0", c, 1 + 2 * cfg.radius * s * s, 3)
    cas("SR.body.2", cfg.sr_blocks)
    conv("SR.body.3", 64 * s * s, c, 1)
    conv("SR.body.6", 1, 64, 3, bias=True)
    return out


LAYOUTS = {"tip": "LongguangWang/SOF-VSR TIP/ (OFR.*, SR.body.*); upsamplers of one pixel shuffle (×2, ×3)"}


def _count(state, prefix: str) -> int:
    return len({k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)})


def from_state_dict(state: dict[str, np.ndarray], layout: str = "auto") -> tuple[SofvsrConfig, dict]:
    """Shapes decide width, block counts, scale and window; every tensor must match exactly."""
    if layout not in ("auto", "tip"):
        raise CheckpointError(f"unknown SOF-VSR layout {layout!r}; known: {sorted(LAYOUTS)}")
    if "OFR.RNN1.0.weight" not in state or "OFR.SR.1.weight" not in state or "SR.body.0.weight" not in state:
        hint = (" (OFR.SR.3 present: the two-stage ×4 upsampler, not supported)" if "OFR.SR.3.weight" in state
                else "")
        raise CheckpointError(f"not a SOF-VSR (TIP) checkpoint{hint}; its keys are {sorted(state)[:8]}…")
    if "OFR.SR.3.weight" in state or "SR.body.8.weight" in state:
        raise CheckpointError("SOF-VSR checkpoint with a two-stage (×4) upsampler: pysr builds the one-stage "
                              "upsamplers of ×2 and ×3 only")
    channels = state["OFR.RNN1.0.weight"].shape[0]
    s2 = state["OFR.SR.1.weight"].shape[0] // 64
    scale = int(round(np.sqrt(s2)))
    cin = state["SR.body.0.weight"].shape[1]
    if scale * scale != s2 or (cin - 1) % (2 * s2):
        raise CheckpointError(f"OFR.SR.1 gives {64 * s2} channels and SR.body.0 takes {cin}: not 64·s² and "
                              f"1 + 2k·s² for an integer scale s and radius k")
    try:
        cfg = SofvsrConfig(scale=scale, radius=(cin - 1) // (2 * s2), channels=channels,
                           ofr_blocks=_count(state, "OFR.RNN1.2.body."), sr_blocks=_count(state, "SR.body.2.body."))
    except ValueError as err:
        raise CheckpointError(f"SOF-VSR checkpoint: {err}") from None
    params = checked_params(state, {k: shape for k, (shape, _) in _expected(cfg).items()}, f"SOF-VSR ({cfg})")
    return cfg, params


def config_json(cfg: SofvsrConfig) -> dict:
    return asdict(cfg)


def config_from_json(d: dict) -> SofvsrConfig:
    return SofvsrConfig(**d)


def temporal_facts(cfg: SofvsrConfig) -> dict:
    return {"temporal": f"window({cfg.radius})"}


def sofvsr_window(model, frames, backend: str = "cpu") -> np.ndarray:
    """HR Y (sH, sW) of the centre of 2k+1 LR Y planes (each (H, W), H and W even), float32, unclamped.
    `model` is a pysr Model of this architecture; its plan per size is memoised by the Model."""
    x = np.ascontiguousarray(np.stack([np.asarray(f, np.float32) for f in frames])[None])
    n = model.in_channels
    if x.ndim != 4 or x.shape[1] != n:
        raise ShapeError(f"SOF-VSR window: expected {n} frames of (H, W), got an array of shape {x.shape[1:]}")
    h, w = x.shape[2:]
    if h % 2 or w % 2:
        raise ShapeError(f"SOF-VSR window: LR frames of {h}×{w}; height and width must be even",
                         hint="crop one row/column (upstream keeps the top-left part)")
    return model.plan(backend, x.shape).run(x)[0][0, 0]
