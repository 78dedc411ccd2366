"""EGVSR (Cao et al. 2021) generator = TecoGAN's FRNet: FNet (optical flow) + SRNet, recurrent on its own output.

One step, as ONE graph with three inputs — `lr` (current LR frame), `lr_prev` (previous LR frame), `hr_prev`
(previous float HR output) — all RGB in [0, 1], and four outputs: `hr` (the float output, unclamped),
`lr_flow`, `hr_flow`, `warped` (the last three for inspection and parity):

  FNet   concat(lr, lr_prev) → 3 encoders [conv3×3, lrelu 0.2, conv3×3, lrelu 0.2, max pool 2] (32, 64, 128)
         → 3 decoders [conv, lrelu, conv, lrelu, bilinear ×2 align_corners False] (256, 128, 64)
         → conv 64→32, lrelu, conv 32→2, 24·tanh                                  → (h//8·8) × (w//8·8)
         → pad bottom/right in reflect mode by (h mod 8, w mod 8) rows/columns     → lr_flow (h × w)
  hr_flow = s · upsample_bicubic_tecogan(lr_flow, s)        (corner-aligned cubic a = −0.75, then ×s: pixels)
  warped  = warp(hr_prev, hr_flow)                          (bilinear, border, align_corners True)
  SRNet  concat(lr, space_to_depth(warped, s, "tf")) → conv 51→64, relu → nb × [x + conv(relu(conv(x)))]
         → pixel_shuffle(s) (PyTorch order) → relu → conv 4→3                     → hr
All convs 3×3, zero padding 1, with bias. No bicubic skip, no clamp, no BatchNorm (upstream has none).

NOTE: the flow pad depends on the input size (h mod 8), which a graph attribute cannot express. The stored
graph carries the node `fnet/flow_pad` with pads (0, 0, 0, 0) — right for sizes that are multiples of 8,
and a loud shape error otherwise; `for_size` sets its pads for a given LR size (the session does this).

Importer: the official 78-entry state dict (Thmen/EGVSR `FRNet`, nf = 64, nb = 10, BD, ×4). `fnet.*` and
`srnet.conv_in/resblocks/conv_out` map 1:1 (parameter names are the checkpoint's keys); the two copies of the
fixed upsampler buffer (`upsample_func.kernels`, `srnet.upsample_func.kernels`) are checked against the op's
a = −0.75 phase weights and dropped; `srnet.conv_up.*` (unused by the upstream forward) are dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pysr.errors import CheckpointError, GraphError, ShapeError
from pysr.graph.graph import Graph, Node
from pysr.ops.upsample_bicubic_tecogan import phase_weights

FNET_ENCODERS = ((6, 32), (32, 64), (64, 128))       # (in, out) of encoder1..3
FNET_DECODERS = ((128, 256), (256, 128), (128, 64))  # (in, out) of decoder1..3
FLOW_PAD_NODE = "fnet/flow_pad"
FLOW_MULTIPLE = 8                                      # three 2×2 max pools
INPUTS = ("lr", "lr_prev", "hr_prev")
OUTPUTS = ("hr", "lr_flow", "hr_flow", "warped")
@dataclass(frozen=True)
class EgvsrConfig:
    scale: int = 4
    nf: int = 64          # SRNet width
    nb: int = 10          # SRNet residual blocks
    in_channels: int = 3  # RGB

    def __post_init__(self):
        if self.scale < 1 or self.nf < 1 or self.nb < 0 or self.in_channels < 1:
            raise ValueError(f"bad EGVSR config {self}")


def _conv(name: str, x: str, out: str) -> Node:
    return Node("conv2d", name, [x], [out], {"weight": f"{name}.weight", "bias": f"{name}.bias"},
                {"padding": (1, 1)})


def _act(name: str, x: str, kind: str, **attrs) -> Node:
    return Node("activation", name, [x], [name], {}, {"kind": kind, **attrs})


def build(cfg: EgvsrConfig, params: dict[str, np.ndarray]) -> Graph:
    """The unfused one-step graph (see the module docstring); parameter names are the checkpoint's keys."""
    s, nodes = cfg.scale, []
    nodes.append(Node("concat", "fnet/in", ["lr", "lr_prev"], ["fnet/in"], {}, {}))
    x = "fnet/in"

    def conv_act(prefix: str, kind: str, **attrs):
        nonlocal x
        nodes.append(_conv(prefix, x, prefix + "/conv"))
        nodes.append(_act(prefix + "/act", prefix + "/conv", kind, **attrs))
        x = prefix + "/act"

    for i in range(1, 4):
        for j in (0, 2):
            conv_act(f"fnet.encoder{i}.{j}", "leaky_relu", alpha=0.2)
        nodes.append(Node("pool2d", f"fnet/pool{i}", [x], [f"fnet/pool{i}"], {}, {"mode": "max"}))
        x = f"fnet/pool{i}"
    for i in range(1, 4):
        for j in (0, 2):
            conv_act(f"fnet.decoder{i}.{j}", "leaky_relu", alpha=0.2)
        nodes.append(Node("resize_bilinear", f"fnet/up{i}", [x], [f"fnet/up{i}"], {},
                          {"scale": 2.0, "align_corners": False}))
        x = f"fnet/up{i}"
    conv_act("fnet.flow.0", "leaky_relu", alpha=0.2)
    nodes.append(_conv("fnet.flow.2", x, "fnet.flow.2/conv"))
    nodes.append(_act("fnet/flow", "fnet.flow.2/conv", "scaled_tanh", alpha=24.0))
    nodes.append(Node("pad", FLOW_PAD_NODE, ["fnet/flow"], ["lr_flow"], {}, {"pads": (0, 0, 0, 0), "mode": "reflect"}))
    nodes.append(Node("upsample_bicubic_tecogan", "flow_up", ["lr_flow"], ["flow_up"], {}, {"scale": s}))
    nodes.append(Node("affine", "flow_to_hr_pixels", ["flow_up"], ["hr_flow"], {}, {"scale": float(s), "shift": 0.0}))
    nodes.append(Node("warp", "warp", ["hr_prev", "hr_flow"], ["warped"], {},
                      {"align_corners": True, "flow_scale": 1.0}))
    nodes.append(Node("space_to_depth", "s2d", ["warped"], ["prev_s2d"], {}, {"scale": s, "order": "tf"}))
    nodes.append(Node("concat", "srnet/in", ["lr", "prev_s2d"], ["srnet/in"], {}, {}))
    x = "srnet/in"
    conv_act("srnet.conv_in.0", "relu")
    for b in range(cfg.nb):
        p = f"srnet.resblocks.{b}.conv"
        nodes.append(_conv(f"{p}.0", x, f"{p}.0/conv"))
        nodes.append(_act(f"{p}.1", f"{p}.0/conv", "relu"))
        nodes.append(_conv(f"{p}.2", f"{p}.1", f"{p}.2/conv"))
        nodes.append(Node("add", f"srnet.resblocks.{b}", [x, f"{p}.2/conv"], [f"srnet.resblocks.{b}"], {}, {}))
        x = f"srnet.resblocks.{b}"
    nodes.append(Node("pixel_shuffle", "srnet/shuffle", [x], ["srnet/shuffle"], {}, {"scale": s}))
    nodes.append(_act("srnet/shuffle_act", "srnet/shuffle", "relu"))
    nodes.append(_conv("srnet.conv_out", "srnet/shuffle_act", "hr"))
    c = cfg.in_channels
    return Graph({"lr": c, "lr_prev": c, "hr_prev": c}, list(OUTPUTS), nodes, dict(params))


def for_size(graph: Graph, height: int, width: int) -> Graph:
    """The graph for LR frames of height×width: `fnet/flow_pad` pads the flow back from (h//8·8, w//8·8) to
    h×w in reflect mode (mirror without repeating the edge), bottom and right, as upstream FRNet does."""
    if height < FLOW_MULTIPLE or width < FLOW_MULTIPLE:
        raise ShapeError(f"EGVSR needs LR frames of at least {FLOW_MULTIPLE}×{FLOW_MULTIPLE} (FNet pools three "
                         f"times), got {height}×{width}")
    g = graph.copy()
    for node in g.nodes:
        if node.name == FLOW_PAD_NODE:
            node.attrs = {**node.attrs, "pads": (0, height % FLOW_MULTIPLE, 0, width % FLOW_MULTIPLE)}
            return g
    raise GraphError(f"not an EGVSR graph: it has no node {FLOW_PAD_NODE!r}")


def receptive_field(cfg: EgvsrConfig) -> int:
    """LR pixels of one step's dependence on the current frame (the recurrent state makes the true reach
    unbounded): FNet 65 (convs 2+4+8+16+8+4+2, pools 1+2+4, bilinear 8+4+2) + flow upsampler 2 + the largest
    flow, 24, and its bilinear tap 1 + SRNet 1 + 2·nb + 1 (conv_out, at HR)."""
    return 65 + 2 + 24 + 1 + 1 + 2 * cfg.nb + 1


def init_params(cfg: EgvsrConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch-default-like uniform initialisation (tests)."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, (cin, cout) in _conv_shapes(cfg).items():
        bound = 1.0 / np.sqrt(cin * 9)
        params[f"{name}.weight"] = rng.uniform(-bound, bound, (cout, cin, 3, 3)).astype(np.float32)
        params[f"{name}.bias"] = rng.uniform(-bound, bound, (cout,)).astype(np.float32)
    return params


def _conv_shapes(cfg: EgvsrConfig) -> dict[str, tuple[int, int]]:
    """Conv name -> (in, out) channels for this config, in graph order."""
    c, s, nf = cfg.in_channels, cfg.scale, cfg.nf
    shapes = {}
    enc = ((2 * c, 32),) + FNET_ENCODERS[1:]
    for i, (cin, cout) in enumerate(enc + FNET_DECODERS, start=1):
        kind, k = ("encoder", i) if i <= 3 else ("decoder", i - 3)
        shapes[f"fnet.{kind}{k}.0"] = (cin, cout)
        shapes[f"fnet.{kind}{k}.2"] = (cout, cout)
    shapes["fnet.flow.0"] = (64, 32)
    shapes["fnet.flow.2"] = (32, 2)
    shapes["srnet.conv_in.0"] = ((s * s + 1) * c, nf)
    for b in range(cfg.nb):
        shapes[f"srnet.resblocks.{b}.conv.0"] = (nf, nf)
        shapes[f"srnet.resblocks.{b}.conv.2"] = (nf, nf)
    shapes["srnet.conv_out"] = (nf // (s * s), c)
    return shapes


LAYOUTS = ("official",)
BUFFERS = ("upsample_func.kernels", "srnet.upsample_func.kernels")


def from_state_dict(state: dict[str, np.ndarray], layout: str = "auto") -> tuple[EgvsrConfig, dict]:
    """Map the official FRNet state dict onto pysr parameters; shapes decide nf, nb, scale and channels."""
    if layout not in ("auto", *LAYOUTS):
        raise CheckpointError(f"unknown EGVSR layout {layout!r}; known: {list(LAYOUTS)}")
    for key in ("srnet.conv_in.0.weight", "srnet.conv_out.weight", "fnet.encoder1.0.weight"):
        if key not in state:
            raise CheckpointError(f"not an EGVSR (FRNet) checkpoint: no tensor {key!r}; its keys are "
                                  f"{sorted(state)[:8]}…")
    nf, cin51 = state["srnet.conv_in.0.weight"].shape[:2]
    c = state["srnet.conv_out.weight"].shape[0]
    s = int(round(np.sqrt(cin51 / c - 1)))
    nb = len({k.split(".")[2] for k in state if k.startswith("srnet.resblocks.")})
    if (s * s + 1) * c != cin51 or s < 1 or nf % (s * s):
        raise CheckpointError(f"srnet.conv_in takes {cin51} channels: not (scale²+1)·{c} for an integer scale "
                              f"with {nf} features divisible by scale²")
    cfg = EgvsrConfig(scale=s, nf=int(nf), nb=nb, in_channels=int(c))
    shapes = _conv_shapes(cfg)
    expected = {f"{n}.{p}" for n in shapes for p in ("weight", "bias")}
    unused = {f"srnet.conv_up.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")}
    missing = sorted((expected | set(BUFFERS)) - set(state))
    unknown = sorted(set(state) - expected - unused - set(BUFFERS))
    if missing or unknown:
        raise CheckpointError(f"EGVSR checkpoint: missing tensors {missing}, unexpected tensors {unknown}")
    want = np.array([phase_weights(d / s) for d in range(s)])
    for key in BUFFERS:
        got = np.asarray(state[key], np.float64)
        if got.shape != want.shape or np.abs(got - want).max() > 1e-6:
            raise CheckpointError(f"{key}: the fixed flow-upsampler weights {got.tolist()} are not the cubic "
                                  f"a = -0.75 phases {want.tolist()} that op upsample_bicubic_tecogan computes")
    params = {}
    for name, (ci, co) in shapes.items():
        w = np.asarray(state[f"{name}.weight"], np.float32)
        b = np.asarray(state[f"{name}.bias"], np.float32)
        if w.shape != (co, ci, 3, 3) or b.shape != (co,):
            raise CheckpointError(f"{name}: weight {w.shape} / bias {b.shape}, expected {(co, ci, 3, 3)} / {(co,)}")
        params[f"{name}.weight"], params[f"{name}.bias"] = w, b
    return cfg, params


def config_json(cfg: EgvsrConfig) -> dict:
    return asdict(cfg)


def config_from_json(d: dict) -> EgvsrConfig:
    return EgvsrConfig(**d)


def temporal_facts(cfg: EgvsrConfig) -> dict:
    """The recurrence (docs/temporal.md): after each step lr_prev <- lr and hr_prev <- hr (the float output, not
    the clamped or rounded one); before the first frame both are zero images (upstream `infer_sequence`)."""
    return {"temporal": "recurrent", "state": {
        "frame_input": "lr",
        "frame_output": "hr",
        "carry": [
            {"input": "lr_prev", "from": "lr", "scale": 1, "initial": "zeros"},
            {"input": "hr_prev", "from": "hr", "scale": cfg.scale, "initial": "zeros"},
        ],
    }}
