"""Running a cuda Plan without the host in the loop: device-resident runs, CUDA graphs, and the 8-bit frame path
with copies overlapped with compute.

    runner = DeviceRunner(plan)            buffers allocated once for the plan's input size, its own stream
    runner.inputs["lr"][...] = x_dev       (or write into it with a kernel); runner.run() -> device outputs
    runner.capture()                       record the steps once as a CUDA graph; run() replays it (one launch)
    pipe = FramePipeline(plan, colour)     YUV planes in, YUV planes out, `depth` frames in flight
    for y, u, v in frames: done = pipe.push(y, u, v)   # planes of an earlier frame, or None
    rest = pipe.flush()

FramePipeline: frames cross PCIe as 8-bit planes (4:2:0: 1.5 bytes per pixel each way) from page-locked host buffers,
are converted on the device (kernels/cuda/yuv.cu, bit-identical to kernels/cpu/yuv.py + frames.py), run through the
plan (an RGB plan: Model.plan(..., rgb=True) builds one), converted back and copied out. Each of the `depth` slots
has its own stream, runner and buffers, so slot k's copies overlap slot k−1's kernels.
NOTE: written without a GPU; none of this has run yet (docs/cuda.md, "owed runs").
"""

from __future__ import annotations

import numpy as np

from pysr.errors import InputError, ShapeError

KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


class DeviceRunner:
    """A Plan's steps on device arrays: inputs in `self.inputs` (written by the caller on `self.stream`), outputs left
    on the device. Owns one set of buffers, so one runner serves one stream at a time (make one per stream)."""

    def __init__(self, plan, stream=None):
        be = plan.backend
        if getattr(be, "name", "") != "cuda":
            raise InputError(f"DeviceRunner needs a plan compiled for the cuda backend, not {be.name!r}")
        self.plan, self.be = plan, be
        cp = be.cp
        with cp.cuda.Device(be.device):
            self.stream = stream if stream is not None else cp.cuda.Stream(non_blocking=True)
            slots = [be.empty((n,)) for n in plan.slot_sizes]
            values = {v: slots[s][: int(np.prod(plan.shapes[v]))].reshape(plan.shapes[v])
                      for v, s in plan.slot_of.items()}
            self.inputs = {name: be.empty(shape) for name, shape in plan.input_shapes.items()}
            values.update(self.inputs)
            values.update({v: be.empty(plan.shapes[v]) for v in plan.graph.outputs if v not in values})
        self.values = values
        self.graph = None

    def _steps(self) -> None:
        for step in self.plan.steps:
            step.fn([self.values[v] for v in step.inputs], [self.values[v] for v in step.outputs])

    def run(self) -> list:
        """Enqueue one pass on self.stream (asynchronous); returns the output device arrays (valid once the stream
        reaches this point: synchronise, or order later work on the same stream)."""
        with self.be.cp.cuda.Device(self.be.device), self.stream:
            if self.graph is not None:
                self.graph.launch(stream=self.stream)
            else:
                self._steps()
        return [self.values[v] for v in self.plan.graph.outputs]

    def capture(self) -> None:
        """Record the steps as a CUDA graph (cupy Stream.begin_capture / end_capture); later runs replay it with one
        launch, which is what makes small frames cheap. Runs the steps once first, so every module is compiled
        before capture (NVRTC and allocations cannot happen inside a capture)."""
        self.run()
        self.stream.synchronize()
        with self.be.cp.cuda.Device(self.be.device), self.stream:
            self.stream.begin_capture()
            try:
                self._steps()
            finally:
                self.graph = self.stream.end_capture()


def yuv_to_rgb_constants(matrix: str, rng: str) -> list[float]:
    """The seven float32 constants of kernels/cuda/yuv.cu `yuv_to_planar` (pysr/video/colour.py yuv_to_rgb)."""
    kr, kb = KR_KB[matrix]
    off, ys, cs = (16.0, 219.0, 224.0) if rng == "limited" else (0.0, 255.0, 255.0)
    return [float(np.float32(v)) for v in (off, 255.0 / ys, 255.0 / cs, 2 * (1 - kr), 2 * (1 - kr) * kr / (1 - kr - kb),
                                           2 * (1 - kb) * kb / (1 - kr - kb), 2 * (1 - kb))]


def rgb_to_yuv_constants(matrix: str, rng: str) -> list[float]:
    """The seven float32 constants of kernels/cuda/yuv.cu `planar_to_yuv` (pysr/video/colour.py rgb_to_yuv)."""
    kr, kb = KR_KB[matrix]
    kg = 1 - kr - kb
    off, ys, cs = (16.0, 219.0, 224.0) if rng == "limited" else (0.0, 255.0, 255.0)
    return [float(np.float32(v)) for v in (kr, kg, kb, cs / 255.0 / (2 * (1 - kb)), cs / 255.0 / (2 * (1 - kr)),
                                           ys / 255.0, off)]


class FramePipeline:
    """8-bit YUV frames through an RGB plan on the device, `depth` frames in flight (see the module docstring).
    `colour` has .matrix and .range (pysr.video.colour.Colour); `sub` is the chroma subsampling (rows, cols) of both
    the input and the output planes."""

    def __init__(self, plan, colour, sub=(2, 2), depth: int = 2, use_graph: bool = True):
        (name, shape), = plan.input_shapes.items()
        out_shape = plan.shapes[plan.graph.outputs[0]]
        if shape[:2] != (1, 3) or out_shape[:2] != (1, 3):
            raise ShapeError(f"FramePipeline needs an RGB plan (1, 3, H, W) -> (1, 3, sH, sW), got {shape} -> "
                             f"{out_shape}")
        self.be, self.name = plan.backend, name
        cp = self.be.cp
        self.h, self.w = shape[2:]
        self.oh, self.ow = out_shape[2:]
        self.fy, self.fx = sub
        self.k_in = yuv_to_rgb_constants(colour.matrix, colour.range)
        self.k_out = rgb_to_yuv_constants(colour.matrix, colour.range)
        self.slots = []
        with cp.cuda.Device(self.be.device):
            for _ in range(depth):
                runner = DeviceRunner(plan)
                if use_graph:
                    runner.capture()
                self.slots.append({
                    "runner": runner,
                    "host_in": [cp.cuda.alloc_pinned_memory(n) for n in self._plane_bytes(self.h, self.w)],
                    "host_out": [cp.cuda.alloc_pinned_memory(n) for n in self._plane_bytes(self.oh, self.ow)],
                    "dev_in": [cp.empty(s, np.uint8) for s in self._plane_shapes(self.h, self.w)],
                    "dev_out": [cp.empty(s, np.uint8) for s in self._plane_shapes(self.oh, self.ow)],
                    "event": None,
                })
        self.next = 0
        self.pending: list[int] = []

    def _plane_shapes(self, h, w):
        hc, wc = -(-h // self.fy), -(-w // self.fx)
        return [(h, w), (hc, wc), (hc, wc)]

    def _plane_bytes(self, h, w):
        return [int(np.prod(s)) for s in self._plane_shapes(h, w)]

    def _views(self, mems, h, w):
        return [np.frombuffer(m, np.uint8, int(np.prod(s))).reshape(s) for m, s in zip(mems, self._plane_shapes(h, w))]

    def push(self, y, u, v):
        """Queue one frame's planes; returns the (Y, U, V) planes of the frame `depth` pushes ago, or None."""
        done = self._collect() if len(self.pending) == len(self.slots) else None
        k = self.next
        self.next = (k + 1) % len(self.slots)
        slot = self.slots[k]
        be, cp = self.be, self.be.cp
        runner = slot["runner"]
        for dst, src in zip(self._views(slot["host_in"], self.h, self.w), (y, u, v)):
            if src.shape != dst.shape:
                raise ShapeError(f"plane of shape {src.shape}, this pipeline takes {dst.shape}")
            dst[...] = src
        with cp.cuda.Device(be.device), runner.stream:
            for dev, host in zip(slot["dev_in"], self._views(slot["host_in"], self.h, self.w)):
                dev.set(host, stream=runner.stream)
            yd, ud, vd = slot["dev_in"]
            be.launch_flat("yuv", f"yuv_to_planar_{be.suffix}", self.h * self.w,
                           [yd, ud, vd, self.w, ud.shape[1], self.h, self.w, self.fy, self.fx, *self.k_in,
                            runner.inputs[self.name]])
            out = runner.run()[0]
            yo, uo, vo = slot["dev_out"]
            be.launch_flat("yuv", f"planar_to_yuv_{be.suffix}", uo.size,
                           [out, yo, uo, vo, self.ow, uo.shape[1], self.oh, self.ow, uo.shape[0], uo.shape[1],
                            self.fy, self.fx, *self.k_out])
            for dev, host in zip(slot["dev_out"], self._views(slot["host_out"], self.oh, self.ow)):
                dev.get(stream=runner.stream, out=host)
            slot["event"] = runner.stream.record()
        self.pending.append(k)
        return done

    def _collect(self):
        k = self.pending.pop(0)
        slot = self.slots[k]
        slot["event"].synchronize()
        return tuple(p.copy() for p in self._views(slot["host_out"], self.oh, self.ow))

    def flush(self) -> list:
        """The planes of every frame still in flight, in order."""
        out = []
        while self.pending:
            out.append(self._collect())
        return out
