"""space_to_depth cases: scales 1-4, both orders, odd channel counts, batch 2, outputs down to 1×1.
Inputs are float32-exact so the copy is checked bit for bit (tolerance 0)."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def exact(shape):
    return lambda rng: [rng.uniform(-1, 1, shape).astype(np.float32)]


def _case(r, order, c, h, w, n=1):
    shape = (n, c, h * r, w * r)
    return Case({"scale": r, "order": order}, [shape], id=f"r{r}-{order}-c{c}-{n}x{h}x{w}", make_inputs=exact(shape))


CASES = [
    _case(r, order, c, h, w, n)
    for order in ("pytorch", "tf")
    for (r, c, h, w, n) in [(2, 9, 7, 5, 1), (3, 5, 13, 3, 2), (4, 3, 5, 7, 1), (3, 7, 1, 1, 1), (2, 1, 1, 17, 2),
                            (4, 5, 3, 1, 1), (1, 3, 4, 6, 1)]
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(inputs[0], np.float64))
    r = attrs["scale"]
    if attrs["order"] == "pytorch":
        return [F.pixel_unshuffle(x, r).numpy()]
    n, c, h, w = x.shape
    y = x.reshape(n, c, h // r, r, w // r, r).permute(0, 3, 5, 1, 2, 4)
    return [y.reshape(n, r * r * c, h // r, w // r).numpy()]
