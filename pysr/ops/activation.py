"""activation: elementwise y = f(x), one kind per node.

kinds: relu, leaky_relu (x if x >= 0 else alpha*x), prelu (per-channel slope param `slope`, shape (C,)),
tanh, sigmoid, scaled_tanh (alpha*tanh(x)), clamp (min(max(x, lo), hi)).
The conv2d epilogue uses exactly these definitions (`apply`), so fused and unfused graphs agree.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops.spec import (
    REQUIRED,
    OpSpec,
    eps32_tolerance,
    expect_choice,
    expect_count,
    expect_number,
    expect_rank4,
)

KINDS = ("relu", "leaky_relu", "prelu", "tanh", "sigmoid", "scaled_tanh", "clamp")
# Kinds that act identically on every channel (so they commute with channel permutations).
UNIFORM_KINDS = ("relu", "leaky_relu", "tanh", "sigmoid", "scaled_tanh", "clamp")


def check_clamp(op: str, lo, hi) -> None:
    expect_number(op, "lo", lo)
    expect_number(op, "hi", hi)
    if lo > hi:
        raise AttributeSpecError(f"{op}: clamp lo={lo} > hi={hi}")


def apply(kind: str, x: np.ndarray, alpha: float, slope=None, lo=0.0, hi=1.0) -> np.ndarray:
    """float64 reference of every activation kind; x is NCHW, slope (C,) for prelu."""
    x = np.asarray(x, dtype=np.float64)
    if kind == "none":
        return x
    if kind == "relu":
        return np.maximum(x, 0.0)
    if kind == "leaky_relu":
        return np.where(x >= 0, x, alpha * x)
    if kind == "prelu":
        s = np.asarray(slope, dtype=np.float64).reshape(1, -1, 1, 1)
        return np.where(x >= 0, x, s * x)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if kind == "scaled_tanh":
        return alpha * np.tanh(x)
    if kind == "clamp":
        return np.clip(x, lo, hi)
    raise ValueError(kind)


def _check(attrs):
    expect_choice("activation", "kind", attrs["kind"], KINDS)
    expect_number("activation", "alpha", attrs["alpha"])
    check_clamp("activation", attrs["lo"], attrs["hi"])


def _shape(attrs, in_shapes, param_shapes):
    expect_count("activation", in_shapes, 1)
    s = expect_rank4("activation", "input", in_shapes[0])
    if attrs["kind"] == "prelu":
        if "slope" not in param_shapes:
            raise ShapeError("activation: kind 'prelu' needs the parameter 'slope'")
        if tuple(param_shapes["slope"]) != (s[1],):
            raise ShapeError(
                f"activation: prelu slope must have shape ({s[1]},), got {tuple(param_shapes['slope'])}"
            )
    return [s]


def _reference(attrs, inputs, params):
    return [apply(attrs["kind"], inputs[0], attrs["alpha"], params.get("slope"), attrs["lo"], attrs["hi"])]


SPEC = OpSpec(
    name="activation",
    inputs=("x",),
    params=("slope?",),
    attrs={"kind": REQUIRED, "alpha": 0.01, "lo": 0.0, "hi": 1.0},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=eps32_tolerance(atol=2e-7, rel_eps=8.0),
    doc=__doc__,
)
