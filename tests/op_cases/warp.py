"""warp cases: flows of several pixels that push samples past every border (border clamp), whole-pixel flows
(fractions exactly 0), SOF-VSR's flow_scale 15.5, both align_corners settings, odd sizes, batch 2, and the
degenerate one-column / one-row / 1×1 images (sample column or row 0)."""

import numpy as np

from op_cases import Case


def _flows(n, c, h, w, reach, integer=False):
    """img ~ U(-1, 1) and a flow of up to `reach` pixels (in flow units) in both directions."""

    def make(rng):
        img = rng.uniform(-1.0, 1.0, size=(n, c, h, w))
        flow = rng.uniform(-reach, reach, size=(n, 2, h, w))
        return [img, np.round(flow) if integer else flow]

    return make


SPECS = [
    # shape, reach (flow units), flow_scale, integer flow, id
    ((2, 3, 7, 7), 5.0, 1.0, False, "7x7-5px"),
    ((1, 5, 13, 3), 4.0, 1.0, False, "13x3-4px"),
    ((1, 3, 16, 20), 12.0, 1.0, False, "16x20-12px"),
    ((2, 2, 9, 11), 3.0, 1.0, True, "9x11-whole-px"),
    ((2, 1, 12, 10), 0.4, 15.5, False, "12x10-sofvsr-scale"),
    ((1, 2, 1, 9), 3.0, 1.0, False, "1x9-one-row"),
    ((1, 2, 9, 1), 3.0, 1.0, False, "9x1-one-column"),
    ((1, 1, 1, 1), 2.0, 1.0, False, "1x1"),
]

CASES = [
    Case(
        attrs={"align_corners": ac, "flow_scale": fs},
        inputs=[shape, (shape[0], 2, shape[2], shape[3])],
        id=f"{name}-ac{int(ac)}",
        make_inputs=_flows(*shape, reach, integer),
    )
    for shape, reach, fs, integer, name in SPECS
    for ac in (True, False)
]


def torch_reference(attrs, inputs, params):
    import torch
    import torch.nn.functional as F

    img, flow = inputs
    n, c, h, w = img.shape
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")

    def grid(pos, disp, size):  # -1 + 2x/(W-1) + 2u/(W-1); 0 for a single column/row (the spec's choice)
        return np.zeros_like(disp) if size == 1 else -1.0 + 2.0 * pos / (size - 1) + 2.0 * disp / (size - 1)

    gx = grid(xs[None], attrs["flow_scale"] * flow[:, 0], w)
    gy = grid(ys[None], attrs["flow_scale"] * flow[:, 1], h)
    grid = torch.from_numpy(np.stack([gx, gy], axis=-1))
    y = F.grid_sample(
        torch.from_numpy(img), grid, mode="bilinear", padding_mode="border", align_corners=attrs["align_corners"]
    )
    return [y.numpy()]
