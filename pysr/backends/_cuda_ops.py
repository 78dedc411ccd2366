"""Host side of every op on the cuda backend: one function per op, `(backend, attrs, params, in_shapes, out_shapes)
-> fn(inputs, outputs)`, in the explicit table COMPILERS. Each prepares what its kernel needs once (tap tables, folded
parameters, colour matrices, uploaded to the device) and returns a closure that launches kernels/cuda/<op>.cu on
device arrays of the backend's storage type. Attributes were merged and checked by the spec before this runs.
"""

from __future__ import annotations

import numpy as np

from pysr.backends import _cuda_conv
from pysr.ops import resize_bicubic_matlab, resize_bicubic_torch, resize_bilinear, upsample_bicubic_tecogan


def why_not(be, op: str, attrs, in_shapes) -> str:
    """"" when the backend runs the node: every op has a kernel for every attribute the spec allows. (Sizes that do
    not fit a kernel's 32-bit arguments are refused at launch, by CudaBackend.launch, naming the argument.)"""
    return "" if op in COMPILERS else f"no cuda kernel for {op!r}"


def _numel(shape) -> int:
    return int(np.prod(shape))


def activation(be, attrs, params, in_shapes, out_shapes):
    n, c, h, w = in_shapes[0]
    kind = _cuda_conv.ACT_CODES[attrs["kind"]]
    slope = be.upload(params["slope"] if attrs["kind"] == "prelu" else np.zeros(1))
    name, total = f"activation_{be.suffix}", _numel(in_shapes[0])

    def run(inputs, outputs):
        be.launch_flat("activation", name, total, [inputs[0], outputs[0], total, h * w, c, kind, attrs["alpha"], slope,
                                                   attrs["lo"], attrs["hi"]])

    return run


def add(be, attrs, params, in_shapes, out_shapes):
    name, total = f"add_{be.suffix}", _numel(in_shapes[0])

    def run(inputs, outputs):
        be.launch_flat("add", name, total, [inputs[0], inputs[1], outputs[0], total, attrs["scale"]])

    return run


def mul(be, attrs, params, in_shapes, out_shapes):
    name, total = f"mul_{be.suffix}", _numel(in_shapes[0])

    def run(inputs, outputs):
        be.launch_flat("mul", name, total, [inputs[0], inputs[1], outputs[0], total])

    return run


def affine(be, attrs, params, in_shapes, out_shapes):
    name, total = f"affine_{be.suffix}", _numel(in_shapes[0])

    def run(inputs, outputs):
        be.launch_flat("affine", name, total, [inputs[0], outputs[0], total, attrs["scale"], attrs["shift"]])

    return run


def batch_norm(be, attrs, params, in_shapes, out_shapes):
    n, c, h, w = in_shapes[0]
    p = {k: np.asarray(params[k], np.float64) for k in ("weight", "bias", "mean", "var")}
    scale = p["weight"] / np.sqrt(p["var"] + attrs["eps"])
    scale_dev, shift_dev = be.upload(scale), be.upload(p["bias"] - p["mean"] * scale)
    name, total = f"batch_norm_{be.suffix}", _numel(in_shapes[0])

    def run(inputs, outputs):
        be.launch_flat("batch_norm", name, total, [inputs[0], outputs[0], total, h * w, c, scale_dev, shift_dev])

    return run


def pixel_shuffle(be, attrs, params, in_shapes, out_shapes):
    n, c_out, ho, wo = out_shapes[0]
    _, _, h, w = in_shapes[0]
    r, tf = int(attrs["scale"]), int(attrs["order"] == "tf")
    name = f"pixel_shuffle_{be.suffix}"

    def run(inputs, outputs):
        be.launch_flat("pixel_shuffle", name, n * c_out * ho * wo, [inputs[0], outputs[0], n, c_out, h, w, r, tf])

    return run


def space_to_depth(be, attrs, params, in_shapes, out_shapes):
    n, c, h, w = in_shapes[0]
    r, tf = int(attrs["scale"]), int(attrs["order"] == "tf")
    name = f"space_to_depth_{be.suffix}"

    def run(inputs, outputs):
        be.launch_flat("space_to_depth", name, n * c * h * w, [inputs[0], outputs[0], n, c, h, w, r, tf])

    return run


def channel_shuffle(be, attrs, params, in_shapes, out_shapes):
    n, c, h, w = in_shapes[0]
    name = f"channel_shuffle_{be.suffix}"

    def run(inputs, outputs):
        be.launch_flat("channel_shuffle", name, n * c * h * w, [inputs[0], outputs[0], n, c, h * w, attrs["groups"]])

    return run


def concat(be, attrs, params, in_shapes, out_shapes):
    n, c_total, h, w = out_shapes[0]
    offsets = np.cumsum([0] + [s[1] for s in in_shapes]).tolist()
    name = f"concat_{be.suffix}"

    def run(inputs, outputs):
        for k, x in enumerate(inputs):
            c = in_shapes[k][1]
            be.launch_flat("concat", name, n * c * h * w, [x, outputs[0], n, c, h * w, c_total, offsets[k]])

    return run


def split(be, attrs, params, in_shapes, out_shapes):
    n, c_in, h, w = in_shapes[0]
    offsets = np.cumsum([0] + [s[1] for s in out_shapes]).tolist()
    name = f"split_{be.suffix}"

    def run(inputs, outputs):
        for k, y in enumerate(outputs):
            c = out_shapes[k][1]
            be.launch_flat("split", name, n * c * h * w, [inputs[0], y, n, c, h * w, c_in, offsets[k]])

    return run


def pad(be, attrs, params, in_shapes, out_shapes):
    n, c, h, w = in_shapes[0]
    _, _, ho, wo = out_shapes[0]
    top, _, left, _ = (int(p) for p in attrs["pads"])
    mode = _cuda_conv.PAD_CODES[attrs["mode"]]
    name = f"pad_{be.suffix}"

    def run(inputs, outputs):
        be.launch_flat("pad", name, n * c * ho * wo,
                       [inputs[0], outputs[0], n * c, h, w, top, left, ho, wo, mode, attrs["value"]])

    return run


def pool2d(be, attrs, params, in_shapes, out_shapes):
    n, c, h, w = in_shapes[0]
    is_max = int(attrs["mode"] == "max")
    name = f"pool2d_{be.suffix}"

    def run(inputs, outputs):
        be.launch_flat("pool2d", name, _numel(out_shapes[0]), [inputs[0], outputs[0], n * c, h, w, is_max])

    return run


def _separable(module):
    """A resize op through the tap tables its spec builds (the kernel is kernels/cuda/separable.cuh)."""
    stem = module.OP

    def compile_resize(be, attrs, params, in_shapes, out_shapes):
        n, c, h, w = in_shapes[0]
        _, _, ho, wo = out_shapes[0]
        (ih, wh), (iw, ww) = module.tables(attrs, in_shapes[0])        # (Ho, Ph) and (Wo, Pw)
        tabs = [be.upload(ih, np.int32), be.upload(wh), ih.shape[1], be.upload(iw, np.int32), be.upload(ww),
                iw.shape[1]]
        name = f"{stem}_{be.suffix}"

        def run(inputs, outputs):
            be.launch_flat(stem, name, n * c * ho * wo, [inputs[0], outputs[0], n * c, h, w, ho, wo, *tabs])

        return run

    return compile_resize


def warp(be, attrs, params, in_shapes, out_shapes):
    n, c, h, w = in_shapes[0]
    ac = bool(attrs["align_corners"])
    # as kernels/cpu/warp.py: source = (pos + disp)·k + shift, k = W/(W−1) and shift = −0.5 unless corner-aligned
    kx = 1.0 if ac or w == 1 else w / (w - 1.0)
    ky = 1.0 if ac or h == 1 else h / (h - 1.0)
    shift = 0.0 if ac else -0.5
    name = f"warp_{be.suffix}"

    def run(inputs, outputs):
        be.launch_flat("warp", name, n * h * w,
                       [inputs[0], inputs[1], outputs[0], n, c, h, w, attrs["flow_scale"], kx, ky, shift])

    return run


def _colour_matrix(attrs, inverse: bool) -> list[float]:
    """M (3×3, row-major) then o (3,) of out = M·in + o, float64, as the CPU kernels build them."""
    from pysr.kernels.cpu.rgb_to_ycbcr import colour_matrix  # pure numpy (no numba compilation happens here)

    m, o = colour_matrix(attrs["matrix"], attrs["range"])
    if inverse:
        m = np.linalg.inv(m)
        o = -m @ o
    return [float(v) for v in m.ravel()] + [float(v) for v in o]


def rgb_to_ycbcr(be, attrs, params, in_shapes, out_shapes):
    n, _, h, w = in_shapes[0]
    k = out_shapes[0][1]
    coeffs = _colour_matrix(attrs, inverse=False)
    name = f"rgb_to_ycbcr_{be.suffix}"

    def run(inputs, outputs):
        be.launch_flat("rgb_to_ycbcr", name, n * h * w, [inputs[0], outputs[0], n, h * w, k, *coeffs])

    return run


def ycbcr_to_rgb(be, attrs, params, in_shapes, out_shapes):
    n, _, h, w = in_shapes[0]
    coeffs = _colour_matrix(attrs, inverse=True)
    name = f"ycbcr_to_rgb_{be.suffix}"

    def run(inputs, outputs):
        be.launch_flat("ycbcr_to_rgb", name, n * h * w, [inputs[0], outputs[0], n, h * w, *coeffs])

    return run


COMPILERS = {
    "conv2d": _cuda_conv.compile,
    "batch_norm": batch_norm,
    "activation": activation,
    "affine": affine,
    "add": add,
    "mul": mul,
    "pixel_shuffle": pixel_shuffle,
    "space_to_depth": space_to_depth,
    "concat": concat,
    "split": split,
    "channel_shuffle": channel_shuffle,
    "pool2d": pool2d,
    "pad": pad,
    "resize_bilinear": _separable(resize_bilinear),
    "resize_bicubic_torch": _separable(resize_bicubic_torch),
    "resize_bicubic_matlab": _separable(resize_bicubic_matlab),
    "upsample_bicubic_tecogan": _separable(upsample_bicubic_tecogan),
    "warp": warp,
    "rgb_to_ycbcr": rgb_to_ycbcr,
    "ycbcr_to_rgb": ycbcr_to_rgb,
}
