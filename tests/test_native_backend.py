"""The `native` backend (pysr/backends/native.py over the module pysr._native): whole models against the
`cpu` backend and the golden ESPCN outputs, the op table against OpType, typed errors for bad calls, and a
clear BackendError when the module is missing. Op by op it is checked by tests/test_ops.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import pysr
from pysr import backends
from pysr.errors import BackendError, GraphError, ShapeError, UnsupportedError
from pysr.ops import OpType

SHIPPED = ["espcn_x2", "espcn_x3", "espcn_x4"]
CHECKPOINTS = {"x3_yjn870": "espcn_x3_yjn870/espcn_x3.pth", "x4_egvsr": "espcn_x4_egvsr/espcn_x4_subconv_100.pth"}


@pytest.fixture(scope="module")
def native():
    why = backends.available()["native"]
    if why != "ok":
        # CI's machine has a compiler: there a missing module is a broken build, not a reason to skip
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(f"native backend unavailable: {why}")
    return backends.get("native")


def frame(h, w, seed=0) -> np.ndarray:
    """Smooth content with noise: the values a real frame has, not only saturated extremes."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 90 * np.sin(yy[..., None] / 4.0 + xx[..., None] / 7.0 + np.arange(3))
    return np.clip(base + np.random.default_rng(seed).normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def assert_planes_close(got, want, what, atol=1e-5):
    err = np.abs(np.asarray(got, np.float64) - want)
    assert np.isfinite(got).all() and err.max() <= atol, \
        f"{what}: max abs err {err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}"


def assert_frames_close(got, want, what):
    # Both sides round x·255 half to even from float32 values that differ by ~1e-6 (summation order): a
    # rounding flips only within ~1e-4 of a .5, so at most ±1 and very rarely.
    diff = np.abs(got.astype(int) - want.astype(int))
    assert got.shape == want.shape and diff.max() <= 1 and (diff > 0).mean() <= 1e-3, \
        f"{what}: {(diff > 0).sum()} of {diff.size} differ (max {diff.max()})"


# ---- whole models ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_espcn_matches_cpu(native, name):
    model = pysr.load(name)
    x = np.random.default_rng(1).random((2, 1, 37, 53), dtype=np.float32)
    want = model.plan("cpu", x.shape).run(x)[0]
    plan = model.plan("native", x.shape)
    assert plan.backend is native
    assert_planes_close(plan.run(x)[0], want, f"{name} float plane")
    rgb = frame(37, 53)
    assert_frames_close(pysr.run(rgb, model=model, backend="native"), pysr.run(rgb, model=model), f"{name} RGB")


@pytest.fixture(scope="module")
def checkpoints():
    from conftest import SHARED

    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED} (data, weights and refs live there)")
    from pysr.models.convert import import_checkpoint

    refs = np.load(SHARED / "refs/espcn_set5.npz")
    return {k: import_checkpoint(SHARED / "weights" / p, "espcn") for k, p in CHECKPOINTS.items()}, refs


@pytest.mark.parametrize("key", list(CHECKPOINTS))
def test_espcn_checkpoints_match_cpu_and_golden(native, checkpoints, key):
    models, refs = checkpoints
    model = models[key]
    for image in ("baby", "butterfly"):
        lr_y = refs[f"{key}__{image}__lr_y"]
        y = pysr.run_y(lr_y, model=model, backend="native")
        assert_planes_close(y, refs[f"{key}__{image}__y_out_raw"], f"{key}/{image} against the golden output")
        assert_planes_close(y, pysr.run_y(lr_y, model=model, backend="cpu"), f"{key}/{image} against cpu")
    rgb = frame(37, 53, seed=2)
    assert_frames_close(pysr.run(rgb, model=model, backend="native"), pysr.run(rgb, model=model), f"{key} RGB")


def test_plan_runs_on_threads_at_once(native):
    """A Plan is re-entrant: native nodes called from several Python threads take turns on the pool."""
    model = pysr.load("espcn_x3")
    xs = [np.random.default_rng(s).random((1, 1, 29, 31), dtype=np.float32) for s in range(4)]
    plan = model.plan("native", xs[0].shape)
    want = [plan.run(x)[0] for x in xs]
    got = [None] * len(xs)

    def work(i):
        for _ in range(5):
            got[i] = plan.run(xs[i])[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_thread_count_setting(native):
    from pysr import _native

    before = native.threads()
    model = pysr.load("espcn_x2")
    x = np.random.default_rng(3).random((1, 1, 23, 19), dtype=np.float32)
    want = model.plan("cpu", x.shape).run(x)[0]
    try:
        for n in (1, 3):
            native.set_threads(n)
            assert native.threads() == n
            k = native.compile_node("activation", {"kind": "relu"}, {}, [(1, 2, 3, 4)], [(1, 2, 3, 4)])
            assert k.threads == n
            # a fresh model: its plans compile now, for the pool of n threads
            fresh = pysr.load("espcn_x2")
            assert_planes_close(fresh.plan("native", x.shape).run(x)[0], want, f"{n} threads")
        with pytest.raises(ValueError, match=">= 1"):
            _native.set_threads(0)
    finally:
        native.set_threads(before)


# ---- the op table and support --------------------------------------------------------------------------


def test_op_table_is_the_closed_op_list(native):
    from pysr import _native
    from pysr.backends.native import kernels

    for op in OpType:
        assert _native.is_known(op.value), f"{op.value}: missing from csrc/ops/registry.cpp"
        why = native.why_not(op.value, {}, [])
        if op.value not in kernels():
            assert "has no native kernel" in why, f"{op.value}: {why!r}"
    assert not _native.is_known("conv3d") and not _native.has_kernel("conv3d")
    assert {"conv2d", "activation", "pixel_shuffle"} <= set(kernels())
    assert _native.version == "0.3.0" and _native.isa() in ("generic", "avx2", "avx512")


def test_attributes_the_op_refuses_are_unsupported(native):
    attrs = {"kind": "relu", "colour": "blue"}
    assert not native.supports("activation", attrs, [(1, 1, 2, 2)])
    assert "unknown attribute 'colour'" in native.why_not("activation", attrs, [(1, 1, 2, 2)])
    with pytest.raises(UnsupportedError, match="native backend cannot run activation: .*colour"):
        native.compile_node("activation", attrs, {}, [(1, 1, 2, 2)], [(1, 1, 2, 2)])
    assert not native.supports("activation", {"kind": "clamp", "lo": float("nan")}, [(1, 1, 2, 2)])


# ---- bad calls -------------------------------------------------------------------------------------------


@pytest.fixture
def conv(native):
    rng = np.random.default_rng(4)
    params = {"weight": rng.random((4, 3, 3, 3), dtype=np.float32), "bias": rng.random(4, dtype=np.float32)}
    attrs = {"padding": [1, 1], "activation": "relu"}
    return native.compile_node("conv2d", attrs, params, [(1, 3, 7, 9)], [(1, 4, 7, 9)])


@pytest.mark.parametrize("make, match", [
    (lambda: ([np.zeros((1, 3, 7, 9))], [np.zeros((1, 4, 7, 9), np.float32)]), "input 0 must be float32, got float64"),
    (lambda: ([np.zeros((1, 3, 9, 7), np.float32)], [np.zeros((1, 4, 7, 9), np.float32)]),
     r"input 0 must have shape \(1, 3, 7, 9\), got \(1, 3, 9, 7\)"),
    (lambda: ([np.zeros((1, 3, 7, 9), np.float32)], [np.zeros((1, 4, 9, 7), np.float32).transpose(0, 1, 3, 2)]),
     "output 0 must be C-contiguous"),
    (lambda: ([np.zeros((1, 3, 7, 9), np.float32)], [np.zeros((1, 4, 7, 9), np.float32)] * 2),
     r"called with 1 input\(s\) and 2 output\(s\), compiled for 1 and 1"),
    (lambda: ([[0.0] * 9], [np.zeros((1, 4, 7, 9), np.float32)]), "input 0 must be a numpy.ndarray, got list"),
])
def test_bad_call_raises_shape_error(conv, make, match):
    inputs, outputs = make()
    with pytest.raises(ShapeError, match=f"native conv2d: {match}"):
        conv(inputs, outputs)


def test_read_only_output_and_a_good_call(conv):
    x = np.ones((1, 3, 7, 9), np.float32)
    y = np.zeros((1, 4, 7, 9), np.float32)
    y.flags.writeable = False
    with pytest.raises(ShapeError, match="output 0 must be writeable"):
        conv([x], [y])
    y = np.full((1, 4, 7, 9), np.nan, np.float32)
    conv([x], [y])
    assert np.isfinite(y).all() and (y >= 0).all()


def test_compile_errors_are_typed(native):
    w = {"weight": np.zeros((4, 3, 3, 3), np.float32)}
    with pytest.raises(ShapeError, match=r"shape rule gives outputs \[\(1, 4, 5, 7\)\].*planned \[\(1, 4, 7, 9\)\]"):
        native.compile_node("conv2d", {}, w, [(1, 3, 7, 9)], [(1, 4, 7, 9)])
    with pytest.raises(ShapeError, match="weight expects 3 input channels"):  # the library's own message
        native.compile_node("conv2d", {}, w, [(1, 5, 7, 9)], [(1, 4, 5, 7)])
    with pytest.raises(GraphError, match=r"unknown parameter slot 'kernel'; the op takes \[weight, bias, slope\]"):
        native.compile_node("conv2d", {}, {"kernel": w["weight"]}, [(1, 3, 7, 9)], [(1, 4, 5, 7)])
    with pytest.raises(GraphError, match="required parameter slot 'weight' is not bound"):
        native.compile_node("conv2d", {}, {}, [(1, 3, 7, 9)], [(1, 4, 5, 7)])
    with pytest.raises(ShapeError, match=r"expects 1 input\(s\), got 2"):
        native.compile_node("activation", {"kind": "relu"}, {}, [(1, 1, 2, 2)] * 2, [(1, 1, 2, 2)])
    with pytest.raises(ShapeError, match="must be NCHW"):
        native.compile_node("activation", {"kind": "relu"}, {}, [(1, 2, 2)], [(1, 2, 2)])


# ---- without the module --------------------------------------------------------------------------------


def test_missing_module_is_a_clear_backend_error():
    """As on a machine where `pip install .` had no compiler: import pysr works, cpu runs, native says why."""
    code = """
import sys
sys.modules["pysr._native"] = None  # `import pysr._native` now raises ImportError
import json, numpy as np, pysr
from pysr import backends
from pysr.errors import BackendError
try:
    backends.get("native")
    err = None
except BackendError as e:
    err = str(e)
out = pysr.run(np.zeros((5, 6, 3), np.uint8), model=pysr.load("espcn_x2"))
print(json.dumps({"err": err, "avail": backends.available()["native"], "shape": list(out.shape)}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["shape"] == [10, 12, 3]
    assert got["err"].startswith("backend 'native' cannot run here: the module pysr._native is not importable")
    assert "pip install ." in got["err"] and got["avail"] in got["err"]
    assert issubclass(BackendError, pysr.errors.PysrError)
