"""concat cases: one input, two and three inputs with odd channel counts, batch 2, 1×1 planes, large planes.
Inputs are float32-exact so the copy is checked bit for bit."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def exact(*shapes):
    return lambda rng: [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]


def _case(shapes, id):
    return Case({}, list(shapes), id=id, make_inputs=exact(*shapes))


CASES = [
    _case([(1, 3, 7, 7)], "single"),
    _case([(1, 1, 13, 3), (1, 2, 13, 3)], "y-cbcr-13x3"),
    _case([(2, 3, 5, 7), (2, 5, 5, 7), (2, 1, 5, 7)], "three-b2"),
    _case([(1, 1, 1, 1), (1, 7, 1, 1)], "1x1"),
    _case([(1, 2, 181, 183), (1, 1, 181, 183)], "multichunk"),
    Case({"axis": 1}, [(1, 4, 3, 3), (1, 4, 3, 3)], id="axis-explicit", make_inputs=exact((1, 4, 3, 3), (1, 4, 3, 3))),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch

    return [torch.cat([torch.from_numpy(np.asarray(x, np.float64)) for x in inputs], dim=1).numpy()]
