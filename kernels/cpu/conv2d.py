"""conv2d (cross-correlation + fused epilogue, pysr/ops/conv2d.py) on the CPU: picks one of four paths.

  winograd   3×3, stride 1, groups 1, Cin ≥ 8, Cout ≥ 4: F(4×4, 3×3) with the points 0, −1, 1, ½, −2
             (conv2d_winograd.py). 36 multiplies per 4×4 outputs instead of 144; weights transformed
             once here in float64.
  depthwise  one input channel per group (groups = Cin; any channel multiplier, kernel, stride): a
             direct row kernel (conv2d_depthwise.py).
  direct     stride 1, groups 1, Cout ≤ 4 (flow and image heads such as 32→2, 32→1, 4→3): the micro-kernel
             reads the input rows in place, no im2col gather (conv2d_direct.py).
  gemm       everything else: blocked im2col × prepacked weights, 4 channels × 64 pixels per micro-kernel
             call (conv2d_gemm.py); this is also the path of tiny-Cin layers such as ESPCN's 1→64 5×5 and
             of 1×1 convs.
Every path writes through the same fused epilogue (conv2d_epilogue.py): bias → activation → pixel
shuffle to its place → residual + scale·y → clamp. Threads: each path runs a prange over chunks of
independent output blocks (both cores busy); no state is kept between calls, scratch is per chunk.
`path_for` tells tests and benchmarks which path a shape takes; `compile` returns a function with `.path`.
"""

from __future__ import annotations

import numba
import numpy as np

from pysr.kernels.cpu import conv2d_depthwise, conv2d_direct, conv2d_gemm, conv2d_winograd
from pysr.kernels.cpu.conv2d_epilogue import settings

# Below these the transforms (per input channel) and the 4-channel register blocks (per output channel)
# cost more than the 4× fewer multiplies save, and F(4×4)'s float32 error is a larger share of a tolerance
# that shrinks with √(Cin·9).
WINOGRAD_MIN_CIN = 8
WINOGRAD_MIN_COUT = 4


def flat(a: np.ndarray) -> np.ndarray:
    """1-D view of a C-contiguous array; raises (never copies, so no write can be lost) otherwise."""
    v = a.view()
    v.shape = (a.size,)
    return v


def path_for(attrs, weight_shape) -> str:
    cout, cpg, kh, kw = weight_shape
    groups = attrs["groups"]
    if (kh, kw, attrs["stride"], groups) == (3, 3, 1, 1) and cpg >= WINOGRAD_MIN_CIN and cout >= WINOGRAD_MIN_COUT:
        return "winograd"
    if cpg == 1 and groups > 1:
        return "depthwise"
    if attrs["stride"] == 1 and groups == 1 and cout <= conv2d_direct.MAX_COUT:
        return "direct"
    return "gemm"


def compile(attrs, params, in_shapes, out_shapes):
    weight = params["weight"]
    cout, cpg, kh, kw = weight.shape
    ints, floats, bias, slope = settings(attrs, params, cout, out_shapes[0])
    ph, pw = (int(p) for p in attrs["padding"])
    s = int(attrs["stride"])
    mode = conv2d_gemm.PAD_CODES[attrs["pad_mode"]]
    n, _, h, w = in_shapes[0]
    ho, wo = (h + 2 * ph - kh) // s + 1, (w + 2 * pw - kw) // s + 1
    path = path_for(attrs, weight.shape)
    has_res = bool(attrs["residual"])

    if path == "winograd":
        u = conv2d_winograd.pack(weight)

        def run(inputs, outputs):
            out = flat(outputs[0])
            res = flat(inputs[1]) if has_res else out
            conv2d_winograd.conv_winograd(inputs[0], u, out, res, ph, pw, mode, ho, wo,
                                          ints, floats, bias, slope, numba.get_num_threads())
    elif path == "depthwise":
        wd = np.ascontiguousarray(weight.reshape(cout, kh, kw), np.float32)

        def run(inputs, outputs):
            out = flat(outputs[0])
            res = flat(inputs[1]) if has_res else out
            conv2d_depthwise.conv_depthwise(inputs[0], wd, out, res, s, ph, pw, mode, ho, wo,
                                            ints, floats, bias, slope, numba.get_num_threads())
    elif path == "direct":
        wk = conv2d_direct.pack(weight)
        mc = conv2d_direct.channels_per_block(cout)

        def run(inputs, outputs):
            out = flat(outputs[0])
            res = flat(inputs[1]) if has_res else out
            conv2d_direct.conv_direct(inputs[0], wk, mc, out, res, kh, kw, ph, pw, mode, ho, wo, cout,
                                      ints, floats, bias, slope, numba.get_num_threads())
    else:
        wp = conv2d_gemm.pack(weight, attrs["groups"])
        nsub = conv2d_gemm.sub_blocks(wp.shape[2])

        def run(inputs, outputs):
            out = flat(outputs[0])
            res = flat(inputs[1]) if has_res else out
            conv2d_gemm.conv_gemm(inputs[0], wp, out, res, kh, kw, s, ph, pw, mode, ho, wo, nsub,
                                  ints, floats, bias, slope, numba.get_num_threads())

    run.path = path
    return run
