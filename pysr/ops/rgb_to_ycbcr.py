"""rgb_to_ycbcr: R'G'B' planes in [0, 1] (N×3×H×W) to Y'CbCr planes on the same [0, 1] scale.

`matrix` bt601 (Kr, Kb = 0.299, 0.114) | bt709 (0.2126, 0.0722), Kg = 1 − Kr − Kb;
Y' = Kr·R + Kg·G + Kb·B,  Pb = (B − Y') / (2(1 − Kb)),  Pr = (R − Y') / (2(1 − Kr));
`range` limited: Y = 16/255 + (219/255)·Y',  Cb = 128/255 + (224/255)·Pb,  Cr = 128/255 + (224/255)·Pr
        full:    Y = Y',                      Cb = 128/255 + Pb,             Cr = 128/255 + Pr.
bt601 limited is MATLAB's rgb2ycbcr: Y = (16 + 65.481·R + 128.553·G + 24.966·B)/255.
`y_only` = True: one output channel, Y. No clipping. ycbcr_to_rgb is the exact inverse.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops.spec import REQUIRED, OpSpec, eps32_tolerance, expect_choice, expect_count, expect_rank4

OP = "rgb_to_ycbcr"
MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}
RANGES = ("limited", "full")


def check_colour(op: str, attrs: dict) -> None:
    expect_choice(op, "matrix", attrs["matrix"], list(MATRICES))
    expect_choice(op, "range", attrs["range"], RANGES)


def three_channels(op: str, in_shapes):
    expect_count(op, in_shapes, 1)
    s = expect_rank4(op, "input", in_shapes[0])
    if s[1] != 3:
        raise ShapeError(f"{op}: input must have 3 channels (N×3×H×W), got shape {s}")
    return s


def range_constants(rng: str):
    """(Y offset, Y gain, chroma gain) of a range; the chroma offset is always 128/255."""
    return (16 / 255, 219 / 255, 224 / 255) if rng == "limited" else (0.0, 1.0, 1.0)


def _check(attrs):
    check_colour(OP, attrs)
    if not isinstance(attrs["y_only"], bool):
        raise AttributeSpecError(f"{OP}: y_only must be true or false, got {attrs['y_only']!r}")


def _shape(attrs, in_shapes, param_shapes):
    n, _, h, w = three_channels(OP, in_shapes)
    return [(n, 1 if attrs["y_only"] else 3, h, w)]


def _reference(attrs, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    kr, kb = MATRICES[attrs["matrix"]]
    kg = 1.0 - kr - kb
    yp = kr * r + kg * g + kb * b
    pb = (b - yp) / (2.0 * (1.0 - kb))
    pr = (r - yp) / (2.0 * (1.0 - kr))
    y_off, y_gain, c_gain = range_constants(attrs["range"])
    y = y_off + y_gain * yp
    if attrs["y_only"]:
        return [y]
    return [np.concatenate([y, 128 / 255 + c_gain * pb, 128 / 255 + c_gain * pr], axis=1)]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"matrix": REQUIRED, "range": REQUIRED, "y_only": False},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=eps32_tolerance(atol=1e-6, rel_eps=4.0),
    doc=__doc__,
)
