"""The fused conv2d epilogue, shared by every conv2d path: a few finished output rows at a time.

`finish(buf, …)` takes conv results (no bias yet) for a few rows of the raw convolution (one output channel
and row each, columns x0 … x0+count−1), held in a small contiguous buffer that is still hot in L1, and
applies in the spec's order: + bias → activation → pixel shuffle (the element goes straight to its shuffled
place) → residual + residual_scale·y → clamp, writing the final output. The activation runs in place on the
buffer (a branch-free float32 loop per kind, so it vectorises; tanh and sigmoid are the rational
approximations of kernels/cpu/_math.py); the store loop then reads the residual and clamps.
Traffic: the buffer is read twice from L1; each output element is written once (plus one residual read).

Settings travel as two small arrays built once in `settings()`: ints (activation, r, the shuffle's channel
strides cs and ks, has residual, has clamp, output H, W, C) and float32s (alpha, residual_scale, lo, hi).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

from pysr.kernels.cpu._math import sigmoid_f, tanh_f
from pysr.kernels.cpu.conv2d_llvm import wide_vectors

NONE, RELU, LEAKY, PRELU, TANH, SIGMOID, SCALED_TANH = range(7)
ACTIVATION_CODES = {"none": NONE, "relu": RELU, "leaky_relu": LEAKY, "prelu": PRELU, "tanh": TANH,
                    "sigmoid": SIGMOID, "scaled_tanh": SCALED_TANH}


def settings(attrs, params, cout: int, out_shape):
    """(ints, floats, bias, slope) arrays for `finish`, from merged conv2d attributes, float32 params and the
    final output shape."""
    r = int(attrs["pixel_shuffle"])
    if r > 1:
        # input channel of (c, i, j) is c·cs + (i·r + j)·ks (see kernels/cpu/pixel_shuffle.py)
        cs, ks = (r * r, 1) if attrs["ps_order"] == "pytorch" else (1, cout // (r * r))
    else:
        r, cs, ks = 1, 1, 1
    clamp = attrs["clamp"]
    ints = np.array([ACTIVATION_CODES[attrs["activation"]], r, cs, ks, int(bool(attrs["residual"])),
                     int(clamp is not None), out_shape[2], out_shape[3], out_shape[1]], np.int64)
    lo, hi = (clamp if clamp is not None else (0.0, 0.0))
    floats = np.array([attrs["alpha"], attrs["residual_scale"], lo, hi], np.float32)
    bias = params.get("bias")
    bias = np.zeros(cout, np.float32) if bias is None else np.ascontiguousarray(bias, np.float32)
    slope = params.get("slope")
    slope = np.zeros(cout, np.float32) if slope is None else np.ascontiguousarray(slope, np.float32)
    return ints, floats, bias, slope


@njit(fastmath=True, error_model="numpy", inline="always", cache=True)
def activate(buf, count, kind, b, a):
    """buf[:count] = act(buf[:count] + b) in place; `a` is alpha (leaky, scaled tanh) or the prelu slope."""
    zero = np.float32(0.0)
    if kind == NONE:
        for i in range(count):
            buf[i] = buf[i] + b
    elif kind == RELU:
        for i in range(count):
            buf[i] = max(buf[i] + b, zero)
    elif kind in (LEAKY, PRELU):
        for i in range(count):
            v = buf[i] + b
            buf[i] = v if v >= zero else a * v
    elif kind == TANH:
        for i in range(count):
            buf[i] = tanh_f(buf[i] + b)
    elif kind == SIGMOID:
        for i in range(count):
            buf[i] = sigmoid_f(buf[i] + b)
    else:
        for i in range(count):
            buf[i] = a * tanh_f(buf[i] + b)


@njit(fastmath=True, error_model="numpy", inline="always", cache=True)
def finish(buf, stride, nrows, count, out, res, n, co, dco, y, dy, x0, ints, floats, bias, slope):
    """Row j < nrows of `buf` (at j·stride, `count` values) holds channel co + j·dco, row y + j·dy, columns x0 ….
    `out` and `res` are the final output and residual flattened to 1-D (`res` may be `out` when unused): a row
    view per row would cost an NRT incref/decref pair, and unsigned offsets skip numba's negative-index fix-up.
    One call per block of rows, not per row: the settings are decoded once (per-row calls cost ≈ 90 ns each)."""
    wide_vectors()
    kind, r, cs, ks, has_res, has_clamp, oh, ow, oc = (ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6],
                                                       ints[7], ints[8])
    for j in range(nrows):
        c = co + j * dco
        row = buf[j * stride:j * stride + count]
        activate(row, count, kind, bias[c], slope[c] if kind == PRELU else floats[0])
        oy, ox = y + j * dy, x0
        if r > 1:
            if cs > 1:          # pytorch order (cs = r²); tf has cs = 1, and ks = 1 too when one channel remains
                q = c % cs
                c = c // cs
            else:
                q = c // ks
                c = c % ks
            oy, ox = oy * r + q // r, x0 * r + q % r
        start = uint64(((n * oc + c) * oh + oy) * ow + ox)
        if r == 1:
            _store(row, uint64(count), out, res, start, has_res, has_clamp, floats)
        else:
            _store_strided(row, uint64(count), out, res, start, uint64(r), has_res, has_clamp, floats)


@njit(fastmath=True, error_model="numpy", inline="always", cache=True)
def _store(buf, count, dst, src, o, has_res, has_clamp, floats):
    scale, lo, hi = floats[1], floats[2], floats[3]
    if has_res and has_clamp:
        for i in range(count):
            dst[o + i] = min(max(src[o + i] + scale * buf[i], lo), hi)
    elif has_res:
        for i in range(count):
            dst[o + i] = src[o + i] + scale * buf[i]
    elif has_clamp:
        for i in range(count):
            dst[o + i] = min(max(buf[i], lo), hi)
    else:
        for i in range(count):
            dst[o + i] = buf[i]


@njit(fastmath=True, error_model="numpy", inline="always", cache=True)
def _store_strided(buf, count, dst, src, o, step, has_res, has_clamp, floats):
    scale, lo, hi = floats[1], floats[2], floats[3]
    if has_res and has_clamp:
        for i in range(count):
            dst[o + i * step] = min(max(src[o + i * step] + scale * buf[i], lo), hi)
    elif has_res:
        for i in range(count):
            dst[o + i * step] = src[o + i * step] + scale * buf[i]
    elif has_clamp:
        for i in range(count):
            dst[o + i * step] = min(max(buf[i], lo), hi)
    else:
        for i in range(count):
            dst[o + i * step] = buf[i]
