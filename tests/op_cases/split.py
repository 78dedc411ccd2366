"""split cases: Y | CbCr, uneven sizes, a single size (a copy), batch 2, 1×1 planes, large planes.
Inputs are float32-exact so the copy is checked bit for bit."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def exact(shape):
    return lambda rng: [rng.uniform(-1, 1, shape).astype(np.float32)]


def _case(sizes, shape, id):
    return Case({"sizes": sizes}, [shape], id=id, make_inputs=exact(shape))


CASES = [
    _case((1, 2), (1, 3, 7, 7), "y-cbcr-7x7"),
    _case([3, 1, 5], (2, 9, 13, 3), "three-b2"),
    _case([7], (1, 7, 5, 3), "single"),
    _case([1, 1, 1], (1, 3, 1, 1), "1x1"),
    _case([1, 2], (1, 3, 181, 183), "multichunk"),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch

    x = torch.from_numpy(np.asarray(inputs[0], np.float64))
    return [t.numpy() for t in torch.split(x, list(attrs["sizes"]), dim=1)]
