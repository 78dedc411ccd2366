"""conv2d on the cuda backend: picks one of three kernels and prepares its weights once.

  mma        groups = 1 with a tensor-core precision (tf32, fp16, bf16) on compute capability 8.0+:
             kernels/cuda/conv2d_mma.cu; weights packed as (Coutp × Kp) of the storage type, BN = 16 / 32 / 64
             output channels per block (the smallest that holds Cout).
  depthwise  one input channel per group (groups = Cin > 1): kernels/cuda/conv2d_depthwise.cu, when its input window
             fits 48 KiB of shared memory.
  direct     everything else, and every groups-1 conv in fp32: kernels/cuda/conv2d.cu (float32 arithmetic, the
             harness's float32 tolerance).
Each writes through the fused epilogue (kernels/cuda/conv2d_epilogue.cuh); `epilogue_args` is its argument list.
"""

from __future__ import annotations

import numpy as np

from pysr.backends._cuda_kernels import MMA_SUFFIX

PAD_CODES = {"zeros": 0, "reflect": 1, "replicate": 2}
ACT_CODES = {"none": 0, "relu": 1, "leaky_relu": 2, "prelu": 3, "tanh": 4, "sigmoid": 5, "scaled_tanh": 6,
             "clamp": 7}
MMA_BM = 128
MMA_BK = 16
MMA_THREADS = 128
DW_TILE = (32, 8)                  # (x, y) outputs per depthwise block
SHARED_LIMIT = 48 * 1024


def depthwise_shared_bytes(kh: int, kw: int, stride: int) -> int:
    rows = (DW_TILE[1] - 1) * stride + kh
    cols = (DW_TILE[0] - 1) * stride + kw
    return 4 * (rows * cols + kh * kw)


def path_for(be, attrs, weight_shape) -> str:
    cout, cpg, kh, kw = weight_shape
    if attrs["groups"] == 1 and be.tensor_cores():
        return "mma"
    if cpg == 1 and attrs["groups"] > 1 and depthwise_shared_bytes(kh, kw, attrs["stride"]) <= SHARED_LIMIT:
        return "depthwise"
    return "direct"


def mma_tile(cout: int) -> int:
    return 16 if cout <= 16 else 32 if cout <= 32 else 64


def epilogue_args(attrs, cout: int, out_shape, bias, slope, res, out_u8: bool = False) -> list:
    """The PYSR_EPILOGUE_PARAMS of kernels/cuda/conv2d_epilogue.cuh, in order."""
    r = int(attrs["pixel_shuffle"])
    clamp = attrs["clamp"]
    lo, hi = clamp if clamp is not None else (0.0, 0.0)
    return [bias, slope, res, ACT_CODES[attrs["activation"]], attrs["alpha"], max(r, 1),
            int(r > 1 and attrs["ps_order"] == "tf"), int(bool(attrs["residual"])), attrs["residual_scale"],
            int(clamp is not None), lo, hi, out_shape[1], out_shape[2], out_shape[3], int(out_u8)]


def compile(be, attrs, params, in_shapes, out_shapes):
    weight = np.asarray(params["weight"], np.float64)
    cout, cpg, kh, kw = weight.shape
    n, cin, h, w = in_shapes[0]
    ph, pw = (int(p) for p in attrs["padding"])
    s = int(attrs["stride"])
    ho, wo = (h + 2 * ph - kh) // s + 1, (w + 2 * pw - kw) // s + 1
    mode = PAD_CODES[attrs["pad_mode"]]
    groups = int(attrs["groups"])
    bias = be.upload(params["bias"] if params.get("bias") is not None else np.zeros(cout))
    slope = be.upload(params["slope"] if params.get("slope") is not None else np.zeros(cout))
    has_res = bool(attrs["residual"])
    path = path_for(be, attrs, weight.shape)
    out_shape = out_shapes[0]

    if path == "mma":
        bn = mma_tile(cout)
        k = cpg * kh * kw
        kp = -(-k // MMA_BK) * MMA_BK
        coutp = -(-cout // bn) * bn
        packed = np.zeros((coutp, kp), np.float32)
        packed[:cout, :k] = weight.reshape(cout, k)
        wdev = be.from_f32(be.upload(packed)) if be.suffix == "bf16" else be.upload(packed, be.dtype)
        name = f"conv2d_mma_{MMA_SUFFIX[be.precision]}_n{bn}"
        grid = (-(-(n * ho * wo) // MMA_BM), coutp // bn, 1)
        geometry = [n, cin, h, w, cout, kh, kw, s, ph, pw, mode, ho, wo, k, kp]

        def run(inputs, outputs):
            res = inputs[1] if has_res else outputs[0]
            be.launch("conv2d_mma", name, grid, (MMA_THREADS, 1, 1),
                      [inputs[0], wdev, outputs[0], *geometry,
                       *epilogue_args(attrs, cout, out_shape, bias, slope, res)])
    elif path == "depthwise":
        wdev = be.upload(weight.reshape(cout, kh * kw))
        tiles = -(-ho // DW_TILE[1]) * -(-wo // DW_TILE[0])
        grid = (n * cout * tiles, 1, 1)
        shared = depthwise_shared_bytes(kh, kw, s)
        name = f"conv2d_depthwise_{be.suffix}"
        geometry = [n, cin, h, w, cout, kh, kw, s, ph, pw, mode, ho, wo]

        def run(inputs, outputs):
            res = inputs[1] if has_res else outputs[0]
            be.launch("conv2d_depthwise", name, grid, (DW_TILE[0], DW_TILE[1], 1),
                      [inputs[0], wdev, outputs[0], *geometry,
                       *epilogue_args(attrs, cout, out_shape, bias, slope, res)], shared_mem=shared)
    else:
        wdev = be.upload(weight)
        name = f"conv2d_direct_{be.suffix}"
        total = n * cout * ho * wo
        geometry = [n, cin, h, w, cout, kh, kw, s, ph, pw, mode, groups, ho, wo]

        def run(inputs, outputs):
            res = inputs[1] if has_res else outputs[0]
            be.launch_flat("conv2d", name, total,
                           [inputs[0], wdev, outputs[0], *geometry,
                            *epilogue_args(attrs, cout, out_shape, bias, slope, res)])

    run.path = path
    return run
