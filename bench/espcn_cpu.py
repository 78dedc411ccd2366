"""ESPCN 64/32 ×4 on one 480×270 Y plane (→ 1920×1080), CPU, 2 threads, in ONE run:
pysr cpu vs ONNX Runtime vs PyTorch eager vs torch.compile (inductor, freezing) [vs OpenCV dnn if present].

    python bench/espcn_cpu.py [--model weights/espcn_x4.pysr] [--repeat 15] [--write]

Prints median ms / fps / GFLOP/s per engine, ratios to pysr, per-layer GFLOP/s of pysr, and the floor
(FLOPs ÷ the measured FP32 peak). --write appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

THREADS = 2
os.environ.setdefault("NUMBA_NUM_THREADS", str(THREADS))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402

import pysr  # noqa: E402
from pysr.models import espcn  # noqa: E402
from pysr.models.convert import facts_for  # noqa: E402

H, W = 270, 480


def median_ms(fn, repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def interleaved_ms(engines: dict, repeat: int, warmup: int = 3) -> dict[str, float]:
    """Median ms per engine over `repeat` rounds; each round runs every engine once untimed (so a thread pool
    still spinning from the engine before, or a cold cache, costs nobody) and once timed. Interleaving spreads
    the machine's noise over all engines alike, which is what makes the ratios meaningful."""
    for fn in engines.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeat):
        for name, fn in engines.items():
            fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def conv_flops(model: pysr.Model) -> list[tuple[str, float]]:
    out = []
    for node in model.graph.nodes:
        if node.op == "conv2d":
            w = model.graph.params[node.params["weight"]]
            out.append((node.name, 2.0 * H * W * w.size))
    return out


def peak_gflops() -> float:
    """Practical FP32 peak: a large float32 matmul (OpenBLAS through numpy) on the same threads."""
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    ms = median_ms(lambda: a @ a, 5, 2)
    return 2 * 2048**3 / (ms * 1e-3) / 1e9


def torch_net(model):
    import torch

    layers = []
    convs = [n for n in model.graph.nodes if n.op == "conv2d"]
    for i, node in enumerate(convs):
        w = model.graph.params[node.params["weight"]]
        conv = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=w.shape[2] // 2)
        conv.weight.data = torch.from_numpy(w.copy())
        conv.bias.data = torch.from_numpy(model.graph.params[node.params["bias"]].copy())
        layers.append(conv)
        if i < len(convs) - 1:
            layers.append(torch.nn.Tanh())
    return torch.nn.Sequential(*layers, torch.nn.PixelShuffle(model.scale)).eval()


def onnx_bytes(model, h: int = H, w: int = W) -> bytes:
    """The ESPCN graph of `model` as ONNX (Conv, Tanh, DepthToSpace CRD = pixel shuffle) for an h×w Y plane."""
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, x = [], [], "lr"
    convs = [n for n in model.graph.nodes if n.op == "conv2d"]
    for i, node in enumerate(convs):
        weight = model.graph.params[node.params["weight"]]
        bias = model.graph.params[node.params["bias"]]
        inits += [numpy_helper.from_array(weight, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
        p = weight.shape[2] // 2
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], pads=[p, p, p, p]))
        x = f"c{i}"
        if i < len(convs) - 1:
            nodes.append(helper.make_node("Tanh", [x], [f"t{i}"]))
            x = f"t{i}"
    nodes.append(helper.make_node("DepthToSpace", [x], ["hr"], blocksize=model.scale, mode="CRD"))
    s = model.scale
    lr = helper.make_tensor_value_info("lr", TensorProto.FLOAT, [1, 1, h, w])
    hr = helper.make_tensor_value_info("hr", TensorProto.FLOAT, [1, 1, h * s, w * s])   # OpenCV needs the shape
    graph = helper.make_graph(nodes, "espcn", [lr], [hr], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m.SerializeToString()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "weights/espcn_x4.pysr"))
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if Path(args.model).exists():
        model = pysr.load(args.model)
    else:
        cfg = espcn.EspcnConfig(scale=4, channels=(64, 32))
        model = pysr.Model(espcn.build(cfg, espcn.init_params(cfg)), facts_for("espcn", cfg, {}, "MIT"))
    x = np.random.default_rng(0).uniform(0, 1, (1, 1, H, W)).astype(np.float32)
    flops = sum(f for _, f in conv_flops(model))
    engines, outputs = {}, {}

    plan = model.plan("cpu", x.shape)
    engines["pysr cpu"] = lambda: plan.run(x)
    try:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = THREADS, 1
        sess = ort.InferenceSession(onnx_bytes(model), so, providers=["CPUExecutionProvider"])
        engines[f"ONNX Runtime {ort.__version__}"] = lambda: sess.run(None, {"lr": x})[0]
    except ImportError as err:
        print(f"(ONNX Runtime skipped: {err})")
    try:
        import torch

        torch.set_num_threads(THREADS)
        torch.set_grad_enabled(False)
        net, xt = torch_net(model), torch.from_numpy(x)
        engines[f"PyTorch {torch.__version__} eager"] = lambda: net(xt).numpy()
        try:
            import torch._inductor.config as ic

            ic.freezing = True
            comp = torch.compile(net)
            comp(xt)
            engines["torch.compile (inductor, freezing)"] = lambda: comp(xt).numpy()
        except Exception as err:  # noqa: BLE001 - a peer that cannot compile here is reported, not fatal
            print(f"(torch.compile skipped: {type(err).__name__}: {err})")
    except ImportError as err:
        print(f"(PyTorch skipped: {err})")
    try:
        import cv2

        cv2.setNumThreads(THREADS)
        net_cv = cv2.dnn.readNetFromONNX(np.frombuffer(onnx_bytes(model), np.uint8))

        def cv_run():
            net_cv.setInput(x)
            return net_cv.forward()
        cv_run()
        engines[f"OpenCV dnn {cv2.__version__}"] = cv_run
    except ImportError:
        print("(OpenCV skipped: not installed)")
    except cv2.error as err:
        print(f"(OpenCV dnn failed: {err})")
    for name, fn in engines.items():
        out = fn()
        outputs[name] = np.asarray(out[0] if isinstance(out, list) else out)
    results = interleaved_ms(engines, args.repeat)

    timings: list = []
    plan.run(x, timings=timings)
    layer_ms: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        timings.clear()
        plan.run(x, timings=timings)
        for name, _op, sec in timings:
            layer_ms.setdefault(name, []).append(sec * 1e3)
    peak = peak_gflops()
    floor_ms = flops / (peak * 1e9) * 1e3
    lines = [f"### ESPCN 64/32 ×4, 480×270 Y → 1920×1080, {THREADS} threads — {time.strftime('%Y-%m-%d')}", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"{cpu_name()}; Python {platform.python_version()}; "
             f"median of {args.repeat} interleaved rounds after warm-up.",
             f"Work: {flops / 1e9:.2f} GFLOP per frame; measured FP32 peak (2048² sgemm, numpy/OpenBLAS, in this run) "
             f"{peak:.0f} GFLOP/s → direct-convolution floor {floor_ms:.1f} ms ({1e3 / floor_ms:.0f} fps).",
             f"Command: `python3 bench/espcn_cpu.py --repeat {args.repeat} --write`.", "",
             "| engine | ms/frame | fps | GFLOP/s | pysr speed-up | max abs diff vs pysr |",
             "| --- | --- | --- | --- | --- | --- |"]
    base = results["pysr cpu"]
    for name, ms in results.items():
        diff = float(np.abs(outputs[name] - outputs["pysr cpu"]).max()) if name in outputs else float("nan")
        lines.append(f"| {name} | {ms:.1f} | {1e3 / ms:.1f} | {flops / ms / 1e6:.0f} | {ms / base:.2f}× | {diff:.1e} |")
    lines += ["", "pysr per layer:", "", "| step | op | ms | GFLOP/s |", "| --- | --- | --- | --- |"]
    flop_of = dict(conv_flops(model))
    for name, op, _ in timings:
        ms = statistics.median(layer_ms[name])
        g = flop_of.get(name.split("/")[-1], 0.0) / ms / 1e6 if name in flop_of else 0.0
        lines.append(f"| {name} | {op} | {ms:.2f} | {g:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        out = Path(__file__).resolve().parent / "RESULTS.md"
        prev = out.read_text() if out.exists() else "# Benchmark results\n\n"
        out.write_text(prev + "\n" + text)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
