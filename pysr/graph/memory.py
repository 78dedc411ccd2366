"""Buffer reuse: assign every intermediate value to a slot so that values alive at the same time never
share one. A value is alive from the node that writes it to its last reader (both included); values are placed
largest first, each into the smallest slot that holds nothing alive at the same time, or a new slot of its size.
Graph inputs are the caller's and graph outputs are handed to the caller (the runtime allocates them per run), so
neither takes a slot.

Channel views (`channel_views`): with batch 1 a range of channels is one contiguous run of memory, so a split's
outputs can be views of its input, and a concat's inputs can be written by their producers straight into their
range of the concat's output, instead of being copied there. A value that is such a view takes no slot; its root
(the base of its base …) is live from the first node that writes any value inside it to the last node that
reads any.
"""

from __future__ import annotations

import math

from pysr.graph.graph import Graph, Shape


def channel_views(graph: Graph, shapes: dict[str, Shape]) -> dict[str, tuple[str, int]]:
    """value -> (base value, first channel) for the values that can live in a channel range of another's buffer:
    every output of a split (unless one is a graph output), and every concat input that a node of the graph
    writes, that is no graph output and no view already, and that the concat takes once."""
    produced = {v for node in graph.nodes for v in node.outputs}
    outputs = set(graph.outputs)
    views: dict[str, tuple[str, int]] = {}
    for node in graph.nodes:
        if node.op not in ("split", "concat") or shapes[node.outputs[0]][0] != 1:
            continue
        c = 0
        if node.op == "split" and not outputs & set(node.outputs):
            for v in node.outputs:
                views[v] = (node.inputs[0], c)
                c += shapes[v][1]
        elif node.op == "concat":
            for v in node.inputs:
                if v in produced and v not in outputs and v not in views and node.inputs.count(v) == 1:
                    views[v] = (node.outputs[0], c)
                c += shapes[v][1]
    return views


def plan_buffers(graph: Graph, shapes: dict[str, Shape],
                 views: dict[str, tuple[str, int]] | None = None) -> tuple[dict[str, int], list[int]]:
    """Returns (value -> slot index, slot sizes in elements); values in `views` get no slot (their root has one,
    or is a graph input or output)."""
    views = views or {}

    def root(v: str) -> str:
        while v in views:
            v = views[v][0]
        return v

    external = set(graph.inputs) | set(graph.outputs)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for v in map(root, node.outputs):
            first.setdefault(v, i)
        for v in map(root, node.inputs + node.outputs):
            last[v] = i
    # Largest values first, each into the smallest slot none of whose values is alive at the same time (so a slot
    # never has to grow): the interval-colouring heuristic of TFLite's "greedy by size".
    order = sorted((v for v in first if v not in external), key=lambda v: (-math.prod(shapes[v]), first[v]))
    slot_of: dict[str, int] = {}
    sizes: list[int] = []
    members: list[list[str]] = []
    for v in order:
        fits = [s for s in range(len(sizes))
                if all(last[u] < first[v] or last[v] < first[u] for u in members[s])]
        if fits:
            slot = min(fits, key=lambda s: sizes[s])
        else:
            slot = len(sizes)
            sizes.append(math.prod(shapes[v]))
            members.append([])
        members[slot].append(v)
        slot_of[v] = slot
    return slot_of, sizes
