"""EGVSR (FRNet = FNet + SRNet) against the golden outputs of the upstream PyTorch model (../shared/refs/egvsr.npz,
random seed-0 weights imported without torch): every stored intermediate and output of the 3-frame recurrent
pass, the op-level unit checks, odd sizes, the importer and the `.pysr` round trip."""

from __future__ import annotations

import numpy as np
import pytest

from pysr.api import to_uint8_hwc
from pysr.cli import main as cli_main
from pysr.errors import CheckpointError, ModelFileError, ShapeError
from pysr.graph.graph import Graph, Node, run_reference
from pysr.io.checkpoint import load_checkpoint
from pysr.io.model_file import read_model, write_model
from pysr.models import egvsr
from pysr.models.convert import import_checkpoint
from pysr.runtime.plan import compile_graph

CKPT = "weights/egvsr_random_seed0/EGVSR_random_seed0.pth"
TOL = 1e-4          # refs/README.md: deep flow networks match to about 1e-4
TOL_U8 = 0.999      # share of uint8 values that must be identical


@pytest.fixture(scope="module")
def ref():
    from conftest import SHARED

    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED} (EGVSR refs and weights live there)")
    return np.load(SHARED / "refs/egvsr.npz")


@pytest.fixture(scope="module")
def state(ref):
    from conftest import SHARED

    return load_checkpoint(SHARED / CKPT)


@pytest.fixture(scope="module")
def model(ref):
    from conftest import SHARED

    return import_checkpoint(SHARED / CKPT, "egvsr")


def shapes(h, w, s=4):
    return {"lr": (1, 3, h, w), "lr_prev": (1, 3, h, w), "hr_prev": (1, 3, s * h, s * w)}


def test_recurrent_pass_matches_upstream(model, ref):
    """Zero state before frame 0, then lr_prev <- lr and hr_prev <- float hr, as upstream infer_sequence."""
    g = model.graph.copy()
    g.outputs.append("prev_s2d")
    plan = compile_graph(egvsr.for_size(g, 48, 48), "cpu", shapes(48, 48))
    lr_prev, hr_prev = np.zeros((1, 3, 48, 48), np.float32), np.zeros((1, 3, 192, 192), np.float32)
    report = []
    for t in range(ref["lr_rgb"].shape[0]):
        lr = ref["lr_rgb"][t][None]
        hr, lr_flow, hr_flow, warped, s2d = plan.run({"lr": lr, "lr_prev": lr_prev, "hr_prev": hr_prev})
        for name, ours, key in (("lr_flow", lr_flow, "lr_flow"), ("hr_flow", hr_flow, "hr_flow"),
                                ("warped", warped, "hr_prev_warp"), ("s2d", s2d, "srnet_prev_s2d"),
                                ("hr", hr, "hr_float")):
            err = float(np.abs(ours[0] - ref[key][t]).max())
            report.append((t, name, err))
            assert err <= TOL, f"frame {t} {name}: max abs error {err:.3g} > {TOL} ({report})"
        u8 = to_uint8_hwc(hr).transpose(2, 0, 1)
        same = float((u8 == ref["hr_uint8"][t]).mean())
        assert same >= TOL_U8, f"frame {t}: only {same:.5%} of uint8 values equal the reference"
        assert int(np.abs(u8.astype(int) - ref["hr_uint8"][t]).max()) <= 1
        lr_prev, hr_prev = lr, hr


def test_float64_reference_graph_matches_upstream(model, ref):
    """The graph run on the ops' float64 references (no kernels) agrees too: frame 1 from the stored state."""
    hr, lr_flow, hr_flow, warped = run_reference(
        egvsr.for_size(model.graph, 48, 48),
        {"lr": ref["lr_rgb"][1][None], "lr_prev": ref["lr_rgb"][0][None], "hr_prev": ref["hr_float"][0][None]})
    for ours, key in ((lr_flow, "lr_flow"), (hr_flow, "hr_flow"), (warped, "hr_prev_warp"), (hr, "hr_float")):
        assert np.abs(ours[0] - ref[key][1]).max() <= TOL, key


@pytest.mark.torch
def test_bench_torch_port_matches_upstream(model, ref):
    """bench/torch_peers.py's FRNet (bench/temporal_cpu.py's peer) reproduces upstream's recurrent pass too."""
    torch = pytest.importorskip("torch")
    from torch_peers import egvsr_module

    net = egvsr_module(egvsr.config_from_json(model.facts["config"]), model.graph.params)
    lr_prev, hr_prev = torch.zeros(1, 3, 48, 48), torch.zeros(1, 3, 192, 192)
    with torch.no_grad():
        for t in range(ref["lr_rgb"].shape[0]):
            lr = torch.from_numpy(ref["lr_rgb"][t][None])
            outs = net(lr, lr_prev, hr_prev)
            for ours, key in zip(outs, ("hr_float", "lr_flow", "hr_flow", "hr_prev_warp")):
                assert np.abs(ours[0].numpy() - ref[key][t]).max() <= TOL, (t, key)
            lr_prev, hr_prev = lr, outs[0]


def one_op(op, inputs, attrs, arrays):
    node = Node(op, "op", list(inputs), ["out"], {}, attrs)
    g = Graph({n: a.shape[1] for n, a in zip(inputs, arrays)}, ["out"], [node], {})
    return compile_graph(g, "cpu", {n: a.shape for n, a in zip(inputs, arrays)}).run(dict(zip(inputs, arrays)))[0][0]


def test_unit_checks(ref):
    out = one_op("upsample_bicubic_tecogan", ["x"], {"scale": 4}, [ref["unit_bicubic_in"][None]])
    assert np.abs(out - ref["unit_bicubic_out"]).max() <= 1e-5
    out = one_op("warp", ["img", "flow"], {"align_corners": True, "flow_scale": 1.0},
                 [ref["unit_warp_img"][None], ref["unit_warp_flow"][None]])
    assert np.abs(out - ref["unit_warp_out"]).max() <= 1e-5
    out = one_op("space_to_depth", ["x"], {"scale": 4, "order": "tf"}, [ref["unit_s2d_in"][None]])
    assert np.array_equal(out, ref["unit_s2d_out"])


def test_odd_size_flow_is_reflect_padded(model, ref):
    """44×36: FNet gives 40×32, padded bottom/right in reflect mode back to 44×36."""
    g = model.graph.copy()
    g.outputs.append("fnet/flow")
    lr, lr_prev = ref["unit_oddsize_lr_curr"][None], ref["unit_oddsize_lr_prev"][None]
    plan = compile_graph(egvsr.for_size(g, 44, 36), "cpu", shapes(44, 36))
    hr, lr_flow, _, _, raw = plan.run({"lr": lr, "lr_prev": lr_prev, "hr_prev": np.zeros((1, 3, 176, 144), np.float32)})
    assert hr.shape == (1, 3, 176, 144)
    assert np.abs(raw[0] - ref["unit_oddsize_fnet_raw"]).max() <= TOL
    assert np.abs(lr_flow[0] - ref["unit_oddsize_lr_flow_padded"]).max() <= TOL
    # The stored graph (pads 0) refuses such a size loudly instead of computing something else.
    with pytest.raises(ShapeError):
        compile_graph(model.graph, "cpu", shapes(44, 36))
    with pytest.raises(ShapeError):
        egvsr.for_size(model.graph, 7, 40)


def test_importer_maps_every_entry(state, model):
    assert len(state) == 78
    cfg, params = egvsr.from_state_dict(state)
    assert cfg == egvsr.EgvsrConfig(scale=4, nf=64, nb=10, in_channels=3)
    dropped = set(state) - set(params)
    assert dropped == {"upsample_func.kernels", "srnet.upsample_func.kernels", "srnet.conv_up.0.weight",
                       "srnet.conv_up.0.bias", "srnet.conv_up.2.weight", "srnet.conv_up.2.bias"}
    assert all(np.array_equal(params[k], state[k]) for k in params)
    f = model.facts
    assert f["architecture"] == "egvsr" and f["scale"] == 4 and f["colour"] == {"mode": "rgb"}
    assert f["temporal"] == "recurrent"
    assert f["state"]["carry"] == [{"input": "lr_prev", "from": "lr", "scale": 1, "initial": "zeros"},
                                   {"input": "hr_prev", "from": "hr", "scale": 4, "initial": "zeros"}]


@pytest.mark.parametrize("damage", ["missing", "extra", "buffer", "shape"])
def test_importer_refuses_damaged_checkpoints(state, damage):
    bad = dict(state)
    if damage == "missing":
        del bad["fnet.decoder2.2.bias"]
    elif damage == "extra":
        bad["srnet.mystery.weight"] = np.zeros(3, np.float32)
    elif damage == "buffer":
        bad["upsample_func.kernels"] = bad["upsample_func.kernels"] * 2
    else:
        bad["fnet.flow.0.weight"] = bad["fnet.flow.0.weight"][:, :32]
    with pytest.raises(CheckpointError):
        egvsr.from_state_dict(bad)


def test_cli_import_and_model_file_round_trip(ref, tmp_path):
    from conftest import SHARED

    path = tmp_path / "egvsr.pysr"
    assert cli_main(["import", str(SHARED / CKPT), "--arch", "egvsr", "-o", str(path)]) in (0, None)
    graph, facts = read_model(path)
    assert graph.inputs == {"lr": 3, "lr_prev": 3, "hr_prev": 3} and graph.outputs[0] == "hr"
    assert facts["temporal"] == "recurrent" and facts["state"]["frame_output"] == "hr"
    # The state must name the graph's values: a wrong one is refused when writing and when reading.
    for broken in ({**facts["state"], "frame_input": "nope"},
                   {**facts["state"], "carry": facts["state"]["carry"][:1]},
                   {**facts["state"], "carry": [{**facts["state"]["carry"][0], "initial": "noise"},
                                                facts["state"]["carry"][1]]}):
        with pytest.raises(ModelFileError):
            write_model(tmp_path / "bad.pysr", graph, {**facts, "state": broken})
    with pytest.raises(ModelFileError):
        write_model(tmp_path / "bad.pysr", graph, {**facts, "temporal": "single"})
