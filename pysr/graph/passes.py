"""Graph passes: each a named function Graph -> Graph (the input is never mutated), run in the order of
`PASSES` until nothing changes. Each is tested by running the graph before and after it on the float64
reference (tests/test_passes.py).
"""

from __future__ import annotations

import numpy as np

from pysr.graph.graph import Graph, Node
from pysr.ops import activation as act_spec
from pysr.ops.conv2d import ATTRS as CONV_ATTRS

# Epilogue stages of a conv2d, in the order the fused kernel applies them.
STAGE_ACT, STAGE_SHUFFLE, STAGE_RESIDUAL, STAGE_CLAMP = 1, 2, 3, 4


def conv_stage(attrs: dict) -> int:
    if attrs.get("clamp") is not None:
        return STAGE_CLAMP
    if attrs.get("residual"):
        return STAGE_RESIDUAL
    if attrs.get("pixel_shuffle"):
        return STAGE_SHUFFLE
    if attrs.get("activation", "none") != "none":
        return STAGE_ACT
    return 0


def _fuse_into_conv(graph: Graph, absorb) -> Graph:
    """For every conv2d whose single output feeds exactly one node (and is not a graph output), ask
    `absorb(g, conv, consumer, conv_out)` for the fused node (it may add parameters to the working graph
    g); the fused node takes the consumer's place (the conv's inputs are all defined earlier, so the
    order stays valid)."""
    g = graph.canonical()
    changed = True
    while changed:
        changed = False
        consumers = g.consumers()
        for i, conv in enumerate(g.nodes):
            if conv.op != "conv2d" or len(conv.outputs) != 1:
                continue
            out = conv.outputs[0]
            users = consumers.get(out, [])
            if out in g.outputs or len(users) != 1 or users.count(users[0]) != 1:
                continue
            j = users[0]
            consumer = g.nodes[j]
            if consumer.inputs.count(out) != 1:
                continue
            fused = absorb(g, conv, consumer, out)
            if fused is None:
                continue
            fused.outputs = list(consumer.outputs)
            g.nodes[j] = fused
            del g.nodes[i]
            changed = True
            break
    return g


def _with(conv: Node, extra_inputs=(), extra_params=None, **attrs) -> Node:
    a = {**CONV_ATTRS, **conv.attrs, **attrs}
    return Node("conv2d", conv.name, conv.inputs + list(extra_inputs), [], {**conv.params, **(extra_params or {})}, a)


def fold_batchnorm_into_conv(graph: Graph) -> Graph:
    """conv → batch_norm becomes one conv with scaled weights and shifted bias; a batch_norm that
    follows no plain conv becomes a 1×1 depthwise conv. New parameters get new names, so a conv
    weight shared with another node is never changed under it."""

    def bn_affine(g: Graph, bn: Node):
        p = g.node_params(bn)
        scale = p["weight"].astype(np.float64) / np.sqrt(p["var"].astype(np.float64) + bn.attrs["eps"])
        return scale, p["bias"].astype(np.float64) - p["mean"].astype(np.float64) * scale

    def absorb(g: Graph, conv: Node, bn: Node, out: str):
        if bn.op != "batch_norm" or conv_stage(conv.attrs) != 0:
            return None
        scale, shift = bn_affine(g, bn)
        w = g.params[conv.params["weight"]].astype(np.float64)
        b = g.params[conv.params["bias"]].astype(np.float64) if "bias" in conv.params else np.zeros(len(scale))
        wname, bname = f"{conv.name}.bn_folded.weight", f"{conv.name}.bn_folded.bias"
        dtype = g.params[conv.params["weight"]].dtype  # float32 in models; float64 keeps the tests exact
        g.params[wname] = (w * scale.reshape(-1, 1, 1, 1)).astype(dtype)
        g.params[bname] = (b * scale + shift).astype(dtype)
        return _with(conv, extra_params={"weight": wname, "bias": bname})

    g = _fuse_into_conv(graph, absorb)
    for k, node in enumerate(g.nodes):
        if node.op == "batch_norm":
            scale, shift = bn_affine(g, node)
            wname, bname = f"{node.name}.as_conv.weight", f"{node.name}.as_conv.bias"
            dtype = g.params[node.params["weight"]].dtype
            g.params[wname] = scale.reshape(-1, 1, 1, 1).astype(dtype)
            g.params[bname] = shift.astype(dtype)
            attrs = {**CONV_ATTRS, "groups": len(scale)}
            g.nodes[k] = Node("conv2d", node.name, node.inputs, node.outputs, {"weight": wname, "bias": bname}, attrs)
    return g


def fuse_conv_activation(graph: Graph) -> Graph:
    """conv → activation becomes the conv's activation epilogue. After a fused pixel shuffle only
    channel-uniform kinds fuse (prelu's per-channel slope does not commute with the shuffle)."""

    def absorb(g: Graph, conv: Node, node: Node, out: str):
        if node.op != "activation" or node.attrs["kind"] == "clamp":
            return None
        stage, kind = conv_stage(conv.attrs), node.attrs["kind"]
        post_shuffle_ok = (stage == STAGE_SHUFFLE and conv.attrs["activation"] == "none"
                           and kind in act_spec.UNIFORM_KINDS)
        if stage != 0 and not post_shuffle_ok:
            return None
        extra = {"slope": node.params["slope"]} if kind == "prelu" else None
        return _with(conv, extra_params=extra, activation=kind, alpha=node.attrs["alpha"])

    return _fuse_into_conv(graph, absorb)


def fuse_conv_pixel_shuffle(graph: Graph) -> Graph:
    """conv → pixel_shuffle: the conv writes each value straight to its shuffled place."""

    def absorb(g: Graph, conv: Node, node: Node, out: str):
        if node.op != "pixel_shuffle" or conv_stage(conv.attrs) > STAGE_ACT:
            return None
        return _with(conv, pixel_shuffle=node.attrs["scale"], ps_order=node.attrs["order"])

    return _fuse_into_conv(graph, absorb)


def fuse_conv_residual(graph: Graph) -> Graph:
    """add(r, conv, scale=s) and add(conv, r) (s = 1) become the conv's residual epilogue r + s·y."""

    def absorb(g: Graph, conv: Node, node: Node, out: str):
        if node.op != "add" or conv_stage(conv.attrs) > STAGE_SHUFFLE:
            return None
        a, b = node.inputs
        scale = float(node.attrs.get("scale", 1.0))
        if b == out:
            return _with(conv, [a], residual=True, residual_scale=scale)
        if a == out and scale == 1.0:
            return _with(conv, [b], residual=True, residual_scale=1.0)
        return None

    return _fuse_into_conv(graph, absorb)


def fuse_conv_clamp(graph: Graph) -> Graph:
    """conv → activation(clamp) becomes the conv's last epilogue stage."""

    def absorb(g: Graph, conv: Node, node: Node, out: str):
        if node.op != "activation" or node.attrs["kind"] != "clamp" or conv_stage(conv.attrs) == STAGE_CLAMP:
            return None
        return _with(conv, clamp=(float(node.attrs["lo"]), float(node.attrs["hi"])))

    return _fuse_into_conv(graph, absorb)


def eliminate_dead_nodes(graph: Graph) -> Graph:
    """Drop nodes none of whose outputs reach a graph output."""
    g = graph.canonical()
    live = set(g.outputs)
    keep = []
    for node in reversed(g.nodes):
        if any(v in live for v in node.outputs):
            keep.append(node)
            live.update(node.inputs)
    g.nodes = keep[::-1]
    return g


def eliminate_dead_params(graph: Graph) -> Graph:
    """Drop parameters no node refers to (e.g. the originals of folded weights, unused checkpoint parts)."""
    g = graph.canonical()
    used = {p for node in g.nodes for p in node.params.values()}
    g.params = {k: v for k, v in g.params.items() if k in used}
    return g


PASSES = [
    fold_batchnorm_into_conv,
    fuse_conv_activation,
    fuse_conv_pixel_shuffle,
    fuse_conv_residual,
    fuse_conv_clamp,
    eliminate_dead_nodes,
    eliminate_dead_params,
]


def optimize(graph: Graph, passes=None) -> Graph:
    """Run the passes in order, repeatedly, until the graph stops changing."""
    graph.validate()
    graph = graph.canonical()
    passes = PASSES if passes is None else passes
    for _ in range(32):
        before = _signature(graph)
        for p in passes:
            graph = p(graph)
            graph.validate()
        if _signature(graph) == before:
            break
    return graph


def _signature(graph: Graph):
    nodes = tuple((n.op, n.name, tuple(n.inputs), tuple(n.outputs), repr(sorted(n.attrs.items()))) for n in graph.nodes)
    return nodes, tuple(sorted(graph.params))
