"""SOF-VSR (TIP) ×2: the graph against a torch port of the upstream classes (tiny random configs), and the real
BI_x2 checkpoint, imported without torch, against the golden tensors and PSNRs of ../shared/refs."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from pysr.errors import CheckpointError, ShapeError
from pysr.graph.graph import run_reference
from pysr.model import Model, load
from pysr.models import sofvsr
from pysr.models.convert import facts_for, import_checkpoint
from pysr.runtime.plan import compile_graph

TINY = sofvsr.SofvsrConfig(channels=8, ofr_blocks=1, sr_blocks=2)


def _run(graph, frames):
    return compile_graph(graph, "cpu", {"frames": frames.shape}).run(frames)


def _torch_sofvsr(params, cfg, frames, align_corners):
    """bench/torch_peers.py's transcription of upstream TIP/modules.py (ResB, CasResB, OFRnet, SRnet, SOFVSR.forward,
    optical_flow_warp), grid_sample's align_corners passed explicitly. Returns (hr, flow_l1, flow_l2, flow_l3) as
    numpy, the flows as the graph outputs them: (1, 2·neighbours, h, w)."""
    torch = pytest.importorskip("torch")
    from torch_peers import sofvsr_module

    with torch.no_grad():
        hr, *flows = sofvsr_module(cfg, params, align_corners)(torch.from_numpy(frames))
    return [hr.numpy()] + [f.reshape(1, -1, *f.shape[2:]).numpy() for f in flows]


@pytest.mark.torch
@pytest.mark.parametrize("radius, scale, align_corners, hw", [
    (1, 2, True, (12, 16)), (1, 2, False, (10, 14)), (2, 3, True, (8, 6)),
])
def test_graph_matches_torch_port_of_upstream(radius, scale, align_corners, hw):
    cfg = replace(TINY, radius=radius, scale=scale, align_corners=align_corners)
    params = sofvsr.init_params(cfg, seed=radius + scale)
    frames = np.random.default_rng(1).random((1, cfg.frames, *hw)).astype(np.float32)
    want = _torch_sofvsr(params, cfg, frames, align_corners)
    got = _run(sofvsr.build(cfg, params, flows=True), frames)
    assert max(np.abs(f).max() for f in want[1:]) * sofvsr.FLOW_UNIT > 1.0, "flows too small to test the warps"
    for name, g, w in zip(["hr", "flow_l1", "flow_l2", "flow_l3"], got, want):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, atol=2e-5, rtol=1e-4, err_msg=name)


def test_cpu_plan_matches_float64_reference():
    params = sofvsr.init_params(TINY, seed=3)
    graph = sofvsr.build(TINY, params, flows=True)
    frames = np.random.default_rng(2).random((1, 3, 8, 10)).astype(np.float32)
    for name, g, r in zip(graph.outputs, _run(graph, frames), run_reference(graph, {"frames": frames})):
        np.testing.assert_allclose(g, r, atol=2e-5, rtol=1e-4, err_msg=name)


def test_importer_checks_every_tensor():
    state = sofvsr.init_params(TINY)
    cfg, params = sofvsr.from_state_dict(state)
    assert cfg == TINY and set(params) == set(state)
    with pytest.raises(CheckpointError, match="missing tensors.*OFR.SR.4.weight"):
        sofvsr.from_state_dict({k: v for k, v in state.items() if k != "OFR.SR.4.weight"})
    with pytest.raises(CheckpointError, match="unexpected tensors.*SR.body.0.bias"):
        sofvsr.from_state_dict({**state, "SR.body.0.bias": np.zeros(8, np.float32)})
    with pytest.raises(CheckpointError, match="OFR.SR.4.weight: shape"):
        sofvsr.from_state_dict({**state, "OFR.SR.4.weight": np.zeros((2, 64, 1, 1), np.float32)})
    with pytest.raises(CheckpointError, match="two-stage"):
        sofvsr.from_state_dict({**state, "OFR.SR.3.weight": np.zeros((256, 64, 1, 1), np.float32)})
    with pytest.raises(CheckpointError, match="not a SOF-VSR"):
        sofvsr.from_state_dict({"conv1.weight": np.zeros((1, 1, 3, 3), np.float32)})


def test_window_helper_and_facts():
    cfg = TINY
    model = Model(sofvsr.build(cfg, sofvsr.init_params(cfg)), facts_for("sofvsr", cfg, {}, "unknown"))
    assert model.facts["temporal"] == "window(1)" and model.scale == 2 and model.graph.outputs == ["hr"]
    frames = np.random.default_rng(0).random((3, 6, 8)).astype(np.float32)
    assert sofvsr.sofvsr_window(model, frames).shape == (12, 16)
    with pytest.raises(ShapeError, match="even"):
        sofvsr.sofvsr_window(model, frames[:, :5])
    with pytest.raises(ShapeError, match="3 frames"):
        sofvsr.sofvsr_window(model, frames[:2])


# ---- the real checkpoint against ../shared/refs -----------------------------------------------------------------

@pytest.fixture(scope="module")
def ref():
    from conftest import SHARED

    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED} (weights and refs live there)")
    refs = SHARED / "refs"
    return (import_checkpoint(SHARED / "weights/sofvsr_tip/BI_x2.pth", "sofvsr"), np.load(refs / "sofvsr_x2.npz"),
            json.loads((refs / "sofvsr_x2.result.json").read_text()), refs)


def _lr_rgb(refs, name):
    from PIL import Image

    return np.asarray(Image.open(refs / name).convert("RGB"))


def _y(rgb_uint8):
    """SOF-VSR's rgb2ycbcr Y on RGB/255, float32 as upstream's numpy evaluates it."""
    rgb = rgb_uint8.astype(np.float32) / 255
    return 0.257 * rgb[..., 0] + 0.504 * rgb[..., 1] + 0.098 * rgb[..., 2] + 16 / 255.0


def test_import_facts_and_model_file(ref, tmp_path):
    from conftest import SHARED

    from pysr.cli import main

    model = ref[0]
    f = model.facts
    assert (f["architecture"], f["scale"], f["temporal"], f["colour"]["mode"]) == ("sofvsr", 2, "window(1)", "y")
    assert sofvsr.config_from_json(f["config"]) == sofvsr.SofvsrConfig()
    assert sum(v.size for v in model.graph.params.values()) == 945729
    out = tmp_path / "sofvsr_x2.pysr"
    assert main(["import", str(SHARED / "weights/sofvsr_tip/BI_x2.pth"), "--arch", "sofvsr", "-o", str(out)]) == 0
    back = load(out)
    assert back.facts["temporal"] == "window(1)" and set(back.graph.params) == set(model.graph.params)


def test_input_y_as_upstream(ref):
    _, npz, info, refs = ref
    y0, x0, h, w = info["crop_yx_hw_lr"]
    ys = np.stack([_y(_lr_rgb(refs / "sofvsr_seq", f"lr_{t}.png"))[y0:y0 + h, x0:x0 + w] for t in (1, 2, 3)])
    np.testing.assert_allclose(ys, npz["lr_y"], atol=1e-7)


# Graph values compared with the reference's intermediates: (graph value(s), ref key, reshape to the ref layout).
STAGES = [
    ("flow_l1", "flow_L1"), ("flow_l2", "flow_L2"), ("flow_l3", "flow_L3"),
    (("ofr0/l1/up.x2", "ofr2/l1/up.x2"), "ofr_flow_L1_upscaled"),
    (("ofr0/l2/warp", "ofr2/l2/warp"), "ofr_warp_L2"),
    (("ofr0/l3/warp", "ofr2/l3/warp"), "ofr_warp_L3"),
    ("sr/draft_cube", "draft_cube"), ("hr", "sr_y"),
]


def test_parity_layer_by_layer(ref):
    model, npz, _, _ = ref
    cfg = sofvsr.config_from_json(model.facts["config"])
    graph = sofvsr.build(cfg, model.graph.params, flows=True)
    for values, _ in STAGES[3:7]:
        graph.outputs += [values] if isinstance(values, str) else list(values)
    got = dict(zip(graph.outputs, _run(graph, npz["lr_y"][None])))
    errors = {}
    for values, key in STAGES:
        want = npz[key]
        have = got[values] if isinstance(values, str) else np.concatenate([got[v] for v in values])
        errors[key] = float(np.abs(have.reshape(want.shape) - want).max())
    print("max abs error per reference tensor:", errors)
    assert max(errors.values()) <= 1e-4, errors


def test_parity_align_corners_false(ref):
    model, npz, _, _ = ref
    cfg = replace(sofvsr.config_from_json(model.facts["config"]), align_corners=False)
    hr = _run(sofvsr.build(cfg, model.graph.params), npz["lr_y"][None])[0]
    err = float(np.abs(hr[0] - npz["sr_y_align_corners_false"]).max())
    print("sr_y_align_corners_false max abs error:", err)
    assert err <= 1e-4, err


def _rgb_uint8(sr_y, centre_lr_rgb):
    """demo_Vid4: PIL-bicubic chroma of the centre LR frame, TIP ycbcr2rgb (float32), ×255, clip, round."""
    from PIL import Image

    h, w = sr_y.shape
    rgb = np.asarray(Image.fromarray(centre_lr_rgb).resize((w, h), Image.BICUBIC)).astype(np.float32) / 255
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    cb = -0.148 * r - 0.291 * g + 0.439 * b + 128 / 255.0
    cr = 0.439 * r - 0.368 * g - 0.071 * b + 128 / 255.0
    y = sr_y.astype(np.float32) - 16 / 255.0
    cb, cr = cb - 128 / 255.0, cr - 128 / 255.0
    out = np.stack([1.164 * y + 1.596 * cr, 1.164 * y - 0.392 * cb - 0.813 * cr, 1.164 * y + 2.017 * cb], axis=-1)
    return np.round(np.clip(out * 255, 0, 255)).astype(np.uint8)


def _psnr_evaluation_m(sr_rgb, hr_rgb, shave):
    """evaluation.m: MATLAB rgb2ycbcr Y of the uint8 images, rounded to integers, `shave` px off each border."""
    def y(img):
        img = img.astype(np.float64)
        return np.floor(16 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255 + 0.5)
    d = (y(sr_rgb) - y(hr_rgb))[shave:-shave, shave:-shave]
    return 20 * np.log10(255 / np.sqrt(np.mean(d * d)))


def test_full_frame_psnr(ref):
    model, _, info, refs = ref
    seq = refs / "sofvsr_seq"
    assert "8 px shaved" in info["full_frame_psnr_protocol"]
    for window in info["full_frame_psnr"]:
        lr = [_lr_rgb(refs, name) for name in window["lr"]]
        sr_y = sofvsr.sofvsr_window(model, [_y(f) for f in lr])
        psnr = _psnr_evaluation_m(_rgb_uint8(sr_y, lr[1]), _lr_rgb(seq.parent, window["hr"]), 6 + model.scale)
        print(f"{window['hr']}: {psnr:.4f} dB (reference {window['psnr_y_align_corners_True']:.4f})")
        assert abs(psnr - window["psnr_y_align_corners_True"]) <= 0.01, (window["hr"], psnr)
