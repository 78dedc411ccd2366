"""upsample_bicubic_tecogan: the EGVSR/TecoGAN flow upsampler ("BicubicUpsample", TecoGAN-TF style) by an
integer factor s. Neither PyTorch's bicubic nor MATLAB's.

Output size: (H·s, W·s). Cubic convolution with a = −0.75; for phase d = 0..s−1 let t = d/s and
  k0 = a·t − 2a·t² + a·t³,  k1 = 1 − (a+3)·t² + (a+2)·t³,  k2 = −a·t + (2a+3)·t² − (a+2)·t³,  k3 = a·t² − a·t³.
Along an axis of input size n:
  out[s·i + d] = k0·in[i−1] + k1·in[i] + k2·in[i+1] + k3·in[i+2],  indices clamped to [0, n−1]
(output s·i sits exactly on input i: corner-aligned, no half-pixel shift). Rows (H) first, then columns (W).
No ×s factor inside: a flow upsampled with it is multiplied by s outside the op (its units are pixels).
"""

from __future__ import annotations

import numpy as np

from pysr.ops import separable
from pysr.ops.spec import OpSpec, expect_int

OP = "upsample_bicubic_tecogan"
A = -0.75


def phase_weights(t: float, a: float = A) -> tuple[float, float, float, float]:
    return (
        a * t - 2 * a * t**2 + a * t**3,
        1 - (a + 3) * t**2 + (a + 2) * t**3,
        -a * t + (2 * a + 3) * t**2 - (a + 2) * t**3,
        a * t**2 - a * t**3,
    )


def taps(n: int, s: int):
    """Tap table of one axis: idx (n·s, 4) int64 and w (n·s, 4) float64."""
    idx = np.zeros((n * s, 4), np.int64)
    w = np.zeros((n * s, 4))
    for i in range(n):
        for d in range(s):
            idx[s * i + d] = [min(max(i + k, 0), n - 1) for k in (-1, 0, 1, 2)]
            w[s * i + d] = phase_weights(d / s)
    return idx, w


def tables(a, in_shape):
    """(taps of H, taps of W) for an NCHW input shape."""
    _, _, h, w = in_shape
    return taps(h, a["scale"]), taps(w, a["scale"])


def _check(a):
    expect_int(OP, "scale", a["scale"], lo=1)


def _shape(a, in_shapes, param_shapes):
    n, c, h, w = separable.one_input(OP, in_shapes)
    s = a["scale"]
    return [(n, c, h * s, w * s)]


def _reference(a, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    return [separable.apply(x, *tables(a, x.shape))]


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"scale": 4},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=lambda a, i, p: separable.tolerance(4, 4),
    doc=__doc__,
)
