"""pixel_shuffle cases: scales 1-4, both orders, channel counts 5·r² and 9·r², odd and 1×1 images, batch 2.
Inputs are float32-exact so the copy is checked bit for bit (tolerance 0)."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def exact(shape):
    return lambda rng: [rng.uniform(-1, 1, shape).astype(np.float32)]


def _case(r, order, c, h, w, n=1):
    shape = (n, c * r * r, h, w)
    return Case({"scale": r, "order": order}, [shape], id=f"r{r}-{order}-c{c}-{n}x{h}x{w}", make_inputs=exact(shape))


CASES = [
    _case(r, order, c, h, w, n)
    for order in ("pytorch", "tf")
    for (r, c, h, w, n) in [(2, 9, 7, 5, 1), (3, 5, 13, 3, 2), (4, 9, 5, 7, 1), (3, 9, 1, 1, 1), (2, 5, 1, 17, 2),
                            (4, 5, 3, 1, 1), (1, 3, 4, 6, 1), (3, 1, 8, 11, 1)]
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(inputs[0], np.float64))
    r = attrs["scale"]
    if attrs["order"] == "pytorch":
        return [F.pixel_shuffle(x, r).numpy()]
    n, cin, h, w = x.shape
    y = x.reshape(n, r, r, cin // (r * r), h, w).permute(0, 3, 4, 1, 5, 2)
    return [y.reshape(n, cin // (r * r), h * r, w * r).numpy()]
