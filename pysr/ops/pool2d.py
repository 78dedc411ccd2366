"""pool2d: 2×2 pooling with stride 2 (PyTorch F.max_pool2d / F.avg_pool2d with kernel 2, stride 2, no padding,
floor mode).

Output size: Ho = floor(H/2), Wo = floor(W/2), each must be ≥ 1 (an odd last row or column is dropped).
  mode max: out[n, c, y, x] = max(in[n, c, 2y + i, 2x + j] for i, j in {0, 1})
  mode avg: out[n, c, y, x] = (Σ_{i, j ∈ {0, 1}} in[n, c, 2y + i, 2x + j]) / 4
`kernel` and `stride` are accepted for clarity in model files but only 2 is supported.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import AttributeSpecError, ShapeError
from pysr.ops.spec import REQUIRED, OpSpec, expect_choice, expect_count, expect_int, expect_rank4

OP = "pool2d"
MODES = ("max", "avg")


def _check(a):
    expect_choice(OP, "mode", a["mode"], MODES)
    for key in ("kernel", "stride"):
        expect_int(OP, key, a[key], lo=1)
        if a[key] != 2:
            raise AttributeSpecError(f"{OP}: only {key}=2 is supported, got {key}={a[key]!r}")


def _shape(a, in_shapes, param_shapes):
    expect_count(OP, in_shapes, 1)
    n, c, h, w = expect_rank4(OP, "input", in_shapes[0])
    if h < 2 or w < 2:
        raise ShapeError(f"{OP}: a 2×2 window needs an input of at least 2×2, got {h}×{w}")
    return [(n, c, h // 2, w // 2)]


def _reference(a, inputs, params):
    x = np.asarray(inputs[0], np.float64)
    n, c, h, w = x.shape
    blocks = x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
    if a["mode"] == "max":
        return [blocks.max(axis=(3, 5))]
    return [blocks.sum(axis=(3, 5)) / 4.0]


def _tolerance(a, in_shapes, param_shapes):
    eps = float(np.finfo(np.float32).eps)
    if a["mode"] == "max":
        # float32 rounding is monotonic: the kernel's max is the reference max rounded once.
        return 0.0, eps
    # three float32 additions of inputs of order 1 (exact scaling by 1/4).
    return 4.0 * eps, 4.0 * eps


SPEC = OpSpec(
    name=OP,
    inputs=("x",),
    params=(),
    attrs={"mode": REQUIRED, "kernel": 2, "stride": 2},
    check=_check,
    shape=_shape,
    reference=_reference,
    tolerance=_tolerance,
    doc=__doc__,
)
