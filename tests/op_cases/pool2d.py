"""pool2d cases: max and average, even and odd sizes (the odd last row/column is dropped), 2×2 and 3×2 inputs
giving a single output, channel counts not a multiple of 8, batch 2."""

from op_cases import Case

SHAPES = [(2, 3, 8, 8), (2, 3, 7, 7), (1, 5, 13, 3), (1, 1, 2, 2), (1, 3, 3, 2), (1, 12, 10, 15)]

CASES = [Case(attrs={"mode": m}, inputs=[s], id=f"{m}-{'x'.join(map(str, s))}") for m in ("max", "avg") for s in SHAPES]


def torch_reference(attrs, inputs, params):
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(inputs[0])
    y = F.max_pool2d(x, 2, 2) if attrs["mode"] == "max" else F.avg_pool2d(x, 2, 2)
    return [y.numpy()]
