"""libpysr's own passes and planner (csrc/passes.cpp, csrc/plan.cpp), seen through pysr._native.plan_info (the fused
graph's nodes, the plan's steps and slot sizes) and run through the C API on the build of tests/test_native_lib.py:

  batch_norm folding: conv → batch_norm (with bias or not, groups, an activation after, two in a row) folds into the
  conv, exactly where Python's fold_batchnorm_into_conv does (not after a conv with an epilogue, not when the conv's
  output has another reader); the result equals the Python cpu backend and the float64 reference of the unfused graph.
  The planner: slot sizes equal pysr/graph/memory.py's (largest first, channel views) on the same fused graph; split
  and concat steps are skipped where their values are channel views (batch 1) and kept where not; the output equals
  the Python cpu backend's.
"""

from __future__ import annotations

import numpy as np
import pytest
import test_native_lib as native_lib
from test_native_lib import ESPCN, fedsr_model, sofvsr_model

import pysr
from pysr.graph.graph import Graph, Node, run_reference
from pysr.runtime.plan import compile_graph

_native = pytest.importorskip("pysr._native", reason="pysr._native is not built (no C++ compiler at install time)")
if not hasattr(_native, "plan_info"):
    pytest.skip("pysr._native predates plan_info: reinstall (pip install -e .)", allow_module_level=True)

Y_FACTS = {"architecture": "test_plan", "scale": 2, "input_range": [0.0, 1.0], "receptive_field": 6,
           "temporal": "single", "licence": "MIT", "provenance": {"source": "test"}}


def y_model(nodes, params, outputs=("y",)) -> pysr.Model:
    import pysr.models.colour

    facts = {**Y_FACTS, "colour": dict(pysr.models.colour.DEFAULT_Y_COLOUR)}
    return pysr.Model(Graph({"x": 1}, list(outputs), nodes, params), facts)


def file_bytes(model: pysr.Model, tmp_path) -> bytes:
    path = tmp_path / "model.pysr"
    model.save(path)
    return path.read_bytes()


def run_c_api(lib, data: bytes, x: np.ndarray, out_shape) -> np.ndarray:
    m = lib.load(data)
    try:
        s = lib.session(m, x.shape[3], x.shape[2], threads=2, batch=x.shape[0])
        try:
            return lib.run_float(s, x, out_shape)
        finally:
            lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)


# ---- batch_norm folding ----------------------------------------------------------------------------------------


def bn_fold_model(seed=3) -> pysr.Model:
    """Y ×2. c1 → bn1 → relu; c2 (groups 3, no bias) → bn2; c3 (relu epilogue) → bn3 (stays); c4 (1×1) → bn4 → bn5
    (folds twice); c6 → bn6 with c6 also read by an add (stays); → add → pixel_shuffle ×2."""
    rng = np.random.default_rng(seed)
    params, nodes = {}, []

    def conv(name, x, cin, cout, k, groups=1, bias=True, **attrs):
        p, slots = native_lib._conv(rng, name, cin, cout, k, groups, bias)
        params.update(p)
        nodes.append(Node("conv2d", name, [x], [name], slots, {"padding": [k // 2, k // 2], "groups": groups, **attrs}))

    def bn(name, x, c, eps=1e-5):
        for key, lo, hi in (("weight", 0.5, 1.5), ("bias", -0.3, 0.3), ("mean", -0.3, 0.3), ("var", 0.2, 2.0)):
            params[f"{name}.{key}"] = rng.uniform(lo, hi, c).astype(np.float32)
        slots = {k: f"{name}.{k}" for k in ("weight", "bias", "mean", "var")}
        nodes.append(Node("batch_norm", name, [x], [name], slots, {"eps": eps}))

    conv("c1", "x", 1, 6, 3)
    bn("bn1", "c1", 6, eps=1e-3)
    nodes.append(Node("activation", "a1", ["bn1"], ["a1"], {}, {"kind": "relu"}))
    conv("c2", "a1", 6, 6, 3, groups=3, bias=False)
    bn("bn2", "c2", 6)
    conv("c3", "bn2", 6, 4, 3, activation="relu")
    bn("bn3", "c3", 4)
    conv("c4", "bn3", 4, 4, 1)
    bn("bn4", "c4", 4)
    bn("bn5", "bn4", 4)
    conv("c6", "x", 1, 4, 3)
    bn("bn6", "c6", 4)
    nodes.append(Node("add", "t", ["bn6", "c6"], ["t"], {}, {}))
    nodes.append(Node("add", "sum", ["t", "bn5"], ["s"], {}, {}))
    nodes.append(Node("pixel_shuffle", "ps", ["s"], ["y"], {}, {"scale": 2}))
    return y_model(nodes, params)


def test_batch_norm_after_a_plain_conv_is_folded(tmp_path):
    data = file_bytes(bn_fold_model(), tmp_path)
    info = _native.plan_info(data, [(1, 1, 9, 7)])
    # A folded conv keeps its name in its batch_norm's place (then c1 takes a1's relu; c4 folds bn4 and bn5, then
    # takes the add `sum` as its residual). bn3 follows a conv with an epilogue and c6 has a second reader: they
    # stay batch_norms (Python makes them 1×1 depthwise convs, and bn6 then fuses with the add `t`).
    assert info["nodes"] == [("c1", "conv2d"), ("c2", "conv2d"), ("c3", "conv2d"), ("bn3", "batch_norm"),
                             ("c6", "conv2d"), ("bn6", "batch_norm"), ("t", "add"), ("c4", "conv2d"),
                             ("ps", "pixel_shuffle")]
    assert info["steps"] == info["nodes"]


@pytest.mark.parametrize("shape", [(1, 1, 9, 7), (2, 1, 5, 6), (1, 1, 1, 1)])
def test_folded_graph_matches_cpu_backend_and_reference(lib, tmp_path, shape):
    model = bn_fold_model()
    x = np.random.default_rng(sum(shape)).uniform(0, 1, shape).astype(np.float32)
    got = run_c_api(lib, file_bytes(model, tmp_path), x, (shape[0], 1, 2 * shape[2], 2 * shape[3]))
    cpu = model.plan("cpu", shape).run(x)[0]
    ref = run_reference(model.graph, {"x": x.astype(np.float64)})[0]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, cpu, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)


# ---- the planner -----------------------------------------------------------------------------------------------


def views_model(seed=4, outputs=("y",)) -> pysr.Model:
    """Y ×2 around tests/test_runtime.py's view graph: split outputs as views; a concat taking a view (copied), a
    value it takes twice (copied), the graph input (copied), a nested concat (in place); one taking only values that
    nodes write (no step at all)."""
    rng = np.random.default_rng(seed)
    params, nodes = {}, []

    def conv(name, x, cin, cout, k, **attrs):
        p, slots = native_lib._conv(rng, name, cin, cout, k)
        params.update(p)
        nodes.append(Node("conv2d", name, [x], [name], slots, {"padding": [k // 2, k // 2], **attrs}))

    def affine(name, x, scale, shift=0.0):
        nodes.append(Node("affine", name, [x], [name], {}, {"scale": scale, "shift": shift}))

    conv("c0", "x", 1, 5, 3, activation="tanh")
    nodes.append(Node("split", "sp", ["c0"], ["a", "b"], {}, {"sizes": [2, 3]}))
    conv("c", "a", 2, 4, 3, activation="relu")
    affine("d", "b", 2.0, 0.5)
    nodes.append(Node("concat", "inner", ["c", "b", "d"], ["inner"], {}, {}))
    affine("e", "c", -1.0)
    affine("d2", "d", 0.5)
    nodes.append(Node("concat", "outer", ["x", "inner", "e", "e", "d2"], ["outer"], {}, {}))
    nodes.append(Node("add", "s", ["outer", "outer"], ["s"], {}, {}))
    conv("p", "x", 1, 2, 3)
    affine("q", "c0", 0.25)
    nodes.append(Node("concat", "tail", ["s", "p", "q"], ["tail"], {}, {}))
    conv("head", "tail", 29, 4, 3)
    nodes.append(Node("pixel_shuffle", "ps", ["head"], ["y"], {}, {"scale": 2}))
    return y_model(nodes, params, outputs)


@pytest.mark.parametrize("outputs", [("y",), ("y", "d")])
def test_split_and_concat_steps_are_skipped_where_values_are_views(tmp_path, outputs):
    data = file_bytes(views_model(outputs=outputs), tmp_path)
    one = [name for name, _ in _native.plan_info(data, [(1, 1, 6, 5)])["steps"]]
    two = [name for name, _ in _native.plan_info(data, [(2, 1, 6, 5)])["steps"]]
    assert "sp" not in one and "tail" not in one        # split outputs are views; tail's inputs are all in place
    assert "inner" in one and "outer" in one            # b is a view already, x a graph input, e taken twice
    assert {"sp", "inner", "outer", "tail"} <= set(two)  # batch 2: no views


@pytest.mark.parametrize("make, shape", [
    (views_model, (1, 1, 6, 5)), (views_model, (2, 1, 3, 4)), (lambda: views_model(outputs=("y", "d")), (1, 1, 6, 5)),
    (lambda: pysr.load(ESPCN), (1, 1, 27, 48)), (lambda: fedsr_model(4, 1), (1, 1, 13, 9)),
    (sofvsr_model, (1, 3, 12, 16)),
])
def test_slots_are_pythons(tmp_path, make, shape):
    """Largest first and channel views give the slot sizes of pysr/graph/memory.py on the same fused graph (graphs
    without a batch_norm that stays one natively: Python makes it a conv, which may then fuse further)."""
    model = make()
    info = _native.plan_info(file_bytes(model, tmp_path), [shape])
    name = next(iter(model.graph.inputs))
    py = compile_graph(model.graph, "cpu", {name: shape})
    assert [b // 4 for b in info["slot_bytes"]] == list(py.slot_sizes)
    assert info["arena_bytes"] == 4 * sum(py.slot_sizes)
    assert [n for n, _ in info["steps"]] == [s.name for s in py.steps]


@pytest.mark.parametrize("shape", [(1, 1, 6, 5), (2, 1, 3, 4), (1, 1, 1, 1)])
def test_views_model_matches_cpu_backend(lib, tmp_path, shape):
    model = views_model()
    x = np.random.default_rng(sum(shape)).uniform(-1, 1, shape).astype(np.float32)
    data = file_bytes(model, tmp_path)
    out_shape = (shape[0], 1, 2 * shape[2], 2 * shape[3])
    got = run_c_api(lib, data, x, out_shape)
    cpu = model.plan("cpu", shape).run(x)[0]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, cpu, atol=1e-5, rtol=0)
    assert np.array_equal(got, run_c_api(lib, data, x, out_shape))


def test_sofvsr_window_matches_cpu_backend(lib, tmp_path):
    """The concats and splits of SOF-VSR in place: the network's output on one stacked window, through the C API's
    frame entry points, equals the cpu backend's."""
    model = sofvsr_model()
    frames = np.random.default_rng(8).uniform(0, 1, (1, 3, 12, 16)).astype(np.float32)
    cpu = model.plan("cpu", frames.shape).run(frames)[0]
    m = lib.load(file_bytes(model, tmp_path))
    try:
        s = lib.session(m, 16, 12, threads=2)
        out = np.full((1, 1, 24, 32), np.nan, np.float32)
        # window(1): output 0 (frames 1, 0, 1: the start reflects) is ready once frame 1 is in, output 1 (frames
        # 0, 1, 2) once frame 2 is
        planes = [np.ascontiguousarray(frames[:, t : t + 1]) for t in range(3)]
        for t in range(3):
            assert lib.c.pysr_session_send_float(s, planes[t].ctypes.data) == 0, lib.error()
            if t:
                assert lib.c.pysr_session_receive_float(s, out.ctypes.data) == 0, lib.error()
        lib.c.pysr_session_free(s)
    finally:
        lib.c.pysr_model_free(m)
    np.testing.assert_allclose(out, cpu, atol=1e-5, rtol=0)
