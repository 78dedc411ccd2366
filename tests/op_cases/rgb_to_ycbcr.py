"""rgb_to_ycbcr cases: both matrices × both ranges, y_only, odd shapes, batch 2, 1×1, large planes; RGB in
[0, 1]. No PyTorch counterpart (MATLAB rgb2ycbcr is checked in tests/test_layout_inverse.py)."""

from __future__ import annotations

from op_cases import Case

CASES = [
    Case({"matrix": matrix, "range": rng, "y_only": y_only}, [shape], low=0.0, high=1.0,
         id=f"{matrix}-{rng}-{'y' if y_only else 'ycbcr'}-{i}")
    for matrix in ("bt601", "bt709")
    for rng in ("limited", "full")
    for y_only in (False, True)
    for i, shape in enumerate([(1, 3, 7, 7), (2, 3, 13, 3), (1, 3, 1, 1), (1, 3, 131, 129)])
    if not (i == 3 and y_only)
]
