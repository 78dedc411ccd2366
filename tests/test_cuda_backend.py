"""The cuda backend (pysr/backends/cuda.py, kernels/cuda/*.cu through NVRTC).

On any machine: without CuPy or a GPU the backend is unavailable with the reason, and says so as a BackendError.
On the CPU, with a C++ compiler: the kernel sources built for the host (a small shim maps the CUDA built-ins; each
thread runs in turn) behind the backend's own host code, so every op case runs through cuda.py, _cuda_ops.py and
_cuda_conv.py into kernels/cuda/*.cu and is checked against the float64 reference, at fp32 (the spec's tolerance),
fp16 and bf16 — all but the tensor-core kernel (conv2d_mma.cu: inline PTX MMAs), which only a GPU runs — and whole
models against the cpu backend.
On a GPU (everything else skips, with the reason, when CuPy or a device is missing):
  - every kernel against the float64 reference on the awkward cases of tests/op_cases, at fp16, bf16 and tf32 with a
    tolerance of their own (the float32 run is tests/test_ops.py's, which iterates every backend);
  - whole models against the cpu backend: the shipped ESPCN ×2/×3/×4, F-EDSR, TCSR and EGVSR (random weights of
    the real layouts), at every precision;
  - the frame path bit for bit against the CPU's (yuv.cu vs kernels/cpu/yuv.py, frames.cu vs kernels/cpu/frames.py),
    a device-resident run and a CUDA graph against Plan.run, and a plan that allocates nothing after its first run.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pytest
from test_ops import all_cases, assert_close, describe

import pysr
from pysr import backends
from pysr.backends import cuda
from pysr.backends._cuda_kernels import ENTRY_POINTS, SOURCES
from pysr.errors import BackendError
from pysr.ops import spec

UNIT = {"fp16": 2.0**-11, "bf16": 2.0**-8, "tf32": 2.0**-11}   # unit roundoff of the reduced type


def gpu_backend(precision: str = "fp32"):
    try:
        return cuda.backend(0, precision)
    except BackendError as err:
        pytest.skip(str(err))


# ---- without a GPU --------------------------------------------------------------------------------------------------


def test_unavailable_backend_says_why():
    why = backends.available()["cuda"]
    if why == "ok":
        pytest.skip("a GPU is present: the backend is available")
    assert why, "an unavailable backend must give a reason"
    with pytest.raises(BackendError, match="cuda"):
        backends.get("cuda")
    with pytest.raises(BackendError, match="cuda"):
        cuda.backend(0, "fp16")


def test_bad_settings_are_refused():
    ok, why = cuda.CudaBackend(0, "fp8").available()
    assert not ok and "fp8" in why
    with pytest.raises(BackendError, match="precision"):
        cuda.backend(0, "fp8")


# ---- on the CPU: the kernels built for the host ---------------------------------------------------------------------

# The CUDA built-ins the kernels use, for a host C++ compiler (tests/cuda_host/shim.hpp, shared with libpysr's host
# build): blocks and threads run one at a time; a kernel with a __syncthreads (conv2d_depthwise: a cooperative load,
# then the taps) runs every thread twice, the second pass after every thread's load (the load is idempotent, and the
# first pass's outputs are all overwritten by the second).
HOST_DIR = Path(__file__).resolve().parent / "cuda_host"
SHIM = f'#include "{HOST_DIR / "shim.hpp"}"\n'
HOST_SOURCES = [p for p in sorted(SOURCES.glob("*.cu")) if p.stem != "conv2d_mma"]
BARRIER_KERNELS = ("conv2d_depthwise",)
C_TYPES = {"P": ctypes.c_void_p, "i": ctypes.c_int, "l": ctypes.c_longlong, "f": ctypes.c_float, "d": ctypes.c_double}
HOST_CP = types.SimpleNamespace(
    empty=np.empty, asarray=np.asarray, asnumpy=np.asarray, ascontiguousarray=np.ascontiguousarray,
    ndarray=np.ndarray, float32=np.float32, cuda=types.SimpleNamespace(Device=lambda i: contextlib.nullcontext()))


@pytest.fixture(scope="session")
def host_lib(tmp_path_factory):
    cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the CUDA kernels for the host")
    d = tmp_path_factory.mktemp("cuda_host")
    src = d / "kernels.cpp"
    src.write_text(SHIM + "".join(f'#include "{p}"\n' for p in HOST_SOURCES))
    lib = d / "kernels.so"
    cmd = [cxx, "-std=c++17", "-O1", "-shared", "-fPIC", "-ffp-contract=off", "-w", "-o", str(lib), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"host build of kernels/cuda failed:\n{proc.stderr[-4000:]}"
    return ctypes.CDLL(str(lib))


class HostBackend(cuda.CudaBackend):
    """The cuda backend with numpy arrays as device memory and the host build of the kernels behind `kernel`: all of
    its host code (argument lists, tables, weight layouts, conversions) runs as on a GPU. No tensor cores."""

    cp = HOST_CP

    def __init__(self, lib, precision):
        super().__init__(0, precision)
        self.lib = lib

    def available(self):
        return True, ""

    def tensor_cores(self) -> bool:
        return False

    def is_device_array(self, value) -> bool:
        return isinstance(value, np.ndarray) and value.flags.c_contiguous

    def kernel(self, stem, name):
        sig = ENTRY_POINTS[stem][name]
        fn = getattr(self.lib, name)
        fn.argtypes = [C_TYPES[c] for c in sig]
        fn.restype = None
        lib = self.lib

        def launch(grid, block, args, shared_mem=0):
            cargs = [a.ctypes.data if c == "P" else a.item() for a, c in zip(args, sig)]
            if stem not in BARRIER_KERNELS:          # grid-stride kernels: one thread walks every index
                lib.pysr_emu_set(1, 1, 1, 1, 0, 0, 0, 0)
                fn(*cargs)
                return
            assert shared_mem <= 4 * (1 << 16)
            for bx in range(grid[0]):
                for _ in range(2):
                    for ty in range(block[1]):
                        for tx in range(block[0]):
                            lib.pysr_emu_set(grid[0], 1, block[0], block[1], bx, 0, tx, ty)
                            fn(*cargs)

        return launch


# conv2d_mma.cu needs the 128 threads of a block to meet at barriers and the 32 lanes of a warp to pool their
# fragments for each MMA: here each CUDA thread is a coroutine (ucontext) of one OS thread, switched at every barrier,
# and pysr_host_mma computes the warp's m16n8k16 / m16n8k8 product from the lanes' fragments with the PTX ISA layouts
# the kernel's header states (so this checks the kernel's tiling, gather, pipeline and epilogue; the layouts
# themselves only a GPU can confirm).
MMA_SHIM = "#define PYSR_HOST_COOP\n" + SHIM
MMA_TAIL = f'#include "{HOST_DIR / "mma.hpp"}"\n' + r"""
#define EMU_MMA(SUF, T, BN)                                                                                   \
    extern "C" void emu_conv2d_mma_##SUF##_n##BN(unsigned gx, unsigned gy, const T *x, const T *wb, void *out,  \
        int batch, int cin, int h, int wd, int cout, int kh, int kw, int stride, int ph, int pw, int pad_mode,   \
        int ho, int wo, int k_total, int k_padded, PYSR_EPILOGUE_PARAMS) {                                      \
        emu::body = [=]() { conv2d_mma_##SUF##_n##BN(x, wb, out, batch, cin, h, wd, cout, kh, kw, stride, ph, pw, \
            pad_mode, ho, wo, k_total, k_padded, bias, slope, res, act, alpha, ps_r, ps_tf, has_res, res_scale,     \
            has_clamp, lo, hi, out_c, out_h, out_w, out_u8); };                                                  \
        emu::launch(gx, gy, 128);                                                                              \
    }
#define EMU_MMA_TILES(SUF, T) EMU_MMA(SUF, T, 16) EMU_MMA(SUF, T, 32) EMU_MMA(SUF, T, 64)
EMU_MMA_TILES(f16, half_t)
EMU_MMA_TILES(bf16, bf16_t)
EMU_MMA_TILES(tf32, float)
"""


@pytest.fixture(scope="session")
def host_mma_lib(tmp_path_factory):
    cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the CUDA kernels for the host")
    d = tmp_path_factory.mktemp("cuda_host_mma")
    src = d / "mma.cpp"
    src.write_text(MMA_SHIM + f'#include "{SOURCES / "conv2d_mma.cu"}"\n' + MMA_TAIL)
    lib = d / "mma.so"
    cmd = [cxx, "-std=c++17", "-O1", "-shared", "-fPIC", "-ffp-contract=off", "-w", "-o", str(lib), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"host build of conv2d_mma.cu failed:\n{proc.stderr[-4000:]}"
    return ctypes.CDLL(str(lib))


class HostMmaBackend(HostBackend):
    """HostBackend whose groups-1 convs take conv2d_mma.cu (emulated tensor cores), for fp16, bf16 and tf32."""

    def __init__(self, lib, mma_lib, precision):
        super().__init__(lib, precision)
        self.mma_lib = mma_lib

    def tensor_cores(self) -> bool:
        return True

    def kernel(self, stem, name):
        if stem != "conv2d_mma":
            return super().kernel(stem, name)
        sig = ENTRY_POINTS[stem][name]
        fn = getattr(self.mma_lib, f"emu_{name}")
        fn.argtypes = [ctypes.c_uint, ctypes.c_uint] + [C_TYPES[c] for c in sig]
        fn.restype = None

        def launch(grid, block, args, shared_mem=0):
            assert tuple(block) == (128, 1, 1) and grid[2] == 1
            fn(grid[0], grid[1], *[a.ctypes.data if c == "P" else a.item() for a, c in zip(args, sig)])

        return launch


MMA_CASES = [pytest.param(op, case, id=p.id) for p in all_cases() for op, case in [p.values]
             if op == "conv2d" and case.attrs.get("groups", 1) == 1]


@pytest.mark.parametrize("precision", ["fp16", "bf16", "tf32"])
@pytest.mark.parametrize("op,case", MMA_CASES)
def test_host_build_of_tensor_core_conv_matches_reference(host_lib, host_mma_lib, op, case, precision):
    be = HostMmaBackend(host_lib, host_mma_lib, precision)
    run_case(be, op, case, precision)


@pytest.fixture(scope="module")
def host_backends(host_lib):
    return {p: HostBackend(host_lib, p) for p in ("fp32", "fp16", "bf16")}


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("op,case", list(all_cases()))
def test_host_build_matches_reference(host_backends, op, case, precision):
    run_case(host_backends[precision], op, case, precision)


def run_case(be, op, case, precision):
    """One op case through the backend `be`, against the reference (at the spec's tolerance for fp32)."""
    s = spec(op)
    attrs = s.merge_attrs(case.attrs)
    inputs, params = case.build(op)
    if precision != "fp32":
        inputs = [round_to(a, precision) for a in inputs]
        if precision != "tf32" and op == "conv2d" and attrs["groups"] == 1 and be.tensor_cores():
            params = {k: round_to(v, precision) if k == "weight" else v for k, v in params.items()}
    in_shapes = [a.shape for a in inputs]
    param_shapes = {k: v.shape for k, v in params.items()}
    out_shapes = s.shape(attrs, in_shapes, param_shapes)
    refs = s.reference(attrs, inputs, params)
    fn = be.compile_node(op, attrs, params, in_shapes, out_shapes)
    dev_in = [be.to_device(a.astype(np.float32)) for a in inputs]
    dev_out = [be.to_device(np.full(sh, np.nan, np.float32)) for sh in out_shapes]
    fn(dev_in, dev_out)
    story = describe(op, attrs, inputs, params, f"cuda/{precision}" + (f" ({fn.path})" if hasattr(fn, "path") else ""))
    for k, (out, ref) in enumerate(zip(dev_out, refs)):
        if precision == "fp32":
            atol, rtol = s.tolerance(attrs, in_shapes, param_shapes)
        else:
            atol, rtol = reduced_tolerance(op, attrs, in_shapes, param_shapes, ref, precision)
        assert_close(be.to_host(out), ref, atol, rtol, f"{story} output {k}")


def test_host_build_runs_whole_models_like_cpu(host_backends):
    """ESPCN ×3 and F-EDSR through the backend's plan (cuda.plan_on) on the host build, against the cpu backend."""
    from pysr.models import fedsr
    from pysr.runtime.plan import compile_graph

    rng = np.random.default_rng(2)
    cfg = fedsr.FedsrConfig(channels=8, blocks=2)
    cases = [(pysr.load("espcn_x3").graph, (1, 1, 13, 11)), (fedsr.build(cfg, fedsr.init_params(cfg, seed=3)),
                                                             (1, 1, 9, 14))]
    for graph, shape in cases:
        x = {next(iter(graph.inputs)): rng.uniform(0, 1, shape).astype(np.float32)}
        want = compile_graph(graph, "cpu", {k: v.shape for k, v in x.items()}).run(x)
        for precision, tol in (("fp32", 1e-5), ("bf16", 5e-2)):
            got = cuda.plan_on(host_backends[precision], graph, {k: v.shape for k, v in x.items()}).run(x)
            for g, w in zip(got, want):
                assert float(np.abs(g - w).max()) <= tol * max(1.0, float(np.abs(w).max())), precision


# ---- kernels at reduced precision -----------------------------------------------------------------------------------


def round_to(x: np.ndarray, precision: str) -> np.ndarray:
    """x as the device holds it (float64 view of the rounded values): the reference sees what the kernel sees."""
    x = np.asarray(x, np.float64)
    if precision == "fp16":
        return x.astype(np.float16).astype(np.float64)
    if precision == "bf16":
        bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    return x.astype(np.float32).astype(np.float64)


def reduced_tolerance(op, attrs, in_shapes, param_shapes, ref, precision):
    """The float32 tolerance plus the reduced type's roundings: the output's (u·|ref|) and, for convs on tensor cores,
    the rounding of every weight and input to the MMA type (≈ u·√K·|w·x| per output, with |w| ≈ √(3/K) in the
    cases: a few u in all); for multi-tap ops the intermediate sums. Provisional: to be tightened on a GPU."""
    atol, rtol = spec(op).tolerance(attrs, in_shapes, param_shapes)
    u = UNIT[precision]
    scale = max(1.0, float(np.abs(ref).max()))
    growth = 8.0
    if op == "conv2d":
        cout, cpg, kh, kw = param_shapes["weight"]
        growth += float(np.sqrt(cpg * kh * kw)) / 2.0
    return atol + growth * u * scale, rtol + 2.0 * u


@pytest.mark.parametrize("precision", list(UNIT))
@pytest.mark.parametrize("op,case", list(all_cases()))
def test_kernel_matches_reference_reduced_precision(op, case, precision):
    run_case(gpu_backend(precision), op, case, precision)


def test_conv_paths_are_the_intended_ones():
    """fp32 never takes the tensor cores; fp16 does for groups 1 (on sm_80+); depthwise has its own kernel."""
    from pysr.backends._cuda_conv import path_for

    attrs = spec("conv2d").merge_attrs({"padding": (1, 1)})
    dw = spec("conv2d").merge_attrs({"padding": (1, 1), "groups": 8})
    assert path_for(gpu_backend("fp32"), attrs, (16, 8, 3, 3)) == "direct"
    assert path_for(gpu_backend("fp32"), dw, (8, 1, 3, 3)) == "depthwise"
    fp16 = gpu_backend("fp16")
    assert path_for(fp16, attrs, (16, 8, 3, 3)) == ("mma" if fp16.info.compute_capability >= (8, 0) else "direct")


# ---- whole models against the cpu backend ---------------------------------------------------------------------------


def model_cases():
    """(name, graph, inputs) of every model the issue names, at small odd sizes."""
    from pysr.graph.graph import Graph
    from pysr.models import egvsr, fedsr, tcsr

    rng = np.random.default_rng(5)

    def x(*shape):
        return rng.uniform(0, 1, shape).astype(np.float32)

    out = []
    for name in ("espcn_x2", "espcn_x3", "espcn_x4"):
        out.append((name, pysr.load(name).graph, {"x": x(2, 1, 29, 37)}))
    cfg = fedsr.FedsrConfig()
    out.append(("fedsr", fedsr.build(cfg, fedsr.init_params(cfg, seed=1)), {"lr": x(1, 1, 27, 35)}))
    cfg = tcsr.TcsrConfig()
    g = tcsr.build(cfg, tcsr.init_params(cfg, seed=1))
    out.append(("tcsr", Graph(dict(g.inputs), g.outputs, g.nodes, g.params), {"frames": x(1, 3, 36, 44)}))
    cfg = egvsr.EgvsrConfig()
    h, w = 24, 40
    out.append(("egvsr", egvsr.for_size(egvsr.build(cfg, egvsr.init_params(cfg, seed=1)), h, w),
                {"lr": x(1, 3, h, w), "lr_prev": x(1, 3, h, w), "hr_prev": x(1, 3, 4 * h, 4 * w)}))
    return out


MODEL_TOLERANCE = {"fp32": 1e-4, "tf32": 2e-2, "fp16": 2e-2, "bf16": 1e-1}   # max |cuda − cpu| / max(1, max |cpu|)


@pytest.fixture(scope="module")
def models():
    gpu_backend("fp32")
    from pysr.runtime.plan import compile_graph

    cases = []
    for name, graph, inputs in model_cases():
        if set(graph.inputs) != set(inputs):        # ESPCN's input name comes from its file
            inputs = {next(iter(graph.inputs)): next(iter(inputs.values()))}
        shapes = {k: v.shape for k, v in inputs.items()}
        cases.append((name, graph, inputs, shapes, compile_graph(graph, "cpu", shapes).run(inputs)))
    return cases


@pytest.mark.parametrize("precision", ["fp32", "tf32", "fp16", "bf16"])
def test_models_match_cpu(models, precision):
    gpu_backend(precision)
    failures = []
    for name, graph, inputs, shapes, want in models:
        got = cuda.compile_plan(graph, shapes, precision=precision).run(inputs)
        for k, (g, w) in enumerate(zip(got, want)):
            err = float(np.abs(g.astype(np.float64) - w).max()) / max(1.0, float(np.abs(w).max()))
            if not (np.isfinite(g).all() and err <= MODEL_TOLERANCE[precision]):
                failures.append(f"{name} output {k} ({graph.outputs[k]}): relative max error {err:.3g}")
    assert not failures, f"cuda/{precision} against cpu:\n" + "\n".join(failures)


def test_plan_allocates_once_per_input_size(models):
    """Device memory is planned once per input size: a plan's second and later runs allocate nothing."""
    be = gpu_backend("fp32")
    name, graph, inputs, shapes, _ = models[-1]           # EGVSR: the deepest graph
    plan = cuda.compile_plan(graph, shapes)
    plan.run(inputs)
    pool = be.cp.get_default_memory_pool()
    used = pool.total_bytes()
    for _ in range(3):
        plan.run(inputs)
    assert pool.total_bytes() == used, "a plan allocated device memory after its first run"


def test_device_runner_and_cuda_graph_match_plan_run(models):
    from pysr.backends._cuda_run import DeviceRunner

    be = gpu_backend("fp32")
    name, graph, inputs, shapes, _ = models[3]             # F-EDSR
    plan = cuda.compile_plan(graph, shapes)
    want = plan.run(inputs)
    runner = DeviceRunner(plan)
    for k, v in inputs.items():
        runner.inputs[k].set(v, stream=runner.stream)
    got = [be.to_host(o) for o in runner.run()]
    runner.capture()
    for k, v in inputs.items():
        runner.inputs[k].set(v, stream=runner.stream)
    replay = [be.to_host(o) for o in runner.run()]
    for g, r, w in zip(got, replay, want):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(r, w)


# ---- the frame path -------------------------------------------------------------------------------------------------


def frame(h, w, seed=0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 90 * np.sin(yy[..., None] / 4.0 + xx[..., None] / 7.0 + np.arange(3))
    return np.clip(base + np.random.default_rng(seed).normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [(37, 53), (36, 64), (1, 1), (5, 2)])
@pytest.mark.parametrize("matrix,rng", [("bt601", "limited"), ("bt709", "full")])
def test_yuv_kernels_match_cpu_bit_for_bit(size, matrix, rng):
    from pysr.backends._cuda_run import rgb_to_yuv_constants, yuv_to_rgb_constants
    from pysr.video.colour import Colour, rgb_to_yuv, yuv_to_rgb

    be = gpu_backend("fp32")
    cp = be.cp
    colour = Colour(matrix, rng)
    rgb = frame(*size, seed=3)
    y, u, v = rgb_to_yuv(rgb, colour)                                # the CPU's 4:2:0 planes
    h, w = size
    hc, wc = u.shape
    dy, du, dv, drgb = (cp.asarray(a) for a in (y, u, v, rgb))
    back = cp.empty((h, w, 3), np.uint8)
    be.launch_flat("yuv", "yuv_to_rgb_u8", h * w, [dy, du, dv, w, wc, h, w, 2, 2, *yuv_to_rgb_constants(matrix, rng),
                                                   back])
    np.testing.assert_array_equal(cp.asnumpy(back), yuv_to_rgb(y, u, v, colour))
    planes = [cp.empty(a.shape, np.uint8) for a in (y, u, v)]
    be.launch_flat("yuv", "rgb_u8_to_yuv", hc * wc, [drgb, 3 * w, *planes, w, wc, h, w, hc, wc, 2, 2,
                                                     *rgb_to_yuv_constants(matrix, rng)])
    for got, want in zip(planes, (y, u, v)):
        np.testing.assert_array_equal(cp.asnumpy(got), want)


def test_frame_kernels_match_cpu_bit_for_bit():
    from pysr.kernels.cpu.frames import planar_to_rgb_u8, rgb_u8_to_planar

    be = gpu_backend("fp32")
    cp = be.cp
    rgb = frame(29, 41, seed=4)
    h, w = rgb.shape[:2]
    planar = cp.empty((1, 3, h, w), np.float32)
    be.launch_flat("frames", "rgb_u8_to_planar_f32", h * w, [cp.asarray(rgb), planar, h, w, 3 * w])
    want = rgb_u8_to_planar(rgb)
    np.testing.assert_array_equal(cp.asnumpy(planar), want)
    x = np.random.default_rng(1).uniform(-0.1, 1.1, (1, 3, h, w)).astype(np.float32)
    out = cp.empty((h, w, 3), np.uint8)
    be.launch_flat("frames", "planar_to_rgb_u8_f32", h * w, [cp.asarray(x), out, h, w, 3 * w])
    np.testing.assert_array_equal(cp.asnumpy(out), planar_to_rgb_u8(x))


def test_frame_pipeline_matches_the_cpu_path():
    """YUV 4:2:0 in, YUV out through ESPCN ×2 on the device, two frames in flight, CUDA graphs on: within ±1 of the
    CPU path (yuv_to_rgb → pysr.run → rgb_to_yuv; the float network sums in another order)."""
    from pysr.backends._cuda_run import FramePipeline
    from pysr.models.colour import wrap_rgb
    from pysr.video.colour import Colour, rgb_to_yuv, yuv_to_rgb

    be = gpu_backend("fp32")
    model = pysr.load("espcn_x2")
    colour = Colour("bt601", "limited")
    frames = [rgb_to_yuv(frame(36, 48, seed=s), colour) for s in range(5)]
    plan = cuda.compile_plan(wrap_rgb(model.graph, model.facts), {"rgb": (1, 3, 36, 48)})
    assert plan.backend is be
    pipe = FramePipeline(plan, colour)
    got = [out for planes in frames if (out := pipe.push(*planes)) is not None] + pipe.flush()
    assert len(got) == len(frames)
    for (y, u, v), out in zip(frames, got):
        want = rgb_to_yuv(pysr.run(yuv_to_rgb(y, u, v, colour), model=model), colour)
        for g, wnt in zip(out, want):
            diff = np.abs(g.astype(int) - wnt.astype(int))
            assert diff.max() <= 1 and (diff > 0).mean() <= 1e-2, f"{(diff > 0).sum()} of {diff.size} differ"


def test_devices_are_listed():
    be = gpu_backend("fp32")
    found = cuda.devices()
    assert found and found[0].compute_capability >= (3, 0) and found[0].memory_bytes > 0
    assert be.info == found[0]
    with pytest.raises(BackendError, match="device"):
        cuda.backend(len(found), "fp32")
