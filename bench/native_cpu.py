"""native vs cpu (numba) vs ONNX Runtime on the CPU, 2 threads each, in ONE run: ESPCN ×4 (weights/espcn_x4.pysr)
on a 480×270 Y plane (→ 1920×1080) and F-EDSR ×4, default config (32 channels, 8 blocks, random weights), on a
320×180 Y plane (→ 1280×720).

    python bench/native_cpu.py [--repeat 15] [--lib build/libpysr.so] [--write]

Engines, run round by round in one process (`interleaved_ms`: each round runs every engine, after a 0.3 s pause that
lets the previous engine's spinning threads park, once untimed, then once timed), on the same float32 plane:
  native        pysr.run_y(plane, model, backend="native"): pysr's Python planner and passes, every node a libpysr
                kernel (csrc/ops) called through the module pysr._native;
  C API         libpysr alone through ctypes (pysr_session_create + pysr_session_run_float on the float plane): the
                library's own reader, passes and planner, no Python between nodes (skipped without libpysr.so:
                build it with `cmake -S . -B build -G Ninja && cmake --build build`, or pass --lib);
  cpu           pysr.run_y(..., backend="cpu"): the numba kernels;
  ONNX Runtime  the same network as ONNX: ESPCN as bench/espcn_cpu.py builds it, F-EDSR as its torch twin
                (pysr/train/torch_models.py) exported by torch.onnx (TorchScript exporter).
Prints median ms, fps, GFLOP/s, ratios (speed-up over ONNX Runtime and over cpu; > 1 = faster), the floor
(FLOPs ÷ the FP32 peak measured in the same run, bench/espcn_cpu.py `peak_gflops`), the per-layer medians of native
and cpu, and the load average before and after each model's rounds; --write appends the tables to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

THREADS = 2
os.environ.setdefault("NUMBA_NUM_THREADS", str(THREADS))
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import espcn_cpu  # noqa: E402

import pysr  # noqa: E402
from pysr import backends  # noqa: E402
from pysr.models import fedsr  # noqa: E402
from pysr.models.convert import facts_for  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class CApi:
    """The few calls of include/pysr.h this benchmark needs (tests/test_native_lib.py binds them all)."""

    class Params(ctypes.Structure):
        _fields_ = [("num_threads", ctypes.c_int32), ("batch", ctypes.c_int32), ("device", ctypes.c_int32),
                    ("precision", ctypes.c_int32)]

    def __init__(self, path: Path):
        c = self.c = ctypes.CDLL(str(path))
        vp = ctypes.c_void_p
        c.pysr_last_error.restype = ctypes.c_char_p
        c.pysr_model_load_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
        c.pysr_model_free.argtypes = [vp]
        c.pysr_session_create.argtypes = [vp, ctypes.c_int32, ctypes.c_int32, ctypes.POINTER(self.Params),
                                          ctypes.POINTER(vp)]
        c.pysr_session_free.argtypes = [vp]
        c.pysr_session_run_float.argtypes = [vp, vp, vp]

    def check(self, status: int, what: str) -> None:
        if status != 0:
            raise RuntimeError(f"libpysr {what}: status {status}: {self.c.pysr_last_error().decode()}")

    def runner(self, model: pysr.Model, x: np.ndarray, out_shape: tuple[int, ...]):
        """fn() running one session on x into a preallocated output (the C API's float-plane path)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.pysr"
            model.save(path)
            m = ctypes.c_void_p()
            self.check(self.c.pysr_model_load_file(str(path).encode(), ctypes.byref(m)), "model load")
        s = ctypes.c_void_p()
        params = self.Params(THREADS, x.shape[0], -1, 0)
        self.check(self.c.pysr_session_create(m, x.shape[3], x.shape[2], ctypes.byref(params), ctypes.byref(s)),
                   "session create")
        y = np.empty(out_shape, np.float32)

        def run():
            self.check(self.c.pysr_session_run_float(s, x.ctypes.data, y.ctypes.data), "run")
            return y
        return run


def espcn_model() -> pysr.Model:
    path = ROOT / "weights" / "espcn_x4.pysr"
    if path.exists():
        return pysr.load(path)
    from pysr.models import espcn
    cfg = espcn.EspcnConfig(scale=4, channels=(64, 32))
    return pysr.Model(espcn.build(cfg, espcn.init_params(cfg)), facts_for("espcn", cfg, {}, "MIT"))


def fedsr_onnx(cfg: fedsr.FedsrConfig, params: dict, h: int, w: int) -> bytes:
    """The torch twin of F-EDSR with `params`, exported to ONNX for an h×w Y plane."""
    import torch

    from pysr.train import torch_models

    net = torch_models.fedsr_module(cfg).eval()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(net, (torch.zeros(1, cfg.in_channels, h, w),), buf, dynamo=False, opset_version=17,
                          input_names=["lr"], output_names=["hr"])
    return buf.getvalue()


def ort_runner(onnx: bytes, x: np.ndarray):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = THREADS, 1
    sess = ort.InferenceSession(onnx, so, providers=["CPUExecutionProvider"])
    name = f"ONNX Runtime {ort.__version__}"
    return name, lambda: sess.run(None, {"lr": x})[0]


def interleaved_ms(engines: dict, repeat: int, settle: float = 0.3, warmup: int = 3) -> dict[str, float]:
    """Median ms per engine over `repeat` rounds; in each round every engine, after a `settle` s pause, runs once
    untimed and once timed. bench/espcn_cpu.py's `interleaved_ms` without the pause; NOTE: ONNX Runtime's
    intra-op threads keep spinning after a run, and without the pause the engine after it in a round was 25-40 %
    slower even after its untimed run (ESPCN: native 60 vs C API 45 ms with native after ONNX Runtime, C API 67 vs
    native 48 with the order swapped; 50 / 50 / 56 / 52 with the pause, ONNX Runtime unchanged at 80)."""
    for fn in engines.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeat):
        for name, fn in engines.items():
            time.sleep(settle)
            fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def layer_ms(plan, x: np.ndarray, repeat: int) -> dict[str, tuple[str, float]]:
    """Median seconds per step of a pysr plan (step name → (op, ms))."""
    per: dict[str, list[float]] = {}
    ops: dict[str, str] = {}
    for _ in range(repeat):
        timings: list = []
        plan.run(x, timings=timings)
        for name, op, sec in timings:
            per.setdefault(name, []).append(sec * 1e3)
            ops[name] = op
    return {name: (ops[name], statistics.median(v)) for name, v in per.items()}


def bench_model(title: str, model: pysr.Model, onnx: bytes | None, x: np.ndarray, flops: float, capi: CApi | None,
                repeat: int, peak: float) -> list[str]:
    scale = model.scale
    out_shape = (1, 1, x.shape[2] * scale, x.shape[3] * scale)
    engines, notes = {}, []
    engines["native (pysr.run_y, backend=native)"] = lambda: pysr.run_y(x, model, backend="native")
    if capi is not None:
        engines["C API (libpysr session, float plane)"] = capi.runner(model, x, out_shape)
    engines["cpu (numba)"] = lambda: pysr.run_y(x, model, backend="cpu")
    if onnx is not None:
        try:
            name, fn = ort_runner(onnx, x)
            engines[name] = fn
        except ImportError as err:
            notes.append(f"ONNX Runtime skipped: {err}")
    outputs = {name: np.array(np.asarray(fn()), copy=True) for name, fn in engines.items()}
    load0 = os.getloadavg()
    results = interleaved_ms(engines, repeat)
    load1 = os.getloadavg()
    ort_name = next((n for n in results if n.startswith("ONNX")), None)
    floor_ms = flops / (peak * 1e9) * 1e3
    lines = [f"### {title}, {THREADS} threads — {time.strftime('%Y-%m-%d %H:%M')}", "",
             f"Work: {flops / 1e9:.2f} GFLOP per frame (direct convolution); measured FP32 peak (2048² sgemm, "
             f"numpy/OpenBLAS, this run) {peak:.0f} GFLOP/s → floor {floor_ms:.1f} ms. Load average (1 min) "
             f"{load0[0]:.1f} before the rounds, {load1[0]:.1f} after, on {os.cpu_count()} cores; median of "
             f"{repeat} interleaved rounds (0.3 s pause before each engine).", ""]
    lines += ["| engine | ms/frame | fps | GFLOP/s | × ONNX Runtime | × cpu | max abs diff vs cpu |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    ref = outputs["cpu (numba)"]
    for name, ms in results.items():
        vs_ort = f"{results[ort_name] / ms:.2f}×" if ort_name else "—"
        diff = float(np.abs(outputs[name].reshape(ref.shape) - ref).max())
        lines.append(f"| {name} | {ms:.1f} | {1e3 / ms:.1f} | {flops / ms / 1e6:.0f} | {vs_ort} | "
                     f"{results['cpu (numba)'] / ms:.2f}× | {diff:.1e} |")
    lines += [""] + [f"({n})" for n in notes]
    native_steps = layer_ms(model.plan("native", x.shape), x, repeat)
    cpu_steps = layer_ms(model.plan("cpu", x.shape), x, repeat)
    lines += ["Per step (pysr plans, medians; the steps run back to back, not interleaved):", "",
              "| step | op | native ms | cpu ms | cpu / native |", "| --- | --- | --- | --- | --- |"]
    for name, (op, ms) in native_steps.items():
        c = cpu_steps.get(name, (op, float("nan")))[1]
        lines.append(f"| {name} | {op} | {ms:.2f} | {c:.2f} | {c / ms:.2f}× |")
    return lines + [""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--lib", default=os.environ.get("PYSR_LIB", str(ROOT / "build" / "libpysr.so")),
                    help="libpysr.so for the C API engine (default build/libpysr.so or $PYSR_LIB)")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    backends.get("native").set_threads(THREADS)
    from pysr import _native

    capi = None
    if Path(args.lib).exists():
        capi = CApi(Path(args.lib))
    else:
        print(f"(C API skipped: no {args.lib}; build libpysr with `cmake -S . -B build -G Ninja && "
              "cmake --build build` or pass --lib)")
    peak = espcn_cpu.peak_gflops()
    rng = np.random.default_rng(0)
    sections = [f"## native vs cpu vs ONNX Runtime — {time.strftime('%Y-%m-%d')}", "",
                f"Machine: {os.cpu_count()} cores, {espcn_cpu.cpu_name()}; pysr._native ISA {_native.isa()}; "
                f"command: `python3 bench/native_cpu.py --repeat {args.repeat}{' --write' if args.write else ''}`"
                f"{f' (C API: {args.lib})' if capi else ''}.", ""]

    espcn = espcn_model()
    x = rng.uniform(0, 1, (1, 1, espcn_cpu.H, espcn_cpu.W)).astype(np.float32)
    flops = sum(f for _, f in espcn_cpu.conv_flops(espcn))
    sections += bench_model("ESPCN 64/32 ×4, 480×270 Y → 1920×1080", espcn, espcn_cpu.onnx_bytes(espcn), x, flops,
                            capi, args.repeat, peak)

    cfg = fedsr.FedsrConfig()
    params = fedsr.init_params(cfg, seed=0)
    model = pysr.Model(fedsr.build(cfg, params), facts_for("fedsr", cfg, {"source": "random"}, "MIT"))
    h, w = 180, 320
    try:
        onnx = fedsr_onnx(cfg, params, h, w)
    except ImportError as err:
        print(f"(ONNX Runtime skipped for F-EDSR: the export needs torch: {err})")
        onnx = None
    x = rng.uniform(0, 1, (1, 1, h, w)).astype(np.float32)
    flops = 2.0 * fedsr.macs_per_lr_pixel(cfg) * h * w
    sections += bench_model("F-EDSR ×4 (32 ch, 8 blocks, random weights), 320×180 Y → 1280×720", model, onnx, x,
                            flops, capi, args.repeat, peak)
    text = "\n".join(sections)
    print(text)
    if args.write:
        out = Path(__file__).resolve().parent / "RESULTS.md"
        prev = out.read_text() if out.exists() else "# Benchmark results\n\n"
        out.write_text(prev.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    sys.exit(main())
