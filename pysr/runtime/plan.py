"""Compile a graph for one backend and one input size into a Plan; run it.

A Plan is immutable once built: kernels compiled per node (weights prepacked by the backend), value
shapes known, intermediate values assigned to slots (pysr/graph/memory.py); on the cpu backend, with batch 1, a
split's outputs are views of its input and a concat's inputs are written by their producers straight into its
output (memory.channel_views), so those copies are not made. `Plan.run` takes a set of slot
buffers from the plan's pool (allocating one when every set is in use) and gives it back when done, so one Plan
may run on several threads at once (the runtime is re-entrant) and a plan run over and over reuses warm
memory instead of faulting in fresh pages every frame. Graph outputs are written into fresh arrays (or the
caller's `out`), which are returned as they are: the caller owns them, nothing is copied.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from pysr import backends
from pysr.errors import ShapeError, UnsupportedError
from pysr.graph.graph import Graph, Shape
from pysr.graph.memory import channel_views, plan_buffers
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
    views: tuple[tuple[str, str, int], ...] = ()     # (value, base value, first channel), bases before their views
    _pool: list = field(default_factory=list, init=False, repr=False, compare=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def input_shapes(self) -> dict[str, Shape]:
        return {k: self.shapes[k] for k in self.graph.inputs}

    def run(self, inputs: dict[str, np.ndarray] | np.ndarray, timings: list | None = None,
            out: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """Inputs as {name: NCHW array} (or one array for a one-input graph); returns one host array per graph
        output. `out`, if given, holds one C-contiguous float32 array per output to write into (and return).
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
        values.update(self._output_arrays(out))
        with self._pool_lock:
            slots = self._pool.pop() if self._pool else None
        if slots is None:
            slots = [be.empty((n,)) for n in self.slot_sizes]
        try:
            for v, s in self.slot_of.items():
                shape = self.shapes[v]
                values[v] = slots[s][: int(np.prod(shape))].reshape(shape)
            for v, base, c in self.views:
                values[v] = values[base][:, c : c + self.shapes[v][1]]
            for step in self.steps:
                t0 = time.perf_counter() if timings is not None else 0.0
                step.fn([values[v] for v in step.inputs], [values[v] for v in step.outputs])
                if timings is not None:
                    timings.append((step.name, step.op, time.perf_counter() - t0))
        finally:
            with self._pool_lock:
                self._pool.append(slots)
        results = []
        for i, v in enumerate(self.graph.outputs):
            host = be.to_host(values[v])
            if out is not None:
                if out[i] is not host:
                    out[i][...] = host
                results.append(out[i])
            else:
                results.append(np.array(host, copy=v in self.graph.inputs))
        return results

    def _output_arrays(self, out: list[np.ndarray] | None) -> dict[str, object]:
        """Graph output -> the array its producing step writes into: the caller's `out` on cpu, else fresh."""
        if out is not None:
            self._check_out(out)
        names = [v for v in self.graph.outputs if v not in self.graph.inputs]
        if out is not None and self.backend.name == "cpu":
            return {v: dst for v, dst in zip(self.graph.outputs, out) if v in names}
        return {v: self.backend.empty(self.shapes[v]) for v in names}

    def _check_out(self, out: list[np.ndarray]) -> None:
        if len(out) != len(self.graph.outputs):
            raise ShapeError(f"out holds {len(out)} arrays, this graph has {len(self.graph.outputs)} outputs")
        for v, dst in zip(self.graph.outputs, out):
            if not (isinstance(dst, np.ndarray) and dst.dtype == np.float32 and dst.flags.c_contiguous
                    and dst.flags.writeable and dst.shape == self.shapes[v]):
                raise ShapeError(f"out for {v!r} must be a writeable C-contiguous float32 array of shape "
                                 f"{self.shapes[v]}")


def compile_graph(graph: Graph, backend: str = "cpu", input_shapes: dict[str, Shape] | None = None,
                  optimize_graph: bool = True) -> Plan:
    """Optimise (passes), infer shapes for `input_shapes`, compile every node on `backend`, plan memory."""
    be = backends.get(backend)
    g = optimize(graph) if optimize_graph else graph.canonical()
    shapes = g.infer_shapes(input_shapes or {})
    views = channel_views(g, shapes) if be.name == "cpu" else {}
    steps = []
    for node in g.nodes:
        in_shapes = [shapes[v] for v in node.inputs]
        if not be.supports(node.op, node.attrs, in_shapes):
            raise UnsupportedError(
                f"backend {backend!r} cannot run node {node.name!r} ({node.op}, attrs {node.attrs}, inputs {in_shapes})"
            )
        if node.op in ("split", "concat") and views:
            fn = _view_copies(be, node, shapes, views)
            if fn is None:
                continue                        # every value already in place
        else:
            fn = be.compile_node(node.op, node.attrs, g.node_params(node), in_shapes,
                                 [shapes[v] for v in node.outputs])
        steps.append(Step(node.name, node.op, fn, tuple(node.inputs), tuple(node.outputs)))
    slot_of, sizes = plan_buffers(g, shapes, views)
    order = sorted(views, key=lambda v: _depth(v, views))
    return Plan(be, g, shapes, tuple(steps), slot_of, tuple(sizes), tuple((v, *views[v]) for v in order))


def _depth(v: str, views: dict) -> int:
    return 1 + _depth(views[v][0], views) if v in views else 0


def _view_copies(be, node, shapes, views):
    """The split / concat step that copies only what is not a view in place (None: nothing to copy)."""
    if node.op == "split":
        if all(v in views for v in node.outputs):
            return None
        return be.compile_node("split", node.attrs, {}, [shapes[node.inputs[0]]], [shapes[v] for v in node.outputs])
    copies, c = [], 0
    for i, v in enumerate(node.inputs):
        k = shapes[v][1]
        if views.get(v) != (node.outputs[0], c):
            copies.append((i, c, k, be.compile_node("concat", {}, {}, [shapes[v]], [shapes[v]])))
        c += k
    if not copies:
        return None

    def run(inputs, outputs):
        for i, c0, k, copy in copies:
            copy([inputs[i]], [outputs[0][:, c0 : c0 + k]])

    return run
