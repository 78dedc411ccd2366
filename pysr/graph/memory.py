"""Buffer reuse: assign every intermediate value to a slot so that values alive at the same time never
share one. Greedy in execution order: a node's outputs take the smallest free slot that fits (or grow the
largest free one, or open a new one); a value's slot is freed after its last reader runs. Graph inputs
are the caller's and graph outputs are handed to the caller (the runtime allocates them per run), so neither
takes a slot.
"""

from __future__ import annotations

import math

from pysr.graph.graph import Graph, Shape


def plan_buffers(graph: Graph, shapes: dict[str, Shape]) -> tuple[dict[str, int], list[int]]:
    """Returns (value -> slot index, slot sizes in elements)."""
    last_use: dict[str, int] = {}
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            last_use[v] = i
    external = set(graph.inputs) | set(graph.outputs)
    slot_of: dict[str, int] = {}
    sizes: list[int] = []
    free: list[int] = []
    for i, node in enumerate(graph.nodes):
        for v in node.outputs:
            if v in external:
                continue
            need = math.prod(shapes[v])
            fitting = [s for s in free if sizes[s] >= need]
            if fitting:
                slot = min(fitting, key=lambda s: sizes[s])
            elif free:
                slot = max(free, key=lambda s: sizes[s])
                sizes[slot] = need
            else:
                slot = len(sizes)
                sizes.append(need)
            if slot in free:
                free.remove(slot)
            slot_of[v] = slot
            if last_use.get(v, -1) < i:  # never read: free right after the node
                last_use[v] = i
        for v in set(node.inputs) | set(node.outputs):
            if v in slot_of and last_use.get(v) == i:
                free.append(slot_of[v])
    return slot_of, sizes
