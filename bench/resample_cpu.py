"""Resampling kernels and frame conversions on the CPU, 2 threads, in ONE run: pysr vs PyTorch.

    python bench/resample_cpu.py [--repeat 15]

Cases (the shapes of the 480×270 → 1080p pipelines):
  resize_bicubic_torch ×4, resize_bilinear ×2 / ×4, upsample_bicubic_tecogan ×4 on 1×2×270×480 (chroma / flow),
  resize_bicubic_matlab ×1/4 on 1×3×1080×1920 (making LR), warp of 1×3×1080×1920 by a flow of up to ±4 px,
  and the uint8 ↔ float32 frame conversions of a 1920×1080 RGB frame (peer: the numpy expressions they replace).
Peers: F.interpolate (bicubic / bilinear / bicubic antialias=True, which is MATLAB's a = −0.5 kernel), the
TecoGAN upsampler written as EGVSR does it (replicate pad + depthwise 4-tap convs + interleave), F.grid_sample
(grid built from the flow each call, as EGVSR does). pysr and the peer run alternately, round after round, so
both see the same machine load; each number is the median of --repeat rounds after warm-up (min in brackets).
Floors: bytes that must move (inputs read once, output written once) ÷ the measured copy bandwidth, and FLOPs
(multiply-adds × 2) ÷ the measured FP32 peak.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time

THREADS = 2
os.environ.setdefault("NUMBA_NUM_THREADS", str(THREADS))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from pysr import backends  # noqa: E402
from pysr.kernels.cpu import frames  # noqa: E402
from pysr.ops import spec  # noqa: E402


def timed(fns: dict, repeat: int, warmup: int = 3) -> dict:
    """Median and min ms of each callable, the callables interleaved round by round."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: (statistics.median(v), min(v)) for k, v in times.items()}


@njit(parallel=True, cache=True)
def _copy(src, dst):
    for i in prange(src.size // 4096):
        dst[i * 4096 : (i + 1) * 4096] = src[i * 4096 : (i + 1) * 4096]


def copy_bandwidth() -> float:
    """GB/s of a 2-thread copy of 128 MiB (bytes read + bytes written, per second)."""
    src = np.ones(32 << 20, np.float32)
    dst = np.empty_like(src)
    ms = timed({"copy": lambda: _copy(src, dst)}, 9)["copy"][0]
    return 2 * src.nbytes / (ms * 1e-3) / 1e9


def peak_gflops() -> float:
    """Practical FP32 peak: a 2048² sgemm (numpy/OpenBLAS) on the same threads."""
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    ms = timed({"mm": lambda: a @ a}, 5, 2)["mm"][0]
    return 2 * 2048**3 / (ms * 1e-3) / 1e9


def pysr_op(op, attrs, inputs):
    """(run, output) of one op on the cpu backend, output preallocated once as the runtime does."""
    s = spec(op)
    attrs = s.merge_attrs(attrs)
    shapes = [a.shape for a in inputs]
    out_shapes = s.shape(attrs, shapes, {})
    fn = backends.get("cpu").compile_node(op, attrs, {}, shapes, out_shapes)
    outs = [np.empty(sh, np.float32) for sh in out_shapes]
    return (lambda: fn(inputs, outs)), outs[0]


def tecogan_torch(x, s: int = 4, a: float = -0.75):
    """EGVSR's BicubicUpsample: replicate pad (1, 2), depthwise 4-tap convs per phase, interleave (rows, then cols)."""
    import torch
    import torch.nn.functional as F

    t = torch.arange(s, dtype=torch.float32)[:, None] / s
    k = torch.cat([a * t - 2 * a * t**2 + a * t**3, 1 - (a + 3) * t**2 + (a + 2) * t**3,
                   -a * t + (2 * a + 3) * t**2 - (a + 2) * t**3, a * t**2 - a * t**3], 1)     # (s, 4)
    n, c, h, w = x.shape
    kh = k.repeat(c, 1).view(c * s, 1, 4, 1)
    kw = k.repeat(c, 1).view(c * s, 1, 1, 4)

    def run():
        y = F.pad(x, (1, 2, 1, 2), mode="replicate")
        y = F.conv2d(y, kh, groups=c)                                                  # (n, c·s, h, w + 3)
        y = y.view(n, c, s, h, w + 3).permute(0, 1, 3, 2, 4).reshape(n, c, h * s, w + 3)
        y = F.conv2d(y, kw, groups=c)                                                  # (n, c·s, h·s, w)
        return y.view(n, c, s, h * s, w).permute(0, 1, 3, 4, 2).reshape(n, c, h * s, w * s)

    return run


def cases(rng):
    """(name, pysr op, attrs, inputs, torch peer factory, bytes moved, multiply-adds)."""
    import torch
    import torch.nn.functional as F

    chroma = rng.uniform(0, 1, (1, 2, 270, 480)).astype(np.float32)
    hd = rng.uniform(0, 1, (1, 3, 1080, 1920)).astype(np.float32)
    flow = rng.uniform(-4, 4, (1, 2, 1080, 1920)).astype(np.float32)
    ct, ht, ft = torch.from_numpy(chroma), torch.from_numpy(hd), torch.from_numpy(flow)

    def interp(x, s, mode, aa=False):
        return lambda: F.interpolate(x, scale_factor=s, mode=mode, align_corners=False, antialias=aa,
                                     recompute_scale_factor=False)

    def grid_sample():
        h, w = 1080, 1920
        base = torch.stack(torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")[::-1], -1)

        def run():
            g = base + torch.stack([ft[:, 0] / ((w - 1) / 2), ft[:, 1] / ((h - 1) / 2)], -1)
            return F.grid_sample(ht, g, mode="bilinear", padding_mode="border", align_corners=True)

        return run

    def sep(x, s, taps, down=False):
        n, c, h, w = x.shape
        size = math.ceil if down else math.floor                   # MATLAB's ceil, PyTorch's floor
        ho, wo = size(h * s), size(w * s)
        first = n * c * (ho * w if down else h * wo) * taps          # the cheaper first pass of each schedule
        return x.nbytes + n * c * ho * wo * 4, first + n * c * ho * wo * taps

    return [
        ("resize_bicubic_torch ×4, 2×270×480", "resize_bicubic_torch", {"scale": 4}, [chroma],
         interp(ct, 4, "bicubic"), *sep(chroma, 4, 4)),
        ("resize_bilinear ×2, 2×270×480", "resize_bilinear", {"scale": 2}, [chroma],
         interp(ct, 2, "bilinear"), *sep(chroma, 2, 2)),
        ("resize_bilinear ×4, 2×270×480", "resize_bilinear", {"scale": 4}, [chroma],
         interp(ct, 4, "bilinear"), *sep(chroma, 4, 2)),
        ("upsample_bicubic_tecogan ×4, 2×270×480", "upsample_bicubic_tecogan", {"scale": 4}, [chroma],
         tecogan_torch(ct), *sep(chroma, 4, 4)),
        ("resize_bicubic_matlab ×1/4, 3×1080×1920", "resize_bicubic_matlab", {"scale": 0.25}, [hd],
         interp(ht, 0.25, "bicubic", aa=True), *sep(hd, 0.25, 18, down=True)),
        ("warp ±4 px, 3×1080×1920", "warp", {"align_corners": True}, [hd, flow],
         grid_sample(), hd.nbytes * 2 + flow.nbytes, 1080 * 1920 * (4 + 3 * 6)),
    ]


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    rng = np.random.default_rng(0)
    bw, peak = copy_bandwidth(), peak_gflops()
    rows = []
    with torch.inference_mode():
        for name, op, attrs, inputs, peer, nbytes, madds in cases(rng):
            run, out = pysr_op(op, attrs, inputs)
            res = timed({"pysr": run, "torch": peer}, args.repeat)
            diff = float(np.abs(out - peer().numpy()).max())
            rows.append((name, res, nbytes / bw / 1e6, 2 * madds / peak / 1e6, diff))
        frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
        planar = rng.uniform(-0.05, 1.05, (1, 3, 1080, 1920)).astype(np.float32)
        for name, ours, numpy_peer, nbytes in [
            ("uint8 HWC → float32 planar, 1920×1080", lambda: frames.rgb_u8_to_planar(frame),
             lambda: frame.transpose(2, 0, 1)[None].astype(np.float32) / 255, frame.size * 5),
            ("float32 planar → uint8 HWC, 1920×1080", lambda: frames.planar_to_rgb_u8(planar),
             lambda: np.clip(np.rint(planar[0].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8), frame.size * 5),
        ]:
            res = timed({"pysr": ours, "torch": numpy_peer}, args.repeat)
            diff = float(np.abs(ours().astype(np.float64) - numpy_peer()).max())
            rows.append((name + " (peer: numpy)", res, nbytes / bw / 1e6, 0.0, diff))

    print(f"### Resampling, CPU, {THREADS} threads — {time.strftime('%Y-%m-%d')}\n")
    print(f"Machine: {cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, torch "
          f"{torch.__version__}; median [min] of {args.repeat} interleaved rounds after warm-up.")
    print(f"Measured: copy bandwidth {bw:.1f} GB/s (read + write), FP32 peak {peak:.0f} GFLOP/s (2048² sgemm).\n")
    print("| case | pysr ms | peer ms | peer / pysr | memory floor ms | FLOP floor ms | max abs diff |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, res, mem_ms, flop_ms, diff in rows:
        (pm, pmin), (tm, tmin) = res["pysr"], res["torch"]
        print(f"| {name} | {pm:.2f} [{pmin:.2f}] | {tm:.2f} [{tmin:.2f}] | {tm / pm:.1f}× | {mem_ms:.2f} | "
              f"{flop_ms:.2f} | {diff:.1e} |")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
