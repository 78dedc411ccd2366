"""libpysr's CUDA executor (csrc/cuda/, -DPYSR_CUDA=ON; docs/cuda.md "libpysr on a GPU") without a GPU.

(b) The host-emulated build (-DPYSR_CUDA=ON -DPYSR_CUDA_HOST=ON): the kernels of kernels/cuda built by the C++
    compiler through tests/cuda_host/shim.hpp, malloc / memcpy for device memory, every launch run block by block on
    the CPU (conv2d_mma.cu's threads as coroutines, its warp MMAs emulated). Through the C API, sessions on device 0
    against CPU sessions of the same library: ESPCN, tiny F-EDSR and models with every op kind, at fp32, fp16, bf16
    and tf32; the u8 entry points; a recurrent and a window model through send / receive; resize; batch.
(c) The refusals of the C API: bad device / precision values, a missing device, reduced precision on the CPU (and,
    in tests/test_native_lib.py, a build without PYSR_CUDA).
(a) The nvcc build (-DPYSR_CUDA=ON, CUDA::cudart): configures, compiles and links; a C program asks for the device
    count and a device session and gets the documented status and message (no driver here: DEVICE_ERROR). Without a
    GPU the kernels are compiled as PTX only (CMAKE_CUDA_ARCHITECTURES=90-virtual: ptxas, the slow part, is
    tests/test_cuda_compile.py's); $PYSR_TEST_CUDA_ARCH=90 builds SASS. Where the build finds a device (a GPU machine,
    bench/cuda_all.sh STAGES=native) the model comparisons of (b) run on it too.
Skips with the reason when cmake, a C++ compiler, nvcc or the CUDA runtime library is missing.
"""

from __future__ import annotations

import ctypes
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_cuda_backend import MODEL_TOLERANCE
from test_native_lib import ESPCN, OK, Lib, Params, _compiler, _conv, _run, fedsr_model, flow_model_x2, rgb_model_x3
from test_session import tiny_egvsr, window_model

import pysr
from pysr.graph.graph import Graph, Node

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"
INVALID, UNSUPPORTED, SHAPE, DEVICE_ERROR = 1, 4, 5, 9
PRECISIONS = {"fp32": 0, "tf32": 1, "fp16": 2, "bf16": 3}
# max |device − cpu| / max(1, max |cpu|): fp32 as the native CPU tests (the kernels' float32 sums in another order),
# the reduced precisions as the Python backend's model tolerances (tests/test_cuda_backend.py MODEL_TOLERANCE).
TOLERANCE = {**MODEL_TOLERANCE, "fp32": 1e-5}


def _cmake_build(tmp: Path, *options: str) -> Path:
    """Configure and build libpysr.so (nothing else) with `options`; the library's path."""
    if not shutil.which("cmake") or not _compiler():
        pytest.skip("cmake or a C++ compiler is missing: libpysr cannot be built")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    # -O1: the library builds in half the time of -O3, and the test sizes are small
    _run(["cmake", "-S", ROOT, "-B", tmp, *gen, "-DCMAKE_BUILD_TYPE=Debug", "-DCMAKE_CXX_FLAGS_DEBUG=-O1",
          "-DPYSR_BUILD_STATIC=OFF", "-DPYSR_BUILD_TESTS=OFF", *options], timeout=300)
    _run(["cmake", "--build", tmp, "-j2", "--target", "pysr_shared"], timeout=900)
    return tmp / "libpysr.so"


def _bind(path: Path) -> Lib:
    lib = Lib(path)
    lib.c.pysr_cuda_device_count.argtypes = [ctypes.POINTER(ctypes.c_int32)]
    return lib


def device_count(lib) -> tuple[int, int]:
    n = ctypes.c_int32(-1)
    return lib.c.pysr_cuda_device_count(ctypes.byref(n)), n.value


def create(lib, m, w, h, **params) -> tuple[int, int, str]:
    """(status, session handle or 0, message) of pysr_session_create with these params."""
    s = ctypes.c_void_p()
    st = lib.c.pysr_session_create(m, w, h, ctypes.byref(Params(**{"num_threads": 1, **params})), ctypes.byref(s))
    return st, s.value or 0, lib.error() if st != OK else ""


@pytest.fixture(scope="module")
def host_lib(tmp_path_factory):
    return _bind(_cmake_build(tmp_path_factory.mktemp("cuda_host_build"), "-DPYSR_CUDA=ON", "-DPYSR_CUDA_HOST=ON"))


def depthwise_model_x2(seed=4):
    """Y, ×2 through depthwise convs (conv2d_depthwise.cu: multiplier 2 with reflect padding and a fused relu, then
    stride 2 with replicate padding), a 1×1 conv and a ×4 shuffle (fused into the conv's epilogue)."""
    rng = np.random.default_rng(seed)
    params, nodes = {}, []
    for name, src, cin, cout, k, attrs in (
            ("c1", "x", 1, 8, 3, {"padding": [1, 1]}),
            ("dw", "c1", 8, 16, 5, {"padding": [2, 2], "groups": 8, "pad_mode": "reflect", "activation": "relu"}),
            ("dw2", "dw", 16, 16, 3, {"padding": [1, 1], "groups": 16, "stride": 2, "pad_mode": "replicate"}),
            ("c3", "dw2", 16, 16, 1, {})):
        p, slots = _conv(rng, name, cin, cout, k, attrs.get("groups", 1))
        params.update(p)
        nodes.append(Node("conv2d", name, [src], [name], slots, attrs))
    nodes.append(Node("pixel_shuffle", "ps", ["c3"], ["y"], {}, {"scale": 4}))
    facts = {"architecture": "test_depthwise", "scale": 2, "colour": dict(pysr.models.colour.DEFAULT_Y_COLOUR),
             "input_range": [0.0, 1.0], "receptive_field": 6, "temporal": "single", "licence": "MIT",
             "provenance": {"source": "test"}}
    return pysr.Model(Graph({"x": 1}, ["y"], nodes, params), facts)


def resize_model_x3():
    """Y, every resize flavour in one chain, 12×16 → 36×48: MATLAB ×0.5 (antialiased, mirrored border), PyTorch
    bicubic ×1.5 (half-pixel, clamped), bilinear ×2 (corner-aligned), TecoGAN ×2 (phases)."""
    chain = (("resize_bicubic_matlab", {"scale": 0.5}), ("resize_bicubic_torch", {"scale": 1.5}),
             ("resize_bilinear", {"scale": 2, "align_corners": True}), ("upsample_bicubic_tecogan", {"scale": 2}))
    nodes, src = [], "x"
    for k, (op, attrs) in enumerate(chain):
        dst = "y" if k == len(chain) - 1 else f"r{k}"
        nodes.append(Node(op, f"r{k}", [src], [dst], {}, attrs))
        src = dst
    facts = {"architecture": "test_resizes", "scale": 3, "colour": dict(pysr.models.colour.DEFAULT_Y_COLOUR),
             "input_range": [0.0, 1.0], "receptive_field": 8, "temporal": "single", "licence": "MIT",
             "provenance": {"source": "test"}}
    return pysr.Model(Graph({"x": 1}, ["y"], nodes, {}), facts)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    import pysr.models.colour  # noqa: F401

    d = tmp_path_factory.mktemp("cuda_models")
    out = {"espcn_x3": WEIGHTS / "espcn_x3.pysr", "espcn_x4": ESPCN}
    for name, make in (("fedsr_x2", lambda: fedsr_model(2, 1)), ("rgb_x3", rgb_model_x3), ("flow_x2", flow_model_x2),
                       ("depthwise", depthwise_model_x2), ("resizes", resize_model_x3), ("egvsr", tiny_egvsr),
                       ("window", lambda: window_model(k=1)[0])):
        out[name] = d / f"{name}.pysr"
        make().save(out[name])
    return out


# ---- (b) the device path on the CPU ------------------------------------------------------------------------------


def compare_float(lib, path, shape, precision, device=0) -> float:
    """run_float of a session on `device` against a CPU session of the same library: the relative max difference."""
    n, c, h, w = shape
    m = lib.load(path)
    try:
        st, cpu, msg = create(lib, m, w, h, batch=n)
        assert st == OK, msg
        st, dev, msg = create(lib, m, w, h, batch=n, device=device, precision=PRECISIONS[precision])
        assert st == OK, msg
        out_w, out_h = ctypes.c_int32(), ctypes.c_int32()
        assert lib.c.pysr_session_output_size(dev, ctypes.byref(out_w), ctypes.byref(out_h)) == OK
        x = np.random.default_rng(sum(shape)).random(shape, dtype=np.float32)
        c_out = lib.facts(m)["output_channels"]
        want = lib.run_float(cpu, x, (n, c_out, out_h.value, out_w.value))
        got = lib.run_float(dev, x, (n, c_out, out_h.value, out_w.value))
        again = lib.run_float(dev, x, want.shape)        # the plan's buffers are reused
        lib.c.pysr_session_free(cpu)
        lib.c.pysr_session_free(dev)
    finally:
        lib.c.pysr_model_free(m)
    assert np.isfinite(got).all(), f"{path.name} {precision}: non-finite outputs"
    assert np.array_equal(got, again), f"{path.name} {precision}: a second run differs"
    return float(np.abs(got.astype(np.float64) - want).max()) / max(1.0, float(np.abs(want).max()))


MODEL_CASES = [("espcn_x3", (1, 1, 13, 11)), ("fedsr_x2", (1, 1, 9, 14)), ("rgb_x3", (2, 3, 7, 9)),
               ("flow_x2", (1, 1, 10, 12)), ("depthwise", (1, 1, 10, 12)), ("resizes", (2, 1, 12, 16))]


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16", "tf32"])
def test_models_on_emulated_device_match_cpu(host_lib, model_files, precision):
    """ESPCN ×3, a tiny F-EDSR, two models with every op kind (groups, reflect / replicate padding, prelu, split,
    mul, concat, tf shuffle, batch_norm, channel_shuffle, pool, pad, space_to_depth, affine, warp, the four resizes),
    depthwise convs and a chain of the four resizes (shrinking, non-integer, corner-aligned); fp16 / bf16 / tf32 with
    conv2d_mma.cu on the emulated tensor cores. Every node runs on the (emulated) device: a DevicePlan has no host
    steps and refuses a node without a device kernel, so a session made here launched a kernel for each."""
    errors = {f"{name} {shape}": compare_float(host_lib, model_files[name], shape, precision)
              for name, shape in MODEL_CASES}
    print(f"{precision}: " + ", ".join(f"{k} {v:.3g}" for k, v in errors.items()))
    bad = {k: v for k, v in errors.items() if not v <= TOLERANCE[precision]}
    assert not bad, f"emulated device at {precision} against the CPU (tolerance {TOLERANCE[precision]}): {bad}"


def test_u8_entry_points_on_emulated_device(host_lib, model_files):
    """run_rgb_u8 (a Y model's colour pipeline on the device: rgb_to_ycbcr, the network, the chroma resize) and
    run_y_u8: bytes within 1 of the CPU session's, nearly all equal."""
    lib = host_lib
    m = lib.load(model_files["espcn_x4"])
    h, w = 11, 14
    frame = np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)
    try:
        outs = []
        for device in (-1, 0):
            st, s, msg = create(lib, m, w, h, device=device)
            assert st == OK, msg
            rgb = lib.run_rgb(s, frame, 4)
            y = np.zeros((4 * h, 4 * w), np.uint8)
            assert lib.c.pysr_session_run_y_u8(s, frame[..., 0].copy().ctypes.data, w, y.ctypes.data, 4 * w) == OK
            outs.append((rgb, y))
            lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)
    for got, want in zip(outs[1], outs[0]):
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() >= 0.999, f"{(diff > 0).sum()} of {diff.size} bytes differ"


def send_receive(lib, s, frames, out_shape) -> list[np.ndarray]:
    """Every frame sent as float, every output received (flush at the end)."""
    outs = []

    def drain():
        while True:
            y = np.full(out_shape, np.nan, np.float32)
            if lib.c.pysr_session_receive_float(s, y.ctypes.data) != OK:
                return
            outs.append(y)

    for x in frames:
        assert lib.c.pysr_session_send_float(s, np.ascontiguousarray(x).ctypes.data) == OK, lib.error()
        drain()
    assert lib.c.pysr_session_flush(s) == OK
    drain()
    return outs


@pytest.mark.parametrize("name", ["egvsr", "window"])
def test_temporal_models_on_emulated_device(host_lib, model_files, name):
    """A recurrent model (tiny EGVSR: warp, the TecoGAN upsampler, flow pad, state carried on the host between
    frames) and a window(1) model through send / receive, then a resize: the same outputs as on the CPU."""
    lib = host_lib
    m = lib.load(model_files[name])
    f = lib.facts(m)
    try:
        outs = []
        for device in (-1, 0):
            got = []
            st, s, msg = create(lib, m, 12, 10, device=device)
            assert st == OK, msg
            for h, w in ((10, 12), (9, 13)):
                assert lib.c.pysr_session_resize(s, w, h) == OK, lib.error()
                frames = [np.random.default_rng(k + h).random((f["input_channels"], h, w), dtype=np.float32)
                          for k in range(4)]
                got += send_receive(lib, s, frames, (f["output_channels"], h * f["scale"], w * f["scale"]))
            lib.c.pysr_session_free(s)
            outs.append(got)
    finally:
        lib.c.pysr_model_free(m)
    assert len(outs[1]) == len(outs[0]) == 8
    for k, (g, w) in enumerate(zip(outs[1], outs[0])):
        err = float(np.abs(g.astype(np.float64) - w).max()) / max(1.0, float(np.abs(w).max()))
        assert err <= 1e-5, f"{name} output {k}: relative max difference {err:.3g}"


# ---- (c) refusals --------------------------------------------------------------------------------------------------


def test_c_api_refusals_on_emulated_device(host_lib, model_files):
    lib = host_lib
    assert device_count(lib) == (OK, 1)
    assert lib.c.pysr_cuda_device_count(None) == INVALID
    m = lib.load(model_files["espcn_x3"])
    try:
        cases = [({"device": 1}, DEVICE_ERROR, "CUDA device 1 requested, 1 present"),
                 ({"device": -2}, INVALID, "device must be -1"),
                 ({"device": 0, "precision": 7}, INVALID, "precision 7"),
                 ({"device": -1, "precision": 2}, UNSUPPORTED, "the CPU runs PYSR_PRECISION_FP32 only")]
        for params, status, text in cases:
            st, s, msg = create(lib, m, 8, 8, **params)
            assert (st, s) == (status, 0) and text in msg, f"{params}: status {st}, {msg!r}"
        st, s, msg = create(lib, m, 8, 8, device=0, precision=2)
        assert st == OK, msg
        lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)
    assert lib.c.pysr_status_to_string(DEVICE_ERROR).decode() == "device error"


# ---- (a) the nvcc build ---------------------------------------------------------------------------------------------


def _cudart_found() -> bool:
    nvcc = shutil.which("nvcc")
    roots = [Path(nvcc).resolve().parent.parent] if nvcc else []
    roots += [Path(p) for p in (os.environ.get("CUDA_PATH"), "/usr/local/cuda") if p]
    return any(list(r.glob("lib*/libcudart.so*")) + list(r.glob("targets/*/lib/libcudart.so*")) for r in roots)


@pytest.fixture(scope="module")
def nvcc_lib(tmp_path_factory):
    if not shutil.which("nvcc"):
        pytest.skip("nvcc is not on PATH: the -DPYSR_CUDA=ON build needs the CUDA toolkit")
    if not _cudart_found():
        pytest.skip("the CUDA toolkit's runtime library (libcudart.so) was not found beside nvcc")
    arch = os.environ.get("PYSR_TEST_CUDA_ARCH", "90-virtual")
    tmp = tmp_path_factory.mktemp("cuda_nvcc_build")
    return tmp, _cmake_build(tmp, "-DPYSR_CUDA=ON", f"-DCMAKE_CUDA_ARCHITECTURES={arch}")


def test_nvcc_build_links_cudart_and_reports_devices(nvcc_lib, model_files, tmp_path):
    build, path = nvcc_lib
    if shutil.which("ldd"):
        assert "libcudart.so" in _run(["ldd", path]).stdout
    if shutil.which("nm"):   # the kernels' host stubs stay inside the library
        exported = _run(["nm", "-D", "--defined-only", path]).stdout
        assert " conv2d_direct_f32" not in exported and " T pysr_cuda_device_count" in exported
    cc = next((c for c in (os.environ.get("CC"), "cc", "gcc", "clang") if c and shutil.which(c)), None)
    if cc is None:
        pytest.skip("no C compiler for the test program")
    app = tmp_path / "app.c"
    app.write_text(r"""
#include <pysr.h>
#include <stdio.h>
int main(int argc, char **argv) {
    int32_t n = -1;
    pysr_status st = pysr_cuda_device_count(&n);
    printf("count %d %d\n", (int)st, (int)n);
    pysr_model_t *m;
    if (pysr_model_load_file(argv[1], &m) != PYSR_STATUS_OK) return 2;
    pysr_session_params p;
    pysr_session_default_params(&p);
    p.device = 0;
    pysr_session_t *s = (pysr_session_t *)1;
    st = pysr_session_create(m, 16, 16, &p, &s);
    printf("session %d %d\n%s\n", (int)st, s == NULL, st ? pysr_last_error() : "");
    pysr_session_free(st ? NULL : s);
    pysr_model_free(m);
    return 0;
}
""")
    _run([cc, "-std=c99", "-Wall", "-Werror", f"-I{ROOT / 'include'}", app, f"-L{build}", "-lpysr",
          f"-Wl,-rpath,{build}", "-o", tmp_path / "app"])
    out = _run([tmp_path / "app", model_files["espcn_x3"]], timeout=60).stdout.splitlines()
    st, n = map(int, out[0].split()[1:])
    assert st == OK and n >= 0, out
    session = out[1].split()[1:]
    if n == 0:
        assert session == [str(DEVICE_ERROR), "1"], out             # refused, *out left NULL
        assert "CUDA device 0" in out[2] and ("not available" in out[2] or "0 present" in out[2]), out
    else:
        assert session == [str(OK), "0"], out


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16", "tf32"])
def test_models_on_gpu_match_cpu(nvcc_lib, model_files, precision):
    """On a machine with a GPU (bench/cuda_all.sh STAGES=native): the model comparisons of the host emulation on the
    device itself."""
    lib = _bind(nvcc_lib[1])
    st, n = device_count(lib)
    if n == 0:
        pytest.skip("no CUDA device (or no driver) on this machine: the nvcc build is checked above")
    errors = {f"{name} {shape}": compare_float(lib, model_files[name], shape, precision) for name, shape in MODEL_CASES}
    print(f"GPU {precision}: " + ", ".join(f"{k} {v:.3g}" for k, v in errors.items()))
    bad = {k: v for k, v in errors.items() if not v <= TOLERANCE[precision]}
    assert not bad, f"GPU at {precision} against the CPU (tolerance {TOLERANCE[precision]}): {bad}"
