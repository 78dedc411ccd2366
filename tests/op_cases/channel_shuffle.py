"""channel_shuffle cases: g = 2 (SOF-VSR ResB), g = 3 with odd C/g, g = 1 and g = C (identities), batch 2,
1×1 planes. Inputs are float32-exact so the permutation is checked bit for bit."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def _case(g, shape, id):
    return Case({"groups": g}, [shape], id=id, make_inputs=lambda rng: [rng.uniform(-1, 1, shape).astype(np.float32)])


CASES = [
    _case(2, (1, 10, 7, 7), "g2-7x7"),
    _case(3, (2, 15, 13, 3), "g3-b2-13x3"),
    _case(1, (1, 5, 3, 3), "g1"),
    _case(7, (1, 7, 1, 1), "gC-1x1"),
    _case(2, (1, 4, 181, 183), "multichunk"),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(inputs[0], np.float64))
    return [F.channel_shuffle(x, attrs["groups"]).numpy()]
