"""mul cases: odd shapes, batch 2, 1×1, a tensor larger than one chunk."""

from __future__ import annotations

import numpy as np

from op_cases import Case

CASES = [
    Case({}, [(1, 3, 7, 7), (1, 3, 7, 7)], id="7x7"),
    Case({}, [(2, 5, 13, 3), (2, 5, 13, 3)], id="b2-13x3", low=-3.0, high=3.0),
    Case({}, [(1, 1, 1, 1), (1, 1, 1, 1)], id="1x1"),
    Case({}, [(1, 3, 181, 183), (1, 3, 181, 183)], id="multichunk"),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch

    a, b = (torch.from_numpy(np.asarray(v, np.float64)) for v in inputs)
    return [torch.mul(a, b).numpy()]
