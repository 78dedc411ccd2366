"""ycbcr_to_rgb: Y'CbCr planes on the [0, 1] scale (N×3×H×W) back to R'G'B', the exact algebraic inverse of
rgb_to_ycbcr with the same `matrix` and `range` (see there for Kr, Kb and the range constants):

limited: Y' = (Y − 16/255)·255/219,  Pb = (Cb − 128/255)·255/224,  Pr = (Cr − 128/255)·255/224
full:    Y' = Y,                     Pb = Cb − 128/255,            Pr = Cr − 128/255
R = Y' + 2(1 − Kr)·Pr,  B = Y' + 2(1 − Kb)·Pb,  G = (Y' − Kr·R − Kb·B) / Kg.   No clipping.
"""

from __future__ import annotations

import numpy as np

from pysr.ops.rgb_to_ycbcr import MATRICES, check_colour, range_constants, three_channels
from pysr.ops.spec import REQUIRED, OpSpec, eps32_tolerance

OP = "ycbcr_to_rgb"


def _reference(attrs, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    y, cb, cr = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    kr, kb = MATRICES[attrs["matrix"]]
    kg = 1.0 - kr - kb
    y_off, y_gain, c_gain = range_constants(attrs["range"])
    yp = (y - y_off) / y_gain
    pb = (cb - 128 / 255) / c_gain
    pr = (cr - 128 / 255) / c_gain
    r = yp + 2.0 * (1.0 - kr) * pr
    b = yp + 2.0 * (1.0 - kb) * pb
    g = (yp - kr * r - kb * b) / kg
    return [np.concatenate([r, g, b], axis=1)]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"matrix": REQUIRED, "range": REQUIRED},
    check=lambda attrs: check_colour(OP, attrs),
    shape=lambda attrs, in_shapes, param_shapes: [three_channels(OP, in_shapes)],
    reference=_reference,
    # The inverse amplifies: R, G, B gain up to ≈ 2.3 per unit of Cb/Cr in limited range.
    tolerance=eps32_tolerance(atol=2e-6, rel_eps=4.0),
    doc=__doc__,
)
