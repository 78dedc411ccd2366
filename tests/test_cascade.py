"""The F-EDSR → TCSR cascade (pysr/stream/cascade.py): unselected frames are F-EDSR's own output, selected ones a
direct TCSR window computation (window rule and reflection checked against a Session of the TCSR model), the
policies' selections, the budget policy under a fake clock, size changes, hot swap and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from pysr.errors import InputError, ModelFileError, ShapeError
from pysr.model import Model
from pysr.models import fedsr, tcsr
from pysr.models.colour import frame_to_network, network_to_frame
from pysr.models.convert import facts_for
from pysr.runtime.plan import compile_graph
from pysr.stream.cascade import Budget, Cascade, always, budget, every, never, parse_policy
from pysr.stream.session import Session, reflect_index


def fedsr_model(scale=2, seed=0, in_channels=1):
    cfg = fedsr.FedsrConfig(scale=scale, channels=4, blocks=1, in_channels=in_channels)
    return Model(fedsr.build(cfg, fedsr.init_params(cfg, seed)), facts_for("fedsr", cfg, {}, "MIT"))


def tcsr_model(radius=1, seed=0):
    cfg = tcsr.TcsrConfig(radius=radius, channels=4, ofr_channels=4, ofr_blocks=1)
    params = tcsr.init_params(cfg, seed)
    params["OFR.RNN2.0.weight"] *= 8.0                      # flows of a pixel or so: the warps really move
    return Model(tcsr.build(cfg, params), facts_for("tcsr", cfg, {}, "MIT"))


@pytest.fixture(scope="module")
def models():
    return fedsr_model(), tcsr_model(1), tcsr_model(2, seed=1)


def frames(n, h=6, w=8, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def run(c: Cascade, seq):
    outs = []
    for f in seq:
        outs += c.push(f)
    return outs + c.flush()


def fedsr_planes(model, seq):
    """F-EDSR's float HR Y of each frame, computed outside the cascade (colour half + network)."""
    g = frame_to_network(model.facts)
    out = []
    for f in seq:
        x = np.ascontiguousarray(f.transpose(2, 0, 1)[None], np.float32) / np.float32(255)
        y, cbcr = compile_graph(g, "cpu", {"rgb": x.shape}).run(x)
        out.append((model.plan("cpu", y.shape).run(y)[0], cbcr))
    return out


def to_frame(model, y, cbcr):
    g = network_to_frame(model.facts, 1)
    rgb = compile_graph(g, "cpu", {"net_out": y.shape, "cbcr": cbcr.shape}).run({"net_out": y, "cbcr": cbcr})[0]
    return np.clip(np.rint(rgb[0].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("radius, n", [(1, 6), (2, 5), (2, 2)])
def test_selected_frames_are_tcsr_windows_and_the_rest_fedsr(models, radius, n):
    f_model, t_model = models[0], models[radius]
    seq = frames(n, seed=radius + n)
    outs = run(Cascade(f_model, t_model, every(2)), seq)
    assert [o.index for o in outs] == list(range(n))
    assert [o.refined for o in outs] == [t % 2 == 0 for t in range(n)]
    single = Session(f_model)
    hr = fedsr_planes(f_model, seq)
    tcsr_graph = compile_graph(t_model.graph, "cpu", {"frames": (1, 2 * radius + 1, 12, 16)})
    for t, (o, f) in enumerate(zip(outs, seq)):
        assert o.frame.shape == (12, 16, 3) and o.frame.dtype == np.uint8
        if not o.refined:
            assert np.array_equal(o.frame, single.push(f)[0]), f"frame {t}: not F-EDSR's own output"
            assert np.array_equal(o.planes, hr[t][0][0])
            continue
        window = np.concatenate([hr[reflect_index(i, n)][0] for i in range(t - radius, t + radius + 1)], axis=1)
        want = tcsr_graph.run(window)[0]
        np.testing.assert_allclose(o.planes, want[0], atol=1e-6, err_msg=f"frame {t}: TCSR window")
        assert np.abs(o.planes - hr[t][0][0]).max() > 1e-3, "TCSR changed nothing: the test would not see it"
        assert np.abs(o.frame.astype(int) - to_frame(f_model, want, hr[t][1]).astype(int)).max() <= 1


@pytest.mark.parametrize("radius, n", [(1, 5), (2, 4), (2, 1)])
def test_all_frames_follow_the_session_window_rule(models, radius, n):
    """policy all: TCSR output t equals a Session of the TCSR model fed F-EDSR's planes (reflection at both ends)."""
    f_model, t_model = models[0], models[radius]
    seq = frames(n, seed=7 * radius + n)
    c = Cascade(f_model, t_model, always())
    assert c.latency == radius
    outs = []
    for t, f in enumerate(seq):
        got = c.push(f)
        assert [o.index for o in got] == ([t - radius] if t >= radius else [])    # output t leaves with t + k
        outs += got
    outs += c.flush()
    s = Session(t_model)
    want = []
    for y, _ in fedsr_planes(f_model, seq):
        want += s.push_planes(y[0])
    want += s.flush()
    assert len(outs) == len(want) == n and all(o.refined for o in outs)
    for o, w in zip(outs, want):
        np.testing.assert_allclose(o.planes, w, atol=1e-6)


def test_without_tcsr_or_with_policy_none_it_is_fedsr(models):
    f_model, t_model = models[0], models[1]
    seq = frames(3, seed=5)
    alone = Cascade(f_model)
    assert alone.latency == 0
    single = Session(f_model)
    for f in seq:
        (o,) = alone.push(f)
        assert not o.refined and np.array_equal(o.frame, single.push(f)[0])
    assert alone.flush() == []
    outs = run(Cascade(f_model, t_model, never()), seq)
    assert [o.refined for o in outs] == [False] * 3
    assert all(np.array_equal(o.frame, Session(f_model).push(f)[0]) for o, f in zip(outs, seq))


def test_rgb_fedsr_runs_alone_but_not_before_tcsr(models):
    rgb = fedsr_model(in_channels=3)
    f = frames(1)[0]
    (o,) = Cascade(rgb).push(f)
    assert np.array_equal(o.frame, Session(rgb).push(f)[0]) and o.planes.shape == (3, 12, 16)
    with pytest.raises(ModelFileError, match="RGB"):
        Cascade(rgb, models[1])


def test_refusals(models):
    f_model, t_model = models[0], models[1]
    with pytest.raises(ModelFileError, match="single-frame"):
        Cascade(t_model)
    with pytest.raises(ModelFileError, match="window"):
        Cascade(f_model, f_model)
    c = Cascade(f_model, t_model)
    with pytest.raises(ShapeError, match="even"):
        Cascade(fedsr_model(scale=3), t_model).push(frames(1, 5, 8)[0])      # 15 HR rows
    with pytest.raises(InputError):
        c.push(np.zeros((4, 4), np.uint8))
    with pytest.raises(ModelFileError, match="×2"):
        c.swap_fedsr(fedsr_model(scale=4))


def test_size_change_ends_the_sequence_and_swap_applies_to_later_frames(models):
    f_model, t_model = models[0], models[1]
    a, b = frames(3, 6, 8, seed=1), frames(2, 4, 6, seed=2)
    c = Cascade(f_model, t_model, always())
    outs = [o for f in a for o in c.push(f)]
    assert [o.index for o in outs] == [0, 1]
    first_b = c.push(b[0])                                  # frame 2 of the old sequence comes out first
    assert [(o.index, o.frame.shape) for o in first_b] == [(2, (12, 16, 3))]
    rest = c.push(b[1]) + c.flush()
    assert [(o.index, o.frame.shape) for o in rest] == [(0, (8, 12, 3)), (1, (8, 12, 3))]
    ref = run(Cascade(f_model, t_model, always()), a)
    assert all(np.array_equal(x.planes, y.planes) for x, y in zip(outs + first_b, ref))
    other = fedsr_model(seed=9)
    c = Cascade(f_model)
    c.push(a[0])
    c.swap_fedsr(other)
    assert np.array_equal(c.push(a[1])[0].frame, Session(other).push(a[1])[0])


# --- policies ---------------------------------------------------------------------------------------------------

def test_policy_selections_and_parsing():
    assert [t for t in range(10) if every(3).select(t)] == [0, 3, 6, 9]
    assert not any(never().select(t) for t in range(5)) and all(always().select(t) for t in range(5))
    assert parse_policy("every:4") == every(4) and parse_policy("none") == never() and parse_policy("ALL") == always()
    assert parse_policy("budget:12.5").ms_per_frame == 12.5
    for bad in ("every:0", "every:1.5", "budget:0", "sometimes", "budget:-3"):
        with pytest.raises(InputError):
            parse_policy(bad)


def select_run(policy, costs):
    """Ask the policy frame by frame; a selected frame t costs costs[t] seconds."""
    chosen = []
    for t, cost in enumerate(costs):
        if policy.select(t):
            chosen.append(t)
            policy.record(t, cost)
    return chosen


def test_budget_policy_by_hand():
    # 250 ms per frame, TCSR 625 ms: the first frame measures it; then the credit allows 2 runs per 5 frames.
    assert select_run(budget(250), [0.625] * 15) == [0, 4, 7, 9, 12, 14]
    # TCSR cheaper than the budget: every frame
    assert select_run(budget(250), [0.125] * 6) == list(range(6))


def test_budget_policy_keeps_the_running_mean_and_is_deterministic():
    rng = np.random.default_rng(0)
    costs = rng.uniform(0.004, 0.030, 400)                  # TCSR 4-30 ms, budget 8 ms per frame
    a, b = select_run(Budget(8.0), costs), select_run(Budget(8.0), costs)
    assert a == b and 0 < len(a) < 400
    spent, est = 0.0, Budget(8.0)
    for t in range(400):                                    # replay: mean stays within budget + the last surprise
        if est.select(t):
            surprise = costs[t] - est.estimate()
            est.record(t, costs[t])
            spent += costs[t]
            assert spent <= 0.008 * (t + 1) + max(surprise, 0) + 1e-12
    assert spent / 400 <= 0.008 and spent / 400 > 0.006    # uses most of the budget, never more on average


def test_budget_in_the_cascade_with_a_fake_clock(models):
    f_model, t_model = models[0], models[1]
    ticks = iter(np.arange(0, 100, 0.625))                  # every TCSR run "takes" 625 ms between its two reads
    c = Cascade(f_model, t_model, budget(250), clock=lambda: float(next(ticks)))
    outs = run(c, frames(10, seed=3))
    assert [o.index for o in outs if o.refined] == [0, 4, 7, 9]
