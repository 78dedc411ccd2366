"""libpysr, the C library (csrc/, include/pysr.h): built, installed and used as a C/C++ host would.

One session-scoped build (cmake + ninja/make, -j2) into a temporary folder, installed to a temporary
prefix; the host example (examples/host) is built against that INSTALLED package with find_package.
The library is then loaded with ctypes and compared with the Python `cpu` backend:
  facts · float planes (ESPCN ×4, random tiny models, one with every resampling/warp op, F-EDSR) · RGB uint8
  frames · YUV 4:2:0 frames against pysr's video path · damaged files · the y4m host example on real video · one
  model shared by sessions on 4 threads · the soname.
Recurrent and window models (send / receive) are tests/test_native_temporal.py, on the same build.
Skips with the reason when cmake or a C++ compiler is missing.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import pysr
from pysr.graph.graph import Graph, Node

ROOT = Path(__file__).resolve().parent.parent
ESPCN = ROOT / "weights" / "espcn_x4.pysr"
OK = 0
AGAIN = 8
STATUS = {0: "ok", 1: "invalid argument", 2: "I/O error", 3: "invalid model", 4: "unsupported", 5: "shape error",
          6: "out of memory", 7: "internal", 8: "again", 9: "device error"}
VERSION = "0.3.0"


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def _run(cmd, **kw):
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n"
                             f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


_BUILT: dict = {}


def built(tmp_path_factory) -> dict:
    """Build + install libpysr, build the host example against the install: paths of everything. Once per test
    run: tests/test_native_temporal.py's fixture calls this too (an imported fixture would build again)."""
    if "paths" not in _BUILT:
        _BUILT["paths"] = _build(tmp_path_factory)
    return _BUILT["paths"]


def _build(tmp_path_factory) -> dict:
    if not shutil.which("cmake"):
        pytest.skip("cmake is not installed: the C library cannot be built")
    if not _compiler():
        pytest.skip("no C++ compiler (c++, g++, clang++) found: the C library cannot be built")
    tmp = tmp_path_factory.mktemp("native")
    build, prefix, host = tmp / "build", tmp / "install", tmp / "host"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    _run(["cmake", "-S", ROOT, "-B", build, *gen, "-DCMAKE_BUILD_TYPE=Release"])
    _run(["cmake", "--build", build, "-j2"])
    _run(["cmake", "--install", build, "--prefix", prefix])
    _run(["cmake", "-S", ROOT / "examples" / "host", "-B", host, *gen, f"-DCMAKE_PREFIX_PATH={prefix}",
          "-DCMAKE_BUILD_TYPE=Release"])
    _run(["cmake", "--build", host, "-j2"])
    libdir = next(p for p in (prefix / "lib", prefix / "lib64") if (p / "libpysr.so").exists())
    return {"lib": libdir / "libpysr.so", "prefix": prefix, "host": host / "pysr_host",
            "threads_test": build / "pysr_threads_test", "tmp": tmp}


class Facts(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("scale", "colour_mode", "temporal_kind", "window", "receptive_field",
                                              "input_channels", "output_channels")] + \
               [("input_lo", ctypes.c_float), ("input_hi", ctypes.c_float), ("latency", ctypes.c_int32)]


class Params(ctypes.Structure):
    """pysr_session_params, with pysr_session_default_params's values for the fields not given."""
    _fields_ = [("num_threads", ctypes.c_int32), ("batch", ctypes.c_int32), ("device", ctypes.c_int32),
                ("precision", ctypes.c_int32)]

    def __init__(self, num_threads=0, batch=1, device=-1, precision=0):
        super().__init__(num_threads, batch, device, precision)


class Yuv420(ctypes.Structure):
    """pysr_yuv420_src and pysr_yuv420_dst (one layout)."""
    _fields_ = [(n, ctypes.c_void_p) for n in "yuv"] + [(f"{n}_stride", ctypes.c_ssize_t) for n in "yuv"] + \
               [("matrix", ctypes.c_int32), ("range", ctypes.c_int32)]


MATRIX = {"bt709": 1, "bt601": 6}   # pysr_yuv_matrix (H.273 codes)
RANGE = {"limited": 1, "full": 2}   # pysr_yuv_range


def yuv420(planes, colour) -> Yuv420:
    """The struct for (Y, U, V) uint8 planes (kept alive by the caller) in `colour` (pysr.video.colour.Colour)."""
    y, u, v = planes
    return Yuv420(y.ctypes.data, u.ctypes.data, v.ctypes.data, y.strides[0], u.strides[0], v.strides[0],
                  MATRIX[colour.matrix], RANGE[colour.range])


def yuv420_planes(h, w, fill=7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y h×w, U and V ⌈h/2⌉×⌈w/2⌉, poisoned with `fill`."""
    hc, wc = -(-h // 2), -(-w // 2)
    return np.full((h, w), fill, np.uint8), np.full((hc, wc), fill, np.uint8), np.full((hc, wc), fill, np.uint8)


class Lib:
    """Thin ctypes binding of include/pysr.h."""

    def __init__(self, path):
        c = self.c = ctypes.CDLL(str(path))
        vp, i32, sz = ctypes.c_void_p, ctypes.c_int32, ctypes.c_ssize_t
        c.pysr_version.restype = ctypes.c_char_p
        c.pysr_last_error.restype = ctypes.c_char_p
        c.pysr_status_to_string.restype = ctypes.c_char_p
        c.pysr_model_name.restype = ctypes.c_char_p
        c.pysr_model_name.argtypes = [vp]
        c.pysr_model_load_file.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
        c.pysr_model_load_memory.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(vp)]
        c.pysr_model_free.argtypes = [vp]
        c.pysr_model_get_facts.argtypes = [vp, ctypes.POINTER(Facts)]
        c.pysr_session_create.argtypes = [vp, i32, i32, ctypes.POINTER(Params), ctypes.POINTER(vp)]
        c.pysr_session_free.argtypes = [vp]
        c.pysr_session_output_size.argtypes = [vp, ctypes.POINTER(i32), ctypes.POINTER(i32)]
        c.pysr_session_run_float.argtypes = [vp, vp, vp]
        c.pysr_session_run_rgb_u8.argtypes = [vp, vp, sz, vp, sz]
        c.pysr_session_run_y_u8.argtypes = [vp, vp, sz, vp, sz]
        c.pysr_session_resize.argtypes = [vp, i32, i32]
        for kind in ("rgb_u8", "y_u8"):
            getattr(c, f"pysr_session_send_{kind}").argtypes = [vp, vp, sz]
            getattr(c, f"pysr_session_receive_{kind}").argtypes = [vp, vp, sz]
        yp = ctypes.POINTER(Yuv420)
        c.pysr_session_run_yuv420_u8.argtypes = [vp, yp, yp]
        c.pysr_session_send_yuv420_u8.argtypes = [vp, yp]
        c.pysr_session_receive_yuv420_u8.argtypes = [vp, yp]
        c.pysr_session_send_float.argtypes = [vp, vp]
        c.pysr_session_receive_float.argtypes = [vp, vp]
        c.pysr_session_flush.argtypes = [vp]
        c.pysr_session_reset.argtypes = [vp]

    def error(self) -> str:
        return self.c.pysr_last_error().decode()

    def load(self, source) -> int:
        m = ctypes.c_void_p()
        if isinstance(source, bytes):
            st = self.c.pysr_model_load_memory(source, len(source), ctypes.byref(m))
        else:
            st = self.c.pysr_model_load_file(str(source).encode(), ctypes.byref(m))
        if st != OK:
            raise RuntimeError(f"load: {STATUS.get(st, st)}: {self.error()}")
        return m.value

    def try_load(self, data: bytes) -> tuple[int, str]:
        m = ctypes.c_void_p()
        st = self.c.pysr_model_load_memory(data, len(data), ctypes.byref(m))
        msg = self.error()
        if st == OK:
            self.c.pysr_model_free(m)
        else:
            assert not m.value, "a failed load must leave *out NULL"
        return st, msg

    def facts(self, m) -> dict:
        f = Facts()
        assert self.c.pysr_model_get_facts(m, ctypes.byref(f)) == OK
        return {k: getattr(f, k) for k, _ in Facts._fields_}

    def session(self, m, w, h, threads=2, batch=1) -> int:
        s = ctypes.c_void_p()
        st = self.c.pysr_session_create(m, w, h, ctypes.byref(Params(threads, batch)), ctypes.byref(s))
        if st != OK:
            raise RuntimeError(f"session: {STATUS.get(st, st)}: {self.error()}")
        return s.value

    def run_float(self, s, x: np.ndarray, out_shape) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        y = np.full(out_shape, np.nan, np.float32)  # poisoned: an unwritten element fails
        st = self.c.pysr_session_run_float(s, x.ctypes.data, y.ctypes.data)
        assert st == OK, self.error()
        return y

    def run_rgb(self, s, frame: np.ndarray, scale: int) -> np.ndarray:
        h, w, _ = frame.shape
        out = np.zeros((h * scale, w * scale, 3), np.uint8)
        st = self.c.pysr_session_run_rgb_u8(s, frame.ctypes.data, frame.strides[0], out.ctypes.data, out.strides[0])
        assert st == OK, self.error()
        return out

    def run_yuv420(self, s, planes, scale: int, colour, out_colour=None):
        """(Y, U, V) planes in, the output planes (poisoned first) out, each in its colour."""
        h, w = planes[0].shape
        out = yuv420_planes(h * scale, w * scale)
        st = self.c.pysr_session_run_yuv420_u8(s, ctypes.byref(yuv420(planes, colour)),
                                               ctypes.byref(yuv420(out, out_colour or colour)))
        assert st == OK, self.error()
        return out


# ---- random tiny models ------------------------------------------------------------------------------


def _conv(rng, name, cin, cout, k, groups=1, bias=True):
    w = (rng.standard_normal((cout, cin // groups, k, k)) / np.sqrt(cin // groups * k * k)).astype(np.float32)
    params = {f"{name}.weight": w}
    slots = {"weight": f"{name}.weight"}
    if bias:
        params[f"{name}.bias"] = (0.1 * rng.standard_normal(cout)).astype(np.float32)
        slots["bias"] = f"{name}.bias"
    return params, slots


def rgb_model_x3(seed=0) -> pysr.Model:
    """RGB, ×3, odd channel counts; split/mul/concat, groups, reflect/replicate padding, prelu, tf-order
    shuffle, a residual add with scale (fused), a standalone scaled_tanh after it."""
    rng = np.random.default_rng(seed)
    params, nodes = {}, []

    def conv(name, x, out, cin, cout, k, **attrs):
        p, slots = _conv(rng, name, cin, cout, k, attrs.get("groups", 1))
        params.update(p)
        nodes.append(Node("conv2d", name, [x], [out], slots, {"padding": [k // 2, k // 2], **attrs}))

    conv("c1", "x", "c1", 3, 12, 5, pad_mode="replicate")
    nodes.append(Node("activation", "a1", ["c1"], ["a1"], {}, {"kind": "leaky_relu", "alpha": 0.2}))
    nodes.append(Node("split", "sp", ["a1"], ["s0", "s1"], {}, {"sizes": [5, 7]}))
    conv("ca", "s0", "ca", 5, 7, 3, pad_mode="reflect", activation="sigmoid")
    nodes.append(Node("mul", "gate", ["ca", "s1"], ["g"], {}, {}))
    nodes.append(Node("concat", "cat", ["g", "s1"], ["cat"], {}, {}))
    conv("c2", "cat", "c2", 14, 10, 3, groups=2)
    params["p2.slope"] = (0.25 * rng.random(10)).astype(np.float32)
    nodes.append(Node("activation", "p2", ["c2"], ["p2"], {"slope": "p2.slope"}, {"kind": "prelu"}))
    conv("c3", "p2", "c3", 10, 27, 3)
    nodes.append(Node("pixel_shuffle", "ps", ["c3"], ["ps"], {}, {"scale": 3, "order": "tf"}))
    nodes.append(Node("resize_bicubic_torch", "up", ["x"], ["up"], {}, {"scale": 3}))
    nodes.append(Node("add", "res", ["up", "ps"], ["r"], {}, {"scale": 0.5}))
    nodes.append(Node("activation", "out", ["r"], ["y"], {}, {"kind": "scaled_tanh", "alpha": 1.5}))
    graph = Graph({"x": 3}, ["y"], nodes, params)
    facts = {"architecture": "test_rgb", "scale": 3, "colour": {"mode": "rgb"}, "input_range": [0.0, 1.0],
             "receptive_field": 6, "temporal": "single", "licence": "MIT", "provenance": {"source": "test"}}
    return pysr.Model(graph, facts)


def y_model_x2(seed=1) -> pysr.Model:
    """Y, ×2: a stride-2 conv, a 1×1 conv, a standalone pytorch-order shuffle after a clamped conv, a
    residual over a bicubic ×2 of the input, and a conv with its own clamp."""
    rng = np.random.default_rng(seed)
    params, nodes = {}, []
    for name, cin, cout, k in (("c1", 1, 9, 3), ("c2", 9, 8, 3), ("c3", 8, 16, 1)):
        p, slots = _conv(rng, name, cin, cout, k)
        params.update(p)
        attrs = {"padding": [k // 2, k // 2]}
        if name == "c2":
            attrs["stride"] = 2
        if name == "c3":
            attrs["clamp"] = [-0.5, 0.5]
        src = {"c1": "x", "c2": "a1", "c3": "a2"}[name]
        nodes.append(Node("conv2d", name, [src], [name], slots, attrs))
        if name != "c3":
            act = {"c1": "tanh", "c2": "relu"}[name]
            nodes.append(Node("activation", "a" + name[1], [name], ["a" + name[1]], {}, {"kind": act}))
    nodes.append(Node("pixel_shuffle", "ps", ["c3"], ["ps"], {}, {"scale": 4}))
    nodes.append(Node("resize_bicubic_torch", "up", ["x"], ["up"], {}, {"scale": 2}))
    nodes.append(Node("add", "res", ["ps", "up"], ["y"], {}, {}))
    graph = Graph({"x": 1}, ["y"], nodes, params)
    facts = {"architecture": "test_y", "scale": 2, "colour": dict(pysr.models.colour.DEFAULT_Y_COLOUR),
             "input_range": [0.0, 1.0], "receptive_field": 5, "temporal": "single", "licence": "MIT",
             "provenance": {"source": "test"}}
    return pysr.Model(graph, facts)


def flow_model_x2(seed=2) -> pysr.Model:
    """Y, ×2, every op the first stage of libpysr lacked: reflect pad → conv → batch_norm (after a conv: folded
    in Python, run as is natively) → leaky → channel_shuffle → max pool → bilinear ×2 → space_to_depth (tf) →
    conv to a flow → tecogan ×2 → affine → warp of the input (not corner-aligned, flow_scale) → MATLAB ×2."""
    rng = np.random.default_rng(seed)
    params, nodes = {}, []

    def conv(name, x, out, cin, cout, k, **attrs):
        p, slots = _conv(rng, name, cin, cout, k)
        params.update(p)
        nodes.append(Node("conv2d", name, [x], [out], slots, attrs))

    nodes.append(Node("pad", "pad", ["x"], ["p"], {}, {"pads": [1, 1, 1, 1], "mode": "reflect"}))
    conv("c1", "p", "c1", 1, 6, 3)
    for key, lo, hi in (("weight", 0.5, 1.5), ("bias", -0.2, 0.2), ("mean", -0.2, 0.2), ("var", 0.5, 2.0)):
        params[f"bn.{key}"] = rng.uniform(lo, hi, 6).astype(np.float32)
    bn = {k: f"bn.{k}" for k in ("weight", "bias", "mean", "var")}
    nodes.append(Node("batch_norm", "bn", ["c1"], ["bn"], bn, {"eps": 1e-3}))
    nodes.append(Node("activation", "a1", ["bn"], ["a1"], {}, {"kind": "leaky_relu", "alpha": 0.1}))
    nodes.append(Node("channel_shuffle", "shuf", ["a1"], ["shuf"], {}, {"groups": 2}))
    nodes.append(Node("pool2d", "pool", ["shuf"], ["pool"], {}, {"mode": "max"}))
    nodes.append(Node("resize_bilinear", "up", ["pool"], ["up"], {}, {"scale": 2}))
    nodes.append(Node("space_to_depth", "s2d", ["up"], ["s2d"], {}, {"scale": 2, "order": "tf"}))
    conv("c2", "s2d", "lr_flow", 24, 2, 3, padding=[1, 1])
    nodes.append(Node("upsample_bicubic_tecogan", "flow_up", ["lr_flow"], ["flow_up"], {}, {"scale": 2}))
    nodes.append(Node("affine", "px", ["flow_up"], ["flow"], {}, {"scale": 2.0, "shift": 0.25}))
    nodes.append(Node("warp", "warp", ["x", "flow"], ["warped"], {}, {"align_corners": False, "flow_scale": 1.5}))
    nodes.append(Node("resize_bicubic_matlab", "y", ["warped"], ["y"], {}, {"scale": 2}))
    graph = Graph({"x": 1}, ["y"], nodes, params)
    facts = {"architecture": "test_flow", "scale": 2, "colour": dict(pysr.models.colour.DEFAULT_Y_COLOUR),
             "input_range": [0.0, 1.0], "receptive_field": 8, "temporal": "single", "licence": "MIT",
             "provenance": {"source": "test"}}
    return pysr.Model(graph, facts)


def fedsr_model(scale, in_channels, seed=0) -> pysr.Model:
    """F-EDSR (pysr/models/fedsr.py) with random weights, narrow and shallow to keep the test fast."""
    from pysr.models import fedsr
    from pysr.models.convert import facts_for

    cfg = fedsr.FedsrConfig(scale=scale, channels=8, blocks=2, res_scale=0.5, in_channels=in_channels)
    graph = fedsr.build(cfg, fedsr.init_params(cfg, seed))
    return pysr.Model(graph, facts_for("fedsr", cfg, {"source": "test"}, "MIT"))


def sofvsr_model(seed=1) -> pysr.Model:
    """A tiny SOF-VSR ×2 (window of 3 frames stacked as one input): warp, bilinear flows, avg pool,
    channel_shuffle, space_to_depth and affine through the C API."""
    from pysr.models import sofvsr
    from pysr.models.convert import facts_for

    cfg = sofvsr.SofvsrConfig(channels=8, ofr_blocks=1, sr_blocks=2)
    return pysr.Model(sofvsr.build(cfg, sofvsr.init_params(cfg, seed=seed)), facts_for("sofvsr", cfg, {}, "unknown"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    import pysr.models.colour  # noqa: F401

    d = tmp_path_factory.mktemp("models")
    out = {}
    for name, make in (("rgb_x3", rgb_model_x3), ("y_x2", y_model_x2), ("flow_x2", flow_model_x2),
                       ("fedsr_x4", lambda: fedsr_model(4, 1)), ("fedsr_x3_rgb", lambda: fedsr_model(3, 3)),
                       ("sofvsr_x2", sofvsr_model)):
        path = d / f"{name}.pysr"
        make().save(path)
        out[name] = path
    return out


# ---- (a) facts -------------------------------------------------------------------------------------


def test_version_and_facts(lib):
    assert lib.c.pysr_version().decode() == VERSION
    assert lib.c.pysr_status_to_string(3).decode() == "invalid model file"
    m = lib.load(ESPCN)
    try:
        py = pysr.load(ESPCN)
        f = lib.facts(m)
        assert f == {"scale": 4, "colour_mode": 1, "temporal_kind": 1, "window": 0, "receptive_field": 4,
                     "input_channels": 1, "output_channels": 1, "input_lo": 0.0, "input_hi": 1.0, "latency": 0}
        assert f["scale"] == py.scale and f["receptive_field"] == py.facts["receptive_field"]
        assert lib.c.pysr_model_name(m).decode() == "espcn_x4"
        s = lib.session(m, 13, 7)
        w, h = ctypes.c_int32(), ctypes.c_int32()
        assert lib.c.pysr_session_output_size(s, ctypes.byref(w), ctypes.byref(h)) == OK
        assert (w.value, h.value) == (52, 28)
        lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)


# ---- (b) float planes against the Python cpu backend -------------------------------------------------


@pytest.mark.parametrize("which, shape", [
    ("espcn", (1, 1, 29, 37)), ("espcn", (2, 1, 8, 5)), ("espcn", (1, 1, 1, 1)),
    ("rgb_x3", (1, 3, 17, 23)), ("rgb_x3", (2, 3, 6, 9)),
    ("y_x2", (1, 1, 18, 26)), ("y_x2", (1, 1, 2, 2)),
    ("flow_x2", (1, 1, 18, 26)), ("flow_x2", (2, 1, 8, 12)), ("flow_x2", (1, 1, 2, 2)),
    ("fedsr_x4", (1, 1, 17, 23)), ("fedsr_x4", (2, 1, 5, 4)), ("fedsr_x3_rgb", (1, 3, 13, 9)),
])
def test_float_plane_matches_cpu_backend(lib, tiny_models, which, shape):
    path = ESPCN if which == "espcn" else tiny_models[which]
    model = pysr.load(path)
    x = np.random.default_rng(sum(shape)).random(shape, dtype=np.float32)
    ref = model.plan("cpu", shape).run(x)[0]
    m = lib.load(path)
    try:
        s = lib.session(m, shape[3], shape[2], threads=2, batch=shape[0])
        got = lib.run_float(s, x, ref.shape)
        again = lib.run_float(s, x, ref.shape)  # a session reruns with warm buffers
        lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)
    err = np.abs(got.astype(np.float64) - ref)
    assert np.isfinite(got).all() and err.max() <= 1e-5, f"{which} {shape}: max abs {err.max():.3g} at " \
        f"{np.unravel_index(err.argmax(), err.shape)}"
    assert np.array_equal(got, again)


def test_cuda_is_refused_without_pysr_cuda(lib):
    """A build without -DPYSR_CUDA: no devices (UNSUPPORTED, *out = 0), and a session on a device is UNSUPPORTED with
    the reason (tests/test_native_cuda.py has the CUDA builds)."""
    n = ctypes.c_int32(-1)
    lib.c.pysr_cuda_device_count.argtypes = [ctypes.POINTER(ctypes.c_int32)]
    assert lib.c.pysr_cuda_device_count(ctypes.byref(n)) == 4 and n.value == 0
    assert "built without CUDA" in lib.error()
    m = lib.load(ESPCN)
    s = ctypes.c_void_p()
    try:
        st = lib.c.pysr_session_create(m, 8, 8, ctypes.byref(Params(1, 1, 0)), ctypes.byref(s))
        assert st == 4 and not s.value and "-DPYSR_CUDA=ON" in lib.error(), lib.error()
    finally:
        lib.c.pysr_model_free(m)


def test_shape_error_is_a_status(lib, tiny_models):
    m = lib.load(tiny_models["y_x2"])
    try:
        s = ctypes.c_void_p()
        # odd sizes: the stride-2 branch gives 4·ceil(H/2) rows, the residual 2·H: a shape error, named
        st = lib.c.pysr_session_create(m, 7, 6, ctypes.byref(Params(1, 1)), ctypes.byref(s))
        assert st == 5 and "node 'res'" in lib.error() and not s.value
        assert lib.c.pysr_session_create(m, 0, 6, None, ctypes.byref(s)) == 1
    finally:
        lib.c.pysr_model_free(m)


# ---- (c) RGB uint8 frames against pysr.run ------------------------------------------------------------


@pytest.mark.parametrize("which, h, w", [("espcn", 30, 41), ("rgb_x3", 19, 14), ("y_x2", 16, 22)])
def test_rgb_frame_matches_pysr_run(lib, tiny_models, which, h, w):
    path = ESPCN if which == "espcn" else tiny_models[which]
    model = pysr.load(path)
    rng = np.random.default_rng(h * w)
    # smooth content with noise: the values a real frame has, not only saturated extremes
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 90 * np.sin(yy[..., None] / 4.0 + xx[..., None] / 7.0 + np.arange(3))
    frame = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    ref = pysr.run(frame, model=model)
    m = lib.load(path)
    try:
        s = lib.session(m, w, h)
        got = lib.run_rgb(s, frame, model.scale)
        # a padded source stride must give the same result
        wide = np.zeros((h, w + 5, 3), np.uint8)
        wide[:, :w] = frame
        out = np.zeros((h * model.scale, w * model.scale + 3, 3), np.uint8)
        st = lib.c.pysr_session_run_rgb_u8(s, wide.ctypes.data, wide.strides[0], out.ctypes.data, out.strides[0])
        assert st == OK, lib.error()
        assert np.array_equal(out[:, : w * model.scale], got)
        lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)
    diff = np.abs(got.astype(int) - ref.astype(int))
    # Both sides round x·255 half to even from float32; the float32 values differ by ~1e-6 (summation
    # order), which flips a rounding only when x·255 lies within ~1e-4 of a .5: at most ±1, very rarely.
    assert diff.max() <= 1 and (diff > 0).mean() <= 1e-3, f"{which}: {(diff > 0).sum()} of {diff.size} differ"


# ---- (c') YUV 4:2:0 frames against pysr's video path ----------------------------------------------------


def nearest_x2() -> pysr.Model:
    """RGB ×2 by pixel replication (a 1×1 conv with weights 0 and 1, then a pixel shuffle): every float is exact on
    both sides, so the YUV frame path of the library must give pysr's bytes exactly."""
    w = np.zeros((12, 3, 1, 1), np.float32)
    for c in range(3):
        w[4 * c : 4 * c + 4, c] = 1.0
    nodes = [Node("conv2d", "c", ["x"], ["c"], {"weight": "w"}, {"padding": [0, 0]}),
             Node("pixel_shuffle", "ps", ["c"], ["y"], {}, {"scale": 2})]
    facts = {"architecture": "test_nearest", "scale": 2, "colour": {"mode": "rgb"}, "input_range": [0.0, 1.0],
             "receptive_field": 0, "temporal": "single", "licence": "MIT", "provenance": {"source": "test"}}
    return pysr.Model(Graph({"x": 3}, ["y"], nodes, {"w": w}), facts)


def yuv_frame(h, w, colour, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """4:2:0 planes of smooth content with noise (pysr's own RGB → YUV), and a few random samples anywhere in
    0..255 (YUV that leaves the RGB cube: the clipping)."""
    from pysr.video.colour import rgb_to_yuv

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 100 * np.sin(yy[..., None] / 3.0 + xx[..., None] / 5.0 + np.arange(3))
    planes = rgb_to_yuv(np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8), colour)
    for p in planes:
        hit = rng.random(p.shape) < 0.05
        p[hit] = rng.integers(0, 256, int(hit.sum()))
    return planes


def python_yuv420(planes, model, colour, out_colour=None):
    """What `pysr upscale` does with a 4:2:0 frame (pysr/video: reader, job, writer), backend cpu."""
    from pysr.video.colour import rgb_to_yuv, yuv_to_rgb

    hr = pysr.run(yuv_to_rgb(*planes, colour), model=model, backend="cpu")
    return rgb_to_yuv(hr, out_colour or colour, (2, 2))


def padded(planes, extra=(3, 5, 2)):
    """The same planes in wider rows (strides beyond the row)."""
    out = []
    for p, e in zip(planes, extra):
        wide = np.full((p.shape[0], p.shape[1] + e), 99, np.uint8)
        wide[:, : p.shape[1]] = p
        out.append(wide[:, : p.shape[1]])
    return out


def compare_planes(got, want, what, exact=False) -> float:
    """Share of equal bytes over the three planes; every byte within 1 (exact: all equal)."""
    d = np.concatenate([np.abs(g.astype(int) - r.astype(int)).ravel() for g, r in zip(got, want)])
    for name, g, r in zip("YUV", got, want):
        assert g.shape == r.shape, f"{what} {name}: shape {g.shape}, Python {r.shape}"
    same = float((d == 0).mean())
    assert d.max() <= (0 if exact else 1) and same >= 0.999, f"{what}: {same:.5%} equal, max diff {d.max()}"
    return same


COLOURS = [("bt601", "limited"), ("bt601", "full"), ("bt709", "limited"), ("bt709", "full")]


@pytest.mark.parametrize("which, h, w", [("nearest", 1, 1), ("nearest", 1, 2), ("nearest", 3, 1), ("nearest", 7, 9),
                                         ("nearest", 16, 22), ("espcn", 17, 23), ("espcn", 16, 10),
                                         ("rgb_x3", 13, 11), ("y_x2", 12, 18)])
@pytest.mark.parametrize("matrix, rng", COLOURS)
def test_yuv420_frame_matches_python_video_path(lib, tiny_models, tmp_path, which, h, w, matrix, rng):
    """run_yuv420_u8 against pysr's conversions around pysr.run (backend cpu): bit-exact through the exact model,
    within the RGB entry point's rare ±1 through the others (Y models: their own colour facts give the network's Y,
    chroma by the model's resize, as in pysr's video path). Odd sizes, padded strides, all four colours."""
    from pysr.video.colour import Colour

    if which == "nearest":
        path = tmp_path / "nearest.pysr"
        nearest_x2().save(path)
    else:
        path = ESPCN if which == "espcn" else tiny_models[which]
    model = pysr.load(path)
    colour = Colour(matrix, rng)
    planes = yuv_frame(h, w, colour, seed=h * w)
    want = python_yuv420(planes, model, colour)
    m = lib.load(path)
    try:
        s = lib.session(m, w, h)
        got = lib.run_yuv420(s, planes, model.scale, colour)
        # padded strides, in and out, give the same bytes and write nothing past a row
        hs, ws = h * model.scale, w * model.scale
        out = padded(yuv420_planes(hs, ws))
        st = lib.c.pysr_session_run_yuv420_u8(s, ctypes.byref(yuv420(padded(planes), colour)),
                                              ctypes.byref(yuv420(out, colour)))
        assert st == OK, lib.error()
        assert all(np.array_equal(a, b) for a, b in zip(out, got))
        assert all((p.base[:, p.shape[1]:] == 99).all() for p in out)
        # another output colour (a yuvj* output of a limited-range stream is full range): only the way out changes
        other = Colour("bt709" if matrix == "bt601" else "bt601", "full" if rng == "limited" else "limited")
        got_other = lib.run_yuv420(s, planes, model.scale, colour, other)
        lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)
    exact = which == "nearest"
    same = compare_planes(got, want, f"{which} {h}×{w} {colour}", exact)
    compare_planes(got_other, python_yuv420(planes, model, colour, other), f"{which} {colour} → {other}", exact)
    print(f"{which} {h}×{w} {colour}: {same:.5%} of the bytes equal")


def test_yuv420_argument_errors(lib):
    from pysr.video.colour import Colour

    m = lib.load(ESPCN)
    try:
        s = lib.session(m, 9, 7)
        colour = Colour("bt601", "limited")
        planes, out = yuv420_planes(7, 9), yuv420_planes(28, 36)
        src, dst = yuv420(planes, colour), yuv420(out, colour)
        run = lib.c.pysr_session_run_yuv420_u8

        def check(st, text):
            assert st == 1 and text in lib.error(), (st, lib.error())

        check(run(s, None, ctypes.byref(dst)), "src is NULL")
        check(run(s, ctypes.byref(src), None), "dst is NULL")
        for field, value, text in (("u", None, "src->u is NULL"), ("y_stride", 8, "src->y_stride 8"),
                                   ("v_stride", 4, "src->v_stride 4 is less than a row (5"),
                                   ("matrix", 0, "src->matrix is 0"), ("matrix", 2, "src->matrix is 2"),
                                   ("range", 3, "src->range is 3")):
            bad = yuv420(planes, colour)
            setattr(bad, field, value)
            check(run(s, ctypes.byref(bad), ctypes.byref(dst)), text)
        bad = yuv420(out, colour)
        bad.u_stride = 17
        check(run(s, ctypes.byref(src), ctypes.byref(bad)), "dst->u_stride 17 is less than a row (18")
        bt470bg = yuv420(planes, colour)
        bt470bg.matrix = 5                          # BT.470BG: the BT.601 matrix
        assert run(s, ctypes.byref(bt470bg), ctypes.byref(dst)) == OK, lib.error()
        lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)


# ---- (d) damaged files: an error status with a message, never a crash --------------------------------


def _rewrite(data: bytes, edit) -> bytes:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    edit(header)
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + data[8 + n :]


def _py_ok(data: bytes) -> bool:
    try:
        pysr.load(data)
        return True
    except pysr.errors.PysrError:
        return False


def test_damaged_files_fail_cleanly(lib, tiny_models):
    good = tiny_models["rgb_x3"].read_bytes()
    assert lib.try_load(good)[0] == OK
    n = int.from_bytes(good[:8], "little")
    cases: dict[str, bytes] = {}
    cuts = {*range(0, 80, 3), *np.linspace(80, len(good) - 1, 60).astype(int).tolist(), 8 + n, len(good) - 1}
    for cut in sorted(cuts):
        cases[f"truncated at {cut}"] = good[:cut]
    rng = np.random.default_rng(7)
    for _ in range(120):
        b = bytearray(good)
        pos = int(rng.integers(8, 8 + n))
        b[pos] = int(rng.integers(0, 256))
        cases[f"header byte {pos} = {b[pos]}"] = bytes(b)
    name = next(iter(json.loads(good[8 : 8 + n])))
    name = name if name != "__metadata__" else list(json.loads(good[8 : 8 + n]))[1]

    def set_dtype(h):
        h[name]["dtype"] = "F16"

    cases["wrong dtype"] = _rewrite(good, set_dtype)
    cases["extra tensor key"] = _rewrite(good, lambda h: h[name].update(extra=1))
    cases["format 2"] = _rewrite(good, lambda h: h["__metadata__"].update({"pysr.format": "2"}))
    cases["no graph"] = _rewrite(good, lambda h: h["__metadata__"].pop("pysr.graph"))
    cases["unknown op"] = _rewrite(good, lambda h: h["__metadata__"].update(
        {"pysr.graph": h["__metadata__"]["pysr.graph"].replace('"mul"', '"mull"')}))
    cases["bad attr"] = _rewrite(good, lambda h: h["__metadata__"].update(
        {"pysr.graph": h["__metadata__"]["pysr.graph"].replace('"order":"tf"', '"order":"xx"')}))
    cases["scale 0"] = _rewrite(good, lambda h: h["__metadata__"].update(
        {"pysr.model": h["__metadata__"]["pysr.model"].replace('"scale":3', '"scale":0')}))
    nan = bytearray(good)
    nan[len(good) - 4 : len(good)] = np.float32(np.nan).tobytes()
    cases["NaN weight"] = bytes(nan)
    inf = bytearray(good)
    inf[8 + n : 8 + n + 4] = np.float32(np.inf).tobytes()
    cases["inf weight"] = bytes(inf)
    for size in (2**63, 2**64 - 1, (16 << 20) + 1, len(good) - 7, n + 1):
        cases[f"header length {size}"] = size.to_bytes(8, "little") + good[8:]
    cases["gap"] = good + b"\0\0\0\0"
    cases["empty"] = b""

    mismatched = []
    for what, data in cases.items():
        st, msg = lib.try_load(data)
        if st != OK:
            assert st in (3, 4), f"{what}: status {st}"
            assert msg.startswith("<memory>: ") and len(msg) > 12, f"{what}: message {msg!r}"
        if (st == OK) != _py_ok(data):
            mismatched.append(f"{what}: native {'accepts' if st == OK else 'rejects: ' + msg}")
    assert not mismatched, "native and Python readers disagree:\n" + "\n".join(mismatched)
    st, msg = lib.try_load(cases["NaN weight"])
    assert "non-finite" in msg and "(nan)" in msg
    st, msg = lib.try_load(cases["wrong dtype"])
    assert "dtype \"F16\"" in msg
    m = ctypes.c_void_p()
    assert lib.c.pysr_model_load_file(b"/nonexistent/x.pysr", ctypes.byref(m)) == 2 and "cannot read" in lib.error()


# ---- (e) the host example on real video -----------------------------------------------------------


def _y4m_from_video(path: Path, out: Path, frames: int, size: tuple[int, int], fmt: str) -> None:
    """The first `frames` frames of a video, scaled to `size` (PyAV / swscale), as a y4m file."""
    from fractions import Fraction

    import av

    from pysr.video.y4m import Y4mHeader, Y4mWriter

    chroma = {"yuv420p": "420jpeg", "yuv444p": "444"}[fmt]
    with av.open(str(path)) as c, out.open("wb") as f:
        writer = Y4mWriter(f, Y4mHeader(size[0], size[1], Fraction(24, 1), chroma))
        for i, frame in enumerate(c.decode(video=0)):
            if i == frames:
                break
            img = frame.reformat(width=size[0], height=size[1], format=fmt)
            writer.write([np.frombuffer(bytes(p), np.uint8).reshape(p.height, p.line_size)[:, : p.width]
                          for p in img.planes])


@pytest.mark.parametrize("fmt", ["yuv420p", "yuv444p"])
def test_host_example_matches_python_video_path(native, shared, fmt, tmp_path):
    pytest.importorskip("av")
    from pysr.video.colour import Colour, rgb_to_yuv, yuv_to_rgb
    from pysr.video.y4m import Y4mReader

    src = tmp_path / "in.y4m"
    _y4m_from_video(shared / "data" / "video" / "bigbuckbunny.mp4", src, 3, (64, 36), fmt)
    dst = tmp_path / "out.y4m"
    _run([native["host"], "-m", ESPCN, "-i", src, "-o", dst, "--threads", "2"])
    model = pysr.load(ESPCN)
    colour = Colour("bt601", "limited")  # what pysr assumes for an untagged stream under 720 lines
    sub = (2, 2) if fmt == "yuv420p" else (1, 1)
    with src.open("rb") as f_in, dst.open("rb") as f_out:
        got_reader = Y4mReader(f_out)
        assert (got_reader.header.width, got_reader.header.height) == (256, 144)
        got = list(got_reader)
        want = []
        for y, u, v in Y4mReader(f_in):
            hr = pysr.run(yuv_to_rgb(y, u, v, colour), model=model)
            want.append(rgb_to_yuv(hr, colour, sub))
    assert len(got) == len(want) == 3
    for i, (g, w) in enumerate(zip(got, want)):
        for name, a, b in zip("YUV", g, w):
            d = np.abs(a.astype(int) - b.astype(int))
            # ±1 where the RGB frame itself differed by 1 (see test_rgb_frame_matches_pysr_run)
            assert d.max() <= 1 and (d > 0).mean() <= 2e-3, f"frame {i} {name}: {(d > 0).sum()} of {d.size} differ"


# ---- (f) one model, sessions on 4 threads ---------------------------------------------------------------


def test_sessions_on_threads_match_sequential_runs(native, tiny_models):
    for path in (ESPCN, tiny_models["rgb_x3"]):
        res = _run([native["threads_test"], path, "4", "37", "29"], timeout=120)
        assert res.stdout.strip() == "ok"


def test_pkg_config_file(native, tmp_path):
    """pysr.pc of the install (in a temporary prefix: it finds the prefix from its own folder) builds and links a C
    program that runs."""
    pc = (native["lib"].parent / "pkgconfig" / "pysr.pc").read_text()
    assert f"Version: {VERSION}" in pc and "-lpysr" in pc
    assert (native["prefix"] / "include" / "pysr.h").exists()
    cc = next((c for c in (os.environ.get("CC"), "cc", "gcc", "clang") if c and shutil.which(c)), None)
    if not shutil.which("pkg-config") or not cc:
        pytest.skip("pkg-config or a C compiler is missing")
    env = {**os.environ, "PKG_CONFIG_PATH": str(native["lib"].parent / "pkgconfig")}
    flags = _run(["pkg-config", "--cflags", "--libs", "pysr"], env=env).stdout.split()
    app = tmp_path / "app.c"
    app.write_text('#include <pysr.h>\n#include <stdio.h>\n'
                   'int main(void) { printf("%s %d\\n", pysr_version(), PYSR_API_VERSION); return 0; }\n')
    rpath = f"-Wl,-rpath,{native['lib'].parent}"
    _run([cc, "-std=c99", "-Wall", "-Werror", app, *flags, rpath, "-o", tmp_path / "app"])
    assert _run([tmp_path / "app"]).stdout.split() == [VERSION, "3"]


def test_soname_carries_major_and_minor_while_major_is_0(native):
    """0.x: any minor release may change the ABI, so the soname is libpysr.so.MAJOR.MINOR."""
    major, minor, _ = VERSION.split(".")
    soname = f"libpysr.so.{major}.{minor}" if major == "0" else f"libpysr.so.{major}"
    lib = native["lib"]
    assert os.readlink(lib) == soname and (lib.parent / soname).resolve().name == f"libpysr.so.{VERSION}"
    if shutil.which("readelf"):
        assert f"[{soname}]" in _run(["readelf", "-d", lib]).stdout
        assert f"[{soname}]" in _run(["readelf", "-d", native["host"]]).stdout    # what the host asks the loader for
