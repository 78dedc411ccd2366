"""Cascade: F-EDSR on every frame, TCSR on the frames a policy picks: the live server's per-stream pipeline
(DESIGN.md §5; docs/fedsr_tcsr.md "What the cascade needs"; docs/temporal.md "Cascade").

    c = Cascade(fedsr_model, tcsr_model, every(4))     # tcsr_model None: F-EDSR alone, latency 0
    for frame in frames:                               # H×W×3 uint8 RGB
        for out in c.push(frame):                      # 0 or more Outputs, in frame order
            show(out.frame)                            # (s·H)×(s·W)×3 uint8; out.refined: TCSR made it
    for out in c.flush():                              # end of stream: the frames still held back
        show(out.frame)

Per frame t: the LR frame goes through the F-EDSR model's colour facts (Y model: RGB → YCbCr, Y to the net, CbCr
kept) and F-EDSR; its float HR Y (unclamped, before any rounding) is held. Output t leaves once frame t+k has
arrived (latency k = TCSR's window radius; 0 without TCSR). The policy is asked once per output, in order:
selected → TCSR on the held HR Y planes t−k … t+k stacked as its one input (1, 2k+1, sH, sW), indices reflected at
the sequence's ends exactly as a Session's window rule (docs/temporal.md); otherwise F-EDSR's own output, unchanged.
Either network output is turned into RGB with the *frame's own* chroma upscaled by F-EDSR's chroma op (the chroma
is upscaled once per frame, shared by both paths), clamped and rounded as a Session does (rint(255·x)). So an
unselected frame is exactly what `Session(fedsr_model)` gives for it.

Policies (a small protocol: `select(index) -> bool` once per frame in order, `record(index, seconds)` after each
TCSR run): `every(n)`, `budget(ms_per_frame)`, `never()` ("none"), `always()` ("all"); `parse_policy` reads the
text forms "every:N", "budget:MS", "none", "all". The cascade times each TCSR network run with `clock` (inject a
fake one for tests) and reports it to the policy.

A frame-size change ends the sequence (its held frames are output first, reflected at their end) and starts a new
one. `flush()` ends the sequence; `reset()` drops held frames without output. `Output.index` counts frames from
the start of the sequence. `swap_fedsr(model)` hot-swaps F-EDSR at a frame boundary (frames already pushed keep the
output of the model they went through).

Threads: one cascade per stream, used by one thread at a time (it holds the stream's frames and the policy's state).
The models and their compiled plans are shared safely between cascades (Model.plan is locked, Plan.run re-entrant).
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from pysr.errors import InputError, ModelFileError, ShapeError
from pysr.graph.graph import Graph
from pysr.kernels.cpu.frames import planar_to_rgb_u8, rgb_u8_to_planar
from pysr.model import Model
from pysr.models.colour import frame_to_network, network_to_frame
from pysr.runtime.plan import Plan
from pysr.stream.session import memo_plan, reflect_index, temporal_kind

# --- policies ----------------------------------------------------------------------------------------------------


class Policy(Protocol):
    def select(self, index: int) -> bool:
        """Whether TCSR refines frame `index` (asked once per frame, in frame order)."""

    def record(self, index: int, seconds: float) -> None:
        """TCSR's measured time on frame `index` (called after every TCSR run the policy selected)."""


@dataclass
class Every:
    """Frames 0, n, 2n, … of each sequence."""
    n: int

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise InputError(f"every(n) needs an integer n >= 1, got {self.n!r}")

    def select(self, index: int) -> bool:
        return index % self.n == 0

    def record(self, index: int, seconds: float) -> None:
        pass


@dataclass
class Fixed:
    """Always (all) or never (none)."""
    refine: bool

    def select(self, index: int) -> bool:
        return self.refine

    def record(self, index: int, seconds: float) -> None:
        pass


@dataclass
class Budget:
    """Keep TCSR's mean cost per frame within `ms_per_frame`: a token bucket. Every frame adds the budget to a
    credit (capped at `burst` frames' worth, or one TCSR run if that is more, so a long cheap stretch cannot turn
    into a long run of TCSR frames); a frame is refined when the estimated TCSR time (mean of the last `window`
    measured runs; 0 before the first, so the first frame is refined to measure it) fits in the credit, and the
    measured time is then taken from it. Hence over any stream prefix: sum of TCSR times ≤ frames · budget +
    (last measured − its estimate); TCSR dearer than the budget runs every ⌈cost / budget⌉-th frame or so.
    A pure function of the measured times: the same times give the same selection."""
    ms_per_frame: float
    burst: float = 8.0
    window: int = 8
    _credit: float = field(default=0.0, init=False, repr=False)
    _recent: deque = field(default_factory=deque, init=False, repr=False)

    def __post_init__(self):
        if not (self.ms_per_frame > 0 and math.isfinite(self.ms_per_frame)):
            raise InputError(f"budget(ms_per_frame) needs a positive number of milliseconds, got {self.ms_per_frame}")
        if not self.burst >= 1 or self.window < 1:
            raise InputError(f"budget: burst must be >= 1 and window >= 1, got {self.burst} and {self.window}")
        self._recent = deque(maxlen=self.window)

    def estimate(self) -> float:
        """Seconds one TCSR run is expected to take (0 before the first measurement)."""
        return sum(self._recent) / len(self._recent) if self._recent else 0.0

    def select(self, index: int) -> bool:
        per, est = self.ms_per_frame / 1000.0, self.estimate()
        self._credit = min(self._credit + per, max(self.burst * per, est))
        return est <= self._credit

    def record(self, index: int, seconds: float) -> None:
        self._credit -= seconds
        self._recent.append(seconds)


@dataclass
class Offset:
    """`policy` asked about frame index + `first`: a cascade that starts mid-stream (a resumed `pysr upscale`,
    whose first pushed frame is input frame `first`) picks the frames one uninterrupted run would have."""
    policy: Policy
    first: int

    def select(self, index: int) -> bool:
        return self.policy.select(index + self.first)

    def record(self, index: int, seconds: float) -> None:
        self.policy.record(index + self.first, seconds)


def every(n: int) -> Every:
    return Every(n)


def budget(ms_per_frame: float, burst: float = 8.0, window: int = 8) -> Budget:
    return Budget(float(ms_per_frame), burst, window)


def never() -> Fixed:
    return Fixed(False)


def always() -> Fixed:
    return Fixed(True)


def parse_policy(text: str) -> Policy:
    """"every:N", "budget:MS" (milliseconds per frame), "none" or "all"."""
    t = str(text).strip().lower()
    if t in ("none", "all"):
        return Fixed(t == "all")
    m = re.fullmatch(r"(every|budget)\s*[:=]\s*([0-9]*\.?[0-9]+)", t)
    if m and m.group(1) == "every" and m.group(2).isdigit():
        return Every(int(m.group(2)))
    if m and m.group(1) == "budget":
        return budget(float(m.group(2)))
    raise InputError(f"unknown TCSR policy {text!r}", "use every:N, budget:MS (ms per frame), none or all")


# --- the cascade -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    index: int              # frame number in the sequence
    frame: np.ndarray       # (s·H)×(s·W)×3 uint8 RGB
    refined: bool           # True: TCSR's output; False: F-EDSR's, unchanged
    planes: np.ndarray      # the network output it came from: C×sH×sW float32, unclamped (Y: C = 1)


@dataclass
class _Held:
    hr: np.ndarray          # F-EDSR output, 1×C×sH×sW float32 (TCSR's input plane when C = 1)
    side: list              # the colour conversion's side values (Y model: [cbcr at LR]); [] for RGB


class Cascade:
    def __init__(self, fedsr_model: Model, tcsr_model: Model | None = None, policy: Policy | None = None,
                 backend: str = "cpu", clock: Callable[[], float] = time.perf_counter):
        self.backend, self.clock = backend, clock
        self._check_fedsr(fedsr_model, None)
        self.fedsr, self.tcsr = fedsr_model, tcsr_model
        self.k = 0
        if tcsr_model is not None:
            self.k = self._check_tcsr(fedsr_model, tcsr_model)
            g = tcsr_model.graph
            # Serving reads output 0 only: the flow outputs' concats become dead nodes and are dropped.
            self._tcsr_graph = Graph(dict(g.inputs), g.outputs[:1], g.nodes, g.params)
            self._tcsr_input = next(iter(g.inputs))
        self.policy = policy if policy is not None else Fixed(tcsr_model is not None)
        self.latency = self.k
        self._plans: dict[tuple, Plan] = {}
        self.reset()

    # ---- public ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Drop the held frames without output; the next push starts a new sequence. The policy keeps its state."""
        self._held: dict[int, _Held] = {}
        self._pushed = 0
        self._emitted = 0
        self._size: tuple[int, int] | None = None

    def push(self, frame: np.ndarray) -> list[Output]:
        """One H×W×3 uint8 RGB frame in; the outputs that are ready out, in frame order."""
        from pysr.api import check_frame

        check_frame(frame, self._pushed)
        size = (int(frame.shape[0]), int(frame.shape[1]))
        s = self.fedsr.scale
        if self.tcsr is not None and (s * size[0] % 2 or s * size[1] % 2):
            raise ShapeError(f"TCSR needs even HR sizes; a {size[1]}×{size[0]} frame at ×{s} gives "
                             f"{s * size[1]}×{s * size[0]}", "crop one LR row/column, or run without TCSR")
        early = []
        if self._size is not None and size != self._size:       # a new size is a new sequence
            early = self.flush()
        self._size = size
        x = rgb_u8_to_planar(frame)
        net, side = self._to_network(x)
        hr = self.fedsr.plan(self.backend, net.shape).run(net)[0]
        self._held[self._pushed] = _Held(hr, side)
        self._pushed += 1
        outs = []
        while self._emitted + self.k < self._pushed:
            outs.append(self._output(self._emitted, None))
        return early + outs

    def flush(self) -> list[Output]:
        """End of the sequence: the outputs still held, the last ones' windows reflected at the end."""
        n = self._pushed
        outs = [self._output(t, n) for t in range(self._emitted, n)]
        self.reset()
        return outs

    def swap_fedsr(self, model: Model) -> None:
        """Use `model` for the frames pushed from now on (a model update at a frame boundary). It must keep the
        scale and colour convention; frames already held keep the F-EDSR output they have."""
        self._check_fedsr(model, self.fedsr)
        self.fedsr = model

    # ---- internals ------------------------------------------------------------------------------------------

    @staticmethod
    def _check_fedsr(model: Model, old: Model | None) -> None:
        if temporal_kind(model.facts)[0] != "single":
            raise ModelFileError(f"the cascade's first stage must be a single-frame model; {model!r} is "
                                 f"{model.facts['temporal']}")
        if len(model.graph.inputs) != 1:
            raise ModelFileError(f"the cascade's first stage takes one input, {model!r} has {model.graph.inputs}")
        if old is not None and (model.scale, model.facts["colour"], model.in_channels) != (
                old.scale, old.facts["colour"], old.in_channels):
            raise ModelFileError(f"a swapped-in F-EDSR must keep ×{old.scale}, colour {old.facts['colour']}; "
                                 f"got ×{model.scale}, colour {model.facts['colour']}")

    @staticmethod
    def _check_tcsr(fedsr_model: Model, tcsr_model: Model) -> int:
        kind, k = temporal_kind(tcsr_model.facts)
        g = tcsr_model.graph
        if kind != "window" or tcsr_model.scale != 1:
            raise ModelFileError(f"the cascade's second stage must be a window(k) model at scale 1; {tcsr_model!r} "
                                 f"is {tcsr_model.facts['temporal']} at ×{tcsr_model.scale}")
        if len(g.inputs) != 1 or next(iter(g.inputs.values())) != 2 * k + 1:
            raise ModelFileError(f"TCSR takes one input of 2k+1 = {2 * k + 1} Y planes; {tcsr_model!r} has "
                                 f"inputs {g.inputs}")
        if fedsr_model.colour_mode != "y" or fedsr_model.in_channels != 1:
            raise ModelFileError(f"TCSR refines Y planes, but the F-EDSR model {fedsr_model!r} is an RGB model",
                                 "use a Y F-EDSR (--colour y) with TCSR, or run without TCSR")
        if tcsr_model.facts["colour"] != fedsr_model.facts["colour"]:
            raise ModelFileError(f"F-EDSR and TCSR disagree on the colour convention: "
                                 f"{fedsr_model.facts['colour']} vs {tcsr_model.facts['colour']}")
        return k

    def _plan(self, key: str, graph_fn, shapes: dict) -> Plan:
        return memo_plan(self._plans, key, graph_fn, self.backend, shapes)

    def _to_network(self, x: np.ndarray) -> tuple[np.ndarray, list]:
        g = frame_to_network(self.fedsr.facts)
        if not g.nodes:                                          # RGB model: the frame itself
            return x, []
        net, *side = self._plan("to_network", lambda: g, {"rgb": x.shape}).run(x)
        return net, side

    def _to_frame(self, y: np.ndarray, side: list) -> np.ndarray:
        g = network_to_frame(self.fedsr.facts, y.shape[1])
        inputs = {"net_out": y, **dict(zip(list(g.inputs)[1:], side))}
        rgb = self._plan("to_frame", lambda: g, {k: v.shape for k, v in inputs.items()}).run(inputs)[0]
        return planar_to_rgb_u8(rgb)                             # clip, ×255, round half to even (as a Session)

    def _output(self, t: int, n: int | None) -> Output:
        """Output t; n = the sequence length once known (flush), None while frames still come."""
        held = self._held[t]
        refined = self.tcsr is not None and bool(self.policy.select(t))
        if refined:
            idx = [reflect_index(i, n) if n is not None else abs(i) for i in range(t - self.k, t + self.k + 1)]
            x = np.concatenate([self._held[i].hr for i in idx], axis=1)
            plan = self._plan("tcsr", lambda: self._tcsr_graph, {self._tcsr_input: x.shape})
            t0 = self.clock()
            y = plan.run(x)[0]
            self.policy.record(t, self.clock() - t0)
        else:
            y = held.hr
        out = Output(t, self._to_frame(y, held.side), refined, y[0])
        self._emitted += 1
        for i in [i for i in self._held if i < self._emitted - self.k]:    # no later output reads them
            del self._held[i]
        return out
