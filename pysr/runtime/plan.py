"""Compile a graph for one backend and one input size into a Plan; run it.

A Plan is immutable once built: kernels compiled per node (weights prepacked by the backend), value
shapes known, buffers assigned to slots (pysr/graph/memory.py). `Plan.run` allocates the slots on the
backend per call, so one Plan may run on several threads at once (the runtime is re-entrant).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from pysr import backends
from pysr.errors import ShapeError, UnsupportedError
from pysr.graph.graph import Graph, Shape
from pysr.graph.memory import plan_buffers
from pysr.graph.passes import optimize


@dataclass(frozen=True)
class Step:
    name: str
    op: str
    fn: object
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    backend: object
    graph: Graph
    shapes: dict[str, Shape]
    steps: tuple[Step, ...]
    slot_of: dict[str, int]
    slot_sizes: tuple[int, ...]

    @property
    def input_shapes(self) -> dict[str, Shape]:
        return {k: self.shapes[k] for k in self.graph.inputs}

    def run(self, inputs: dict[str, np.ndarray] | np.ndarray, timings: list | None = None) -> list[np.ndarray]:
        """Inputs as {name: NCHW array} (or one array for a one-input graph); returns host arrays.
        With `timings` (a list), appends (step name, op, seconds) per step (for profiling only)."""
        if not isinstance(inputs, dict):
            if len(self.graph.inputs) != 1:
                raise ShapeError(f"this graph has inputs {list(self.graph.inputs)}; pass a dict")
            inputs = {next(iter(self.graph.inputs)): inputs}
        be = self.backend
        values = {}
        for name, shape in self.input_shapes.items():
            if name not in inputs:
                raise ShapeError(f"missing input {name!r}")
            arr = inputs[name]
            if tuple(arr.shape) != shape:
                raise ShapeError(f"input {name!r} has shape {tuple(arr.shape)}, this plan was compiled for {shape}")
            values[name] = be.to_device(arr)
        slots = [be.empty((n,)) for n in self.slot_sizes]
        for v, s in self.slot_of.items():
            shape = self.shapes[v]
            values[v] = slots[s][: int(np.prod(shape))].reshape(shape)
        for step in self.steps:
            t0 = time.perf_counter() if timings is not None else 0.0
            step.fn([values[v] for v in step.inputs], [values[v] for v in step.outputs])
            if timings is not None:
                timings.append((step.name, step.op, time.perf_counter() - t0))
        return [np.array(be.to_host(values[v]), copy=True) for v in self.graph.outputs]


def compile_graph(graph: Graph, backend: str = "cpu", input_shapes: dict[str, Shape] | None = None,
                  optimize_graph: bool = True) -> Plan:
    """Optimise (passes), infer shapes for `input_shapes`, compile every node on `backend`, plan memory."""
    be = backends.get(backend)
    g = optimize(graph) if optimize_graph else graph.canonical()
    shapes = g.infer_shapes(input_shapes or {})
    steps = []
    for node in g.nodes:
        in_shapes = [shapes[v] for v in node.inputs]
        if not be.supports(node.op, node.attrs, in_shapes):
            raise UnsupportedError(
                f"backend {backend!r} cannot run node {node.name!r} ({node.op}, attrs {node.attrs}, inputs {in_shapes})"
            )
        fn = be.compile_node(node.op, node.attrs, g.node_params(node), in_shapes, [shapes[v] for v in node.outputs])
        steps.append(Step(node.name, node.op, fn, tuple(node.inputs), tuple(node.outputs)))
    slot_of, sizes = plan_buffers(g, shapes)
    return Plan(be, g, shapes, tuple(steps), slot_of, tuple(sizes))
