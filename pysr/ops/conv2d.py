"""conv2d: 2-D cross-correlation (PyTorch Conv2d semantics) with a fused epilogue.

out = clamp( residual + residual_scale · shuffle( act( conv(pad(x), weight) + bias ) ) )
where each stage is optional:
  pad        `padding` = (ph, pw) on each side, `pad_mode` zeros | reflect (no edge repeat) | replicate
  conv       weight (Cout, Cin/groups, kh, kw), `stride`, `groups` (groups = Cin = Cout: depthwise)
  act        `activation` none | relu | leaky_relu | prelu | tanh | sigmoid | scaled_tanh (see activation.py;
             `alpha` is the leaky slope or the tanh scale; prelu takes the param `slope` (Cout,))
  shuffle    `pixel_shuffle` = r > 0: depth to space by r in `ps_order` (see pixel_shuffle.py)
  residual   `residual` = True: a second input, the shape of the (shuffled) output, added as
             residual + residual_scale · y
  clamp      `clamp` = [lo, hi] or None
This is exactly the unfused sequence conv → activation → pixel_shuffle → add → clamp of the other ops'
references, which is what the fusion passes rely on.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops import activation, pixel_shuffle
from pysr.ops.spec import OpSpec, expect_choice, expect_count, expect_int, expect_number, expect_rank4

PAD_MODES = ("zeros", "reflect", "replicate")
ACTIVATIONS = ("none",) + tuple(k for k in activation.KINDS if k != "clamp")

ATTRS = {
    "stride": 1,
    "padding": (0, 0),
    "pad_mode": "zeros",
    "groups": 1,
    "activation": "none",
    "alpha": 0.01,
    "pixel_shuffle": 0,
    "ps_order": "pytorch",
    "residual": False,
    "residual_scale": 1.0,
    "clamp": None,
}


def _check(a):
    op = "conv2d"
    expect_int(op, "stride", a["stride"], lo=1)
    pad = a["padding"]
    if not isinstance(pad, (list, tuple)) or len(pad) != 2:
        raise AttributeSpecError(f"{op}: padding must be (ph, pw), got {pad!r}")
    for p in pad:
        expect_int(op, "padding", p, lo=0, hi=1 << 20)
    expect_choice(op, "pad_mode", a["pad_mode"], PAD_MODES)
    expect_int(op, "groups", a["groups"], lo=1)
    expect_choice(op, "activation", a["activation"], ACTIVATIONS)
    expect_number(op, "alpha", a["alpha"])
    expect_int(op, "pixel_shuffle", a["pixel_shuffle"], lo=0)
    pixel_shuffle.check_order(op, a, "ps_order")
    if not isinstance(a["residual"], bool):
        raise AttributeSpecError(f"{op}: residual must be true or false, got {a['residual']!r}")
    expect_number(op, "residual_scale", a["residual_scale"])
    if a["clamp"] is not None:
        if not isinstance(a["clamp"], (list, tuple)) or len(a["clamp"]) != 2:
            raise AttributeSpecError(f"{op}: clamp must be [lo, hi] or null, got {a['clamp']!r}")
        activation.check_clamp(op, *a["clamp"])


def conv_shape(a, x, w):
    """Shape of the raw convolution (before any pixel shuffle)."""
    op = "conv2d"
    n, cin, h, wd = x
    if len(w) != 4:
        raise ShapeError(f"{op}: weight must be (Cout, Cin/groups, kh, kw), got {w}")
    cout, cpg, kh, kw = w
    g = a["groups"]
    if cin % g or cout % g:
        raise ShapeError(f"{op}: channels in={cin} out={cout} are not divisible by groups={g}")
    if cpg * g != cin:
        raise ShapeError(
            f"{op}: weight expects {cpg * g} input channels (Cin/groups={cpg}, groups={g}), input has {cin}"
        )
    ph, pw = a["padding"]
    if a["pad_mode"] == "reflect" and (ph >= h or pw >= wd):
        raise ShapeError(f"{op}: reflect padding ({ph}, {pw}) needs an input larger than it, got {h}×{wd}")
    s = a["stride"]
    ho = (h + 2 * ph - kh) // s + 1
    wo = (wd + 2 * pw - kw) // s + 1
    if ho <= 0 or wo <= 0:
        raise ShapeError(f"{op}: kernel {kh}×{kw} with padding {a['padding']} does not fit a {h}×{wd} input")
    return (n, cout, ho, wo)


def _shape(a, in_shapes, param_shapes):
    op = "conv2d"
    expect_count(op, in_shapes, 2 if a["residual"] else 1)
    x = expect_rank4(op, "input", in_shapes[0])
    if "weight" not in param_shapes:
        raise ShapeError(f"{op}: parameter 'weight' is missing")
    out = conv_shape(a, x, tuple(param_shapes["weight"]))
    cout = out[1]
    if "bias" in param_shapes and tuple(param_shapes["bias"]) != (cout,):
        raise ShapeError(f"{op}: bias must have shape ({cout},), got {tuple(param_shapes['bias'])}")
    if a["activation"] == "prelu" and tuple(param_shapes.get("slope", ())) != (cout,):
        raise ShapeError(f"{op}: prelu needs parameter 'slope' of shape ({cout},)")
    if a["pixel_shuffle"]:
        out = pixel_shuffle.shuffled_shape(op, out, a["pixel_shuffle"])
    if a["residual"]:
        r = expect_rank4(op, "residual", in_shapes[1])
        if r != out:
            raise ShapeError(f"{op}: residual shape {r} differs from the output shape {out}")
    return [out]


def pad(x: np.ndarray, ph: int, pw: int, mode: str) -> np.ndarray:
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}[mode]
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode=np_mode)


def convolve(x: np.ndarray, w: np.ndarray, stride: int, groups: int) -> np.ndarray:
    """Plain float64 cross-correlation of an already padded NCHW input (no bias)."""
    n, cin, h, wd = x.shape
    cout, cpg, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    opg = cout // groups
    out = np.zeros((n, cout, ho, wo))
    for g in range(groups):
        xg = x[:, g * cpg : (g + 1) * cpg]
        wg = w[g * opg : (g + 1) * opg]
        for i in range(kh):
            for j in range(kw):
                patch = xg[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]
                out[:, g * opg : (g + 1) * opg] += np.einsum("nchw,oc->nohw", patch, wg[:, :, i, j])
    return out


def _reference(a, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    w = np.asarray(params["weight"], np.float64)
    y = convolve(pad(x, *a["padding"], a["pad_mode"]), w, a["stride"], a["groups"])
    if params.get("bias") is not None:
        y = y + np.asarray(params["bias"], np.float64).reshape(1, -1, 1, 1)
    y = activation.apply(a["activation"], y, a["alpha"], params.get("slope"))
    if a["pixel_shuffle"]:
        y = pixel_shuffle.shuffle(y, a["pixel_shuffle"], a["ps_order"])
    if a["residual"]:
        y = np.asarray(inputs[1], np.float64) + a["residual_scale"] * y
    if a["clamp"] is not None:
        y = np.clip(y, *a["clamp"])
    return [y]


def _tolerance(a, in_shapes, param_shapes):
    # float32 accumulation over K = Cin/groups·kh·kw products (and Winograd's transforms): the error grows
    # with K and with the size of the products, so the absolute part scales with sqrt(K).
    cout, cpg, kh, kw = param_shapes["weight"]
    k = cpg * kh * kw
    eps = float(np.finfo(np.float32).eps)
    return 8.0 * eps * float(np.sqrt(k)), 16.0 * eps


SPEC = OpSpec(
    name="conv2d",
    inputs=("x", "residual?"),
    params=("weight", "bias?", "slope?"),
    attrs=ATTRS,
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=_tolerance,
    doc=__doc__,
)
