"""Frame boundary conversions between uint8 pictures and the float32 NCHW tensors of the runtime (not an op: the
API calls these on the way in and out of a plan).

    rgb_u8_to_planar(frame H×W×3 uint8) -> 1×3×H×W float32   x/255 (a true float32 division, as numpy's
                                                              frame.astype(np.float32) / 255; a multiply by
                                                              float32(1/255) differs by 1 ulp on 126 of 256 levels)
    planar_to_rgb_u8(x 1×3×H×W float32) -> H×W×3 uint8      clip(rint(x·255), 0, 255): x·255 in float32, rounded
                                                              half to even (np.rint); NaN gives 0
    y_u8_to_plane / plane_to_y_u8                            the same for one plane (H×W <-> 1×1×H×W)

Threads: prange over rows. Layout: the uint8 side is interleaved (HWC), the float side planar (CHW); a row is
read once and written once: traffic = H·W·3·(1 + 4) bytes each way, the copy floor of the conversion.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from pysr.errors import InputError


@njit(cache=True, inline="always")
def _to_u8(v):
    """uint8 of clip(rint(v·255), 0, 255) for a float32 v; the NaN-safe clamp comes first (0 and 255 are integers,
    so clamping before rounding equals rounding before clamping)."""
    s = v * np.float32(255.0)
    if not s >= np.float32(0.0):       # negative or NaN
        s = np.float32(0.0)
    elif s > np.float32(255.0):
        s = np.float32(255.0)
    return np.uint8(np.rint(s))


@njit(parallel=True, cache=True)
def _rgb_to_planar(frame, out):
    # One channel at a time over the flat row: a stride-3 byte load that LLVM vectorises with byte permutes.
    h, w = frame.shape[0], frame.shape[1]
    k = np.float32(255.0)
    for y in prange(h):
        src = frame[y].ravel()
        for c in range(3):
            dst = out[0, c, y]
            for x in range(w):
                dst[x] = np.float32(src[3 * x + c]) / k


@njit(parallel=True, cache=True)
def _planar_to_rgb(x, out):
    # Convert each channel row into a uint8 scratch row (vectorised), then interleave the three: 3.5-5× faster
    # than converting and storing with stride 3 directly (which stays scalar).
    h, w = out.shape[0], out.shape[1]
    for y in prange(h):
        t = np.empty((3, w), np.uint8)
        for c in range(3):
            src = x[0, c, y]
            tc = t[c]
            for i in range(w):
                tc[i] = _to_u8(src[i])
        dst = out[y].ravel()
        for i in range(w):
            dst[3 * i] = t[0, i]
            dst[3 * i + 1] = t[1, i]
            dst[3 * i + 2] = t[2, i]


@njit(parallel=True, cache=True)
def _y_to_plane(y_u8, out):
    h, w = y_u8.shape
    k = np.float32(255.0)
    for y in prange(h):
        src = y_u8[y]
        dst = out[0, 0, y]
        for x in range(w):
            dst[x] = np.float32(src[x]) / k


@njit(parallel=True, cache=True)
def _plane_to_y(x, out):
    h, w = out.shape
    for y in prange(h):
        src = x[0, 0, y]
        dst = out[y]
        for i in range(w):
            dst[i] = _to_u8(src[i])


def _expect(a, dtype, shape_ok: bool, what: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or not shape_ok:
        got = f"{a.dtype} {a.shape}" if isinstance(a, np.ndarray) else type(a).__name__
        raise InputError(f"expected {what}, got {got}")
    return np.ascontiguousarray(a)


def rgb_u8_to_planar(frame: np.ndarray) -> np.ndarray:
    """H×W×3 uint8 RGB -> 1×3×H×W float32 in [0, 1] (x/255)."""
    ok = isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3
    frame = _expect(frame, np.uint8, ok, "an H×W×3 uint8 frame")
    out = np.empty((1, 3, frame.shape[0], frame.shape[1]), np.float32)
    _rgb_to_planar(frame, out)
    return out


def planar_to_rgb_u8(x: np.ndarray) -> np.ndarray:
    """1×3×H×W float32 in [0, 1] -> H×W×3 uint8 (clipped, ×255, rounded half to even)."""
    ok = isinstance(x, np.ndarray) and x.ndim == 4 and x.shape[:2] == (1, 3)
    x = _expect(x, np.float32, ok, "a 1×3×H×W float32 tensor")
    out = np.empty((x.shape[2], x.shape[3], 3), np.uint8)
    _planar_to_rgb(x, out)
    return out


def y_u8_to_plane(y: np.ndarray) -> np.ndarray:
    """H×W uint8 -> 1×1×H×W float32 in [0, 1] (x/255)."""
    ok = isinstance(y, np.ndarray) and y.ndim == 2
    y = _expect(y, np.uint8, ok, "an H×W uint8 plane")
    out = np.empty((1, 1) + y.shape, np.float32)
    _y_to_plane(y, out)
    return out


def plane_to_y_u8(x: np.ndarray) -> np.ndarray:
    """1×1×H×W float32 in [0, 1] -> H×W uint8 (clipped, ×255, rounded half to even)."""
    ok = isinstance(x, np.ndarray) and x.ndim == 4 and x.shape[:2] == (1, 1)
    x = _expect(x, np.float32, ok, "a 1×1×H×W float32 tensor")
    out = np.empty(x.shape[2:], np.uint8)
    _plane_to_y(x, out)
    return out
