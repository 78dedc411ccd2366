"""The online trainer beside `pysr push` (pysr/live/trainer.py, publisher.py, push.py --train; docs/live.md,
"Streamer and online trainer").

Small on purpose (a loaded 2-core machine): a tiny F-EDSR (8 channels, 1 block, ×2) whose starting weights are
made by hand — nearest-neighbour ×2 then a 3×3 binomial blur, a reasonable upscaler that training can still improve
a lot — 64×48 LR keyframes of synthetic textures, a few dozen Adam steps. The tests that need no torch (the keyframe
tap, pacing, the cold start's THp) run without it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

import pysr
from pysr.live.monitor import MonitorConfig
from pysr.live.publisher import UpdatePublisher
from pysr.live.stop_rule import StopRule
from pysr.live.updates import Running, make_update, verify_and_load
from pysr.live.uplink import UplinkBudget, UplinkError

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CLIP = SHARED / "data" / "video" / "carphone_pristine.mp4"


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason="the online trainer needs PyTorch (the train extra)")
    torch.set_num_threads(1)
    return torch


def smooth_fedsr(torch):
    """Tiny F-EDSR ×2 computing nearest ×2 then a 3×3 binomial blur: head passes Y in channel 0, the body adds 0,
    the tail's conv copies channel 0 to the four sub-pixels and its last conv blurs."""
    from pysr.train.torch_models import export, fedsr_config, fedsr_module

    cfg = fedsr_config(2, (8, 1), 1)
    net = fedsr_module(cfg)
    sd = {k: torch.zeros_like(v) for k, v in net.state_dict().items()}
    sd["head.0.weight"][0, 0, 2, 2] = 1
    for j in range(4):
        sd["tail.0.0.weight"][j, 0, 1, 1] = 1
    sd["tail.1.weight"][0, 0] = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    net.load_state_dict(sd)
    return export(net, cfg, {}, "fedsr", "MIT", "smooth")


def lr_of(hr: np.ndarray) -> np.ndarray:
    """The HR plane downscaled ×2 as `pysr push` does (swscale bicubic), uint8 in between, back on [0, 1]."""
    from pysr.live.push import downscale

    img = downscale(np.rint(hr * 255).astype(np.uint8), hr.shape[1] // 2, hr.shape[0] // 2)
    return img.astype(np.float32) / 255


def scene(kind: str, i: int, h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Keyframe i of a scene, (HR Y, LR Y): "A" slow smooth waves (the blur upscaler beats bicubic), "B" fine
    diagonal stripes near the LR Nyquist limit (it loses badly; a few dozen steps learn them). Both drift."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    if kind == "A":
        v = 0.5 + 0.3 * np.sin((xx + 1.5 * i) / 9.0) * np.cos(yy / 11.0)
    else:
        v = 0.5 + 0.3 * np.sin((xx + yy + 1.5 * i) / 1.9)
    hr = v.astype(np.float32)
    return hr, lr_of(hr)


# -- (a) the trainer improves the gain ------------------------------------------------------------------------

def test_trainer_improves_the_gain_and_exports_drop_in_updates(torch):
    from pysr.live.trainer import EnginePlanes, OnlineTrainer, TrainerConfig

    model = smooth_fedsr(torch)
    planes = EnginePlanes(model)
    pairs = [scene("B", i) for i in range(5)]
    before = np.mean([planes.gain(model, *p) for p in pairs[-3:]])
    published, logs = [], []
    tr = OnlineTrainer(model, TrainerConfig(batch=4, patch=24, lr=1e-3, eval_steps=20),
                       publish=lambda m, g: published.append((m, g)), log=logs.append)
    assert tr.train_steps(5) == 0                           # no run open: nothing happens
    for p in pairs:
        tr.add_pair(*p)
    assert tr.start() and not tr.start()
    t0 = time.perf_counter()
    assert tr.train_steps(60) == 60
    seconds = time.perf_counter() - t0
    assert published and tr.published == len(published) and [s for s, _ in tr.curve] == [20.0, 40.0, 60.0]
    best, gain = published[-1]
    after = np.mean([planes.gain(best, *p) for p in pairs[-3:]])     # the pysr engine, not torch
    print(f"\ntrainer: gain {before:+.2f} -> {after:+.2f} dB in 60 steps ({seconds:.1f} s), {len(published)} exported")
    assert after > before + 3, (before, after)
    assert abs(after - gain) < 0.05                         # the trainer's torch measure agrees with the engine
    assert "exported" in logs[-1]
    # an export is a drop-in for the server's model: a signed update of it passes every check
    running = Running.initial(model, "cam")
    for base in (None, running):
        new = verify_and_load(make_update(best, "k", "cam", 1, base), "k", running)
        assert new.version == 1 and np.array_equal(new.model.graph.params["tail.1.weight"],
                                                    best.graph.params["tail.1.weight"])
    assert tr.advantage[0][1] > 0.5                         # the first candidate beat the starting model
    tr.train_steps(3)                                       # steps not kept: revert() returns to the published weights
    assert any(not torch.equal(a, b) for a, b in zip(tr.net.state_dict().values(), tr.best.state_dict().values()))
    tr.revert()
    tr.train_steps(0)                                       # the training thread applies it before its next step
    assert all(torch.equal(a, b) for a, b in zip(tr.net.state_dict().values(), tr.best.state_dict().values()))
    tr.stop()
    with pytest.raises(Exception, match="×2 of LR"):
        tr.add_pair(pairs[0][0], pairs[0][0])


def test_a_run_for_a_new_scene_learns_from_the_newest_keyframes(torch):
    from pysr.live.trainer import OnlineTrainer, TrainerConfig

    tr = OnlineTrainer(smooth_fedsr(torch), TrainerConfig(batch=16, patch=8), log=lambda s: None)
    flat = [(np.full((32, 32), v, np.float32), np.full((16, 16), v, np.float32)) for v in np.arange(10) / 20]

    def seen():
        return {round(float(v) * 20) for _ in range(10) for v in tr._batch()[0][:, 0, 0, 0]}

    for p in flat[:8]:
        tr.add_pair(*p)
    assert tr.start() and seen() == set(range(8))          # the whole buffer
    tr.stop()
    assert tr.start(recent=3) and seen() == {5, 6, 7}        # the newest 3 ...
    for p in flat[8:]:
        tr.add_pair(*p)
    assert seen() == {5, 6, 7, 8, 9}                         # ... and every pair that came during the run
    tr.stop()


def test_trainer_refuses_models_it_cannot_train(torch):
    from test_runtime import tiny

    from pysr.errors import InputError
    from pysr.live.trainer import OnlineTrainer
    from pysr.models import espcn
    from pysr.models.convert import facts_for

    OnlineTrainer(tiny(2))                                  # a Y ESPCN: the twins know it
    cfg = espcn.EspcnConfig(scale=2, channels=(4,), kernels=(3, 3), in_channels=3)
    rgb = pysr.Model(espcn.build(cfg, espcn.init_params(cfg)), facts_for("espcn", cfg, {}, "MIT"))
    with pytest.raises(InputError, match="needs a Y model"):
        OnlineTrainer(rgb)


# -- (b) the keyframe tap sees what the server's decoder sees -------------------------------------------------

def test_keyframe_tap_yields_the_decoded_stream(tmp_path):
    from pysr.live.push import KeyframeTap
    from pysr.video.colour import Colour
    from pysr.video.reader import AvSource, StreamFacts
    from pysr.video.writer import AvSink, EncodeOptions

    if "libx264" not in av.codecs_available:
        pytest.skip("PyAV's FFmpeg has no libx264")
    facts = StreamFacts("x", 64, 48, Fraction(1, 25), Fraction(25), None, "libx264", "yuv420p",
                        Colour("bt601", "limited"))
    opts = EncodeOptions("libx264", None, "200000", "yuv420p", {"preset": "veryfast", "tune": "zerolatency",
                         "x264-params": "keyint=10:scenecut=0", "maxrate": "200000", "bufsize": "200000"})
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64]
    tap = KeyframeTap(log=pytest.fail)
    sink = AvSink(str(tmp_path / "sent.flv"), "flv", facts, 64, 48, opts, on_packet=tap)
    got = []
    for i in range(25):       # moving texture + noise: a P-frame differs from its keyframe
        base = 128 + 90 * np.sin((xx + 2 * i) / 5.0)[..., None] * np.array([1.0, 0.6, -0.4])
        sink.write(np.clip(base + rng.normal(0, 12, (48, 64, 3)), 0, 255).astype(np.uint8), i)
        got += tap.take()
    sink.close()
    assert [pts for pts, _ in got] == [0, 10, 20]
    source = AvSource(str(tmp_path / "sent.flv"))       # the server's reader, on what was sent
    try:
        decoded = [d.image for d in source.items()]
    finally:
        source.close()
    assert len(decoded) == 25
    for pts, image in got:
        assert image.shape == (48, 64, 3) and np.array_equal(image, decoded[pts]), pts
    assert not np.array_equal(got[1][1], decoded[9])        # not any frame: that keyframe


# -- (c) a scene change starts training, the stop rule stops it -----------------------------------------------

def test_scene_change_starts_training_and_the_stop_rule_stops_it(torch):
    from pysr.live.trainer import ControlConfig, OnlineTrainer, TrainerConfig, TrainingControl

    model = smooth_fedsr(torch)
    logs: list[str] = []
    trainer = OnlineTrainer(model, TrainerConfig(batch=4, patch=24, lr=1e-3, eval_steps=10), log=logs.append)
    monitor = MonitorConfig(k=4, confirm=1, min_spacing=4, min_drop_db=1.0)
    control = TrainingControl(model, trainer, ControlConfig(monitor, StopRule(th_s=3.0), cold_start=False),
                              log=logs.append)
    versions = iter(range(1, 1000))
    trainer.publish = lambda m, gain: control.accepted(next(versions), m)    # the server takes every update
    stream = [("A", i) for i in range(10)] + [("B", i) for i in range(20)]
    started = stopped = None
    for n, (kind, i) in enumerate(stream):
        control.keyframe(float(n), *scene(kind, i))
        if started is None and control.events:
            started = n
        if started is not None and stopped is None and len(control.events) == 2:
            stopped = n
            break
        trainer.train_steps(10)         # the background thread's work between two keyframes, made deterministic
    g = control.gains
    print(f"\nscene change at keyframe 10: gains A {g[9]:+.1f} dB, B {g[10]:+.1f} dB; training started at keyframe "
          f"{started}, stopped at {stopped} after {trainer.steps} steps ({trainer.published} updates)")
    assert min(g[:10]) > 3.0 and g[10] < -5                 # A: above TH, no training; B: a large drop
    assert 10 <= started <= 12 and control.events[0] == ("start", control.events[0][1])
    assert control.events[0][1].startswith("scene change: smoothed gain fell")
    assert stopped is not None and control.events[1][0] == "stop" and control.events[1][1].startswith("TH:")
    assert not trainer.training and trainer.published >= 1 and control.version == trainer.published
    assert control.monitor.smoothed[-1] >= 3.0 and g[-1] > 3.0
    assert any(x.startswith("training start (scene change") for x in logs)
    assert any(x.startswith("training stop (TH") for x in logs)


def test_a_returning_scene_gets_its_kept_model_back(torch):
    """A, B (trained), A again, B again: at each return the scene change recalls the model kept for that scene — the
    starting model for A, the model trained on B for B — from the `confirm` keyframes past the drop, with forward
    passes only, so the viewer gets it at once and the run that follows stops at its first keyframe."""
    from pysr.live.trainer import ControlConfig, OnlineTrainer, TrainerConfig, TrainingControl

    model = smooth_fedsr(torch)
    trainer = OnlineTrainer(model, TrainerConfig(batch=4, patch=24, lr=1e-3, eval_steps=10), log=lambda s: None)
    monitor = MonitorConfig(k=4, confirm=1, min_spacing=4, min_drop_db=1.0)
    control = TrainingControl(model, trainer, ControlConfig(monitor, StopRule(th_s=3.0), cold_start=False),
                              log=lambda s: None)
    versions = iter(range(1, 1000))
    trainer.publish = lambda m, gain: control.accepted(next(versions), m)
    stream = [("A", i) for i in range(10)] + [("B", i) for i in range(20)] + [("A", i) for i in range(10, 20)] + \
        [("B", i) for i in range(20, 30)]
    steps = []
    for n, (kind, i) in enumerate(stream):
        control.keyframe(float(n), *scene(kind, i))
        steps.append(trainer.steps)
        trainer.train_steps(10)
    g, kinds = control.gains, [e[0] for e in control.events]
    print(f"\ngains around the returns: A {g[29]:+.1f} {g[30]:+.1f} {g[31]:+.1f}, B {g[39]:+.1f} {g[40]:+.1f} "
          f"{g[41]:+.1f} dB; events {control.events}")
    assert kinds == ["start", "stop", "recall", "start", "stop", "recall", "start", "stop"], control.events
    assert "(the starting one)" in control.events[2][1] and "(the starting one)" not in control.events[5][1]
    assert g[30] < -5 and g[31] > 5 and g[32] > 5           # A again: the starting model from the next keyframe on
    assert g[40] < -5 and g[41] > 2.5                       # B again: the model trained on B (it took 8 keyframes)
    assert steps[-1] - steps[40] <= 20 and control.recalls == 2
    assert trainer.recall_seconds > 0
    off = TrainingControl(model, trainer, ControlConfig(monitor, keep=0), log=lambda s: None)
    assert not off._recall("probe")                         # keep 0: nothing kept, nothing recalled


class ScriptedTrainer:
    """What TrainingControl uses of an OnlineTrainer, with a scripted curve: g(t) = 2 (1 − exp(−t/300))."""

    def __init__(self):
        self.training, self.ended, self.curve, self.pairs = False, None, [], 0
        self.run_steps = self.steps = self.published = 0
        self.run_seconds = 1.0
        self.run_started = 0.0
        self.clock = time.monotonic

    def add_pair(self, hr, lr):
        self.pairs += 1

    def snapshot(self):
        return {"published": self.published}

    def recall(self, kept, margin_db, frames=None):
        return None

    def start(self, recent=None):
        self.training, self.curve, self.run_steps, self.recent = True, [], 0, recent
        return True

    def stop(self, ended=None):
        self.training, self.ended = False, ended

    def run(self, steps: int, budget: int):
        for _ in range(steps):
            self.run_steps += 1
            if self.run_steps % 20 == 0:
                self.curve.append((float(self.run_steps), 2.0 * (1 - np.exp(-self.run_steps / 300))))
            if self.run_steps >= budget:
                self.stop("budget")
                return


def test_cold_start_fits_thp_and_sets_th():
    """The first run starts at the first keyframe; it ends at the trainer's budget (THs out of reach) and its curve
    predicts THp; TH becomes min(THs, α·THp)."""
    from test_runtime import tiny

    from pysr.live.trainer import ControlConfig, TrainingControl

    trainer, logs = ScriptedTrainer(), []
    control = TrainingControl(tiny(2), trainer, ControlConfig(MonitorConfig(k=4), StopRule(th_s=2.5)), log=logs.append)
    flat = np.full((16, 16), 0.5, np.float32)
    assert np.isnan(control.keyframe(-1.0, flat, flat[::2, ::2])) and "PSNR is infinite" in logs[-1]
    assert trainer.pairs == 0 and not control.events        # a flat keyframe is neither measured nor learnt
    for n in range(6):
        control.keyframe(float(n), *scene("A", n, 16, 16))
        trainer.run(200, budget=600)
    assert control.events[:2] == [("start", "cold start"), ("stop", "budget")]
    th_p = control.stop_rule.th_p
    assert th_p is not None and 1.7 < th_p < 2.3, th_p        # the scripted plateau is 2 dB
    assert control.stop_rule.threshold == pytest.approx(min(2.5, 0.9 * th_p))
    assert any(x.startswith("cold start: THp = ") for x in logs), logs
    assert len(control.events) == 2 and not trainer.training     # no scene change: no second run


class ProbeTrainer(ScriptedTrainer):
    """A ScriptedTrainer whose evaluations also say by how much the candidate beats the published model:
    `advantage(run, step)` for the run-th run (0-based), every 20 steps."""

    def __init__(self, advantage):
        super().__init__()
        self.score, self.runs, self.advantage = advantage, -1, []

    def start(self, recent=None):
        self.runs, self.advantage = self.runs + 1, []
        return super().start(recent)

    def revert(self):
        self.reverts = getattr(self, "reverts", 0) + 1

    def run(self, steps: int, budget: int = 10**9):
        for _ in range(steps):
            if not self.training:
                return
            self.run_steps += 1
            if self.run_steps % 20 == 0:
                self.advantage.append((float(self.run_steps), self.score(self.runs, self.run_steps)))


def probe_control(advantage, **probe):
    from test_runtime import tiny

    from pysr.live.trainer import ControlConfig, ProbeConfig, TrainingControl

    trainer, logs = ProbeTrainer(advantage), []
    control = TrainingControl(tiny(2), trainer, ControlConfig(MonitorConfig(k=4), StopRule(th_s=2.5), cold_start=False,
                                                              probe=ProbeConfig(**probe)), log=logs.append)
    return trainer, control, logs


def test_a_probe_that_pays_trains_until_it_pays_off():
    """After every_s seconds without training a probe opens; it beats the deployed model by more than the margin, so
    the run goes on, and stops after `patience` evaluations below keep_db. The next probe waits every_s again."""
    pays = {20: 0.3, 40: 0.25, 60: 0.2, 80: 0.04, 100: 0.06, 120: 0.03, 140: 0.01}
    trainer, control, logs = probe_control(lambda run, step: pays.get(step, 0.0) if run == 0 else 0.0,
                                           every_s=3.0, steps=40, margin_db=0.1, keep_db=0.05, patience=2)
    for n in range(16):
        control.keyframe(float(n), *scene("A", n, 16, 16))
        trainer.run(20)
    kinds = [e[0] for e in control.events]
    assert kinds[:3] == ["start", "continue", "stop"], control.events
    assert control.events[0][1].startswith("probe: 3.0 s without training")
    assert "+0.25 dB" in control.events[1][1] and control.events[2][1].startswith("paid off")
    # the paying run stopped at the keyframe after step 140 (two evaluations in a row below 0.05 dB), not at 80
    stop_x = [x for x in logs if x.startswith("training stop (paid off")]
    assert len(stop_x) == 1 and "after 140 steps" in stop_x[0], logs
    # the second probe (run 1) opens 3 s after that stop and gains nothing: stopped at its judgement
    assert kinds[3:5] == ["start", "stop"] and "< 0.10" in control.events[4][1], control.events
    assert trainer.runs == 1 and trainer.ended == "probe" and not trainer.training
    assert trainer.reverts == 1                 # the failed probe's steps were dropped, the paying run's kept


def test_a_probe_that_does_not_pay_stops_and_probes_again_later():
    trainer, control, logs = probe_control(lambda run, step: 0.02, every_s=2.0, steps=20, margin_db=0.1)
    for n in range(10):
        control.keyframe(float(n), *scene("A", n, 16, 16))
        trainer.run(20)
    starts = [e for e in control.events if e[0] == "start"]
    assert len(starts) >= 2 and all(e[0] in ("start", "stop") for e in control.events), control.events
    assert all(e[1].startswith("probe: candidate +0.02 dB") for e in control.events if e[0] == "stop")
    assert trainer.run_steps <= 20            # each probe ran one evaluation's worth of steps
    assert control.stop_rule.th_p is None     # a probe's curve is never taken for the cold start's


def test_probe_config_refuses_nonsense():
    from pysr.errors import InputError
    from pysr.live.trainer import ProbeConfig

    for bad in ({"every_s": 0}, {"steps": 0}, {"margin_db": -1}, {"patience": 0}):
        with pytest.raises(InputError, match="probe"):
            ProbeConfig(**bad)


# -- (d) update pacing within the uplink ----------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        assert s > 0
        self.t += s


class FakeTransport:
    """Records (time, bytes) of each send; answers 202 (or `status`) like the control API."""

    def __init__(self, clock: FakeClock, status: int = 202):
        self.clock, self.status, self.sends, self.posts = clock, status, [], []

    def get_json(self, path: str) -> dict:
        return {"streams": {}}

    def post(self, path: str, length: int):
        self.posts.append((path, length))
        t = self

        class Post:
            def send(self, chunk):
                t.sends.append((t.clock(), len(chunk)))

            def finish(self):
                if t.status == 202:
                    return 202, {"applies": "from the stream's next frame"}
                return t.status, {"error": "refused", "reason": {403: "signature", 409: "version"}.get(t.status)}

            def abort(self):
                pass

        return Post()


def test_update_pacing_stays_within_the_uplink():
    from test_runtime import tiny

    clock = FakeClock()
    transport = FakeTransport(clock)
    uplink, video = 1_000_000, 600_000
    accepted, logs = [], []
    pub = UpdatePublisher(transport, "key", "cam", tiny(2), UplinkBudget(uplink), video,
                          lambda v, m: accepted.append(v), logs.append, clock, clock.sleep)
    assert pub.rate == pytest.approx((0.9 * uplink - video) / 8) and pub.chunk == 12500
    rng = np.random.default_rng(0)
    for n in (40_000, 100_000, 7_000, 64_000):            # back to back: the bucket carries over
        pub.post(rng.bytes(n))
    limit = (uplink - video) / 8                            # bytes per second left beside the video
    sends = transport.sends
    assert sum(n for _, n in sends) == 211_000 and max(n for _, n in sends) <= 12500
    worst = max(sum(n for u, n in sends if t <= u < t + 1.0) for t, _ in sends)
    assert worst <= limit, (worst, limit)
    total = sends[-1][0] - sends[0][0]
    assert total == pytest.approx((211_000 - 12500) / pub.rate, rel=1e-6)   # no slower than the budget either
    # whole models and deltas, versions 1, 2, …: a changed tail is sent as a delta (smaller)
    model = tiny(2)
    g = model.graph.copy()
    g.params = dict(g.params)
    g.params["conv3.bias"] = g.params["conv3.bias"] + 0.5
    new = pysr.Model(g, model.facts)
    assert pub.send(new)[0] == 202 and pub.send(model)[0] == 202
    assert accepted == [1, 2] and pub.base.version == 2
    assert "(delta," in logs[-2] and "(delta," in logs[-1], logs
    assert pub.send(model) == (0, {}) and "equals v2" in logs[-1]       # nothing changed: nothing sent


def test_uplink_without_room_is_refused_at_start(tmp_path, capsys):
    from test_runtime import tiny

    from pysr.cli import main
    from pysr.video.y4m import Y4mHeader, Y4mWriter

    with pytest.raises(UplinkError, match="no room for model updates"):
        UpdatePublisher(FakeTransport(FakeClock()), "k", "cam", tiny(2), UplinkBudget(200_000), 200_000)
    tiny(2).save(tmp_path / "m.pysr")
    with open(tmp_path / "c.y4m", "wb") as f:
        w = Y4mWriter(f, Y4mHeader(32, 16, Fraction(25), "420jpeg"))
        w.write([np.zeros((16, 32), np.uint8), np.full((8, 16), 128, np.uint8), np.full((8, 16), 128, np.uint8)])
        w.flush()
    args = ["push", "-i", str(tmp_path / "c.y4m"), "--url", "rtmp://127.0.0.1:1/live/k", "--lr", "16x8",
            "--bitrate", "300k", "--train", "--model", str(tmp_path / "m.pysr"), "--control", "http://127.0.0.1:1"]
    assert main(args) == 2 and "--train needs --uplink" in capsys.readouterr().err
    for bad, said in ((["--probe", "-1"], "--probe must be >= 0"), (["--train-recent", "-2"], "--train-recent must"),
                       (["--keep-models", "-1"], "--keep-models must")):
        assert main([*args, "--uplink", "1M", *bad]) == 2 and said in capsys.readouterr().err
    assert main([*args, "--uplink", "320k"]) == 2
    err = capsys.readouterr().err
    assert "no room for model updates" in err and "video 300000 b/s" in err, err


def test_refused_updates_are_retried_or_explained():
    from test_runtime import tiny

    clock = FakeClock()
    transport = FakeTransport(clock, status=403)
    logs = []
    pub = UpdatePublisher(transport, "key", "cam", tiny(2), UplinkBudget(2e6), 500_000, None, logs.append, clock,
                          clock.sleep)
    assert pub.send(_changed(tiny(2)))[0] == 403
    assert "--key must be the stream key" in logs[-1] and len(transport.posts) == 1 and pub.base.version == 0
    transport.status = 404                                  # the stream is not published yet: retried
    assert pub.send(_changed(tiny(2)))[0] == 404 and len(transport.posts) == 1 + 4


def _changed(model):
    g = model.graph.copy()
    g.params = {k: v + 0.25 for k, v in model.graph.params.items()}
    return pysr.Model(g, model.facts)


# -- (e) end to end: pysr push --train → pysr serve --no-nginx → HLS ------------------------------------------

@pytest.mark.skipif(not CLIP.is_file(), reason=f"needs ../shared ({CLIP})")
def test_push_train_updates_the_server_with_no_frame_lost(torch, tmp_path):
    from test_live_stream import _free_port, _have_rtmp, _hls, _wait

    if "libx264" not in av.codecs_available or not _have_rtmp():
        pytest.skip("PyAV's FFmpeg lacks libx264 or rtmp")
    from pysr.live.server import ServeConfig, Server

    model = smooth_fedsr(torch)
    model.save(tmp_path / "m.pysr")
    (tmp_path / "hls").mkdir()
    (tmp_path / "keys").write_text("goodkey cam\n")
    url = f"rtmp://127.0.0.1:{_free_port()}/live"
    logs: list[str] = []
    server = Server(ServeConfig(url, tmp_path / "hls", model, tmp_path / "keys", "127.0.0.1:0", 1 << 20),
                    log=logs.append)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    live = SimpleNamespace(control=f"http://{server.control.address}", logs=logs)
    with av.open(str(CLIP)) as c:
        frames = c.streams.video[0].frames
    try:
        import subprocess

        cmd = [sys.executable, "-m", "pysr.cli", "push", "-i", str(CLIP), "--url", f"{url}/goodkey", "--lr", "88x72",
               "--bitrate", "200k", "--realtime", "--keyframe-s", "0.5", "--train", "--model", str(tmp_path / "m.pysr"),
               "--control", live.control, "--uplink", "1M", "--stream", "cam", "--train-eval", "10"]
        t0 = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        wall = time.monotonic() - t0
        assert p.returncode == 0, p.stderr
        st = _wait(live, lambda s: s["streams"].get("cam", {}).get("state") == "waiting")["streams"]["cam"]
    finally:
        server.stop()
        thread.join(15)
    err = p.stderr
    sent = [x for x in err.splitlines() if "update v" in x and "server: 202" in x]
    print(f"\npush --train: {frames} frames in {wall:.1f} s, {len(sent)} updates accepted, swaps "
          f"{json.dumps(st['swaps'])}")
    assert "training start (cold start)" in err and "keyframe at 0.00 s: gain" in err, err
    assert sent and st["model_version"] >= 1 and st["swaps"], (err, st)
    assert all(0 < s["frame"] < frames for s in st["swaps"]), st["swaps"]      # swapped mid-stream
    assert st["frames_in"] == st["frames_out"] == frames and st["dropped_frames"] == 0
    _, hls = _hls(tmp_path / "hls" / "cam")
    assert len(hls) == frames                               # every pushed frame, across the swap(s)
    assert f"sent {frames} frames" in err and "accepted; the server runs model v" in err
