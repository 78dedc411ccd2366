"""resize_bicubic_torch cases: enlarging and shrinking by integer and fractional factors, odd sizes, 1×1 inputs,
outputs of one row/column (align_corners True with m == 1), both align_corners settings."""

from op_cases import Case

SHAPES_SCALES = [
    ((2, 3, 7, 7), 2),
    ((1, 5, 13, 3), 3),
    ((1, 1, 1, 1), 3),
    ((2, 3, 7, 7), 0.5),
    ((1, 5, 13, 3), 1 / 3),      # 4×1 output
    ((1, 2, 9, 11), 1.5),
    ((1, 3, 10, 17), 0.7),
    ((1, 1, 5, 6), 1),
    ((1, 2, 24, 20), 0.25),
]

CASES = [
    Case(
        attrs={"scale": s, "align_corners": ac},
        inputs=[shape],
        id=f"{'x'.join(map(str, shape))}-s{s:.3g}-ac{int(ac)}",
    )
    for shape, s in SHAPES_SCALES
    for ac in (False, True)
]


def torch_reference(attrs, inputs, params):
    import torch
    import torch.nn.functional as F

    y = F.interpolate(
        torch.from_numpy(inputs[0]),
        scale_factor=attrs["scale"],
        mode="bicubic",
        align_corners=attrs["align_corners"],
        recompute_scale_factor=False,
    )
    return [y.numpy()]
