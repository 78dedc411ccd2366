"""ycbcr_to_rgb cases: both matrices × both ranges on odd shapes, batch 2, 1×1, large planes; Y, Cb, Cr in
[0, 1] (including combinations outside the RGB gamut: no clipping). No PyTorch counterpart; the round trip
with rgb_to_ycbcr is in tests/test_layout_inverse.py."""

from __future__ import annotations

from op_cases import Case

CASES = [
    Case({"matrix": matrix, "range": rng}, [shape], id=f"{matrix}-{rng}-{i}", low=0.0, high=1.0)
    for matrix in ("bt601", "bt709")
    for rng in ("limited", "full")
    for i, shape in enumerate([(1, 3, 7, 7), (2, 3, 13, 3), (1, 3, 1, 1), (1, 3, 131, 129)])
]
