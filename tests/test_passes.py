"""Each graph pass, run on small graphs: the float64 reference output before and after must agree,
and the pass must have done its job (node count / ops)."""

from __future__ import annotations

import numpy as np
import pytest

from pysr.graph.graph import Graph, Node, run_reference
from pysr.graph.memory import plan_buffers
from pysr.graph.passes import (
    eliminate_dead_nodes,
    eliminate_dead_params,
    fold_batchnorm_into_conv,
    fuse_conv_activation,
    fuse_conv_clamp,
    fuse_conv_pixel_shuffle,
    fuse_conv_residual,
    optimize,
)

RNG = np.random.default_rng(7)


def conv(name, x, cin, cout, k=3, out=None, **attrs):
    params = {f"{name}.weight": RNG.uniform(-1, 1, (cout, cin, k, k)) / np.sqrt(cin * k * k),
              f"{name}.bias": RNG.uniform(-1, 1, cout)}
    node = Node("conv2d", name, [x], [out or name], {"weight": f"{name}.weight", "bias": f"{name}.bias"},
                {"padding": (k // 2, k // 2), **attrs})
    return node, params


def bn(name, x, c, out=None):
    params = {f"{name}.w": RNG.uniform(0.5, 2, c), f"{name}.b": RNG.uniform(-1, 1, c),
              f"{name}.m": RNG.uniform(-1, 1, c), f"{name}.v": RNG.uniform(0.2, 3, c)}
    node = Node("batch_norm", name, [x], [out or name],
                {"weight": f"{name}.w", "bias": f"{name}.b", "mean": f"{name}.m", "var": f"{name}.v"}, {"eps": 1e-5})
    return node, params


def graph(nodes_params, inputs, outputs):
    nodes, params = [], {}
    for n, p in nodes_params:
        nodes.append(n)
        params.update(p)
    return Graph(inputs, outputs, nodes, params)


def check_same(before: Graph, after: Graph, shape=(2, 3, 9, 7)):
    ins = {k: RNG.uniform(-1, 1, (shape[0], c, *shape[2:])) for k, c in before.inputs.items()}
    ref = run_reference(before, ins)
    got = run_reference(after, ins)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, atol=1e-9, rtol=1e-9)


def ops(g: Graph):
    return [n.op for n in g.nodes]


def test_fold_batchnorm_into_conv():
    g = graph([conv("c", "x", 3, 5), bn("bn", "c", 5)], {"x": 3}, ["bn"])
    f = fold_batchnorm_into_conv(g)
    assert ops(f) == ["conv2d"]
    check_same(g, f)


def test_lone_batchnorm_becomes_depthwise_conv():
    g = graph([bn("bn", "x", 3)], {"x": 3}, ["bn"])
    f = fold_batchnorm_into_conv(g)
    assert ops(f) == ["conv2d"] and f.nodes[0].attrs["groups"] == 3
    assert f.params[f.nodes[0].params["weight"]].shape == (3, 1, 1, 1)
    check_same(g, f)


def test_batchnorm_after_shared_weight_leaves_other_conv_alone():
    c1, p = conv("c1", "x", 3, 3)
    c2 = Node("conv2d", "c2", ["x"], ["c2"], dict(c1.params), dict(c1.attrs))
    b, pb = bn("bn", "c1", 3)
    add = Node("add", "sum", ["bn", "c2"], ["y"], {}, {})
    g = Graph({"x": 3}, ["y"], [c1, c2, b, add], {**p, **pb})
    f = eliminate_dead_params(fold_batchnorm_into_conv(g))
    assert "batch_norm" not in ops(f)
    check_same(g, f)


def test_batchnorm_after_activated_conv_is_not_folded_into_it():
    c, p = conv("c", "x", 3, 4, activation="relu")
    g = graph([(c, p), bn("bn", "c", 4)], {"x": 3}, ["bn"])
    f = fold_batchnorm_into_conv(g)
    assert ops(f) == ["conv2d", "conv2d"] and f.nodes[1].attrs["groups"] == 4
    check_same(g, f)


@pytest.mark.parametrize("kind", ["relu", "leaky_relu", "prelu", "tanh", "sigmoid", "scaled_tanh"])
def test_fuse_conv_activation(kind):
    c, p = conv("c", "x", 3, 4)
    act = Node("activation", "a", ["c"], ["y"], {"slope": "s"} if kind == "prelu" else {},
               {"kind": kind, "alpha": 0.3})
    g = Graph({"x": 3}, ["y"], [c, act], {**p, "s": RNG.uniform(0, 1, 4)})
    f = fuse_conv_activation(g)
    assert ops(f) == ["conv2d"] and f.nodes[0].attrs["activation"] == kind
    check_same(g, f)


def test_conv_output_used_twice_is_not_fused():
    c, p = conv("c", "x", 3, 3)
    act = Node("activation", "a", ["c"], ["a"], {}, {"kind": "relu"})
    add = Node("add", "sum", ["a", "c"], ["y"], {}, {})
    g = Graph({"x": 3}, ["y"], [c, act, add], p)
    assert ops(optimize(g)) == ["conv2d", "activation", "add"]
    check_same(g, optimize(g))


@pytest.mark.parametrize("order", ["pytorch", "tf"])
def test_fuse_pixel_shuffle_then_uniform_activation(order):
    c, p = conv("c", "x", 3, 2 * 9)
    ps = Node("pixel_shuffle", "ps", ["c"], ["ps"], {}, {"scale": 3, "order": order})
    act = Node("activation", "a", ["ps"], ["y"], {}, {"kind": "sigmoid"})
    g = Graph({"x": 3}, ["y"], [c, ps, act], p)
    f = fuse_conv_activation(fuse_conv_pixel_shuffle(g))
    assert ops(f) == ["conv2d"]
    assert f.nodes[0].attrs["pixel_shuffle"] == 3 and f.nodes[0].attrs["activation"] == "sigmoid"
    check_same(g, f)


def test_prelu_after_pixel_shuffle_is_not_fused():
    c, p = conv("c", "x", 3, 2 * 4)
    ps = Node("pixel_shuffle", "ps", ["c"], ["ps"], {}, {"scale": 2})
    act = Node("activation", "a", ["ps"], ["y"], {"slope": "s"}, {"kind": "prelu"})
    g = Graph({"x": 3}, ["y"], [c, ps, act], {**p, "s": RNG.uniform(0, 1, 2)})
    f = optimize(g)
    assert ops(f) == ["conv2d", "activation"]
    check_same(g, f)


@pytest.mark.parametrize("conv_second", [True, False])
def test_fuse_conv_residual(conv_second):
    c1, p1 = conv("c1", "x", 3, 3, activation="relu")
    c2, p2 = conv("c2", "c1", 3, 3)
    inputs = ["x", "c2"] if conv_second else ["c2", "x"]
    add = Node("add", "sum", inputs, ["y"], {}, {"scale": 0.1 if conv_second else 1.0})
    g = graph([(c1, p1), (c2, p2), (add, {})], {"x": 3}, ["y"])
    f = fuse_conv_residual(g)
    assert ops(f) == ["conv2d", "conv2d"] and f.nodes[1].attrs["residual"]
    check_same(g, f)


def test_fuse_conv_clamp_and_full_pipeline():
    c1, p1 = conv("c1", "x", 3, 8)
    a1 = Node("activation", "a1", ["c1"], ["a1"], {}, {"kind": "tanh"})
    c2, p2 = conv("c2", "a1", 8, 3 * 4)
    ps = Node("pixel_shuffle", "ps", ["c2"], ["ps"], {}, {"scale": 2})
    up = Node("resize_bilinear", "up", ["x"], ["up"], {}, {"scale": 2})
    add = Node("add", "sum", ["up", "ps"], ["s"], {}, {})
    cl = Node("activation", "cl", ["s"], ["y"], {}, {"kind": "clamp", "lo": 0.0, "hi": 0.5})
    g = graph([(c1, p1), (a1, {}), (c2, p2), (ps, {}), (up, {}), (add, {}), (cl, {})], {"x": 3}, ["y"])
    f = optimize(g)
    assert ops(f) == ["conv2d", "resize_bilinear", "conv2d"]
    last = f.nodes[-1].attrs
    assert last["pixel_shuffle"] == 2 and last["residual"] and tuple(last["clamp"]) == (0.0, 0.5)
    check_same(g, f)
    assert ops(fuse_conv_clamp(Graph(g.inputs, ["c1"], [c1, Node("activation", "k", ["c1"], ["z"], {},
                                                                  {"kind": "clamp"})], p1))) == ["conv2d", "activation"]


def test_dead_nodes_and_params_removed():
    c1, p1 = conv("c1", "x", 3, 3)
    c2, p2 = conv("c2", "x", 3, 3)
    g = graph([(c1, p1), (c2, p2)], {"x": 3}, ["c1"])
    g.params["orphan"] = np.zeros(3)
    f = eliminate_dead_params(eliminate_dead_nodes(g))
    assert ops(f) == ["conv2d"] and set(f.params) == {"c1.weight", "c1.bias"}
    check_same(g, f)


def test_passes_do_not_mutate_their_input():
    g = graph([conv("c", "x", 3, 5), bn("bn", "c", 5)], {"x": 3}, ["bn"])
    before = [n.to_json() for n in g.nodes], sorted(g.params)
    optimize(g)
    assert ([n.to_json() for n in g.nodes], sorted(g.params)) == before


def test_buffer_reuse_never_shares_live_values():
    chain = [conv("c0", "x", 3, 4)]
    for i in range(1, 6):
        chain.append(conv(f"c{i}", f"c{i - 1}", 4, 4))
    skip = Node("add", "sum", ["c1", "c5"], ["y"], {}, {})
    g = graph(chain + [(skip, {})], {"x": 3}, ["y"])
    shapes = g.infer_shapes({"x": (1, 3, 8, 8)})
    slot_of, sizes = plan_buffers(g, shapes)
    assert len(sizes) < len(slot_of)  # something was reused
    # liveness by brute force: value v is live from its producer to its last reader
    prod = {v: i for i, n in enumerate(g.nodes) for v in n.outputs}
    last = {v: max([i for i, n in enumerate(g.nodes) if v in n.inputs] + [prod[v]]) for v in prod}
    assert set(slot_of) == set(prod) - set(g.outputs)  # graph outputs are the caller's, never in a slot
    for a in slot_of:
        for b in slot_of:
            if a < b and slot_of[a] == slot_of[b]:
                assert last[a] < prod[b] or last[b] < prod[a], f"{a} and {b} share slot {slot_of[a]} while live"
        assert sizes[slot_of[a]] >= np.prod(shapes[a])
