"""affine cases: defaults (identity), the [0,1] → [−1,1] map, a large scale with cancelling shift, odd shapes."""

from __future__ import annotations

import numpy as np

from op_cases import Case

CASES = [
    Case({}, [(1, 3, 7, 7)], id="identity-7x7"),
    Case({"scale": 2.0, "shift": -1.0}, [(2, 5, 13, 3)], id="to-signed-b2-13x3", low=0.0, high=1.0),
    Case({"scale": 255.0, "shift": -127.5}, [(1, 1, 1, 1)], id="x255-1x1", low=0.0, high=1.0),
    Case({"scale": -0.3, "shift": 0.1}, [(1, 3, 181, 183)], id="multichunk"),
    Case({"scale": 1.0, "shift": 0.7}, [(1, 7, 3, 13)], id="shift-only"),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch

    return [(torch.from_numpy(np.asarray(inputs[0], np.float64)) * attrs["scale"] + attrs["shift"]).numpy()]
