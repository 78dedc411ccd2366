"""The streamer's monitor (LOWESS + scene changes) and stop rule (TH = min(THs, α·THp)) on synthetic curves."""

from __future__ import annotations

import numpy as np
import pytest

from pysr.live.monitor import (
    Monitor,
    MonitorConfig,
    MonitorError,
    epanechnikov,
    keyframe_gain,
    lowess,
    smooth_and_detect,
    smoother_weights,
)
from pysr.live.stop_rule import Mlp, PlateauConfig, StopRule, StopRuleError, fit_plateau


def test_epanechnikov_and_window():
    np.testing.assert_allclose(epanechnikov([-1.5, -1, -0.5, 0, 0.5, 1, 2]), [0, 0, 0.5625, 0.75, 0.5625, 0, 0])
    # λ = distance to the k-th nearest point (the point itself is the first): that one gets weight 0
    idx, l = smoother_weights(10.0, np.arange(20.0), k=5, degree=0)
    assert sorted(idx.tolist()) == [8, 9, 10, 11, 12]
    w = dict(zip(idx.tolist(), l.tolist()))
    assert w[8] == w[12] == 0 and w[9] == pytest.approx(w[11]) and w[10] > w[9]
    assert sum(l) == pytest.approx(1.0)


def test_smoother_is_exact_on_lines_and_averages_noise():
    x = np.cumsum(np.random.default_rng(0).uniform(0.5, 2.0, 60))  # uneven keyframe spacing
    line = 0.3 + 0.02 * x
    np.testing.assert_allclose(lowess(x, line, k=7, degree=1), line, atol=1e-9)  # local linear reproduces a line
    m = Monitor(MonitorConfig(k=7))
    np.testing.assert_allclose([m.update(a, b).smoothed for a, b in zip(x, line)], line, atol=1e-9)  # online too
    noisy = 2.0 + np.random.default_rng(1).normal(0, 0.2, 400)
    s, _ = smooth_and_detect(np.arange(400), noisy)
    assert np.std(s[20:]) < 0.6 * np.std(noisy)


def test_monitor_rejects_bad_points():
    m = Monitor()
    m.update(1, 2.0)
    with pytest.raises(MonitorError, match="increase"):
        m.update(1, 2.0)
    with pytest.raises(MonitorError, match="finite"):
        m.update(2, float("nan"))
    with pytest.raises(MonitorError):
        MonitorConfig(k=2)


def piecewise(levels, length, sd, seed):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(length, v) for v in levels])
    return y + rng.normal(0, sd, len(y))


@pytest.mark.parametrize("seed", range(4))
def test_scene_changes_found_where_they_are(seed):
    # gain: 3 dB, a new scene (model no longer fits) 1.8 dB, retrained 2.9, another scene 1.5, a rise to 2.5
    y = piecewise([3.0, 1.8, 2.9, 1.5, 2.5], 80, 0.15, seed)
    _, events = smooth_and_detect(np.arange(len(y)), y)
    drops = [80, 240]  # the rises (80 -> retrained at 160, 320) are not scene changes in "drop" mode
    assert [e.index for e in events] == pytest.approx(drops, abs=4), events
    assert all(e.kind == "needs_training" and e.jump_db < -e.threshold_db for e in events)
    _, both = smooth_and_detect(np.arange(len(y)), y, MonitorConfig(direction="both"))
    assert [e.index for e in both] == pytest.approx([80, 160, 240, 320], abs=4)


@pytest.mark.parametrize("seed", range(3))
def test_no_false_alarms_on_noise(seed):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.uniform(0.5, 1.5, 1500))
    y = 2.0 + rng.normal(0, 0.3, len(x)) + 0.2 * np.sin(x / 60)  # noise on a slow drift
    _, events = smooth_and_detect(x, y)
    assert events == []
    m = Monitor()
    for a, b in zip(x, y):
        m.update(a, b)
    assert m.noise_sigma() == pytest.approx(0.3, rel=0.3)


def test_one_odd_keyframe_is_not_a_scene():
    y = piecewise([2.5], 200, 0.1, 0)
    y[120] -= 2.0  # a single black or flash frame
    assert smooth_and_detect(np.arange(200), y)[1] == []
    _, ev = smooth_and_detect(np.arange(200), y, MonitorConfig(confirm=1))
    assert [e.index for e in ev] == [120]


def test_events_respect_spacing_and_reset():
    y = piecewise([3.0, 1.0, -1.0], 30, 0.05, 0)  # two drops 30 points apart
    _, ev = smooth_and_detect(np.arange(90), y)
    assert [e.index for e in ev] == pytest.approx([30, 60], abs=3)
    _, ev = smooth_and_detect(np.arange(90), y, MonitorConfig(min_spacing=40))  # the second one waits
    assert len(ev) == 2 and 40 <= ev[1].index - ev[0].index <= 40 + MonitorConfig().confirm
    m = Monitor()
    for i in range(40):
        m.update(i, 3.0)
    m.reset()
    assert m.count == 0 and m.update(100, 1.0).smoothed == 1.0


def test_keyframe_gain():
    rng = np.random.default_rng(0)
    hr = rng.uniform(16, 235, (20, 20))
    assert keyframe_gain(hr, hr + 1.0, hr + 2.0) == pytest.approx(20 * np.log10(2.0))


# ---- stop rule ----------------------------------------------------------------------------------------------


def test_mlp_gradients_match_finite_differences():
    net = Mlp.init([1, 4, 3, 1], seed=1)
    x = np.linspace(-1, 1, 7)[:, None]
    y = np.sin(3 * x)
    _, gw, gb = net.loss_and_grads(x, y, l2=0.01)
    eps = 1e-6
    for p, g in [(net.weights[0], gw[0]), (net.weights[2], gw[2]), (net.biases[1], gb[1])]:
        idx = (0,) * p.ndim
        p[idx] += eps
        up = net.loss_and_grads(x, y, 0.01)[0]
        p[idx] -= 2 * eps
        down = net.loss_and_grads(x, y, 0.01)[0]
        p[idx] += eps
        assert g[idx] == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-8)


@pytest.mark.parametrize("span,seed", [(6.0, 0), (3.0, 1)])
def test_plateau_of_exponential_saturation(span, seed):
    a, tau = 3.0, 200.0
    rng = np.random.default_rng(seed)
    t = np.linspace(0, span * tau, 120)
    y = a * (1 - np.exp(-t / tau)) + rng.normal(0, 0.05, len(t))
    fit = fit_plateau(t, y)
    assert fit.config.hidden == (20, 20, 20)
    assert fit.th_p == pytest.approx(a, rel=0.05)
    assert float(np.abs(fit.predict(t) - a * (1 - np.exp(-t / tau))).max()) < 0.15  # fits the curve itself
    again = fit_plateau(t, y)
    assert again.th_p == fit.th_p  # deterministic


def test_plateau_input_checks():
    with pytest.raises(StopRuleError, match="at least"):
        fit_plateau([0, 1, 2], [0, 1, 2])
    with pytest.raises(StopRuleError, match="increasing"):
        fit_plateau(np.r_[np.arange(10), 5], np.arange(11.0))
    with pytest.raises(StopRuleError):
        StopRule(alpha=1.0)


def test_stop_rule_stops_where_expected():
    a, tau = 2.0, 100.0
    cold_t = np.linspace(0, 600, 100)
    cold = a * (1 - np.exp(-cold_t / tau)) + np.random.default_rng(3).normal(0, 0.03, 100)
    rule = StopRule(th_s=2.5, alpha=0.9)
    assert rule.threshold == 2.5  # THp unknown during the cold start: THs alone
    rule = rule.with_cold_start(cold_t, cold, PlateauConfig(iterations=2000))
    assert rule.th_p == pytest.approx(a, rel=0.05)
    assert rule.threshold == pytest.approx(0.9 * rule.th_p)  # the plateau is below THs: α·THp rules
    # A later training on a new scene climbs from 0.5 dB along the same shape, smoothed by the monitor:
    # it must stop on the first point where the smoothed gain reaches α·THp.
    t = np.arange(0, 800, 5.0)
    gains = 0.5 + (a - 0.5) * (1 - np.exp(-t / tau)) + np.random.default_rng(4).normal(0, 0.03, len(t))
    m = Monitor()
    smoothed = [m.update(x, g).smoothed for x, g in zip(t, gains)]
    stop = next(i for i, s in enumerate(smoothed) if rule.should_stop(s))
    expected_t = -tau * np.log(1 - (rule.threshold - 0.5) / (a - 0.5))
    assert t[stop] == pytest.approx(expected_t, abs=60)
    assert not any(rule.should_stop(s) for s in smoothed[:stop])
    # THs caps it when the predicted plateau is high
    assert StopRule(th_s=1.0, alpha=0.9, th_p=5.0).threshold == 1.0
