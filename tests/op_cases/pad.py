"""pad cases: every mode with uneven pads on odd shapes, batch 2, zero pads, reflect at its largest legal pad,
replicate wider than the input, a 1×1 input, a constant value. Inputs are float32-exact (copies are exact)."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def exact(shape):
    return lambda rng: [rng.uniform(-1, 1, shape).astype(np.float32)]


def _case(mode, pads, shape, id, value=None):
    attrs = {"pads": pads, "mode": mode} | ({} if value is None else {"value": value})
    return Case(attrs, [shape], id=f"{mode}-{id}", make_inputs=exact(shape))


CASES = [
    _case("zeros", (1, 2, 3, 0), (1, 3, 7, 7), "7x7"),
    _case("zeros", (2, 0, 1, 3), (2, 5, 13, 3), "b2-13x3", value=0.3),
    _case("zeros", (3, 3, 3, 3), (1, 1, 1, 1), "1x1", value=-1.5),
    _case("zeros", (0, 0, 0, 0), (1, 2, 4, 5), "none"),
    _case("reflect", (1, 2, 3, 0), (1, 3, 7, 7), "7x7"),
    _case("reflect", (12, 12, 2, 1), (2, 5, 13, 3), "max-b2-13x3"),
    _case("reflect", (2, 1, 1, 2), (1, 2, 181, 183), "large"),
    _case("replicate", (1, 2, 3, 0), (1, 3, 7, 7), "7x7"),
    _case("replicate", (5, 4, 9, 7), (2, 5, 3, 2), "wider-than-input-b2"),
    _case("replicate", (2, 1, 3, 2), (1, 1, 1, 1), "1x1"),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(inputs[0], np.float64))
    top, bottom, left, right = attrs["pads"]
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate"}[attrs["mode"]]
    value = attrs["value"] if mode == "constant" else None
    return [F.pad(x, (left, right, top, bottom), mode=mode, value=value).numpy()]
