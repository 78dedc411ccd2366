"""add cases: plain and scaled residual adds (EDSR res_scale 0.1, a negative scale), odd shapes, batch 2."""

from __future__ import annotations

import numpy as np

from op_cases import Case

CASES = [
    Case({}, [(1, 3, 7, 7), (1, 3, 7, 7)], id="plain-7x7"),
    Case({"scale": 0.1}, [(2, 5, 13, 3), (2, 5, 13, 3)], id="res-scale-b2-13x3"),
    Case({"scale": -1.0}, [(1, 1, 1, 1), (1, 1, 1, 1)], id="subtract-1x1"),
    Case({"scale": 2.5}, [(1, 3, 181, 183), (1, 3, 181, 183)], id="multichunk"),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch

    a, b = (torch.from_numpy(np.asarray(v, np.float64)) for v in inputs)
    return [torch.add(a, b, alpha=attrs["scale"]).numpy()]
