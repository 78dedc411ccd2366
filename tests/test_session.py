"""Sessions (pysr/stream/session.py): single models pass through, window(k) models see reflected windows with
latency k, recurrent models carry their state (EGVSR against the upstream sequence when ../shared is here)."""

from __future__ import annotations

import numpy as np
import pytest

import pysr
from pysr.errors import InputError
from pysr.graph.graph import Graph, Node
from pysr.model import Model
from pysr.models import egvsr, espcn
from pysr.models.colour import DEFAULT_Y_COLOUR
from pysr.runtime.plan import compile_graph
from pysr.stream.session import Session, reflect_index

S = 2  # scale of the hand-built window model


def facts(temporal: str, colour=None, scale=S, **extra) -> dict:
    return {"architecture": "test", "scale": scale, "colour": colour or {"mode": "rgb"}, "input_range": [0.0, 1.0],
            "receptive_field": 1, "temporal": temporal, "licence": "test", "provenance": {}, **extra}


def window_model(c: int = 3, stacked: bool = False, k: int = 1, seed: int = 0) -> tuple[Model, np.ndarray]:
    """window(k): mean of the 2k+1 frames → conv 3×3 c → c·S² → pixel shuffle S. As 2k+1 inputs or one stacked."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-0.4, 0.4, (c * S * S, c, 3, 3)).astype(np.float32)
    b = rng.uniform(0.2, 0.4, (c * S * S,)).astype(np.float32)
    names = [f"f{i}" for i in range(2 * k + 1)]
    nodes = []
    if stacked:
        nodes.append(Node("split", "split", ["frames"], names, {}, {"sizes": (c,) * (2 * k + 1)}))
        inputs = {"frames": c * (2 * k + 1)}
    else:
        inputs = {n: c for n in names}
    x = names[0]
    for i, n in enumerate(names[1:]):
        nodes.append(Node("add", f"sum{i}", [x, n], [f"sum{i}"], {}, {}))
        x = f"sum{i}"
    nodes += [Node("affine", "mean", [x], ["mean"], {}, {"scale": 1.0 / (2 * k + 1), "shift": 0.0}),
              Node("conv2d", "conv", ["mean"], ["conv"], {"weight": "w", "bias": "b"}, {"padding": (1, 1)}),
              Node("pixel_shuffle", "shuffle", ["conv"], ["hr"], {}, {"scale": S})]
    colour = {"mode": "rgb"} if c == 3 else dict(DEFAULT_Y_COLOUR)
    return Model(Graph(inputs, ["hr"], nodes, {"w": w, "b": b}), facts(f"window({k})", colour)), w, b


def numpy_window(frames: list[np.ndarray], w, b, k: int = 1) -> list[np.ndarray]:
    """Direct float64 computation: output t = shuffle(conv(mean of frames t-k..t+k)), the indices reflected as
    np.pad(mode="reflect") does (at both ends, repeatedly for short sequences)."""
    n, outs = len(frames), []
    for t in range(n):
        idx = np.pad(np.arange(n), k, mode="reflect")[t : t + 2 * k + 1]
        m = np.mean([frames[i].astype(np.float64) for i in idx], axis=0)
        c, h, wd = m.shape
        p = np.pad(m, ((0, 0), (1, 1), (1, 1)))
        patches = np.stack([np.stack([p[:, dy:dy + h, dx:dx + wd] for dx in range(3)], 1) for dy in range(3)], 1)
        conv = np.einsum("oidx,idxhw->ohw", w.astype(np.float64).reshape(-1, c, 3, 3), patches)
        conv += b[:, None, None]
        outs.append(conv.reshape(c, S, S, h, wd).transpose(0, 3, 1, 4, 2).reshape(c, h * S, wd * S))
    return outs


def test_reflect_rule():
    assert [reflect_index(i, 5) for i in range(-3, 9)] == [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0]
    assert [reflect_index(i, 2) for i in range(-2, 4)] == [0, 1, 0, 1, 0, 1]
    assert [reflect_index(i, 1) for i in (-1, 0, 1)] == [0, 0, 0]


@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_window_planes_match_numpy(n, stacked):
    model, w, b = window_model(stacked=stacked)
    rng = np.random.default_rng(n)
    frames = [rng.random((3, 9, 7), dtype=np.float32) for _ in range(n)]
    s = Session(model)
    assert s.latency == 1
    got = []
    for i, f in enumerate(frames):
        out = s.push_planes(f)
        assert len(out) == (0 if i == 0 else 1)      # frame t leaves with frame t+1
        got += out
    tail = s.flush()
    assert len(tail) == 1 and s.flush() == []
    got += tail
    want = numpy_window(frames, w, b)
    assert len(got) == n
    for t, (g, r) in enumerate(zip(got, want)):
        assert g.shape == (3, 9 * S, 7 * S)
        assert np.abs(g - r).max() <= 1e-5, f"output {t} of {n}"


def test_window_k2_short_sequence_reflects_twice():
    model, w, b = window_model(k=2)
    frames = [np.full((3, 4, 5), v, np.float32) for v in (0.1, 0.7)]
    s = Session(model)
    assert s.push_planes(frames[0]) == [] and s.push_planes(frames[1]) == []
    got = s.flush()
    # n = 2, k = 2: windows are frames [0, 1, 0, 1, 0] and [1, 0, 1, 0, 1].
    for g, r in zip(got, numpy_window(frames, w, b, k=2)):
        assert np.abs(g - r).max() <= 1e-5


def test_window_uint8_frames_and_size_change():
    model, w, b = window_model()
    rng = np.random.default_rng(7)
    a = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(3)]
    c = [rng.integers(0, 256, (5, 4, 3), dtype=np.uint8) for _ in range(2)]
    s = Session(model)
    outs = [s.push(f) for f in a + c] + [s.flush()]
    # The size change at the 4th frame ends the first sequence: its last output comes out with that push.
    assert [len(o) for o in outs] == [0, 1, 1, 1, 1, 1]
    got = [f for o in outs for f in o]
    assert [g.shape for g in got] == [(12, 16, 3)] * 3 + [(10, 8, 3)] * 2
    want = numpy_window([f.transpose(2, 0, 1) / np.float32(255) for f in a], w, b)
    want += numpy_window([f.transpose(2, 0, 1) / np.float32(255) for f in c], w, b)
    for g, r in zip(got, want):
        r8 = np.clip(np.rint(r * 255), 0, 255).transpose(1, 2, 0)
        d = np.abs(g.astype(int) - r8)
        assert d.max() <= 1 and (d == 0).mean() >= 0.99


def test_window_y_model_matches_single_frame_model_on_a_still():
    """A Y window model on a still sequence = the same conv as a single-frame Y model (chroma of its own frame)."""
    model, w, b = window_model(c=1)
    single = Model(Graph({"y": 1}, ["hr"], [
        Node("conv2d", "conv", ["y"], ["conv"], {"weight": "w", "bias": "b"}, {"padding": (1, 1)}),
        Node("pixel_shuffle", "shuffle", ["conv"], ["hr"], {}, {"scale": S})], {"w": w, "b": b}),
        facts("single", dict(DEFAULT_Y_COLOUR)))
    frame = np.random.default_rng(3).integers(0, 256, (7, 10, 3), dtype=np.uint8)
    got = list(pysr.run([frame] * 3, model=model))
    want = pysr.run(frame, model=single)
    assert len(got) == 3
    for g in got:
        d = np.abs(g.astype(int) - want)
        assert d.max() <= 1 and (d == 0).mean() >= 0.999


def test_single_model_passes_through():
    cfg = espcn.EspcnConfig(scale=2, channels=(8, 4))
    model = Model(espcn.build(cfg, espcn.init_params(cfg)), facts("single", dict(DEFAULT_Y_COLOUR), scale=2))
    frames = np.random.default_rng(1).integers(0, 256, (3, 6, 5, 3), dtype=np.uint8)
    s = Session(model)
    assert s.latency == 0
    for f in frames:
        out, = s.push(f)
        assert np.array_equal(out, pysr.run(f, model=model))
    assert s.flush() == []
    y = frames[0, ..., 0].astype(np.float32) / 255
    assert np.array_equal(s.push_planes(y)[0][0], pysr.run_y(y, model=model))


def tiny_egvsr(seed=0) -> Model:
    cfg = egvsr.EgvsrConfig(scale=2, nf=8, nb=1)
    f = {**facts("recurrent", scale=2), **egvsr.temporal_facts(cfg), "architecture": "egvsr"}
    return Model(egvsr.build(cfg, egvsr.init_params(cfg, seed)), f)


def manual_recurrence(model: Model, frames: list[np.ndarray]) -> list[np.ndarray]:
    s, outs = model.scale, []
    lr_prev = hr_prev = None
    for x in frames:
        c, h, w = x.shape
        lr_prev = np.zeros((1, c, h, w), np.float32) if lr_prev is None else lr_prev
        hr_prev = np.zeros((1, c, s * h, s * w), np.float32) if hr_prev is None else hr_prev
        plan = compile_graph(egvsr.for_size(model.graph, h, w), "cpu",
                             {"lr": (1, c, h, w), "lr_prev": lr_prev.shape, "hr_prev": hr_prev.shape})
        hr = plan.run({"lr": x[None], "lr_prev": lr_prev, "hr_prev": hr_prev})[0]
        outs.append(hr[0])
        lr_prev, hr_prev = x[None], hr
    return outs


def test_recurrent_state_reset_and_size_change():
    model = tiny_egvsr()
    rng = np.random.default_rng(5)
    seq = [rng.random((3, 12, 20), dtype=np.float32) for _ in range(3)]
    other = rng.random((3, 16, 11), dtype=np.float32)
    s = Session(model)
    assert s.latency == 0
    got = [s.push_planes(x)[0] for x in seq]
    want = manual_recurrence(model, seq)
    for g, r in zip(got, want):
        assert np.array_equal(g, r)
    assert not np.allclose(want[1], manual_recurrence(model, seq[1:2])[0])   # the state matters
    # A size change starts a new sequence (zero state); so does reset().
    assert np.array_equal(s.push_planes(other)[0], manual_recurrence(model, [other])[0])
    assert np.array_equal(s.push_planes(seq[0])[0], want[0])
    s.reset()
    assert np.array_equal(s.push_planes(seq[0])[0], want[0])
    assert np.array_equal(s.push_planes(seq[1])[0], want[1])
    with pytest.raises(InputError):
        s.push(np.zeros((12, 20, 3), np.uint8))      # one session takes planes or frames, not both
    assert s.flush() == []
    assert s.push(np.zeros((12, 20, 3), np.uint8))[0].shape == (24, 40, 3)


def test_egvsr_session_matches_upstream_sequence():
    from conftest import SHARED

    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}")
    from pysr.models.convert import import_checkpoint

    ref = np.load(SHARED / "refs/egvsr.npz")
    model = import_checkpoint(SHARED / "weights/egvsr_random_seed0/EGVSR_random_seed0.pth", "egvsr")
    frames = [np.rint(f.transpose(1, 2, 0) * 255).astype(np.uint8) for f in ref["lr_rgb"]]
    assert all(np.array_equal(f.transpose(2, 0, 1) / np.float32(255), r) for f, r in zip(frames, ref["lr_rgb"]))
    s = Session(model)
    for t, x in enumerate(ref["lr_rgb"]):
        hr, = s.push_planes(x)
        assert np.abs(hr - ref["hr_float"][t]).max() <= 1e-4
    outs = list(pysr.run(frames, model=model))           # the API runs recurrent models through a Session
    assert len(outs) == len(frames)
    for t, o in enumerate(outs):
        assert (o.transpose(2, 0, 1) == ref["hr_uint8"][t]).mean() >= 0.999
    assert np.array_equal(pysr.run(frames[0], model=model), outs[0])
    with pytest.raises(InputError):
        pysr.run(frames, model=model, tile=16)
