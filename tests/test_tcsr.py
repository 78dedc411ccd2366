"""TCSR: the engine graph (out and both flow levels) against its torch twin for window(1) and window(2), the
.pysr round trip, the size rule, the training loss and the window sampler."""

from __future__ import annotations

import numpy as np
import pytest

from pysr.errors import PysrError, ShapeError
from pysr.graph.passes import optimize
from pysr.model import load
from pysr.models import architecture, tcsr
from pysr.runtime.plan import compile_graph
from pysr.train import data as td


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def _engine(graph, x):
    return compile_graph(graph, "cpu", {"frames": x.shape}).run(x)


def _twin(torch, cfg, seed):
    from pysr.train.torch_models import build

    torch.manual_seed(seed)
    net = build("tcsr", cfg)
    with torch.no_grad():                  # flows of a few pixels, so the warps really move the neighbours
        net.OFR.RNN2[0].weight.mul_(8.0)
    return net


def _frames(rng, k, h, w):
    """2k+1 frames of one smooth pattern shifted by a pixel or two per frame (motion for the flows to find)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([0.5 + 0.4 * np.sin(0.45 * (xx - 1.5 * t) + 0.3 * yy) * np.cos(0.2 * yy - 0.1 * t)
                     + 0.02 * rng.standard_normal((h, w)) for t in range(-k, k + 1)])[None].astype(np.float32)


@pytest.mark.parametrize("radius,attention,size", [(1, 1, (14, 22)), (2, 2, (10, 18))])
def test_graph_matches_torch_twin_and_round_trips(torch, tmp_path, radius, attention, size):
    from pysr.train.torch_models import export

    cfg = tcsr.TcsrConfig(radius=radius, channels=6, ofr_channels=4, ofr_blocks=1, attention_channels=attention)
    net = _twin(torch, cfg, radius)
    x = _frames(np.random.default_rng(radius), radius, *size)
    with torch.no_grad():
        out, l1, l2 = net(torch.from_numpy(x))
    want = [out.numpy(), torch.cat(l1, 1).numpy(), torch.cat(l2, 1).numpy()]
    model = export(net, cfg, {"test": "parity"}, arch="tcsr")
    got = _engine(model.graph, x)
    h, w = size
    assert [g.shape for g in got] == [(1, 1, h, w), (1, 4 * radius, h // 2, w // 2), (1, 4 * radius, h, w)]
    for name, g, t in zip(("out", "flow_l1", "flow_l2"), got, want):
        err = float(np.abs(g - t).max())
        assert err <= 1e-5, f"window({radius}) {name}: max abs {err:.3g} between pysr and torch"
    assert np.abs(want[2]).max() > 0.5, "flows too small to exercise the warps"
    path = tmp_path / "t.pysr"
    model.save(path)
    loaded = load(path)
    assert loaded.facts["temporal"] == f"window({radius})" and loaded.scale == 1 and loaded.colour_mode == "y"
    assert tcsr.config_from_json(loaded.facts["config"]) == cfg
    for a, b in zip(_engine(loaded.graph, x), got):
        assert np.array_equal(a, b)
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    assert architecture("tcsr").from_state_dict(state)[0] == cfg


def test_passes_fuse_activations_and_residuals():
    cfg = tcsr.TcsrConfig(radius=1, channels=4, ofr_channels=4, ofr_blocks=1)
    opt = optimize(tcsr.build(cfg, tcsr.init_params(cfg), flows=False))
    ops = [n.op for n in opt.nodes]
    assert "add" not in ops                                  # flow residual and both recon adds are conv epilogues
    assert ops.count("activation") == 2                      # only the sigmoids of the two distance maps
    assert {n.attrs["kind"] for n in opt.nodes if n.op == "activation"} == {"sigmoid"}
    assert opt.outputs == ["out"]


def test_size_rule():
    cfg = tcsr.TcsrConfig(channels=4, ofr_channels=4, ofr_blocks=1)
    g = tcsr.build(cfg, tcsr.init_params(cfg))
    with pytest.raises(ShapeError):
        g.infer_shapes({"frames": (1, 3, 15, 16)})           # odd height: the ½-size flow comes back one row short
    with pytest.raises(ShapeError, match="even"):
        tcsr.check_window(np.zeros((1, 3, 15, 16), np.float32), cfg)
    tcsr.check_window(np.zeros((1, 3, 2, 4), np.float32), cfg)
    assert tcsr.macs_per_pixel(tcsr.TcsrConfig()) == 36_427


def test_loss_weights_and_gradients(torch):
    from pysr.train.torch_models import TCSR_ALPHA, TCSR_BETA, tcsr_loss

    assert 0 < TCSR_ALPHA < TCSR_BETA < 1
    cfg = tcsr.TcsrConfig(radius=1, channels=4, ofr_channels=4, ofr_blocks=1)
    net = _twin(torch, cfg, 0)
    x = torch.from_numpy(_frames(np.random.default_rng(0), 1, 12, 16))
    target = x[:, 1:2] + 0.01
    total, parts = tcsr_loss(net(x), x, target, cfg)
    expect = parts["rec"] + TCSR_ALPHA * parts["warp1"] + TCSR_BETA * parts["warp2"]
    assert abs(float(total.detach()) - float(expect)) < 1e-6 and float(parts["warp2"]) > 0
    total.backward()
    assert float(net.OFR.RNN1[0].weight.grad.abs().sum()) > 0   # the warp losses reach the flow net
    with pytest.raises(PysrError, match="α < β"):
        tcsr_loss(net(x), x, target, cfg, alpha=0.2, beta=0.1)


def test_torch_table_config_is_the_training_config():
    from pysr.train.tcsr_loop import model_config
    from pysr.train.torch_models import torch_architecture

    assert torch_architecture("tcsr").config(1, (16, 8), 1) == model_config((16, 8), radius=1)


def test_window_sampler(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    rng = np.random.default_rng(1)
    base = np.clip(rng.uniform(0, 255, (40, 56, 3)), 0, 255).astype(np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 56, 40, "yuv420p"
        for i in range(6):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.roll(base, 2 * i, axis=1), format="rgb24")))
        out.mux(stream.encode(None))
    ws = td.WindowSet(td.DataConfig((str(path),), scale=2, every=1), patch=8, radius=2)
    assert len(ws) == 6 - 4 and ws.hr[0].shape == (6, 1, 40, 56) and ws.lr[0].shape == (6, 1, 20, 28)
    lr, hr = ws.batch(np.random.default_rng(0), 3)
    assert lr.shape == (3, 5, 8, 8) and hr.shape == (3, 5, 16, 16) and lr.dtype == hr.dtype == np.float32
    with pytest.raises(PysrError, match="no training video"):
        td.WindowSet(td.DataConfig((str(path),), scale=2, every=1), patch=8, radius=3)


def test_a_session_runs_it_as_a_window_model():
    import pysr
    from pysr.model import Model
    from pysr.models.convert import facts_for

    cfg = tcsr.TcsrConfig(channels=4, ofr_channels=4, ofr_blocks=1)
    m = Model(tcsr.build(cfg, tcsr.init_params(cfg)), facts_for("tcsr", cfg, {}, "MIT"))
    frames = [np.random.default_rng(i).integers(0, 255, (12, 16, 3), dtype=np.uint8) for i in range(4)]
    out = list(pysr.run(frames, model=m))
    assert len(out) == 4 and all(o.shape == (12, 16, 3) and o.dtype == np.uint8 for o in out)
