"""batch_norm cases (reference against torch; no CPU kernel): odd channel counts, batch 2, 1×1, eps values.
Running variances are drawn from (0.05, 2) so every case is well conditioned."""

from __future__ import annotations

import numpy as np

from op_cases import Case


def bn_params(c):
    def make(rng):
        return {"weight": rng.uniform(-2, 2, c), "bias": rng.uniform(-1, 1, c),
                "mean": rng.uniform(-0.5, 0.5, c), "var": rng.uniform(0.05, 2.0, c)}

    return make


CASES = [
    Case({}, [(1, 3, 7, 7)], id="7x7", make_params=bn_params(3)),
    Case({"eps": 1e-3}, [(2, 5, 13, 3)], id="eps1e-3-b2-13x3", make_params=bn_params(5)),
    Case({"eps": 0.0}, [(1, 7, 1, 1)], id="eps0-1x1", make_params=bn_params(7)),
]


def torch_reference(attrs, inputs, params):
    import torch  # lazily: the kernel cases must run without torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(inputs[0], np.float64))
    p = {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in params.items()}
    y = F.batch_norm(x, p["mean"], p["var"], p["weight"], p["bias"], training=False, eps=attrs["eps"])
    return [y.numpy()]
