"""upsample_bicubic_tecogan cases: the EGVSR factor 4 on flow-like 2-channel inputs, factor 3 and 2 on odd
sizes, factor 1 (identity phases only), and 1×1 / one-row inputs where every tap clamps. No PyTorch
counterpart: tests/test_resample_refs.py checks the spec against EGVSR's own output."""

from op_cases import Case

SHAPES_SCALES = [
    ((2, 2, 12, 20), 4),
    ((1, 5, 13, 3), 3),
    ((2, 3, 7, 7), 2),
    ((1, 1, 1, 1), 4),
    ((1, 2, 1, 9), 3),
    ((1, 3, 5, 6), 1),
]

CASES = [
    Case(attrs={"scale": s}, inputs=[shape], id=f"{'x'.join(map(str, shape))}-s{s}", low=-8.0, high=8.0)
    for shape, s in SHAPES_SCALES
]
