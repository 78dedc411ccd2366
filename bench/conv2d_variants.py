"""conv2d CPU kernel benchmark, in ONE run: the numbered variants of bench/conv2d_variants/, then the real kernel
(kernels/cpu/conv2d.py) on ESPCN's layers and a few others at 480×270, against PyTorch F.conv2d (+ the same
epilogue in torch) with the same thread count, the whole ESPCN 64/32 ×4 network (its 3 convs chained) against
ONNX Runtime and torch, and the max error of every path against the float64 reference.

    python bench/conv2d_variants.py [--threads 1 2] [--repeat 7] [--rounds 15] [--skip-variants] [--skip-layers]
                                    [--skip-errors] [--no-torch]

Timings are the minimum over `repeat` runs after warm-up (this machine is shared: other processes come and go,
so each round first waits for an idle second); medians are printed beside them. Every time is shown with its
floor: the layer's FLOPs over the measured FP32 peak (2048² sgemm through numpy/OpenBLAS, same threads).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numba  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conv2d_variants import (  # noqa: E402
    v01_gemm_memory_acc,
    v02_gemm_memory_acc_zmm,
    v03_gemm_register_4x64,
    v04_gemm_register_4x64_ci_major,
    v05_gemm_register_8x32,
    v06_input_transform_strided,
    v07_input_transform_phase_split,
    v08_winograd_points,
    v09_direct_two_rows,
)

from pysr.kernels.cpu import conv2d as kernel  # noqa: E402
from pysr.kernels.cpu import conv2d_gemm  # noqa: E402
from pysr.kernels.cpu.conv2d_epilogue import settings  # noqa: E402
from pysr.ops import spec  # noqa: E402

H, W = 270, 480
SPEC = spec("conv2d")
# (name, cin, cout, k, attrs): ESPCN 64/32 ×4 first, then the other shapes the issue names
LAYERS = [
    ("espcn conv1 5×5 1→64 tanh", 1, 64, 5, {"activation": "tanh", "padding": (2, 2)}),
    ("espcn conv2 3×3 64→32 tanh", 64, 32, 3, {"activation": "tanh", "padding": (1, 1)}),
    ("espcn conv3 3×3 32→16 shuffle×4", 32, 16, 3, {"pixel_shuffle": 4, "padding": (1, 1)}),
    ("egvsr 3×3 32→32 tanh", 32, 32, 3, {"activation": "tanh", "padding": (1, 1)}),
    ("egvsr 1×1 32→16", 32, 16, 1, {}),
    ("edsr 3×3 64→64 relu", 64, 64, 3, {"activation": "relu", "padding": (1, 1)}),
    ("depthwise 3×3 160 ch", 160, 160, 3, {"groups": 160, "padding": (1, 1)}),
]


def idle_wait(limit=0.05, timeout=60.0):
    """Wait (≤ timeout) for a 0.3 s window in which the machine's CPUs are ≥ 95 % idle."""
    def snap():
        v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(v), v[3] + v[4]
    if not Path("/proc/stat").exists():
        return
    t_end = time.time() + timeout
    while time.time() < t_end:
        t0, i0 = snap()
        time.sleep(0.3)
        t1, i1 = snap()
        if 1 - (i1 - i0) / max(1, t1 - t0) < limit:
            return


def timed(fn, repeat, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        idle_wait()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def peak_gflops(threads):
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    if threadpool_limits is not None:
        with threadpool_limits(threads):
            best, _ = timed(lambda: a @ a, 5)
    else:
        best, _ = timed(lambda: a @ a, 5)
    return 2 * 2048**3 / best / 1e9


def make_layer(cin, cout, k, attrs, rng, force=None):
    a = SPEC.merge_attrs(attrs)
    w = (rng.uniform(-1, 1, (cout, cin // a["groups"], k, k)) * np.sqrt(3 / (cin // a["groups"] * k * k)))
    b = rng.uniform(-0.1, 0.1, cout)
    x = rng.uniform(-1, 1, (1, cin, H, W))
    params = {"weight": w.astype(np.float32), "bias": b.astype(np.float32)}
    outs = SPEC.shape(a, [x.shape], {k_: v.shape for k_, v in params.items()})
    out = np.empty(outs[0], np.float32)
    x32 = x.astype(np.float32)
    if force == "gemm":
        ints, floats, bias, slope = settings(a, params, cout, outs[0])
        wp = conv2d_gemm.pack(params["weight"], a["groups"])
        nsub = conv2d_gemm.sub_blocks(wp.shape[2])
        p = a["padding"][0]
        ho, wo = H + 2 * p - k + 1, W + 2 * p - k + 1        # the raw convolution's size (before any shuffle)

        def run():
            o = out.reshape(-1)
            conv2d_gemm.conv_gemm(x32, wp, o, o, k, k, 1, p, p, 0, ho, wo, nsub, ints, floats, bias, slope,
                                  numba.get_num_threads())
        path = "gemm"
    else:
        fn = kernel.compile(a, params, [x.shape], outs)

        def run():
            fn([x32], [out])
        path = fn.path
    return a, x, params, out, run, path


def torch_layer(a, x, params, k):
    import torch
    import torch.nn.functional as F

    xt = torch.from_numpy(x.astype(np.float32))
    wt = torch.from_numpy(params["weight"])
    bt = torch.from_numpy(params["bias"])

    def run():
        with torch.inference_mode():
            y = F.conv2d(xt, wt, bt, padding=a["padding"], groups=a["groups"])
            if a["activation"] == "tanh":
                y = torch.tanh(y)
            elif a["activation"] == "relu":
                y = torch.relu(y)
            if a["pixel_shuffle"]:
                y = F.pixel_shuffle(y, a["pixel_shuffle"])
            return y
    return run


def variants():
    numba.set_num_threads(1)
    print("## GEMM micro-kernel variants (Winograd's 36 GEMMs for one 64-tile block; 1 thread)\n")
    print("| variant | Cin→Cout | GFLOP/s | max err |")
    print("| --- | --- | --- | --- |")
    for mod in (v01_gemm_memory_acc, v02_gemm_memory_acc_zmm, v03_gemm_register_4x64, v04_gemm_register_4x64_ci_major,
                v05_gemm_register_8x32):
        for cin, cout in ((64, 32), (32, 16)):
            run, flops, check = mod.case(cin, cout)
            best, _ = timed(lambda run=run: [run() for _ in range(10)], 7)
            print(f"| {mod.__name__.split('.')[-1]} | {cin}→{cout} | {flops * 10 / best / 1e9:.0f} | {check():.1e} |")
    print("\n## Winograd input transform variants (one block: 64 tiles × Cin channels; 1 thread)\n")
    print("| variant | Cin | µs per block | max diff vs winner |")
    print("| --- | --- | --- | --- |")
    for mod in (v06_input_transform_strided, v07_input_transform_phase_split):
        for cin in (64, 32):
            run, check = mod.case(cin)
            best, _ = timed(lambda run=run: [run() for _ in range(20)], 7)
            print(f"| {mod.__name__.split('.')[-1]} | {cin} | {best / 20 * 1e6:.1f} | {check():.1e} |")
    print("\n## Direct path, Cout ≤ 2 (3×3, zero pad, 1 thread): two output rows per task (v09) vs the kernel's one\n")
    print("| layer | v09 ms | kernel ms | max diff |")
    print("| --- | --- | --- | --- |")
    for cin, cout, h, w in ((32, 1, 720, 1280), (32, 2, 720, 1280), (64, 1, 360, 640), (320, 2, 180, 320)):
        run, _, (x, weight, out) = v09_direct_two_rows.case(cin, cout, h, w)
        layer = kernel.compile(SPEC.merge_attrs({"padding": (1, 1)}), {"weight": weight}, [x.shape], [(1, cout, h, w)])
        y = np.empty((1, cout, h, w), np.float32)
        _, v09_ms = timed(run, 7)
        _, kernel_ms = timed(lambda layer=layer, x=x, y=y: layer([x], [y]), 7)
        diff = float(np.abs(y.reshape(-1) - out).max())
        print(f"| {cin}→{cout} {w}×{h} | {v09_ms * 1e3:.1f} | {kernel_ms * 1e3:.1f} | {diff:.1e} |")
    print("\n## Winograd interpolation points: float32 max error vs float64 (Cin 64 → Cout 32, O(1) data)\n")
    tol = 8 * float(np.finfo(np.float32).eps) * np.sqrt(64 * 9)
    for name, err in v08_winograd_points.table().items():
        print(f"- {name}: {err:.2e} ({err / tol:.2f} of the conv2d atol {tol:.2e})")
    print()


def layers(threads_list, repeat, with_torch):
    rng = np.random.default_rng(0)
    built = []
    for name, cin, cout, k, attrs in LAYERS:
        a, x, params, out, run, path = make_layer(cin, cout, k, attrs, rng)
        flops = 2.0 * H * W * cout * (cin // a["groups"]) * k * k
        alt = None
        if path == "winograd":
            alt = make_layer(cin, cout, k, attrs, np.random.default_rng(1), force="gemm")[4]
        built.append((name, a, x, params, run, path, alt, flops, k))
    totals = {}
    for threads in threads_list:
        numba.set_num_threads(threads)
        if with_torch:
            import torch
            torch.set_num_threads(threads)
        peak = peak_gflops(threads)
        print(f"## Layers at 480×270, {threads} thread(s) — FP32 peak (2048² sgemm) {peak:.0f} GFLOP/s\n")
        print("| layer | path | GFLOP | floor ms | pysr ms (median) | GFLOP/s | torch ms (median) | torch/pysr |"
              " gemm-path ms |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, a, x, params, run, path, alt, flops, k in built:
            best, med = timed(run, repeat)
            tb = tm = float("nan")
            if with_torch:
                tb, tm = timed(torch_layer(a, x, params, k), repeat)
            alt_ms = f"{timed(alt, repeat)[0] * 1e3:.2f}" if alt is not None else "—"
            print(f"| {name} | {path} | {flops / 1e9:.2f} | {flops / peak / 1e6:.2f} | {best * 1e3:.2f} "
                  f"({med * 1e3:.2f}) | {flops / best / 1e9:.0f} | {tb * 1e3:.2f} ({tm * 1e3:.2f}) | {tb / best:.2f}× "
                  f"| {alt_ms} |")
            if name.startswith("espcn"):
                t = totals.setdefault(threads, [0.0, 0.0, 0.0])
                t[0] += best
                t[1] += tb
                t[2] += flops
        t = totals[threads]
        print(f"\nESPCN 64/32 ×4 (sum of its 3 convs): pysr {t[0] * 1e3:.2f} ms, torch F.conv2d {t[1] * 1e3:.2f} ms "
              f"({t[1] / t[0]:.2f}×), floor {t[2] / peak / 1e6:.2f} ms ({t[2] / 1e9:.2f} GFLOP)\n")


def espcn_network(threads, rounds):
    """ESPCN 64/32 ×4 on one 480×270 plane as three chained convs: pysr vs ONNX Runtime vs torch, interleaved
    rounds (each engine once per round, after an idle wait), same weights and threads."""
    numba.set_num_threads(threads)
    rng = np.random.default_rng(3)
    specs = LAYERS[:3]
    ws, bs, fns, bufs = [], [], [], []
    shape = (1, 1, H, W)
    for _name, cin, cout, k, attrs in specs:
        a = SPEC.merge_attrs(attrs)
        w = (rng.uniform(-1, 1, (cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
        b = rng.uniform(-0.1, 0.1, cout).astype(np.float32)
        outs = SPEC.shape(a, [shape], {"weight": w.shape, "bias": b.shape})
        fns.append(kernel.compile(a, {"weight": w, "bias": b}, [shape], outs))
        bufs.append(np.empty(outs[0], np.float32))
        ws.append(w)
        bs.append(b)
        shape = outs[0]
    x = rng.uniform(0, 1, (1, 1, H, W)).astype(np.float32)

    def pysr_run():
        y = x
        for fn, buf in zip(fns, bufs):
            fn([y], [buf])
            y = buf
        return y

    engines = {"pysr cpu (3 convs)": pysr_run}
    try:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(threads)
        tw = [torch.from_numpy(w) for w in ws]
        tb = [torch.from_numpy(b) for b in bs]
        xt = torch.from_numpy(x)

        def torch_run():
            with torch.inference_mode():
                y = torch.tanh(F.conv2d(xt, tw[0], tb[0], padding=2))
                y = torch.tanh(F.conv2d(y, tw[1], tb[1], padding=1))
                return F.pixel_shuffle(F.conv2d(y, tw[2], tb[2], padding=1), 4)
        engines[f"PyTorch {torch.__version__} F.conv2d"] = torch_run
    except ImportError:
        pass
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        nodes, inits, name = [], [], "lr"
        for i, (w, b) in enumerate(zip(ws, bs)):
            inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
            p = w.shape[2] // 2
            nodes.append(helper.make_node("Conv", [name, f"w{i}", f"b{i}"], [f"c{i}"], pads=[p, p, p, p]))
            name = f"c{i}"
            if i < 2:
                nodes.append(helper.make_node("Tanh", [name], [f"t{i}"]))
                name = f"t{i}"
        nodes.append(helper.make_node("DepthToSpace", [name], ["hr"], blocksize=4, mode="CRD"))
        lr = helper.make_tensor_value_info("lr", TensorProto.FLOAT, [1, 1, H, W])
        hr = helper.make_tensor_value_info("hr", TensorProto.FLOAT, None)
        graph = helper.make_graph(nodes, "espcn", [lr], [hr], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        engines[f"ONNX Runtime {ort.__version__}"] = lambda: sess.run(None, {"lr": x})[0]
    except ImportError:
        pass
    ref = pysr_run().copy()
    times = {k: [] for k in engines}
    for fn in engines.values():
        fn()
        fn()
    for _ in range(rounds):
        idle_wait()
        for k, fn in engines.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    base = min(times["pysr cpu (3 convs)"])
    print(f"## ESPCN 64/32 ×4, 480×270 → 1920×1080, {threads} thread(s), {rounds} interleaved rounds\n")
    print("| engine | min ms | median ms | engine / pysr (min) | max abs diff vs pysr |")
    print("| --- | --- | --- | --- | --- |")
    for k, fn in engines.items():
        diff = float(np.abs(np.asarray(fn(), np.float32) - ref).max())
        print(f"| {k} | {min(times[k]) * 1e3:.2f} | {statistics.median(times[k]) * 1e3:.2f} | "
              f"{min(times[k]) / base:.2f}× | {diff:.1e} |")
    print()


def errors():
    """Max |pysr − float64 reference| per path on O(1) data (inputs U(−1, 1)), and the ratio to the tolerance."""
    print("## Max error per path vs the float64 reference (480×270, inputs U(−1, 1))\n")
    print("| layer | path | max abs err | err / (atol + rtol·|ref|) |")
    print("| --- | --- | --- | --- |")
    rng = np.random.default_rng(2)
    for name, cin, cout, k, attrs in LAYERS:
        for force in (None, "gemm"):
            a, x, params, out, run, path = make_layer(cin, cout, k, attrs, rng, force=force)
            if force == "gemm" and path == kernel.path_for(a, params["weight"].shape):
                continue
            run()
            ref = SPEC.reference(a, [x], {k_: v.astype(np.float64) for k_, v in params.items()})[0]
            atol, rtol = SPEC.tolerance(a, [x.shape], {k_: v.shape for k_, v in params.items()})
            err = np.abs(out - ref)
            print(f"| {name} | {path} | {err.max():.2e} | {(err / (atol + rtol * np.abs(ref))).max():.2f} |")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=15, help="interleaved rounds of the ESPCN network comparison")
    ap.add_argument("--skip-layers", action="store_true")
    ap.add_argument("--skip-variants", action="store_true")
    ap.add_argument("--skip-errors", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    print(f"# conv2d CPU benchmark — {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, numba "
          f"{numba.__version__}, threading layer {numba.config.THREADING_LAYER}\n")
    if not args.skip_variants:
        variants()
    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            with_torch = False
    if not args.skip_layers:
        layers(args.threads, args.repeat, with_torch)
    for threads in args.threads:
        espcn_network(threads, args.rounds)
    if not args.skip_errors:
        errors()


if __name__ == "__main__":
    main()
