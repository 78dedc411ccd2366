"""One frame step of the temporal models on the CPU, 2 threads, in ONE run: pysr cpu vs PyTorch eager vs
torch.compile (inductor, freezing), the same random weights of the real layout on every engine.

    python bench/temporal_cpu.py [--models fedsr tcsr egvsr sofvsr] [--size 320x180] [--repeat 9] [--write]

Models (default configs) and what one step is, at an LR size W×H (--size):
  fedsr   F-EDSR ×4: one LR Y plane (1, 1, H, W) → (1, 1, 4H, 4W).
  tcsr    TCSR: the window of 3 F-EDSR-sized HR Y planes (1, 3, 4H, 4W) the cascade feeds it → (1, 1, 4H, 4W);
          the cascade's graph (output `out` only, the flow outputs' concats dropped), torch twin of train/.
  egvsr   EGVSR ×4: lr, lr_prev (1, 3, H, W) and hr_prev (1, 3, 4H, 4W) → hr (+ lr_flow, hr_flow, warped).
  sofvsr  SOF-VSR ×2 (3 frames): (1, 3, H, W) LR Y → (1, 1, 2H, 2W).
pysr runs the compiled plan (`Plan.run`) that Session / Cascade / sofvsr_window call once per frame (the plan is
memoised per size; colour conversion is left out on every side). Peers: F-EDSR's and TCSR's torch twins
(pysr/train/torch_models.py), EGVSR's and SOF-VSR's ports (bench/torch_peers.py). Every engine's output must agree
with pysr's to 1e-4 (max abs) before anything is timed.

Timing: engines interleaved round by round (bench/espcn_cpu.py `interleaved_ms`), median of --repeat rounds after
warm-up; the machine's load average is printed beside each model. GFLOP/s count every conv as a direct convolution
(2·MACs); the floor is those FLOPs ÷ the FP32 peak measured in this run (2048² sgemm). --write appends the tables to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

THREADS = 2
os.environ.setdefault("NUMBA_NUM_THREADS", str(THREADS))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402
from espcn_cpu import cpu_name, interleaved_ms, peak_gflops  # noqa: E402

from pysr.graph.graph import Graph  # noqa: E402
from pysr.models import egvsr, fedsr, sofvsr, tcsr  # noqa: E402
from pysr.runtime.plan import compile_graph  # noqa: E402

TOL = 1e-4


def case(name: str, h: int, w: int, rng):
    """(label, pysr graph, inputs, torch module factory) for one model at LR h×w; output 0 is compared."""
    import torch_peers

    from pysr.train import torch_models

    def x(*shape):
        return rng.uniform(0, 1, shape).astype(np.float32)

    if name == "fedsr":
        cfg = fedsr.FedsrConfig()
        params = fedsr.init_params(cfg, seed=1)
        return (f"F-EDSR ×4 (32 ch, 8 blocks), {w}×{h} Y → {4 * w}×{4 * h}", fedsr.build(cfg, params),
                {"lr": x(1, 1, h, w)}, lambda: _twin(torch_models.fedsr_module(cfg), params))
    if name == "tcsr":
        cfg = tcsr.TcsrConfig()
        params = tcsr.init_params(cfg, seed=1)
        g = tcsr.build(cfg, params)
        g = Graph(dict(g.inputs), g.outputs[:1], g.nodes, g.params)                # as pysr/stream/cascade.py
        return (f"TCSR window(1), 3 × {4 * w}×{4 * h} HR Y (F-EDSR ×4 outputs) → {4 * w}×{4 * h}", g,
                {"frames": x(1, 3, 4 * h, 4 * w)}, lambda: _twin(torch_models.tcsr_module(cfg), params))
    if name == "egvsr":
        cfg = egvsr.EgvsrConfig()
        params = egvsr.init_params(cfg, seed=1)
        return (f"EGVSR ×4 (FNet + SRNet 64/10), one recurrent step, {w}×{h} RGB → {4 * w}×{4 * h}",
                egvsr.for_size(egvsr.build(cfg, params), h, w),
                {"lr": x(1, 3, h, w), "lr_prev": x(1, 3, h, w), "hr_prev": x(1, 3, 4 * h, 4 * w)},
                lambda: torch_peers.egvsr_module(cfg, params))
    if name == "sofvsr":
        cfg = sofvsr.SofvsrConfig()
        params = sofvsr.init_params(cfg, seed=1)
        return (f"SOF-VSR ×2 (TIP, 320 ch), 3 × {w}×{h} Y → {2 * w}×{2 * h}", sofvsr.build(cfg, params),
                {"frames": x(1, 3, h, w)}, lambda: torch_peers.sofvsr_module(cfg, params))
    raise SystemExit(f"unknown model {name!r}")


def _twin(net, params):
    import torch

    net.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=True)
    return net.eval()


def conv_flops(plan) -> float:
    """2·MACs of every conv2d of the optimised graph at the plan's shapes (direct-convolution equivalents)."""
    total = 0.0
    for node in plan.graph.nodes:
        if node.op == "conv2d":
            w = plan.graph.params[node.params["weight"]]
            total += 2.0 * np.prod(plan.shapes[node.outputs[0]]) * np.prod(w.shape[1:])
    return total


def op_profile(plan, inputs, repeat: int) -> list[tuple[str, float, int]]:
    """(op, or conv2d/<path>; median ms summed over its steps; step count), dearest first."""
    per: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        timings: list = []
        plan.run(inputs, timings=timings)
        for name, _op, sec in timings:
            per[name].append(sec * 1e3)
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for step in plan.steps:
        key = step.op + (f"/{step.fn.path}" if hasattr(step.fn, "path") else "")
        total[key] += statistics.median(per[step.name])
        count[key] += 1
    return sorted(((k, v, count[k]) for k, v in total.items()), key=lambda r: -r[1])


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def bench_model(name: str, h: int, w: int, repeat: int, use_compile: bool, peak: float) -> list[str]:
    import torch

    label, graph, inputs, make_peer = case(name, h, w, np.random.default_rng(0))
    t0 = time.perf_counter()
    plan = compile_graph(graph, "cpu", {k: v.shape for k, v in inputs.items()})
    want = plan.run(inputs)
    print(f"[{name}] pysr plan: {len(plan.steps)} steps, compiled in {time.perf_counter() - t0:.1f} s", flush=True)
    net = make_peer()
    args = [torch.from_numpy(v) for v in inputs.values()]

    def first(out):
        return (out[0] if isinstance(out, (tuple, list)) else out).numpy()

    engines = {"pysr cpu": lambda: plan.run(inputs)[0],
               f"PyTorch {torch.__version__} eager": lambda: first(net(*args))}
    if use_compile:
        try:
            import torch._inductor.config as ic

            ic.freezing = True
            comp = torch.compile(net)
            t0 = time.perf_counter()
            comp(*args)
            print(f"[{name}] torch.compile: first call {time.perf_counter() - t0:.0f} s", flush=True)
            engines["torch.compile (inductor, freezing)"] = lambda: first(comp(*args))
        except Exception as err:  # noqa: BLE001 - a peer that cannot compile here is reported, not fatal
            print(f"(torch.compile skipped: {type(err).__name__}: {err})")
    diffs = {}
    for engine, fn in engines.items():
        diffs[engine] = float(np.abs(fn() - want[0]).max())
        if diffs[engine] > TOL:
            raise SystemExit(f"[{name}] {engine} disagrees with pysr: max abs diff {diffs[engine]:.2e} > {TOL}")
    load_before = load()
    results = interleaved_ms(engines, repeat, warmup=1)
    load_after = load()
    flops = conv_flops(plan)
    floor_ms = flops / (peak * 1e9) * 1e3
    base = results["pysr cpu"]
    lines = [f"#### {label}", "",
             f"Work {flops / 1e9:.1f} GFLOP (convs); floor {floor_ms:.0f} ms at the measured peak. Load average "
             f"(1/5/15 min) {load_before} before, {load_after} after the timed rounds.", "",
             "| engine | ms/frame | fps | GFLOP/s | time / pysr's | max abs diff vs pysr |",
             "| --- | --- | --- | --- | --- | --- |"]
    for engine, ms in results.items():
        lines.append(f"| {engine} | {ms:.0f} | {1e3 / ms:.2f} | {flops / ms / 1e6:.0f} | {ms / base:.2f}× | "
                     f"{diffs[engine]:.1e} |")
    prof = op_profile(plan, inputs, max(3, repeat // 3))
    lines += ["", "pysr by op (median ms per step, summed; steps): " + ", ".join(
        f"{op} {ms:.0f} ({n})" for op, ms, n in prof if ms >= 0.5), ""]
    print("\n".join(lines), flush=True)
    return lines


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["fedsr", "tcsr", "egvsr", "sofvsr"])
    ap.add_argument("--size", default="320x180", help="LR width×height (TCSR: the HR frames are 4× that)")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--no-compile", action="store_true", help="leave torch.compile out (its first call takes minutes)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    torch.set_num_threads(THREADS)
    torch.set_grad_enabled(False)
    peak = peak_gflops()
    lines = [f"### Temporal models, one frame step, CPU, {THREADS} threads — {time.strftime('%Y-%m-%d')}", "",
             f"Machine: {cpu_name()}, {os.cpu_count()} cores (shared: the load average is given per model); Python "
             f"{platform.python_version()}, torch {torch.__version__}; median of {args.repeat} interleaved rounds "
             f"after warm-up. Measured FP32 peak (2048² sgemm, numpy/OpenBLAS, in this run): {peak:.0f} GFLOP/s.",
             f"pysr = the compiled plan's run (what Session / Cascade call per frame). Command: `python3 "
             f"bench/temporal_cpu.py --models {' '.join(args.models)} --size {args.size} --repeat {args.repeat}"
             f"{' --no-compile' if args.no_compile else ''} --write`.", ""]
    print("\n".join(lines), flush=True)
    for name in args.models:
        lines += bench_model(name, h, w, args.repeat, not args.no_compile, peak)
    if args.write:
        out = Path(__file__).resolve().parent / "RESULTS.md"
        prev = out.read_text() if out.exists() else "# Benchmark results\n\n"
        out.write_text(prev + "\n" + "\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    sys.exit(main())
