"""The runtime: plans match the float64 reference end to end, are re-entrant, and refuse bad shapes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import pysr
from pysr.errors import BackendError, ShapeError
from pysr.graph.graph import run_reference
from pysr.models import espcn
from pysr.models.convert import facts_for
from pysr.runtime.plan import compile_graph


def tiny(scale=3, output_activation="none"):
    cfg = espcn.EspcnConfig(scale=scale, channels=(12, 7), kernels=(5, 3, 3), output_activation=output_activation)
    return pysr.Model(espcn.build(cfg, espcn.init_params(cfg, seed=scale)), facts_for("espcn", cfg, {}, "MIT"))


@pytest.mark.parametrize("scale,out_act", [(2, "none"), (3, "sigmoid"), (4, "none")])
def test_plan_matches_reference(scale, out_act):
    m = tiny(scale, out_act)
    x = np.random.default_rng(1).uniform(0, 1, (2, 1, 11, 9)).astype(np.float32)
    plan = compile_graph(m.graph, "cpu", {"lr": x.shape})
    assert [s.op for s in plan.steps] == ["conv2d"] * 3  # activations and the shuffle fused
    got = plan.run(x)[0]
    ref = run_reference(m.graph, {"lr": x.astype(np.float64)})[0]
    np.testing.assert_allclose(got, ref, atol=2e-6, rtol=1e-5)
    assert len(plan.slot_sizes) <= 2


def test_rgb_wrapper_matches_reference():
    from pysr.models.colour import wrap_rgb

    m = tiny(2)
    rgb = np.random.default_rng(2).uniform(0, 1, (1, 3, 9, 6)).astype(np.float32)
    got = m.plan("cpu", rgb.shape, rgb=True).run(rgb)[0]
    ref = run_reference(wrap_rgb(m.graph, m.facts), {"rgb": rgb.astype(np.float64)})[0]
    np.testing.assert_allclose(got, ref, atol=3e-6)
    assert got.min() >= 0 and got.max() <= 1


def test_plan_is_reentrant():
    m = tiny(3)
    rng = np.random.default_rng(3)
    xs = [rng.uniform(0, 1, (1, 1, 16, 16)).astype(np.float32) for _ in range(4)]
    plan = m.plan("cpu", xs[0].shape)
    want = [plan.run(x)[0] for x in xs]
    got = [None] * 4

    def work(i):
        runs = [plan.run(xs[i])[0] for _ in range(5)]
        got[i] = runs if all(np.array_equal(r, runs[0]) for r in runs) else None

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        assert g is not None, "a thread saw different results for the same input"
        np.testing.assert_array_equal(g[0], w)


def test_outputs_are_the_callers_and_out_is_filled_in_place():
    m = tiny(2)
    rng = np.random.default_rng(4)
    x1, x2 = (rng.uniform(0, 1, (1, 1, 10, 12)).astype(np.float32) for _ in range(2))
    plan = m.plan("cpu", x1.shape)
    y1 = plan.run(x1)[0]
    keep = y1.copy()
    y2 = plan.run(x2)[0]
    np.testing.assert_array_equal(y1, keep)            # a later run never writes into an earlier result
    assert not np.shares_memory(y1, y2)
    out = np.full((1, 1, 20, 24), np.nan, np.float32)
    (got,) = plan.run(x1, out=[out])
    assert got is out
    np.testing.assert_array_equal(out, keep)
    with pytest.raises(ShapeError, match="must be a writeable C-contiguous float32"):
        plan.run(x1, out=[np.zeros((1, 1, 20, 24), np.float64)])
    with pytest.raises(ShapeError, match="out holds 2 arrays"):
        plan.run(x1, out=[out, out])


def test_shape_errors_are_clear():
    m = tiny(2)
    plan = m.plan("cpu", (1, 1, 8, 8))
    with pytest.raises(ShapeError, match=r"compiled for \(1, 1, 8, 8\)"):
        plan.run(np.zeros((1, 1, 9, 8), np.float32))
    with pytest.raises(ShapeError, match=r"must be \(N, 1, H, W\)"):
        compile_graph(m.graph, "cpu", {"lr": (1, 3, 8, 8)})
    with pytest.raises(ShapeError, match="conv1"):
        g = m.graph.copy()
        g.params["conv1.weight"] = np.zeros((12, 2, 5, 5), np.float32)
        g.infer_shapes({"lr": (1, 1, 8, 8)})


def test_unknown_backend():
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        tiny().plan("tpu", (1, 1, 8, 8))


def test_split_and_concat_become_views_with_batch_one():
    """Batch 1: split outputs are views of the input and concat inputs are written in place (nested concats
    too); what cannot be placed (a graph input, a view, a value taken twice, a graph output) is still copied."""
    from pysr.graph.graph import Graph, Node

    nodes = [
        Node("split", "split", ["x"], ["a", "b"], {}, {"sizes": (2, 3)}),
        Node("conv2d", "conv", ["a"], ["c"], {"weight": "w"}, {"padding": (1, 1), "activation": "relu"}),
        Node("affine", "twice", ["b"], ["d"], {}, {"scale": 2.0, "shift": 0.5}),
        Node("concat", "inner", ["c", "b", "d"], ["inner"], {}, {}),
        Node("affine", "neg", ["c"], ["e"], {}, {"scale": -1.0, "shift": 0.0}),
        Node("concat", "outer", ["x", "inner", "e", "e", "d2"], ["outer"], {}, {}),
        Node("affine", "d2", ["d"], ["d2"], {}, {"scale": 0.5, "shift": 0.0}),
        Node("add", "sum", ["outer", "outer"], ["y"], {}, {}),
    ]
    nodes[5], nodes[6] = nodes[6], nodes[5]           # d2 before the concat that reads it
    w = np.random.default_rng(5).standard_normal((4, 2, 3, 3)).astype(np.float32)
    g = Graph({"x": 5}, ["y", "d"], nodes, {"w": w})
    for n in (1, 2):
        x = np.random.default_rng(6).uniform(-1, 1, (n, 5, 7, 9)).astype(np.float32)
        plan = compile_graph(g, "cpu", {"x": x.shape})
        for got, want in zip(plan.run(x), run_reference(g, {"x": x.astype(np.float64)})):
            np.testing.assert_allclose(got, want, atol=2e-6, rtol=1e-5)
        views = {v: (base, c) for v, base, c in plan.views}
        if n == 1:
            assert views == {"a": ("x", 0), "b": ("x", 2), "c": ("inner", 0), "inner": ("outer", 5),
                             "d2": ("outer", 23)}
            assert "split" not in [s.name for s in plan.steps]
        else:
            assert views == {} and "split" in [s.name for s in plan.steps]
