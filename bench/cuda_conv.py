"""The convolutions of the shipped and built-in models on one GPU, in ONE process: pysr's kernels (kernels/cuda through
the cuda backend) against cuDNN through PyTorch (channels_last, cudnn.benchmark), same shapes, same precisions.

    python3 bench/cuda_conv.py [--precisions fp16 tf32] [--repeat 20] [--calls 10] [--write]

Shapes: every distinct conv2d (weight shape, attributes, input shape) of the optimised graphs of
  ESPCN ×2 / ×3 / ×4 (shipped weights, Y planes sized for a 3840×2160 output: 1920×1080, 1280×720, 960×540),
  F-EDSR ×4 (default config, 960×540 Y) and EGVSR ×4 (default config, 960×540 RGB: FNet and SRNet).
Precisions: fp16 (pysr conv2d_mma f16 vs cuDNN fp16) and tf32 (pysr conv2d_mma tf32 vs cuDNN with allow_tf32);
fp32 (pysr's float32 direct kernel vs cuDNN without TF32) with --precisions fp32.
Timing: CUDA events around --calls back-to-back launches, median of --repeat rounds after warm-up, pysr and cuDNN
interleaved round by round. pysr's time includes its fused epilogue (bias, activation, pixel shuffle, residual,
clamp); cuDNN's is conv + bias only (its epilogue would be further kernels in eager PyTorch).
TFLOP/s are direct-convolution equivalents (2·MACs). --write appends the table to bench/RESULTS.md's CUDA section.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
CUDA_SECTION = "## CUDA (GPU)"
LR = {"espcn_x2": (1080, 1920), "espcn_x3": (720, 1280), "espcn_x4": (540, 960), "fedsr": (540, 960),
      "egvsr": (540, 960)}


def model_graphs(names):
    """(model name, optimised graph, value shapes) of each model at its benchmark size."""
    import pysr
    from pysr.graph.passes import optimize
    from pysr.models import egvsr, fedsr

    out = []
    for name in names:
        h, w = LR[name]
        if name.startswith("espcn"):
            g = pysr.load(name).graph
            inputs = {next(iter(g.inputs)): (1, 1, h, w)}
        elif name == "fedsr":
            cfg = fedsr.FedsrConfig()
            g = fedsr.build(cfg, fedsr.init_params(cfg, seed=1))
            inputs = {"lr": (1, 1, h, w)}
        else:
            cfg = egvsr.EgvsrConfig()
            g = egvsr.for_size(egvsr.build(cfg, egvsr.init_params(cfg, seed=1)), h, w)
            inputs = {"lr": (1, 3, h, w), "lr_prev": (1, 3, h, w), "hr_prev": (1, 3, 4 * h, 4 * w)}
        g = optimize(g)
        out.append((name, g, g.infer_shapes(inputs)))
    return out


def conv_cases(names):
    """Distinct convs: (label, attrs, params, in_shapes, out_shape, count in the models)."""
    seen: dict[tuple, list] = {}
    for model, g, shapes in model_graphs(names):
        for node in g.nodes:
            if node.op != "conv2d":
                continue
            params = g.node_params(node)
            in_shapes = [shapes[v] for v in node.inputs]
            key = (params["weight"].shape, in_shapes[0], tuple(sorted((k, str(v)) for k, v in node.attrs.items())))
            if key in seen:
                seen[key][-1] += 1
                continue
            cout, cpg, kh, kw = params["weight"].shape
            label = f"{model}/{node.name} {cpg * node.attrs.get('groups', 1)}→{cout} {kh}×{kw} @{in_shapes[0][2]}×" \
                    f"{in_shapes[0][3]}"
            seen[key] = [label, dict(node.attrs), params, in_shapes, shapes[node.outputs[0]], 1]
    return [tuple(v) for v in seen.values()]


def flops(params, out_shape, attrs) -> float:
    cout, cpg, kh, kw = params["weight"].shape
    r = attrs.get("pixel_shuffle", 0) or 1
    n, _, ho, wo = out_shape
    return 2.0 * n * cout * (ho // r) * (wo // r) * cpg * kh * kw


def events_ms(make_event, fn, calls: int):
    """A timer: ms per call of `fn`, from events around `calls` back-to-back calls."""
    start, end = make_event(), make_event()

    def timed():
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        return start, end

    return timed


def bench_case(case, precision: str, repeat: int, calls: int):
    import cupy as cp
    import torch
    import torch.nn.functional as F

    from pysr.backends import cuda
    from pysr.ops import spec

    label, attrs, params, in_shapes, out_shape, count = case
    attrs = spec("conv2d").merge_attrs(attrs)
    be = cuda.backend(0, precision)
    fn = be.compile_node("conv2d", attrs, params, in_shapes, [out_shape])
    rng = np.random.default_rng(0)
    ins = [be.to_device(rng.uniform(-1, 1, s).astype(np.float32)) for s in in_shapes]
    out = be.empty(out_shape)

    def pysr_call():
        fn(ins, [out])

    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    dt = torch.float16 if precision == "fp16" else torch.bfloat16 if precision == "bf16" else torch.float32
    dev = torch.device("cuda", 0)
    x = torch.from_numpy(rng.uniform(-1, 1, in_shapes[0]).astype(np.float32)).to(dev, dt)
    x = x.contiguous(memory_format=torch.channels_last)
    w = torch.from_numpy(np.asarray(params["weight"], np.float32)).to(dev, dt)
    w = w.contiguous(memory_format=torch.channels_last)
    b = params.get("bias")
    b = None if b is None else torch.from_numpy(np.asarray(b, np.float32)).to(dev, dt)
    ph, pw = attrs["padding"]

    def torch_call():
        F.conv2d(x, w, b, stride=attrs["stride"], padding=(ph, pw), groups=attrs["groups"])

    t_pysr = events_ms(cp.cuda.Event, pysr_call, calls)
    t_torch = events_ms(lambda: torch.cuda.Event(enable_timing=True), torch_call, calls)
    for _ in range(3):
        t_pysr()
        t_torch()
    ms_pysr, ms_torch = [], []
    for _ in range(repeat):
        s, e = t_pysr()
        ms_pysr.append(cp.cuda.get_elapsed_time(s, e) / calls)
        s, e = t_torch()
        ms_torch.append(s.elapsed_time(e) / calls)
    return statistics.median(ms_pysr), statistics.median(ms_torch), fn.path


def append_results(text: str) -> None:
    """Append `text` at the end of bench/RESULTS.md's CUDA section (made at the end of the file if missing)."""
    prev = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if CUDA_SECTION not in prev:
        prev = prev.rstrip("\n") + f"\n\n{CUDA_SECTION}\n\nAppended by bench/cuda_*.py (`--write`), on a lent GPU.\n"
    head, _, tail = prev.partition(CUDA_SECTION)
    nxt = tail.find("\n## ")
    section, rest = (tail, "") if nxt < 0 else (tail[:nxt], tail[nxt:])
    RESULTS.write_text(head + CUDA_SECTION + section.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + rest)


def gpu_name() -> str:
    import torch

    p = torch.cuda.get_device_properties(0)
    return f"{p.name}, {p.multi_processor_count} SMs, {p.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=list(LR), choices=list(LR))
    ap.add_argument("--precisions", nargs="+", default=["fp16", "tf32"], choices=["fp16", "bf16", "tf32", "fp32"])
    ap.add_argument("--repeat", type=int, default=20, help="timed rounds (median)")
    ap.add_argument("--calls", type=int, default=10, help="launches per timed round")
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md (CUDA section)")
    args = ap.parse_args()

    import torch

    cases = conv_cases(args.models)
    print(f"{len(cases)} distinct convs from {', '.join(args.models)}", flush=True)
    lines = [f"### Convolutions, pysr kernels vs cuDNN (PyTorch {torch.__version__}) — {time.strftime('%Y-%m-%d')}", "",
             f"GPU: {gpu_name()}. Median of {args.repeat} rounds of {args.calls} launches, interleaved. pysr includes "
             "its fused epilogue; cuDNN is conv + bias, channels_last, cudnn.benchmark.",
             f"Command: `python3 bench/cuda_conv.py --precisions {' '.join(args.precisions)} --repeat {args.repeat} "
             f"--write`.", "",
             "| conv (model/node Cin→Cout k @H×W) | × in models | precision | pysr path | pysr µs | pysr TFLOP/s | "
             "cuDNN µs | cuDNN TFLOP/s | pysr / cuDNN time |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for case in cases:
        f = flops(case[2], case[4], case[1])
        for precision in args.precisions:
            ms_p, ms_t, path = bench_case(case, precision, args.repeat, args.calls)
            row = (f"| {case[0]} | {case[5]} | {precision} | {path} | {ms_p * 1e3:.1f} | {f / ms_p / 1e9:.1f} | "
                   f"{ms_t * 1e3:.1f} | {f / ms_t / 1e9:.1f} | {ms_p / ms_t:.2f}× |")
            print(row, flush=True)
            lines.append(row)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        append_results(text)


if __name__ == "__main__":
    main()
