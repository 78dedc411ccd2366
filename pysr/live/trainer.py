"""The streamer's online trainer and the loop that decides when it trains (docs/live.md, "Streamer and online
trainer"). PyTorch (the `train` extra) is imported only when a trainer is made.

    keyframe (HR frame at scale × LR, LR frame as decoded from the sent stream)
      └▶ TrainingControl.keyframe: Y planes (the model's colour facts, pysr engine)
           ├▶ gain of the deployed model over bicubic (pysr engine) ─▶ Monitor ─▶ needs_training ─▶ trainer.start
           │                                                                └▶ smoothed gain ≥ TH ─▶ trainer.stop
           └▶ OnlineTrainer.add_pair (a bounded replay buffer of keyframes)
    OnlineTrainer thread: Adam on random crops of the buffer; every `eval_steps` steps or `eval_seconds` seconds the
      candidate and the published model are measured on the newest keyframes; a better candidate is exported
      (a .pysr Model with the starting model's facts) and handed to `publish` (pysr/live/publisher.py).

The first training run is the cold start: it starts at the first keyframe, stops when the smoothed gain reaches THs
or after `budget_steps`, and its curve — the candidate's gain at each evaluation against the run's step — fits THp
(stop_rule.fit_plateau); later runs start on a scene change and stop at TH = min(THs, α·THp) or the budget.
"deployed" is the model the server accepted last: the monitor measures what viewers get.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from pysr.errors import InputError, PysrError
from pysr.graph.graph import Graph, Node
from pysr.kernels.cpu.frames import rgb_u8_to_planar
from pysr.live.monitor import Monitor, MonitorConfig, MonitorError, keyframe_gain
from pysr.live.stop_rule import PlateauConfig, StopRule, StopRuleError
from pysr.model import Model
from pysr.models import architecture
from pysr.models.colour import frame_to_network
from pysr.stream.session import memo_plan


@dataclass(frozen=True)
class TrainerConfig:
    patch: int = 32             # LR crop side (at most the keyframe's size)
    batch: int = 8
    lr: float = 2e-4            # Adam; fine-tuning a trained model
    buffer: int = 32            # keyframe pairs kept, the oldest dropped
    eval_frames: int = 3        # a candidate is judged on the newest this-many keyframes ...
    eval_crop: int = 128        # ... on their centre crops of this LR side (a whole 640×360 frame costs ~14×)
    eval_steps: int = 100       # evaluate every this many steps ...
    eval_seconds: float = 10.0  # ... or this many seconds, whichever comes first
    min_gain_db: float = 0.02   # a candidate must beat the published model by this much to be sent
    budget_steps: int = 3000    # a run ends after this many steps whatever the stop rule says
    threads: int = 1            # torch threads (process-wide)
    seed: int = 0

    def __post_init__(self):
        ints = ("patch", "batch", "buffer", "eval_frames", "eval_crop", "eval_steps", "budget_steps", "threads")
        bad = [n for n in ints if getattr(self, n) < 1]
        if bad or not (self.lr > 0 and self.eval_seconds > 0 and self.min_gain_db >= 0):
            raise InputError(f"online trainer: {', '.join(bad) or 'lr, eval_seconds'} out of range",
                             "counts >= 1, lr > 0, eval_seconds > 0, min_gain_db >= 0")


# -- the pysr engine's view of a keyframe ---------------------------------------------------------------------

class EnginePlanes:
    """A frame as the server's model sees it — RGB → Y by the model's colour facts (`frame_to_network`, the first
    half of the graph the server runs) — the bicubic baseline (`resize_bicubic_torch`, the server's chroma
    upsampler) and a model's keyframe gain, all compiled plans of the pysr engine."""

    def __init__(self, model: Model, backend: str = "cpu"):
        if model.colour_mode != "y":
            raise InputError(f"online training needs a Y model; {model!r} works on RGB")
        self.facts, self.scale, self.backend = model.facts, model.scale, backend
        self._plans: dict = {}
        self._bicubic = Graph({"y": 1}, ["hr"], [Node("resize_bicubic_torch", "bicubic", ["y"], ["hr"], {},
                                                      {"scale": self.scale})], {})

    def y(self, image: np.ndarray) -> np.ndarray:
        """H×W×3 (or grey H×W) uint8 → the network's input plane, H×W float32 (Y on [0, 1], unrounded)."""
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        x = rgb_u8_to_planar(np.ascontiguousarray(image))
        y = memo_plan(self._plans, "y", lambda: frame_to_network(self.facts), self.backend, {"rgb": x.shape}).run(x)[0]
        return np.ascontiguousarray(y[0, 0])

    def bicubic(self, lr_y: np.ndarray) -> np.ndarray:
        x = lr_y[None, None].astype(np.float32)
        return memo_plan(self._plans, "bicubic", lambda: self._bicubic, self.backend, {"y": x.shape}).run(x)[0][0, 0]

    def warm(self, model: Model, width: int, height: int) -> None:
        """Compile every plan for LR frames of this size now (the first keyframe then waits for no compiler)."""
        y = np.zeros((height, width), np.float32)
        model.plan(self.backend, (1, 1, height, width)).run(y[None, None])
        self.bicubic(y)
        for w, h in ((width, height), (width * self.scale, height * self.scale)):
            self.y(np.zeros((h, w, 3), np.uint8))

    def gain(self, model: Model, hr_y: np.ndarray, lr_y: np.ndarray) -> float:
        """PSNR(model) − PSNR(bicubic) on the Y plane, outputs clamped to [0, 1], `scale` pixels shaved."""
        x = lr_y[None, None].astype(np.float32)
        sr = model.plan(self.backend, x.shape).run(x)[0][0, 0]
        return plane_gain(hr_y, sr, self.bicubic(lr_y), self.scale)


def plane_gain(hr_y: np.ndarray, sr_y: np.ndarray, bicubic_y: np.ndarray, shave: int) -> float:
    """`keyframe_gain` on [0, 1] planes (outputs clamped); MonitorError when a PSNR is infinite (a flat frame)."""
    return keyframe_gain(hr_y * 255.0, np.clip(sr_y, 0.0, 1.0) * 255.0, np.clip(bicubic_y, 0.0, 1.0) * 255.0, shave)


# -- the trainer ----------------------------------------------------------------------------------------------

class OnlineTrainer:
    """A torch twin of the deployed model, fine-tuned on keyframes. `start`/`stop` open and close a run; the
    background thread (`launch`) trains while a run is open, and tests may call `train_steps` directly.
    `publish(model, gain)` receives each exported candidate that beat the one published before it."""

    def __init__(self, model: Model, config: TrainerConfig | None = None,
                 publish: Callable[[Model, float], None] | None = None, log: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic):
        from pysr.train.loop import init_from_model
        from pysr.train.torch_models import TORCH_MODELS, export, require_torch

        torch = require_torch()
        self.torch, self._export = torch, export
        self.config = cfg = config or TrainerConfig()
        self.publish = publish or (lambda model, gain: None)
        self.log, self.clock = log, clock
        arch = model.facts["architecture"]
        if arch not in TORCH_MODELS or arch == "tcsr" or model.facts.get("temporal", "single") != "single":
            raise InputError(f"online training takes a single-frame model the torch twins know "
                             f"({sorted(set(TORCH_MODELS) - {'tcsr'})}); {model!r} is {arch}, "
                             f"{model.facts.get('temporal', 'single')}")
        if model.colour_mode != "y":
            raise InputError(f"online training needs a Y model; {model!r} works on RGB")
        torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        self.model, self.arch, self.scale = model, arch, model.scale
        self.mcfg = architecture(arch).config_from_json(model.facts["config"])
        twin = TORCH_MODELS[arch]
        self.net, self.best = twin.module(self.mcfg), twin.module(self.mcfg)
        self._scratch = twin.module(self.mcfg)      # a kept model under test (recall)
        self._scratch.eval()
        self._net_lock = threading.Lock()           # one user of net/best at a time: a step, or a recall
        init_from_model(self.net, model, arch, self.mcfg, torch)
        self.best.load_state_dict(self.net.state_dict())
        self.best.eval()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self._rng = np.random.default_rng(cfg.seed)
        self._pairs: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=cfg.buffer)
        self._serials: deque[int] = deque(maxlen=cfg.buffer)      # pairs_seen when each pair came
        self._published_gain: dict[int, float | None] = {}         # per pair serial, for the published model
        self._cond = threading.Condition()
        self._training = self._closed = False
        self._recent: int | None = None
        self._run_first_pair = 0
        self._revert = False
        self._thread: threading.Thread | None = None
        self.steps = self.run_steps = self.published = self.pairs_seen = 0
        self.curve: list[tuple[float, float]] = []     # (step of the run, candidate gain) at each evaluation
        self.advantage: list[tuple[float, float]] = []  # (step of the run, candidate gain − published model's gain)
        self.ended: str | None = None                   # why the trainer closed the last run itself
        self.run_started = self.run_seconds = self._last_eval = 0.0
        self.recall_seconds = 0.0                        # thread CPU seconds spent measuring kept models
        first = self.export()
        if first.graph.to_json() != model.graph.to_json() or any(
                not np.array_equal(first.graph.params[k], v) for k, v in model.graph.params.items()):
            raise PysrError(f"the torch twin of {arch} does not reproduce {model!r} exactly; its updates would not "
                            "fit the server's model")

    # -- data ----------------------------------------------------------------------------------------------------

    def add_pair(self, hr_y: np.ndarray, lr_y: np.ndarray) -> None:
        h, w = lr_y.shape
        if hr_y.shape != (h * self.scale, w * self.scale):
            raise InputError(f"keyframe pair: HR {hr_y.shape} is not ×{self.scale} of LR {lr_y.shape}")
        with self._cond:
            self._pairs.append((np.asarray(hr_y, np.float32), np.asarray(lr_y, np.float32)))
            self._serials.append(self.pairs_seen)
            self.pairs_seen += 1
            self._cond.notify_all()

    def _batch(self):
        with self._cond:
            pairs = list(self._pairs)
            if self._recent is not None:        # the newest `recent` pairs at the start, and those since
                pairs = pairs[-(self._recent + self.pairs_seen - self._run_first_pair):]
        c, s, rng = self.config, self.scale, self._rng
        p = min(c.patch, *(min(ly.shape) for _, ly in pairs))     # the LR size may change at a reconnect
        lr = np.empty((c.batch, 1, p, p), np.float32)
        hr = np.empty((c.batch, 1, p * s, p * s), np.float32)
        for b in range(c.batch):
            hy, ly = pairs[int(rng.integers(len(pairs)))]
            y0, x0 = int(rng.integers(ly.shape[0] - p + 1)), int(rng.integers(ly.shape[1] - p + 1))
            rot, flip = int(rng.integers(4)), bool(rng.integers(2))
            for out, img, k in ((lr, ly, 1), (hr, hy, s)):
                crop = np.rot90(img[y0 * k : (y0 + p) * k, x0 * k : (x0 + p) * k], rot)
                out[b, 0] = crop[:, ::-1] if flip else crop
        return self.torch.from_numpy(lr), self.torch.from_numpy(hr)

    # -- runs ----------------------------------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        with self._cond:
            return self._training

    def start(self, recent: int | None = None) -> bool:
        """Open a run (False if one is open). `recent`: its batches come from the newest `recent` keyframe pairs and
        those that arrive while it runs (a new scene), not from the whole buffer."""
        with self._cond:
            if self._training:
                return False
            self._training, self.ended = True, None
            self._recent, self._run_first_pair = recent, self.pairs_seen
            self.run_steps, self.curve, self.advantage = 0, [], []
            self.run_started = self._last_eval = self.clock()
            self._cond.notify_all()
            return True

    def stop(self, ended: str | None = None) -> None:
        with self._cond:
            if self._training:
                self.run_seconds = self.clock() - self.run_started
            self._training = False
            self.ended = ended

    def revert(self) -> None:
        """Back to the published weights (a probe that did not pay: its steps are not kept). Done by the thread that
        trains, before its next step: a step may be in flight in it now."""
        with self._cond:
            self._revert = True

    def train_steps(self, n: int) -> int:
        """Up to n Adam steps of the open run (evaluating and publishing when due); returns the steps run."""
        c, done = self.config, 0
        with self._net_lock:
            with self._cond:
                revert, self._revert = self._revert, False
            if revert:
                self.net.load_state_dict(self.best.state_dict())
        while done < n and self.training and self._pairs:
            with self._net_lock:
                if not self._step():
                    break
            done += 1
            if self.run_steps >= c.budget_steps:
                self.stop("budget")
        return done

    def _step(self) -> bool:
        """One Adam step (and the evaluation when due); False if the loss diverged (the run is stopped)."""
        c, torch = self.config, self.torch
        x, y = self._batch()
        loss = torch.nn.functional.l1_loss(self.net(x), y)
        if not math.isfinite(loss.item()):     # back to the published weights; the next run starts from them
            self.net.load_state_dict(self.best.state_dict())
            self.stop("diverged")
            self.log(f"online training diverged at step {self.steps} (loss {loss.item()}); run stopped")
            return False
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.steps += 1
        self.run_steps += 1
        if self.run_steps % c.eval_steps == 0 or self.clock() - self._last_eval >= c.eval_seconds:
            self._evaluate_and_publish()
        return True

    def launch(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pysr-trainer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._cond:
            self._closed, self._training = True, False
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(30)

    def _loop(self) -> None:
        self.torch.set_num_threads(self.config.threads)     # NOTE: again in this thread (OpenMP keeps it per thread)
        while True:
            with self._cond:
                while not (self._closed or (self._training and self._pairs)):
                    self._cond.wait()
                if self._closed:
                    return
            try:
                self.train_steps(10)
            except Exception as err:    # the stream goes on; the run ends and says why
                self.stop("error")
                self.log(f"online training failed: {type(err).__name__}: {err}")

    # -- evaluation and export -----------------------------------------------------------------------------------

    def _newest(self, frames: int | None = None) -> list:
        """The centre crops of the newest `frames` (default `eval_frames`) keyframes: (serial, LR tensor, HR crop,
        bicubic crop)."""
        torch, c, s = self.torch, self.config, self.scale
        with self._cond:
            pairs = list(zip(self._serials, self._pairs))[-(frames or c.eval_frames) :]
        out = []
        for serial, (hy, ly) in pairs:
            h, w = min(c.eval_crop, ly.shape[0]), min(c.eval_crop, ly.shape[1])
            y0, x0 = (ly.shape[0] - h) // 2, (ly.shape[1] - w) // 2
            x = torch.from_numpy(np.ascontiguousarray(ly[y0 : y0 + h, x0 : x0 + w]))[None, None]
            hr = hy[y0 * s : (y0 + h) * s, x0 * s : (x0 + w) * s]
            bic = torch.nn.functional.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False)[0, 0]
            out.append((serial, x, hr, bic.numpy()))
        return out

    def _gain(self, net, crop) -> float | None:
        """A net's gain over bicubic on one crop; None where there is none to measure (a flat crop)."""
        _, x, hr, bic = crop
        with self.torch.no_grad():
            try:
                return plane_gain(hr, net(x)[0, 0].numpy(), bic, self.scale)
            except MonitorError:
                return None

    def _published_gains(self, crops) -> dict[int, float | None]:
        """The published model's gain per keyframe serial (kept until it changes)."""
        for serial in [k for k in self._published_gain if not crops or k < crops[0][0]]:
            del self._published_gain[serial]
        for crop in crops:
            if crop[0] not in self._published_gain:
                self._published_gain[crop[0]] = self._gain(self.best, crop)
        return self._published_gain

    def evaluate(self) -> tuple[float, float]:
        """(candidate gain, published model's gain) in dB over bicubic, mean over the centre crops of the newest
        `eval_frames` keyframes (the published model's gains are kept until it changes). -inf: nothing to measure."""
        crops = self._newest()
        pub_gain = self._published_gains(crops)
        cand, pub = [], []
        self.net.eval()
        for crop in crops:
            g = self._gain(self.net, crop)
            if g is None or pub_gain[crop[0]] is None:
                continue
            cand.append(g)
            pub.append(pub_gain[crop[0]])
        self.net.train()
        if not cand:
            return -math.inf, -math.inf
        return float(np.mean(cand)), float(np.mean(pub))

    def _evaluate_and_publish(self) -> None:
        self._last_eval = self.clock()
        cand, pub = self.evaluate()
        if not math.isfinite(cand):
            return
        self.curve.append((float(self.run_steps), cand))
        self.advantage.append((float(self.run_steps), cand - pub))
        if cand > pub + self.config.min_gain_db:
            model = self.export()
            self.best.load_state_dict(self.net.state_dict())
            self._published_gain.clear()
            self.published += 1
            self.log(f"candidate at step {self.run_steps} of the run: {cand:+.2f} dB over bicubic on the newest "
                     f"{min(len(self._pairs), self.config.eval_frames)} keyframes, published "
                     f"model {pub:+.2f} dB: exported")
            self.publish(model, cand)

    def snapshot(self) -> dict:
        """The published weights (a copy): what `recall` can bring back when their scene returns."""
        with self._net_lock:
            return {k: v.detach().clone() for k, v in self.best.state_dict().items()}

    def recall(self, kept: list[dict], margin_db: float, frames: int | None = None) -> tuple[int, float] | None:
        """Measure kept weights (`snapshot`s) against the published model on the newest `frames` (default
        `eval_frames`) keyframes — forward passes only. If the best of them beats it by `margin_db`, it becomes the
        published model and the net (exported and handed to `publish`); returns (its index, its advantage in dB),
        else None. Not while a run is open."""
        if not kept or self.training:
            return None
        t0 = time.thread_time()
        with self._net_lock:
            crops = self._newest(frames)
            pub_gain = self._published_gains(crops)
            crops = [c for c in crops if pub_gain[c[0]] is not None]
            pub = float(np.mean([pub_gain[c[0]] for c in crops])) if crops else math.nan
            best = None
            for i, state in enumerate(kept if crops else ()):
                self._scratch.load_state_dict(state)
                gains = [self._gain(self._scratch, c) for c in crops]
                if None in gains:
                    continue
                adv = float(np.mean(gains)) - pub
                if best is None or adv > best[1]:
                    best = (i, adv, float(np.mean(gains)))
            self.recall_seconds += time.thread_time() - t0
            if best is None or best[1] < margin_db:
                return None
            i, adv, gain = best
            self.net.load_state_dict(kept[i])
            self.best.load_state_dict(kept[i])
            with self._cond:
                self._revert = False            # the recalled weights are the ones to go on from
            self._published_gain.clear()
            self.published += 1
            model = self.export()
        self.log(f"kept model {i} recalled: {gain:+.2f} dB over bicubic on the newest keyframes, {adv:+.2f} dB over "
                 "the published model")
        self.publish(model, gain)
        return i, adv

    def export(self) -> Model:
        """The net as a Model with the starting model's graph builder and facts (so the server takes it as a
        drop-in), provenance saying where it came from."""
        m = self._export(self.net, self.mcfg, {}, self.arch)
        facts = dict(self.model.facts)
        facts["provenance"] = {"trainer": "pysr push --train (online)", "init": self.model.facts.get("name", self.arch),
                               "steps": self.steps, "keyframes": self.pairs_seen, "torch": self.torch.__version__}
        return Model(m.graph, facts)


# -- when to train --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeConfig:
    """Probe runs (docs/live.md, "Probe runs"): after `every_s` seconds of stream without training, train `steps`
    steps and ask whether fresh training pays on the newest keyframes, whatever the monitored gain says."""

    every_s: float = 10.0       # stream seconds since the last run ended (or the cold start) before a probe
    steps: int = 100            # the probe is judged at its first evaluation at or after this many steps
    margin_db: float = 0.05     # ... and continues if its candidate beats the deployed model by this much
    keep_db: float = 0.05       # a run the probe opened goes on while its evaluations beat the published model by this
    patience: int = 2           # ... and stops after this many evaluations in a row below keep_db

    def __post_init__(self):
        if not (self.every_s > 0 and self.steps >= 1 and self.margin_db >= 0 and self.keep_db >= 0
                and self.patience >= 1):
            raise InputError("probe: need every_s > 0, steps >= 1, margin_db >= 0, keep_db >= 0, patience >= 1")


@dataclass
class ControlConfig:
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    stop: StopRule = field(default_factory=StopRule)
    plateau: PlateauConfig = field(default_factory=PlateauConfig)
    probe: ProbeConfig | None = None    # None: only the patent's triggers (cold start, scene change)
    recent: int | None = 8              # runs for a scene change or a probe learn from the newest this-many keyframes
                                        # (and those that come during the run); None: the whole buffer
    keep: int = 4               # models kept for recall, one per scene (the published model when its last run ended),
                                # beside the starting model; 0: none ("Kept models" in docs/live.md)
    recall_db: float = 0.05     # at a scene change or a probe, a kept model that beats the deployed one by this much
                                # on the newest keyframes is published again
    cold_start: bool = True     # the first run starts at the first keyframe (and its curve fits THp)
    backend: str = "cpu"        # the engine backend of the gains
    queue: int = 4              # keyframes waiting for the control thread; more are dropped (said once each)


class _Kept:
    """A kept model: the trainer's published weights (compared by identity)."""

    def __init__(self, state: dict):
        self.state = state


class TrainingControl:
    """The monitor and the stop rule in charge of an OnlineTrainer. `keyframe` runs one keyframe synchronously;
    `submit` hands one to the control thread (`launch`) so the video never waits for a gain or a decision."""

    def __init__(self, model: Model, trainer: OnlineTrainer, config: ControlConfig | None = None,
                 log: Callable[[str], None] = print):
        self.config = config or ControlConfig()
        self.trainer, self.log = trainer, log
        self.planes = EnginePlanes(model, self.config.backend)
        self.monitor = Monitor(self.config.monitor)
        self.stop_rule = self.config.stop
        self.deployed, self.version = model, 0
        self.keyframes = self.skipped = 0
        self.events: list[tuple[str, str]] = []         # ("start" | "stop", why): the decisions, in order
        self.gains: list[float] = []
        self._cold = self.config.cold_start
        self._cold_pending = self.config.cold_start     # THp not fitted yet
        self._running = False
        self._kind = "rule"            # the open run: "rule" (stopped by TH), "probe", "paying" (a probe that paid)
        self._judged = 0               # evaluations of the open run already judged (probe and paying runs)
        self._idle_since: float | None = None   # stream time the last run ended (or of the first keyframe)
        self._x = 0.0
        self.recalls = 0
        self._origin = [_Kept(trainer.snapshot())] if self.config.keep > 0 else []   # the starting model
        self._kept: list[_Kept] = []            # one per scene, the least recently used first
        self._scene: _Kept | None = None        # the current scene's entry (None: not stored yet)
        self._stored_at = trainer.published     # trainer.published when the current scene's entry was written
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(self.config.queue)
        self._thread: threading.Thread | None = None

    def accepted(self, version: int, model: Model) -> None:
        """The publisher's callback: the server took `model` as `version`; the monitor measures it from now on."""
        with self._lock:
            if version > self.version:
                self.deployed, self.version = model, version

    def threshold_text(self) -> str:
        r = self.stop_rule
        if r.th_p is None:
            return f"TH = THs = {r.th_s:.2f} dB"
        return f"TH = min(THs {r.th_s:.2f}, {r.alpha:g}·THp {r.alpha * r.th_p:.2f}) = {r.threshold:.2f} dB"

    def keyframe(self, x: float, hr_y: np.ndarray, lr_y: np.ndarray) -> float:
        """One keyframe: gain of the deployed model, the buffer, the monitor, and the start/stop decision."""
        with self._lock:
            model, version = self.deployed, self.version
        try:
            gain = self.planes.gain(model, hr_y, lr_y)
        except MonitorError as err:
            self.log(f"keyframe at {x:.2f} s not measured: {err}")
            return math.nan
        self.gains.append(gain)
        self.trainer.add_pair(hr_y, lr_y)
        step = self.monitor.update(x, gain)
        s = step.smoothed
        self.keyframes += 1
        self._x = x
        if self._idle_since is None:
            self._idle_since = x
        self.log(f"keyframe at {x:.2f} s: gain {gain:+.2f} dB over bicubic (model v{version}), smoothed {s:+.2f} dB")
        if self._running and not self.trainer.training:
            self._stopped(self.trainer.ended or "stopped", s)
        if self.trainer.training and self._kind != "rule":
            if step.event is None:
                self._judge(s)
                return gain
            self._kind = "rule"         # a scene change during a probe: the run goes on under the stop rule
            self.log(f"scene change (smoothed gain fell {-step.event.jump_db:.2f} dB) during a probe: the run goes "
                     f"on until {self.threshold_text()}")
        if self.trainer.training:
            if self.stop_rule.should_stop(s):
                self.trainer.stop("TH")
                self._stopped(f"TH: smoothed gain {s:+.2f} dB >= {self.stop_rule.threshold:.2f} dB", s)
            elif step.event is not None:
                self._scene = None
                self.log(f"scene change (smoothed gain fell {-step.event.jump_db:.2f} dB) while training: "
                         "the run goes on")
            return gain
        why = None
        if step.event is not None:
            why = (f"scene change: smoothed gain fell {-step.event.jump_db:.2f} dB, threshold "
                   f"{step.event.threshold_db:.2f} dB")
            self._scene = None
            self._recall("scene change", self.config.monitor.confirm)
            if self.stop_rule.should_stop(s):
                self.log(f"{why}; smoothed gain {s:+.2f} dB is at {self.threshold_text()} already: no training")
                return gain
        elif self._cold:
            why = "cold start"
        if why is not None:
            self._cold = False
            self._open("rule", why)
            self.log(f"training start ({why}), {self.threshold_text()}")
        elif (probe := self.config.probe) is not None and x - self._idle_since >= probe.every_s:
            self._recall("probe")
            self._open("probe", f"probe: {x - self._idle_since:.1f} s without training")
            self.log(f"training start (probe of {probe.steps} steps: does fresh training beat the deployed model by "
                     f"{probe.margin_db:.2f} dB?)")
        return gain

    def _open(self, kind: str, why: str) -> None:
        recent = None if why == "cold start" else self.config.recent
        self.trainer.start(recent)
        self._running, self._kind, self._judged = True, kind, 0
        self.events.append(("start", why))

    def _judge(self, smoothed: float) -> None:
        """A probe or a run a probe opened, at a keyframe: does training still pay on the newest keyframes?"""
        probe, adv = self.config.probe, list(getattr(self.trainer, "advantage", []))
        if len(adv) <= self._judged:
            return
        new, self._judged = adv[self._judged:], len(adv)
        steps, a = new[-1]
        if self._kind == "probe":
            if steps < probe.steps:
                return
            if a >= probe.margin_db:
                self._kind = "paying"
                self.events.append(("continue", f"probe paid: candidate {a:+.2f} dB over the deployed model after "
                                                f"{steps:.0f} steps"))
                self.log(f"probe: the candidate beats the deployed model by {a:+.2f} dB after {steps:.0f} steps: "
                         f"training goes on while it gains {probe.keep_db:.2f} dB an evaluation")
                return
            why = (f"probe: candidate {a:+.2f} dB over the deployed model after {steps:.0f} steps, "
                   f"< {probe.margin_db:.2f}")
        else:
            low = [v for _, v in adv[-probe.patience:]]
            if len(low) < probe.patience or max(low) >= probe.keep_db:
                return
            why = f"paid off: {probe.patience} evaluations below {probe.keep_db:.2f} dB over the published model"
        self.trainer.stop("probe")
        if self._kind == "probe":
            self.trainer.revert()       # the probe's steps did not pay: the next run starts from the deployed model
        self._stopped(why, smoothed)

    def _recall(self, why: str, frames: int | None = None) -> bool:
        """Kept models against the deployed one on the newest `frames` keyframes (forward passes only; at a scene
        change the `confirm` keyframes past the drop, which are the new scene's); the best, if it beats it by
        `recall_db`, is published again and becomes the current scene's entry."""
        entries = self._origin + self._kept
        if not entries:
            return False
        got = self.trainer.recall([e.state for e in entries], self.config.recall_db, frames)
        if got is None:
            return False
        i, adv = got
        entry = entries[i]
        if entry in self._kept:                 # the most recently used last
            self._kept.remove(entry)
            self._kept.append(entry)
        self._scene = entry if entry not in self._origin else None
        self._stored_at = self.trainer.published
        self.recalls += 1
        self.events.append(("recall", f"{why}: kept model {'(the starting one) ' if entry in self._origin else ''}"
                                      f"{adv:+.2f} dB over the deployed one"))
        return True

    def _store(self) -> None:
        """At the end of a run: the published model, if it changed, as the current scene's kept model."""
        if self.config.keep <= 0 or self.trainer.published == self._stored_at:
            return
        if self._scene is not None and self._scene in self._kept:
            self._kept.remove(self._scene)
        self._scene = _Kept(self.trainer.snapshot())
        self._stored_at = self.trainer.published
        self._kept.append(self._scene)
        del self._kept[: -self.config.keep]

    def _stopped(self, why: str, smoothed: float) -> None:
        t = self.trainer
        self._running, self._idle_since = False, self._x
        self.events.append(("stop", why))
        self._store()
        self.log(f"training stop ({why}) after {t.run_steps} steps, {t.run_seconds:.1f} s; smoothed gain "
                 f"{smoothed:+.2f} dB, {self.threshold_text()}; {t.published} models exported so far")
        if not self._cold_pending or self._kind != "rule":
            return
        ts, gs = [p[0] for p in t.curve], [p[1] for p in t.curve]
        if len(ts) < self.config.plateau.min_points:
            self.log(f"cold start: {len(ts)} evaluations, THp needs {self.config.plateau.min_points}; TH stays THs "
                     "and the next run's curve is used")
            return
        try:
            self.stop_rule = self.stop_rule.with_cold_start(ts, gs, self.config.plateau)
        except StopRuleError as err:
            self.log(f"cold start: no THp ({err}); TH stays THs")
            return
        self._cold_pending = False
        self.log(f"cold start: THp = {self.stop_rule.th_p:.2f} dB predicted from {len(ts)} evaluations; "
                 f"{self.threshold_text()}")

    # -- the control thread (pysr push) --------------------------------------------------------------------------

    def submit(self, x: float, hr_image: np.ndarray, lr_image: np.ndarray) -> None:
        """A keyframe for the control thread: the HR frame (scale × the LR size) and the decoded LR frame, uint8."""
        try:
            self._queue.put_nowait((x, hr_image, lr_image))
        except queue.Full:
            self.skipped += 1
            self.log(f"keyframe at {x:.2f} s skipped: {self.config.queue} keyframes are waiting for the monitor")

    def launch(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pysr-monitor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            x, hr, lr = item
            try:
                self.keyframe(x, self.planes.y(hr), self.planes.y(lr))
            except Exception as err:    # a keyframe the monitor cannot take must not end the monitor
                self.log(f"keyframe at {x:.2f} s not measured: {type(err).__name__}: {err}")

    def close(self, wait: bool = True) -> None:
        """Stop the control thread (after the keyframes waiting, if `wait`) and the trainer."""
        if self._thread is not None:
            if not wait:
                with self._queue.mutex:
                    self._queue.queue.clear()
            self._queue.put(None)
            self._thread.join(60 if wait else 5)
        running = self._running and self.trainer.training
        self._running = False
        self.trainer.close()
        if running:
            self.events.append(("stop", "end of stream"))
            self.log(f"training stop (end of stream) after {self.trainer.run_steps} steps")
