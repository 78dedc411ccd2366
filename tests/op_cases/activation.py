"""activation cases: every kind on odd shapes, batch 2, 1×1 planes, one plane larger than the kernel's chunk;
tanh/sigmoid also over [−20, 20] (the approximations' clamp and tails) and near 0."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def _cases():
    cases = []
    for kind, extra in [("relu", {}), ("leaky_relu", {"alpha": 0.2}), ("tanh", {}), ("sigmoid", {}),
                        ("scaled_tanh", {"alpha": 1.7}), ("clamp", {"lo": -0.25, "hi": 0.5})]:
        attrs = {"kind": kind, **extra}
        cases += [
            Case(attrs, [(1, 3, 7, 7)], id=f"{kind}-7x7"),
            Case(attrs, [(2, 5, 13, 3)], id=f"{kind}-b2-13x3", low=-4.0, high=4.0),
            Case(attrs, [(1, 1, 1, 1)], id=f"{kind}-1x1"),
            Case(attrs, [(1, 2, 131, 129)], id=f"{kind}-multichunk", low=-20.0, high=20.0),
        ]
    for kind in ("tanh", "sigmoid"):
        cases.append(Case({"kind": kind}, [(1, 1, 33, 31)], id=f"{kind}-tiny", low=-1e-3, high=1e-3))
    cases += [
        Case({"kind": "prelu"}, [(2, 5, 7, 7)], {"slope": (5,)}, id="prelu-b2-7x7"),
        Case({"kind": "prelu"}, [(1, 3, 131, 129)], {"slope": (3,)}, id="prelu-multichunk"),
        Case({"kind": "prelu"}, [(1, 1, 1, 1)], {"slope": (1,)}, id="prelu-1x1"),
    ]
    return cases


CASES = _cases()


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(inputs[0], np.float64))
    kind = attrs["kind"]
    if kind == "relu":
        y = F.relu(x)
    elif kind == "leaky_relu":
        y = F.leaky_relu(x, attrs["alpha"])
    elif kind == "prelu":
        y = F.prelu(x, torch.from_numpy(np.asarray(params["slope"], np.float64)))
    elif kind == "tanh":
        y = torch.tanh(x)
    elif kind == "sigmoid":
        y = torch.sigmoid(x)
    elif kind == "scaled_tanh":
        y = attrs["alpha"] * torch.tanh(x)
    else:
        y = torch.clamp(x, attrs["lo"], attrs["hi"])
    return [y.numpy()]
