"""The op contract: what every op declares beside its float64 numpy reference.

Tensors are NCHW (rank 4) at every op boundary. Shapes are plain tuples. An op module defines one
`SPEC = OpSpec(...)`; `pysr.ops.SPECS` is the closed table of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError

Shape = tuple[int, ...]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class OpSpec:
    """Everything the graph, the runtime and the tests know about one op.

    inputs:    names of the activation inputs in order; a name ending in "*" is variadic (≥ 1),
               a name ending in "?" is present only when the attrs say so (see `n_inputs`).
    params:    names of the parameter slots (weights); optional ones end in "?".
    attrs:     attribute name -> default value (REQUIRED for none).
    check:     validates merged attrs (types, ranges); raises AttributeSpecError.
    shape:     (attrs, input shapes, param shapes) -> output shapes; raises ShapeError.
    reference: (attrs, float64 inputs, float64 params) -> float64 outputs. The spec of the op.
    tolerance: (attrs, input shapes, param shapes) -> (atol, rtol) a float32 kernel must meet:
               |out - ref| <= atol + rtol * |ref| elementwise.
    """

    name: str
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    attrs: Mapping[str, Any]
    check: Callable[[dict], None]
    shape: Callable[[dict, Sequence[Shape], Mapping[str, Shape]], list[Shape]]
    reference: Callable[[dict, Sequence[np.ndarray], Mapping[str, np.ndarray]], list[np.ndarray]]
    tolerance: Callable[[dict, Sequence[Shape], Mapping[str, Shape]], tuple[float, float]]
    doc: str = field(default="")

    def merge_attrs(self, attrs: Mapping[str, Any] | None) -> dict:
        """Defaults filled in; unknown or missing attributes raise AttributeSpecError."""
        attrs = dict(attrs or {})
        unknown = sorted(set(attrs) - set(self.attrs))
        if unknown:
            raise AttributeSpecError(
                f"{self.name}: unknown attribute(s) {unknown}; known: {sorted(self.attrs)}"
            )
        merged = {}
        for key, default in self.attrs.items():
            if key in attrs:
                merged[key] = attrs[key]
            elif default is REQUIRED:
                raise AttributeSpecError(f"{self.name}: attribute {key!r} is required")
            else:
                merged[key] = default
        self.check(merged)
        return merged

    def required_params(self) -> list[str]:
        return [p for p in self.params if not p.endswith("?")]

    def param_names(self) -> list[str]:
        return [p.rstrip("?") for p in self.params]


# ---- small helpers shared by the op modules -------------------------------------------------


def expect_rank4(op: str, what: str, shape: Sequence[int]) -> Shape:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4:
        raise ShapeError(f"{op}: {what} must be NCHW (rank 4), got shape {shape}")
    if any(s <= 0 for s in shape):
        raise ShapeError(f"{op}: {what} has an empty dimension: shape {shape}")
    return shape


def expect_count(op: str, inputs: Sequence[Any], n: int) -> None:
    if len(inputs) != n:
        raise ShapeError(f"{op}: expects {n} input(s), got {len(inputs)}")


def expect_choice(op: str, key: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise AttributeSpecError(f"{op}: attribute {key}={value!r} must be one of {list(choices)}")


INT32_MAX = 2**31 - 1


def expect_int(op: str, key: str, value: Any, lo: int = 0, hi: int = INT32_MAX) -> None:
    """An integer in [lo, hi]. Integer attributes are int32 in libpysr (docs/model-file.md §1, limits); a few ops
    bound theirs lower (conv2d padding 2^20, pad and split sizes 2^24), as libpysr does."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        top = "2^31 - 1" if hi == INT32_MAX else f"2^{hi.bit_length() - 1}" if hi & (hi - 1) == 0 else str(hi)
        raise AttributeSpecError(f"{op}: attribute {key}={value!r} must be an integer in [{lo}, {top}]")


def expect_number(op: str, key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise AttributeSpecError(f"{op}: attribute {key}={value!r} must be a number")
    if not np.isfinite(value):
        raise AttributeSpecError(f"{op}: attribute {key}={value!r} must be finite")


def eps32_tolerance(atol: float = 1e-6, rel_eps: float = 4.0):
    """Tolerance for ops that do O(1) float32 arithmetic per output."""
    eps = float(np.finfo(np.float32).eps)

    def tolerance(attrs, in_shapes, param_shapes):
        return atol, rel_eps * eps

    return tolerance


def no_check(attrs: dict) -> None:
    return None
