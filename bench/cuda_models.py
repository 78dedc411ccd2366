"""Whole models on one GPU, in ONE process: pysr's cuda backend against PyTorch eager and torch.compile, same random
weights of the real layouts, outputs compared before anything is timed.

    python3 bench/cuda_models.py [--precisions fp16 tf32 fp32] [--frames 30] [--repeat 10] [--compile] [--write]

  egvsr   EGVSR ×4, one recurrent step, 960×540 RGB → 3840×2160 (lr, lr_prev, hr_prev on the device), fps of the
          network. pysr: the plan run device-resident (pysr/backends/_cuda_run.py DeviceRunner), with and without a
          CUDA graph. Peers: the torch port of bench/torch_peers.py in eager mode (channels_last; half for fp16,
          allow_tf32 for tf32) and, with --compile, torch.compile (default mode).
  espcn   the shipped ESPCN ×4, 960×540 → 3840×2160, frames in and out as 8-bit YUV 4:2:0 through host memory:
          pysr's FramePipeline (8-bit planes over PCIe from pinned buffers, colour conversion, the RGB graph with the
          model's chroma upsampling and the network, conversion back, two frames in flight, CUDA graphs), fps over
          --frames frames. Peer: PyTorch eager ESPCN on the Y plane already on the device (the network alone: a lower
          bound of what a torch pipeline would cost).
Timing: CUDA events (device-resident runs, median of --repeat after warm-up) or wall clock over the frames
(pipeline). The floor: conv FLOPs ÷ the measured dense fp16 / tf32 matmul rate of this GPU (8192³ through PyTorch).
--write appends the tables to bench/RESULTS.md's CUDA section.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

H, W = 540, 960
TOL = {"fp32": 1e-3, "tf32": 5e-2, "fp16": 5e-2, "bf16": 2e-1}   # max |pysr − torch fp32| (parity gate)


def conv_flops(graph, shapes) -> float:
    total = 0.0
    for node in graph.nodes:
        if node.op == "conv2d":
            w = graph.params[node.params["weight"]]
            r = node.attrs.get("pixel_shuffle", 0) or 1
            n, _, ho, wo = shapes[node.outputs[0]]
            total += 2.0 * n * w.shape[0] * (ho // r) * (wo // r) * np.prod(w.shape[1:])
    return total


def peak_tflops(dtype, tf32: bool = False) -> float:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = tf32
    a = torch.randn(8192, 8192, device="cuda", dtype=dtype)
    for _ in range(3):
        a @ a
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(10):
        a @ a
    e.record()
    e.synchronize()
    return 2 * 8192**3 * 10 / (s.elapsed_time(e) * 1e-3) / 1e12


def median_event_ms(fn, repeat: int, engine: str) -> float:
    """Median ms of `fn` between CUDA events on the current stream of `engine` ("cupy" or "torch")."""
    if engine == "cupy":
        import cupy as cp

        make, elapsed = cp.cuda.Event, cp.cuda.get_elapsed_time
    else:
        import torch

        make, elapsed = (lambda: torch.cuda.Event(enable_timing=True)), (lambda s, e: s.elapsed_time(e))
    for _ in range(3):
        fn()
    out = []
    for _ in range(repeat):
        s, e = make(), make()
        s.record()
        fn()
        e.record()
        e.synchronize()
        out.append(elapsed(s, e))
    return statistics.median(out)


def torch_dtype(precision: str):
    import torch

    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)


def bench_egvsr(precisions, repeat: int, use_compile: bool) -> list[str]:
    import torch
    import torch_peers

    from pysr.backends import cuda
    from pysr.backends._cuda_run import DeviceRunner
    from pysr.models import egvsr

    cfg = egvsr.EgvsrConfig()
    params = egvsr.init_params(cfg, seed=1)
    graph = egvsr.for_size(egvsr.build(cfg, params), H, W)
    rng = np.random.default_rng(0)
    inputs = {"lr": rng.uniform(0, 1, (1, 3, H, W)).astype(np.float32),
              "lr_prev": rng.uniform(0, 1, (1, 3, H, W)).astype(np.float32),
              "hr_prev": rng.uniform(0, 1, (1, 3, 4 * H, 4 * W)).astype(np.float32)}
    shapes = {k: v.shape for k, v in inputs.items()}
    net = torch_peers.egvsr_module(cfg, params).cuda().eval()
    t_in = [torch.from_numpy(inputs[k]).cuda() for k in ("lr", "lr_prev", "hr_prev")]
    torch_dtype("fp32")
    with torch.no_grad():
        want = net(*t_in)[0].float().cpu().numpy()
    rows = []
    flops = None
    for precision in precisions:
        plan = cuda.compile_plan(graph, shapes, precision=precision)
        flops = flops or conv_flops(plan.graph, plan.shapes)
        got = plan.run(inputs)[0]
        err = float(np.abs(got - want).max())
        if not err <= TOL[precision]:
            rows.append(f"| pysr cuda {precision} | parity FAILED: max abs diff {err:.3g} vs torch fp32 | | | |")
            continue
        runner = DeviceRunner(plan)
        for k, v in inputs.items():
            runner.inputs[k].set(v, stream=runner.stream)
        with runner.stream:
            ms = median_event_ms(runner.run, repeat, "cupy")
            rows.append(f"| pysr cuda {precision} | {ms:.2f} | {1e3 / ms:.1f} | {flops / ms / 1e9:.1f} | {err:.1e} |")
            runner.capture()
            ms = median_event_ms(runner.run, repeat, "cupy")
        rows.append(f"| pysr cuda {precision} + CUDA graph | {ms:.2f} | {1e3 / ms:.1f} | {flops / ms / 1e9:.1f} | "
                    f"{err:.1e} |")
        dt = torch_dtype(precision)
        tnet = torch_peers.egvsr_module(cfg, params).cuda().eval().to(dt).to(memory_format=torch.channels_last)
        targs = [t.to(dt).contiguous(memory_format=torch.channels_last) for t in t_in]
        engines = [("torch eager", tnet)]
        if use_compile:
            engines.append(("torch.compile", torch.compile(tnet)))
        for label, m in engines:
            with torch.no_grad():
                terr = float(np.abs(m(*targs)[0].float().cpu().numpy() - want).max())
                ms = median_event_ms(lambda m=m, a=targs: m(*a), repeat, "torch")
            rows.append(f"| {label} {precision} | {ms:.2f} | {1e3 / ms:.1f} | {flops / ms / 1e9:.1f} | {terr:.1e} |")
        print("\n".join(rows[-4:]), flush=True)
    head = [f"#### EGVSR ×4 (FNet + SRNet 64/10), one recurrent step, {W}×{H} RGB → {4 * W}×{4 * H}, inputs on the "
            f"device; {flops / 1e9:.0f} GFLOP per step", "",
            "| engine | ms/step | fps | TFLOP/s (conv) | max abs diff vs torch fp32 |",
            "| --- | --- | --- | --- | --- |"]
    return head + rows


def bench_espcn(precisions, frames: int, repeat: int) -> list[str]:
    import cupy as cp
    import torch
    from espcn_cpu import torch_net

    import pysr
    from pysr.backends import cuda
    from pysr.backends._cuda_run import FramePipeline
    from pysr.models.colour import wrap_rgb
    from pysr.video.colour import Colour, rgb_to_yuv

    model = pysr.load("espcn_x4")
    colour = Colour("bt601", "limited")
    yy, xx = np.mgrid[0:H, 0:W]
    rgb = [np.clip(128 + 90 * np.sin(yy[..., None] / (4.0 + t) + xx[..., None] / 7.0 + np.arange(3)), 0,
                   255).astype(np.uint8) for t in range(4)]
    planes = [rgb_to_yuv(f, colour) for f in rgb]
    graph = wrap_rgb(model.graph, model.facts)
    rows = []
    for precision in precisions:
        plan = cuda.compile_plan(graph, {"rgb": (1, 3, H, W)}, precision=precision)
        pipe = FramePipeline(plan, colour)
        for p in planes:                      # warm-up (fills the pipeline)
            pipe.push(*p)
        pipe.flush()
        t0 = time.perf_counter()
        for i in range(frames):
            pipe.push(*planes[i % len(planes)])
        pipe.flush()
        sec = time.perf_counter() - t0
        rows.append(f"| pysr FramePipeline {precision} (YUV 4:2:0 in → 4K YUV out, colour on the device) | "
                    f"{sec / frames * 1e3:.2f} | {frames / sec:.1f} |")
        dt = torch_dtype(precision)
        net = torch_net(model).cuda().eval().to(dt).to(memory_format=torch.channels_last)
        y = torch.rand(1, 1, H, W, device="cuda", dtype=dt).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            ms = median_event_ms(lambda net=net, y=y: net(y), repeat, "torch")
        rows.append(f"| torch eager {precision} (network only, Y plane on the device) | {ms:.2f} | {1e3 / ms:.1f} |")
        print("\n".join(rows[-2:]), flush=True)
        del pipe
        cp.get_default_memory_pool().free_all_blocks()
    head = [f"#### ESPCN ×4 (shipped), {W}×{H} → {4 * W}×{4 * H}, {frames} frames", "",
            "| engine | ms/frame | fps |", "| --- | --- | --- |"]
    return head + rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["egvsr", "espcn"], choices=["egvsr", "espcn"])
    ap.add_argument("--precisions", nargs="+", default=["fp16", "tf32", "fp32"],
                    choices=["fp16", "bf16", "tf32", "fp32"])
    ap.add_argument("--frames", type=int, default=30, help="frames through the ESPCN pipeline")
    ap.add_argument("--repeat", type=int, default=10, help="timed runs (median)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (takes minutes to compile)")
    ap.add_argument("--write", action="store_true", help="append the tables to bench/RESULTS.md (CUDA section)")
    args = ap.parse_args()

    import torch
    from cuda_conv import append_results, gpu_name

    peak16, peak_tf32 = peak_tflops(torch.float16), peak_tflops(torch.float32, tf32=True)
    lines = [f"### Models on the GPU, pysr cuda vs PyTorch {torch.__version__} — {time.strftime('%Y-%m-%d')}", "",
             f"GPU: {gpu_name()}; measured matmul peak (8192³, PyTorch): fp16 {peak16:.0f} TFLOP/s, tf32 "
             f"{peak_tf32:.0f} TFLOP/s (the floor of a step is its conv FLOPs over these).",
             f"Command: `python3 bench/cuda_models.py --precisions {' '.join(args.precisions)} --frames {args.frames} "
             f"--repeat {args.repeat}{' --compile' if args.compile else ''} --write`.", ""]
    if "egvsr" in args.models:
        lines += bench_egvsr(args.precisions, args.repeat, args.compile) + [""]
    if "espcn" in args.models:
        lines += bench_espcn(args.precisions, args.frames, args.repeat) + [""]
    text = "\n".join(lines)
    print(text)
    if args.write:
        append_results(text)


if __name__ == "__main__":
    main()
