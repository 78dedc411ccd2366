"""The training loop behind `pysr train`: loss, Adam, schedule, checkpoints, exact resume, validation, export.

Exact resume: everything a step depends on is either recomputed identically (the data planes, the schedule,
which is a pure function of the step) or saved in the checkpoint (weights, Adam moments, the step, the numpy
crop generator and torch's generator). A run interrupted at any checkpoint and resumed with the same options
and thread count ends with the same weights, bit for bit, as the uninterrupted run.

`--arch tcsr` runs the same loop on windows of a frozen F-EDSR's outputs with TCSR's loss (pysr/train/tcsr_loop.py).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from pysr.errors import InputError, PysrError
from pysr.train import data as train_data
from pysr.train import tcsr_loop
from pysr.train.tcsr_loop import file_sha256
from pysr.train.torch_models import TCSR_ALPHA, TCSR_BETA, export, require_torch, tcsr_loss, torch_architecture

LOSSES = ("l1", "mse")
SCHEDULES = ("cosine", "step")
PRECISIONS = ("fp32", "bf16")   # bf16: the forward under CPU autocast (weights, Adam and the loss stay float32)
CHECKPOINT_FORMAT = 1
# Options that may change between an interrupted run and its resume without changing its result.
# options added after checkpoints existed: left out of a run's identity while they hold their default, so those
# checkpoints still resume
LATER_OPTIONS = ("precision", "flow_scale", "warp_weights")
RESUME_FREE = ("val", "val_every", "checkpoint", "checkpoint_every", "log_every", "output", "licence", "name",
               "command", "stop_at")


@dataclass(frozen=True)
class TrainConfig:
    data: train_data.DataConfig
    arch: str = "espcn"
    channels: tuple[int, ...] | None = None     # hidden widths; None = the architecture's default
    patch: int = 24                             # LR patch side
    batch: int = 16
    steps: int = 10_000
    lr: float = 1e-3
    loss: str = "l1"
    schedule: str = "cosine"                    # cosine to 0, or step: ×0.1 at 50 % and again at 75 %
    clip: float = 0.0                           # max gradient norm; 0 = no clipping
    seed: int = 0
    threads: int = 1
    val: str | None = None                      # folder of HR images for periodic Y-PSNR
    val_every: int = 1000
    checkpoint: str | None = None
    checkpoint_every: int = 1000
    log_every: int = 100
    output: str | None = None
    licence: str = "MIT"
    name: str | None = None
    command: str = ""
    stop_at: int | None = None                  # stop (after checkpointing) at this step: for tests
    fedsr: str | None = None                    # tcsr: the frozen F-EDSR .pysr whose outputs TCSR refines
    radius: int = 1                             # tcsr: window(k), 2k+1 frames
    init: str | None = None                     # a .pysr of the same architecture and config to start from
    precision: str = "fp32"                     # fp32, or bf16 autocast of the forward (AMX: 1.6-3× faster)
    stills: tuple[str, ...] = ()                # tcsr: still images panned into windows (pysr/train/pan.py)
    pan_speed: int = 8                          # tcsr: the panned windows' top speed, HR pixels per frame
    flow_scale: float = 1.0                     # tcsr: pixels per unit of OFRnet's output (15.5: SOF-VSR's)
    warp_weights: tuple[float, float] = (TCSR_ALPHA, TCSR_BETA)   # tcsr: α, β of the two flow levels' warp losses

    def check(self) -> None:
        if self.loss not in LOSSES:
            raise InputError(f"unknown loss {self.loss!r}; known: {LOSSES}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"unknown schedule {self.schedule!r}; known: {SCHEDULES}")
        if self.precision not in PRECISIONS:
            raise InputError(f"unknown precision {self.precision!r}; known: {PRECISIONS}")
        for name in ("patch", "batch", "steps", "threads", "val_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise InputError(f"--lr must be a positive number, got {self.lr}")
        if self.clip < 0:
            raise InputError(f"--clip must be >= 0, got {self.clip}")
        if self.init is not None and not Path(self.init).is_file():
            raise InputError(f"--init {self.init!r}: no such file", "give the .pysr model to fine-tune")
        if self.arch != "tcsr":
            if self.fedsr is not None:
                raise InputError("--fedsr is only for --arch tcsr (the F-EDSR model whose outputs TCSR refines)")
            if self.stills or self.flow_scale != 1.0 or tuple(self.warp_weights) != (TCSR_ALPHA, TCSR_BETA):
                raise InputError("--stills, --flow-scale and --warp-weights are only for --arch tcsr",
                                 "give single-frame training images with --data")
            return
        if not self.fedsr or not Path(self.fedsr).is_file():
            raise InputError(f"--arch tcsr needs --fedsr MODEL.pysr (an existing file), got {self.fedsr!r}",
                             "train F-EDSR first (pysr train --arch fedsr …); TCSR learns to refine its outputs")
        if self.radius < 1:
            raise InputError(f"--radius must be >= 1, got {self.radius}")
        if tuple(self.data.rescales) != (1.0,):
            raise InputError("--rescale applies to single-frame training; TCSR learns from windows of video frames")
        alpha, beta = self.warp_weights
        if not 0 <= alpha < beta < 1:
            raise InputError(f"--warp-weights needs 0 <= ALPHA < BETA < 1, got {alpha} {beta}",
                             "the coarse flow level weighs less than the full-size one, both less than the output")
        if self.stills and self.pan_speed < 1:
            raise InputError(f"--pan-speed must be >= 1 HR pixel per frame, got {self.pan_speed}")
        if self.loss != "l1" or self.val is not None:
            raise InputError("--arch tcsr trains with its own loss (L1 + warp losses) and has no --val",
                             "leave out --loss and --val")

@dataclass
class Result:
    model: object                       # the exported pysr Model (None when stopped early)
    net: object                         # the torch module
    step: int
    losses: list[float] = field(default_factory=list)   # loss of every step run in this call
    val_psnr: float | None = None
    seconds: float = 0.0


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of step `step` (0-based), a pure function of the step so a resume needs no scheduler state."""
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
    return cfg.lr * (0.1 ** ((step >= cfg.steps // 2) + (step >= cfg.steps * 3 // 4)))


def identity(cfg: TrainConfig) -> dict:
    """The options that decide the weights, as JSON-able values (checked on resume)."""
    d = asdict(cfg)
    for key in RESUME_FREE:
        d.pop(key)
    d.pop("threads")
    d["data"]["sources"] = [os.path.realpath(src) for src in cfg.data.sources]   # the same folders, however spelled
    if tuple(cfg.data.rescales) == (1.0,):      # the default, absent from checkpoints made before --rescale
        d["data"].pop("rescales")
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    for key in LATER_OPTIONS:
        if json.dumps(d[key]) == json.dumps(defaults[key]):
            d.pop(key)
    path = d.pop("fedsr")
    if cfg.stills:                              # absent from checkpoints made before --stills
        d["stills"] = [os.path.realpath(src) for src in cfg.stills]
    else:
        d.pop("stills"), d.pop("pan_speed")
    if d.pop("init") is not None:               # the starting weights' content decides the result, not their path
        d["init_sha256"] = file_sha256(cfg.init)
    if cfg.arch == "tcsr":                      # the F-EDSR's content decides the weights, not where it lies
        d["fedsr_sha256"] = file_sha256(path)
    else:
        d.pop("radius")
    return json.loads(json.dumps(d))


def model_config(cfg: TrainConfig):
    if cfg.arch == "tcsr":
        return tcsr_loop.model_config(cfg.channels, cfg.radius, cfg.flow_scale)
    in_channels = 1 if cfg.data.colour == "y" else 3
    return torch_architecture(cfg.arch).config(cfg.data.scale, cfg.channels, in_channels)


def init_from_model(net, path, arch: str, mcfg, torch) -> None:
    """Load a `.pysr` model's parameters into `net` (fine-tuning): same architecture, same configuration, and
    the same parameter names and shapes (the twins name their tensors as the engine does). `path`: a file, a shipped
    name, or a loaded Model (the online trainer, pysr/live/trainer.py)."""
    from pysr.model import Model, load
    from pysr.models import architecture

    model = path if isinstance(path, Model) else load(path)
    if model.facts["architecture"] != arch:
        raise InputError(f"--init {path}: a {model.facts['architecture']} model, this run trains {arch}")
    want = json.loads(json.dumps(architecture(arch).config_json(mcfg)))
    if model.facts.get("config") != want:
        raise InputError(f"--init {path}: its configuration {model.facts.get('config')} differs from this run's "
                         f"{want}", "use the same --scale and --channels as the model")
    own = net.state_dict()
    params = model.graph.params
    if set(params) != set(own) or any(params[k].shape != tuple(own[k].shape) for k in own):
        raise InputError(f"--init {path}: its parameters do not match the {arch} network's "
                         f"({sorted(set(params) ^ set(own))[:4]} differ)")
    net.load_state_dict({k: torch.from_numpy(params[k].copy()) for k in own})


def save_checkpoint(path: str, net, opt, step: int, rng: np.random.Generator, cfg: TrainConfig, seconds: float):
    torch = require_torch()
    state = {"format": CHECKPOINT_FORMAT, "config": json.dumps(identity(cfg)), "threads": cfg.threads,
             "model": net.state_dict(), "optimizer": opt.state_dict(), "step": step,
             "rng": json.dumps(rng.bit_generator.state), "torch_rng": torch.get_rng_state(), "seconds": seconds}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{path}.tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)                     # never a half-written checkpoint under the real name


def load_checkpoint(path: str, cfg: TrainConfig) -> dict:
    torch = require_torch()
    if not Path(path).is_file():
        raise InputError(f"--resume: checkpoint {path} does not exist", "run without --resume to start")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:                  # torch raises many types for a bad file
        raise PysrError(f"cannot read checkpoint {path}: {type(err).__name__}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise PysrError(f"{path} is not a pysr training checkpoint (format {CHECKPOINT_FORMAT})")
    saved, now = json.loads(state["config"]), identity(cfg)
    diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if diff:
        detail = "; ".join(f"{k}: checkpoint {saved.get(k)!r}, now {now.get(k)!r}" for k in diff)
        raise InputError(f"--resume: options differ from the checkpoint's ({detail})",
                         "resume with the options of the interrupted run")
    return state


def validate(net, pairs, scale: int) -> float:
    """Mean PSNR (peak 1, output clamped to [0, 1], `scale` pixels shaved) over the validation pairs."""
    torch = require_torch()
    net.eval()
    with torch.no_grad():
        values = [train_data.psnr(net(torch.from_numpy(lr[None])).numpy()[0], hr, scale) for _, lr, hr in pairs]
    net.train()
    return float(np.mean(values))


def float_outputs(out):
    """A net's output(s) as float32 (bf16 autocast leaves conv outputs in bfloat16); the loss runs in float32."""
    if isinstance(out, (tuple, list)):
        return type(out)(float_outputs(o) for o in out)
    return out.float()


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def train(cfg: TrainConfig, resume: bool = False, pairs=None, log: Callable[[str], None] = print) -> Result:
    """Train (or resume), checkpoint, validate and export; returns the exported model and the net. `pairs`: the
    data if already made (a PairSet; for tcsr anything with tcsr_loop.FedsrWindows' `batch`)."""
    cfg.check()
    tcsr = cfg.arch == "tcsr"
    torch = require_torch()
    torch.set_num_threads(cfg.threads)
    mcfg = model_config(cfg)
    if resume and not cfg.checkpoint:
        raise InputError("--resume needs --checkpoint PATH (the checkpoint to continue from)")
    state = load_checkpoint(cfg.checkpoint, cfg) if resume else None
    if pairs is None and tcsr:
        pairs = tcsr_loop.training_windows(cfg, log)
    elif pairs is None:
        t = time.perf_counter()
        pairs = train_data.PairSet(cfg.data, cfg.patch)
        log(f"data: {len(pairs)} frames from {len(cfg.data.sources)} source(s), {cfg.data.degradation} ×"
            f"{cfg.data.scale}, {pairs.skipped} too small skipped, {time.perf_counter() - t:.1f} s")
    val_pairs = train_data.validation_pairs(cfg.val, cfg.data.scale, cfg.data.colour) if cfg.val else None

    torch.manual_seed(cfg.seed)
    net = torch_architecture(cfg.arch).module(mcfg)
    net = net.to(memory_format=torch.channels_last)     # oneDNN's fast conv layout (bench/NOTES.md)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    step, seconds_before = 0, 0.0
    if cfg.init is not None and state is None:
        init_from_model(net, cfg.init, cfg.arch, mcfg, torch)
        log(f"starting from the weights of {cfg.init}")
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        step, seconds_before = int(state["step"]), float(state["seconds"])
        if state["threads"] != cfg.threads:
            log(f"note: the checkpoint ran on {state['threads']} thread(s), this run on {cfg.threads}; "
                "the result may differ in the last bits from an uninterrupted run")
        log(f"resumed from {cfg.checkpoint} at step {step}")
    loss_fn = torch.nn.functional.l1_loss if cfg.loss == "l1" else torch.nn.functional.mse_loss

    result = Result(None, net, step)
    end = cfg.steps if cfg.stop_at is None else min(cfg.steps, cfg.stop_at)
    t0 = t_last = time.perf_counter()
    window, warps, step_last = [], [], step      # warps: tcsr's (warp1, warp2) per step, logged beside the loss
    net.train()
    while step < end:
        lr_np, hr_np = pairs.batch(rng, cfg.batch)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        x, target = torch.from_numpy(lr_np).contiguous(memory_format=torch.channels_last), torch.from_numpy(hr_np)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
            out = net(x)
        # tcsr: x = F-EDSR outputs t−k … t+k, target = HR frame t
        if tcsr:
            loss, parts = tcsr_loss(float_outputs(out), x, target, mcfg, *cfg.warp_weights)
            warps.append((parts["warp1"].item(), parts["warp2"].item()))
        else:
            loss = loss_fn(out.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        opt.step()
        step += 1
        value = loss.item()
        if not math.isfinite(value):
            raise PysrError(f"loss became {value} at step {step}", "lower --lr or set --clip")
        result.losses.append(value)
        window.append(value)
        if step % cfg.log_every == 0 or step == end:
            now = time.perf_counter()
            rate = (step - step_last) / max(now - t_last, 1e-9)
            warp = "  warp1 {:.5f}  warp2 {:.5f}".format(*np.mean(warps, axis=0)) if warps else ""
            log(f"step {step}/{cfg.steps}  loss {np.mean(window):.5f}{warp}  lr {lr_at(step - 1, cfg):.2e}  "
                f"{rate:.1f} steps/s  ETA {_clock((cfg.steps - step) / max(rate, 1e-9))}")
            window, warps, t_last, step_last = [], [], now, step
        if val_pairs and (step % cfg.val_every == 0 or step == cfg.steps):
            result.val_psnr = validate(net, val_pairs, cfg.data.scale)
            log(f"step {step}  val {Path(cfg.val).name}: PSNR {result.val_psnr:.3f} dB ({len(val_pairs)} images)")
        if cfg.checkpoint and (step % cfg.checkpoint_every == 0 or step == end):
            save_checkpoint(cfg.checkpoint, net, opt, step, rng, cfg, seconds_before + time.perf_counter() - t0)
    result.step = step
    result.seconds = seconds_before + time.perf_counter() - t0
    if step < cfg.steps:
        log(f"stopped at step {step} of {cfg.steps}" + (f"; resume from {cfg.checkpoint}" if cfg.checkpoint else ""))
        return result

    provenance = {
        "trainer": "pysr train", "data": [str(s) for s in cfg.data.sources],
        "degradation": cfg.data.degradation if cfg.data.degradation != "h264"
        else f"h264 {cfg.data.bitrate} bit/s", "steps": cfg.steps, "batch": cfg.batch, "patch": cfg.patch,
        "loss": cfg.loss, "lr": cfg.lr, "schedule": cfg.schedule, "seed": cfg.seed, "precision": cfg.precision,
        "seconds": round(result.seconds, 1), "command": cfg.command, "torch": torch.__version__,
    }
    if cfg.data.degradation == "blur":
        provenance["degradation"] = f"blur sigma {cfg.data.sigma}"
    if tcsr:
        alpha, beta = cfg.warp_weights
        provenance.update({"loss": f"L1 + {alpha}·warp1 + {beta}·warp2", "fedsr": Path(cfg.fedsr).name,
                           "fedsr_sha256": file_sha256(cfg.fedsr), "window": f"{2 * cfg.radius + 1} frames, every "
                           f"{cfg.data.every}", "inputs": "F-EDSR HR Y of the degraded LR, pysr engine, whole frames"})
        if cfg.stills:
            provenance.update({"stills": [str(s) for s in cfg.stills], "pan_speed": cfg.pan_speed})
    if cfg.init is not None:
        provenance.update({"init": Path(cfg.init).name, "init_sha256": file_sha256(cfg.init)})
    if result.val_psnr is not None:
        provenance["val"] = f"{cfg.val}: {result.val_psnr:.3f} dB"
    name = cfg.name or (f"tcsr_w{cfg.radius}_x{cfg.data.scale}" if tcsr else f"{cfg.arch}_x{cfg.data.scale}")
    result.model = export(net, mcfg, provenance, cfg.arch, cfg.licence, name)
    if cfg.output:
        Path(cfg.output).parent.mkdir(parents=True, exist_ok=True)
        result.model.save(cfg.output)
        log(f"wrote {cfg.output}: {result.model!r}")
    return result
