"""Session: one video stream through one model, frames in order in and out (docs/temporal.md).

    s = Session(model)                         # backend="cpu"
    for frame in frames: show(s.push(frame))   # each push returns a list of 0 or more HR frames, in order
    show(s.flush())                            # end of stream: the frames still held back

The model's facts' `temporal` decides what a session keeps:
- single     nothing; every push returns its frame's output (latency 0).
- recurrent  the state named by facts["state"] (see pysr/io/model_file.py check_state): the graph's frame input
             takes the frame, each carried input takes the value its `from` had at the previous step (before the
             first frame: zeros, or the frame itself for initial "frame"). Latency 0. The state is dropped by
             `reset()` and when the frame size changes (the new size starts a new sequence).
- window(k)  output t is the network on frames t−k … t+k, indices reflected at both ends of the sequence without
             repeating the end frame: i < 0 → −i, i > n−1 → 2(n−1) − i (again while out of range; n = 1: every
             index is 0), as np.pad(mode="reflect"). Output t leaves with push of frame t+k (latency k) or at
             flush (the last k, and all of them when the stream is shorter). A size change ends the sequence:
             the frames held are flushed (their outputs are returned before the new frame's) and a new one starts.
             The graph takes the 2k+1 frames either as 2k+1 inputs (in graph input order, oldest first) or as one
             input of (2k+1)·C channels (frames concatenated, oldest first).

Frames: `push` takes H×W×3 uint8 RGB and returns (s·H)×(s·W)×3 uint8; each frame is converted to the network's
input by the model's colour facts (pysr/models/colour.py frame_to_network; a Y model's chroma is kept and upscaled
with its frame) and every output back (network_to_frame: clamp, then rint(255·x)). `push_planes` takes C×H×W float32
planes in the model's input range and returns the network's frame output unclamped (C'×sH×sW float32): for a
recurrent model exactly the value that is carried. One session uses one of the two until `reset()`.
Not re-entrant: one session per stream, one thread at a time (the model and its plans are shared safely).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from pysr.errors import InputError, ModelFileError
from pysr.graph.graph import Graph
from pysr.io.model_file import check_state
from pysr.kernels.cpu.frames import planar_to_rgb_u8, rgb_u8_to_planar
from pysr.model import Model
from pysr.models import MODELS
from pysr.models.colour import frame_to_network, network_to_frame
from pysr.runtime.plan import Plan, compile_graph


def temporal_kind(facts: dict) -> tuple[str, int]:
    """("single", 0) | ("recurrent", 0) | ("window", k)."""
    t = facts["temporal"]
    m = re.fullmatch(r"window\(([0-9]+)\)", t)
    if m:
        return "window", int(m.group(1))
    if t in ("single", "recurrent"):
        return t, 0
    raise ModelFileError(f"model facts: temporal must be single, recurrent or window(k), got {t!r}")


def reflect_index(i: int, n: int) -> int:
    """Frame index i of a sequence of n frames, mirrored at both ends without repeating the end frame."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i %= period
    return i if i < n else period - i


@dataclass
class _Frame:
    net: np.ndarray          # 1×C×H×W network input
    side: list               # side values of the colour conversion (Y model: [cbcr]), [] for planes / RGB


class Session:
    def __init__(self, model: Model, backend: str = "cpu"):
        self.model, self.backend = model, backend
        self.kind, self.k = temporal_kind(model.facts)
        self.latency = self.k
        graph = model.graph
        if self.kind == "recurrent":
            check_state(model.facts, graph)
            self.state_spec = model.facts["state"]
            self.frame_input = self.state_spec["frame_input"]
            self.out_index = graph.outputs.index(self.state_spec["frame_output"])
        else:
            self.out_index = 0
        if self.kind == "window":
            n = 2 * self.k + 1
            if len(graph.inputs) == n:
                self.frame_channels = list(graph.inputs.values())[0]
            elif len(graph.inputs) == 1 and next(iter(graph.inputs.values())) % n == 0:
                self.frame_channels = next(iter(graph.inputs.values())) // n
            else:
                raise ModelFileError(f"a window({self.k}) graph takes {n} frame inputs or one input of {n}·C "
                                     f"channels; this one has inputs {graph.inputs}")
        arch = MODELS.get(model.facts["architecture"])
        self._for_size = arch.for_size if arch is not None else None
        self._plans: dict[tuple, Plan] = {}
        self.reset()

    # ---- public --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the stream: recurrent state, held window frames (dropped without output), the size and the mode."""
        self._state: dict[str, np.ndarray] | None = None
        self._frames: dict[int, _Frame] = {}
        self._pushed = 0            # frames pushed in this sequence
        self._emitted = 0           # outputs returned in this sequence
        self._size: tuple[int, int] | None = None
        self._mode: str | None = None   # "rgb" | "planes"

    def push(self, frame: np.ndarray) -> list[np.ndarray]:
        """One H×W×3 uint8 RGB frame in; the HR uint8 frames that are ready out (in order)."""
        from pysr.api import check_frame

        check_frame(frame, self._pushed)
        self._use("rgb")
        x = rgb_u8_to_planar(frame)
        if self.kind == "single":
            return [self._to_u8(self.model.plan(self.backend, x.shape, rgb=True).run(x)[0])]
        outs = self._step(x, frame.shape[:2])
        return [self._to_u8(o) for o in outs]

    def push_planes(self, planes: np.ndarray) -> list[np.ndarray]:
        """C×H×W (or H×W for C = 1) float planes in the model's input range in; network outputs out (C'×sH×sW
        float32, unclamped)."""
        if not isinstance(planes, np.ndarray) or planes.dtype.kind != "f":
            raise InputError(f"planes must be a float numpy array, got {getattr(planes, 'dtype', type(planes))}")
        x = planes[None] if planes.ndim == 2 else planes
        c = self._frame_channels()
        if x.ndim != 3 or x.shape[0] != c or 0 in x.shape:
            raise InputError(f"planes must be {c}×H×W{' or H×W' if c == 1 else ''} with H, W > 0, got {planes.shape}")
        x = np.ascontiguousarray(x[None], dtype=np.float32)
        if not np.isfinite(x).all():
            raise InputError("planes hold NaN or infinite values")
        self._use("planes")
        if self.kind == "single":
            return [self.model.plan(self.backend, x.shape).run(x)[self.out_index][0]]
        return [o[0] for o in self._step(x, x.shape[2:])]

    def flush(self) -> list[np.ndarray]:
        """End of stream: the outputs still held (window models); the next push starts a new sequence."""
        outs = self._finish() if self.kind == "window" else []
        mode = self._mode
        self.reset()
        if mode == "rgb":
            return [self._to_u8(o) for o in outs]
        return [o[0] for o in outs]

    # ---- internals -----------------------------------------------------------------------------

    def _use(self, mode: str) -> None:
        if self._mode not in (None, mode):
            raise InputError(f"this session already takes {'RGB frames (push)' if self._mode == 'rgb' else 'planes'}",
                             "call reset() before switching between push and push_planes")
        self._mode = mode

    def _frame_channels(self) -> int:
        if self.kind == "window":
            return self.frame_channels
        name = self.frame_input if self.kind == "recurrent" else next(iter(self.model.graph.inputs))
        return self.model.graph.inputs[name]

    def _plan(self, key: str, graph_fn, shapes: dict) -> Plan:
        return memo_plan(self._plans, key, graph_fn, self.backend, shapes)

    def _network_graph(self, h: int, w: int) -> Graph:
        g = self.model.graph
        return self._for_size(g, h, w) if self._for_size is not None else g

    def _convert_in(self, x: np.ndarray) -> _Frame:
        """RGB 1×3×H×W → network input (+ side values); planes pass as they are."""
        if self._mode == "planes":
            return _Frame(x, [])
        g = frame_to_network(self.model.facts)
        if not g.nodes:
            return _Frame(x, [])
        net, *side = self._plan("to_network", lambda: g, {"rgb": x.shape}).run(x)
        return _Frame(net, side)

    def _convert_out(self, out: np.ndarray, frame: _Frame) -> np.ndarray:
        """Network output → RGB in [0, 1] (RGB mode), or as it is (planes)."""
        if self._mode == "planes":
            return out
        g = network_to_frame(self.model.facts, out.shape[1])
        inputs = {"net_out": out, **dict(zip(list(g.inputs)[1:], frame.side))}
        return self._plan("to_frame", lambda: g, {k: v.shape for k, v in inputs.items()}).run(inputs)[0]

    @staticmethod
    def _to_u8(x: np.ndarray) -> np.ndarray:
        return planar_to_rgb_u8(x)      # 1×3×H×W float32 → H×W×3 uint8: clip, ×255, round half to even

    def _step(self, x: np.ndarray, size) -> list[np.ndarray]:
        size = tuple(int(v) for v in size)
        early = []
        if self._size is not None and size != self._size:
            # A new size is a new sequence: a window model's held frames are finished first.
            mode = self._mode
            early = self._finish() if self.kind == "window" else []
            self.reset()
            self._mode = mode
        self._size = size
        frame = self._convert_in(x)
        if self.kind == "recurrent":
            return early + [self._recurrent(frame)]
        self._frames[self._pushed] = frame
        self._pushed += 1
        outs = []
        while self._emitted + self.k < self._pushed:
            outs.append(self._window_output(self._emitted, None))
        return early + outs

    def _recurrent(self, frame: _Frame) -> np.ndarray:
        spec, (h, w) = self.state_spec, self._size
        inputs = {spec["frame_input"]: frame.net}
        n = frame.net.shape[0]
        for c in spec["carry"]:
            if self._state is not None:
                inputs[c["input"]] = self._state[c["input"]]
            elif c["initial"] == "frame":
                inputs[c["input"]] = frame.net
            else:
                shape = (n, self.model.graph.inputs[c["input"]], h * c["scale"], w * c["scale"])
                inputs[c["input"]] = np.zeros(shape, np.float32)
        plan = self._plan("network", lambda: self._network_graph(h, w), {k: v.shape for k, v in inputs.items()})
        outs = dict(zip(plan.graph.outputs, plan.run(inputs)))
        values = {**inputs, **outs}
        self._state = {c["input"]: values[c["from"]] for c in spec["carry"]}
        self._pushed += 1
        return self._convert_out(outs[spec["frame_output"]], frame)

    def _window_output(self, t: int, n: int | None) -> np.ndarray:
        """Output t; n = the sequence length once known (flush), None while frames still come (no end yet)."""
        idx = [reflect_index(i, n) if n is not None else abs(i) for i in range(t - self.k, t + self.k + 1)]
        frames = [self._frames[i].net for i in idx]
        g = self.model.graph
        if len(g.inputs) == 1:
            inputs = {next(iter(g.inputs)): np.concatenate(frames, axis=1)}
        else:
            inputs = dict(zip(g.inputs, frames))
        h, w = self._size
        plan = self._plan("network", lambda: self._network_graph(h, w), {k: v.shape for k, v in inputs.items()})
        out = self._convert_out(plan.run(inputs)[self.out_index], self._frames[t])
        self._emitted += 1
        for i in [i for i in self._frames if i < self._emitted - self.k]:   # no later output reads them
            del self._frames[i]
        return out

    def _finish(self) -> list[np.ndarray]:
        n = self._pushed
        return [self._window_output(t, n) for t in range(self._emitted, n)]


def memo_plan(plans: dict, key: str, graph_fn, backend: str, shapes: dict) -> Plan:
    """The plan of `graph_fn()` for these input shapes, compiled once per (key, shapes) into `plans`."""
    k = (key, tuple(sorted((n, tuple(s)) for n, s in shapes.items())))
    plan = plans.get(k)
    if plan is None:
        plan = plans[k] = compile_graph(graph_fn(), backend, shapes)
    return plan
