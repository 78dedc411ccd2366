"""Tiled inference whose output is bit-identical to whole-frame inference: split → run → stitch.

Conventions (LR pixels throughout; the HR output of LR pixel (y, x) is the s×s block at (s·y, s·x)):
- `tile` = N: the frame is cut into N×N interior tiles in row-major order (the last row/column smaller).
  Each row of tiles runs through the model's RGB plan on one *window*: its rows plus a halo of `halo(model)`
  rows above and below, clipped at the frame border (where the model's own padding then applies exactly as for
  the whole frame), and the FULL frame width. Each tile writes only its interior's HR pixels.
  NOTE: windows span the width because the CPU kernels round by column position: a row's conv epilogue
  (tanh), Winograd task segments and resize passes run a vector body plus a remainder whose rounding differs,
  and which columns fall where depends on the row's length and start. With 2-D windows 0.1-1% of float
  outputs differed by an ulp (a few uint8 values per frame); rows, by contrast, are all computed alike.
- Halo = how far, in LR pixels, any output pixel's float32 value can depend on its input, walked over the
  compiled RGB graph (network AND colour wrapper): along every path input → output the radii add up, the
  halo is the largest sum. Radii: a conv with "same" padding reads kh//2 (kw//2) pixels; a 3×3 conv that the
  CPU backend runs as Winograd F(4×4, 3×3) reads WINOGRAD_TILE = 4, because every output of a 4×4 tile is
  computed (in float32) from the whole 6×6 input tile, so rounding depends on pixels up to 4 away even where
  the exact weight is zero; a resize reads as far as its tap table's non-zero taps reach from the output's
  home pixel (torch bicubic chroma ×s: 2); pointwise ops, split/concat and pixel shuffle read 0.
  For the shipped ESPCN 64/32 ×4 (5×5 gemm, 3×3 and 3×3 Winograd): 2 + 4 + 4 = 10; chroma 2 → halo 10.
- Window starts are multiples of ALIGN = 4 LR rows (the Winograd tile), so every 4×4 output tile of a
  window covers the same pixels as in the whole frame and rounds identically. NOTE: without this a window
  shifted by 1-3 rows re-tiles the Winograd grid (measured: 1-8 uint8 values differ per 97×61 frame).
- Window height: interior windows are L = N + 2·halo + ALIGN − 1 rows (the align slack), so they share one
  plan; a window that would pass the frame's bottom is moved up to end on it, starting on the last multiple
  of ALIGN that keeps it ≥ L rows. So a frame uses at most two plan shapes (compiled once each, memoised by
  the Model); a frame shorter than L is one window (the whole frame).
- tile="auto": bytes per LR pixel = 4·(Σ plan.slot_sizes + input + output elements) of a PROBE×PROBE plan /
  PROBE² (every buffer of these graphs grows with the pixel count). None (whole frame) when the frame fits
  AUTO_BUDGET = 256 MiB; else the largest N, a multiple of ALIGN (at least ALIGN), whose window of
  (N + 2·halo + 3) × W pixels fits it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import import_module

import numpy as np

from pysr.errors import InputError, UnsupportedError

ALIGN = 4                   # window starts: multiples of the CPU Winograd output tile
WINOGRAD_TILE = 4           # an F(4×4, 3×3) output depends on its whole 6×6 input tile
AUTO_BUDGET = 256 << 20     # bytes for one window's plan buffers with tile="auto"
PROBE = 32                  # LR side of the probe plan used to derive the halo and the bytes per pixel
POINTWISE = {"rgb_to_ycbcr", "ycbcr_to_rgb", "split", "concat", "activation", "add", "mul", "affine",
             "batch_norm", "pixel_shuffle"}


@dataclass(frozen=True)
class Tile:
    """One tile: interior rows y0:y1, cols x0:x1 and its window rows wy0:wy1, cols wx0:wx1 (LR, frame coords)."""
    y0: int
    y1: int
    x0: int
    x1: int
    wy0: int
    wy1: int
    wx0: int
    wx1: int


def check_tile(tile) -> int | str | None:
    """None, "auto" or an int ≥ 1; anything else raises InputError."""
    if tile is None or (isinstance(tile, str) and tile == "auto"):
        return tile
    if isinstance(tile, (bool, np.bool_)) or not isinstance(tile, (int, np.integer)) or tile < 1:
        raise InputError(f"tile must be None, 'auto' or an int >= 1, got {tile!r}",
                         "tile=N cuts the LR frame into N×N tiles; tile='auto' picks N from a memory budget")
    return int(tile)


def _probe_plan(model, backend: str):
    return model.plan(backend, (1, 3, PROBE, PROBE), rgb=True)


def _node_radius(node, in_shape) -> int:
    """How many pixels (of its input) away from an output's home pixel the node's float result may read."""
    if node.op in POINTWISE:
        return 0
    try:
        tables = import_module(f"pysr.ops.{node.op}").tables
    except (ImportError, AttributeError):
        raise UnsupportedError(f"tiling: does not know how far op {node.op!r} (node {node.name!r}) reads") from None
    reach = 0
    for (idx, w), n in zip(tables(node.attrs, in_shape), in_shape[2:]):
        m = idx.shape[0]
        home = np.floor(np.arange(m) * n / m).astype(np.int64)[:, None]
        reach = max(reach, int(np.max(np.where(w != 0, np.abs(idx - home), 0))))
    return reach


@functools.lru_cache(maxsize=64)
def halo(model, backend: str = "cpu") -> int:
    """LR halo that makes tiles bit-identical to the whole frame (see the module docstring); computed once per
    (model, backend): models are immutable."""
    plan = _probe_plan(model, backend)
    g, shapes = plan.graph, plan.shapes
    paths = {s.name: getattr(s.fn, "path", None) for s in plan.steps}
    (rgb,) = g.inputs
    reach = {rgb: 0.0}
    for node in g.nodes:
        x = node.inputs[0]
        if node.op == "conv2d":
            kh, kw = g.params[node.params["weight"]].shape[2:]
            r = _conv_radius(node, kh, kw, paths.get(node.name))
        else:
            r = _node_radius(node, shapes[x])
        base = max(reach[v] for v in node.inputs if v in reach)
        for v in node.outputs:
            reach[v] = base + r * PROBE / shapes[x][2]           # input pixels → LR pixels
    return math.ceil(reach[g.outputs[0]] - 1e-9)


def _conv_radius(node, kh: int, kw: int, path) -> int:
    a = node.attrs
    if a["stride"] != 1 or tuple(a["padding"]) != (kh // 2, kw // 2):
        raise UnsupportedError(f"tiling: conv {node.name!r} is not stride 1 with 'same' padding "
                               f"(stride {a['stride']}, padding {a['padding']}, kernel {kh}×{kw})")
    return WINOGRAD_TILE if path == "winograd" else max(kh // 2, kw // 2)


def windows(n: int, tile: int, h: int) -> list[tuple[int, int, int, int]]:
    """(i0, i1, w0, w1) per tile along an axis of n LR pixels: interior i0:i1, window w0:w1."""
    length = tile + 2 * h + ALIGN - 1
    last = max((n - length) // ALIGN * ALIGN, 0)      # start of a window that ends on the far border
    out = []
    for i0 in range(0, n, tile):
        i1 = min(i0 + tile, n)
        w0 = max((i0 - h) // ALIGN * ALIGN, 0)
        if w0 + length >= n:
            w0, w1 = min(w0, last), n
        else:
            w1 = w0 + length
        out.append((i0, i1, w0, w1))
    return out


def split(height: int, width: int, tile: int, h: int) -> list[Tile]:
    """The tiles of a height×width LR frame, row-major."""
    return [Tile(y0, y1, x0, min(x0 + tile, width), wy0, wy1, 0, width)
            for y0, y1, wy0, wy1 in windows(height, tile, h)
            for x0 in range(0, width, tile)]


@functools.lru_cache(maxsize=64)
def _bytes_per_pixel(model, backend: str) -> float:
    plan, s = _probe_plan(model, backend), model.scale
    return 4 * (sum(plan.slot_sizes) + PROBE * PROBE * 3 * (1 + s * s)) / (PROBE * PROBE)


def auto_tile(model, backend: str, height: int, width: int, budget: int | None = None) -> int | None:
    """The tile size tile="auto" picks for a height×width frame (None: the whole frame fits the budget,
    default AUTO_BUDGET)."""
    budget = AUTO_BUDGET if budget is None else budget
    per_px = _bytes_per_pixel(model, backend)
    if per_px * height * width <= budget:
        return None
    h = halo(model, backend)
    rows = int(budget / (per_px * width)) - 2 * h - (ALIGN - 1)
    return max(rows // ALIGN * ALIGN, ALIGN)


def upscale_tiled(x: np.ndarray, model, backend: str, tile: int, to_uint8) -> np.ndarray:
    """x: 1×3×H×W float32 (the RGB plan's input) → H·s×W·s×3 uint8, one window at a time.
    `to_uint8` turns one window's 1×3×h×w float output into h×w×3 uint8 (pointwise, so it commutes with cropping)."""
    _, _, height, width = x.shape
    s = model.scale
    h = halo(model, backend)
    out = np.empty((height * s, width * s, 3), np.uint8)
    hr, done = None, None
    for t in split(height, width, tile, h):
        if (t.wy0, t.wy1) != done:                         # the tiles of one row share their window
            win = np.ascontiguousarray(x[:, :, t.wy0:t.wy1, t.wx0:t.wx1])
            hr, done = model.plan(backend, win.shape, rgb=True).run(win)[0], (t.wy0, t.wy1)
        oy, ox = (t.y0 - t.wy0) * s, (t.x0 - t.wx0) * s
        crop = hr[:, :, oy:oy + (t.y1 - t.y0) * s, ox:ox + (t.x1 - t.x0) * s]
        out[t.y0 * s:t.y1 * s, t.x0 * s:t.x1 * s] = to_uint8(np.ascontiguousarray(crop))
    return out
