"""pad: pad H and W by `pads` = (top, bottom, left, right) pixels.

out[n, c, y, x] = in[n, c, src(y − top, H), src(x − left, W)], where for an index t of an axis of size S:
  zeros      t outside [0, S) gives `value` (default 0.0) instead of a read
  reflect    mirror without repeating the edge (torch "reflect", np.pad "reflect"): −1 → 1, S → S − 2;
             every pad must be smaller than the size of its axis
  replicate  clamp t to [0, S − 1] (torch "replicate", np.pad "edge")
Output shape (N, C, H + top + bottom, W + left + right).
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops.spec import REQUIRED, OpSpec, expect_choice, expect_count, expect_int, expect_number, expect_rank4

OP = "pad"
MODES = ("zeros", "reflect", "replicate")
EPS32 = float(np.finfo(np.float32).eps)


def _check(attrs):
    pads = attrs["pads"]
    if not isinstance(pads, (list, tuple)) or len(pads) != 4:
        raise AttributeSpecError(f"{OP}: pads must be (top, bottom, left, right), got {pads!r}")
    for p in pads:
        expect_int(OP, "pads", p, lo=0, hi=1 << 24)
    expect_choice(OP, "mode", attrs["mode"], MODES)
    expect_number(OP, "value", attrs["value"])
    if attrs["mode"] != "zeros" and attrs["value"] != 0.0:
        raise AttributeSpecError(f"{OP}: value={attrs['value']!r} only applies to mode 'zeros', not {attrs['mode']!r}")


def _shape(attrs, in_shapes, param_shapes):
    expect_count(OP, in_shapes, 1)
    n, c, h, w = expect_rank4(OP, "input", in_shapes[0])
    top, bottom, left, right = (int(p) for p in attrs["pads"])
    if attrs["mode"] == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
        raise ShapeError(
            f"{OP}: reflect pads (top, bottom, left, right) = {tuple(attrs['pads'])} must be smaller than the "
            f"input's height×width {h}×{w}"
        )
    return [(n, c, h + top + bottom, w + left + right)]


def _reference(attrs, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    top, bottom, left, right = (int(p) for p in attrs["pads"])
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    if attrs["mode"] == "zeros":
        return [np.pad(x, widths, mode="constant", constant_values=attrs["value"])]
    return [np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge"}[attrs["mode"]])]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"pads": REQUIRED, "mode": "zeros", "value": 0.0},
    check=_check,
    shape=_shape,
    reference=_reference,
    # Copies are exact; only a `value` that float32 cannot hold is rounded (half an ulp).
    tolerance=lambda attrs, i, p: (0.0, EPS32),
    doc=__doc__,
)
