"""Resampling ops against the golden outputs of the original PyTorch implementations (../shared/refs).

Each check runs both the float64 spec reference and the CPU kernel. The refs are float32 PyTorch results with
their own summation order, so the tolerance is ~1e-5 absolute (refs/README.md); the errors seen when these
tests were written were at most 1.5e-6 (flow upsampler, values up to 8), 3.3e-6 (EGVSR warp unit),
2.3e-6 (SOF-VSR warps) and 4.2e-6 (EGVSR recurrent warp).
"""

from __future__ import annotations

import numpy as np
import pytest

from pysr import backends
from pysr.ops import spec

ATOL = 1e-5


def run(op: str, attrs: dict, inputs: list[np.ndarray]):
    """(float64 reference output, CPU kernel output) of one op on float32 arrays."""
    s = spec(op)
    a = s.merge_attrs(attrs)
    in_shapes = [x.shape for x in inputs]
    (out_shape,) = s.shape(a, in_shapes, {})
    ref = s.reference(a, [np.asarray(x, np.float64) for x in inputs], {})[0]
    fn = backends.get("cpu").compile_node(op, a, {}, in_shapes, [out_shape])
    out = np.full(out_shape, np.nan, np.float32)
    fn([np.ascontiguousarray(x, np.float32) for x in inputs], [out])
    return ref, out


def assert_matches(name, got, expected, atol=ATOL):
    err = float(np.max(np.abs(np.asarray(got, np.float64) - expected)))
    assert got.shape == expected.shape and err <= atol, f"{name}: max abs error {err:.3g} > {atol:g}"


@pytest.fixture
def egvsr(shared):
    return np.load(shared / "refs" / "egvsr.npz")


@pytest.fixture
def sofvsr(shared):
    return np.load(shared / "refs" / "sofvsr_x2.npz")


def test_tecogan_upsampler_unit(egvsr):
    ref, out = run("upsample_bicubic_tecogan", {"scale": 4}, [egvsr["unit_bicubic_in"][None]])
    assert_matches("reference", ref[0], egvsr["unit_bicubic_out"])
    assert_matches("cpu", out[0], egvsr["unit_bicubic_out"])


def test_tecogan_upsampler_makes_hr_flow(egvsr):
    # hr_flow = 4 · upsampler(lr_flow): 48×48 is a multiple of 8, so FRNet pads nothing.
    ref, out = run("upsample_bicubic_tecogan", {"scale": 4}, [egvsr["lr_flow"]])
    assert_matches("reference", 4 * ref, egvsr["hr_flow"])
    assert_matches("cpu", 4 * out, egvsr["hr_flow"])


def test_warp_egvsr_unit(egvsr):
    ref, out = run("warp", {"align_corners": True}, [egvsr["unit_warp_img"][None], egvsr["unit_warp_flow"][None]])
    assert_matches("reference", ref[0], egvsr["unit_warp_out"])
    assert_matches("cpu", out[0], egvsr["unit_warp_out"])


def test_warp_egvsr_recurrent_state(egvsr):
    # hr_prev_warp[t] = warp(hr_float[t-1], hr_flow[t]) for t >= 1 (t = 0 warps zeros).
    inputs = [egvsr["hr_float"][:-1], egvsr["hr_flow"][1:]]
    ref, out = run("warp", {"align_corners": True}, inputs)
    assert_matches("reference", ref, egvsr["hr_prev_warp"][1:])
    assert_matches("cpu", out, egvsr["hr_prev_warp"][1:])


@pytest.mark.parametrize("flow_key,out_key", [("ofr_flow_L1_upscaled", "ofr_warp_L2"), ("flow_L2", "ofr_warp_L3")])
def test_warp_sofvsr(sofvsr, flow_key, out_key):
    # SOF-VSR flows are in 1/15.5 pixel; the neighbour of batch item b is ofr_input[b, 0].
    neighbour = sofvsr["ofr_input"][:, :1]
    ref, out = run("warp", {"align_corners": True, "flow_scale": 15.5}, [neighbour, sofvsr[flow_key]])
    assert_matches("reference", ref, sofvsr[out_key])
    assert_matches("cpu", out, sofvsr[out_key])


def test_bilinear_upscales_sofvsr_flow(sofvsr):
    # ofr_flow_L1_upscaled = 2 · bilinear×2(flow_L1), align_corners False.
    ref, out = run("resize_bilinear", {"scale": 2, "align_corners": False}, [sofvsr["flow_L1"]])
    assert_matches("reference", 2 * ref, sofvsr["ofr_flow_L1_upscaled"])
    assert_matches("cpu", 2 * out, sofvsr["ofr_flow_L1_upscaled"])
