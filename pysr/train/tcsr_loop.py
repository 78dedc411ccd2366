"""What `pysr train --arch tcsr` adds to the training loop (pysr/train/loop.py runs it; docs/training.md "TCSR").

TCSR refines F-EDSR's HR outputs (docs/fedsr_tcsr.md), so it trains on exactly what the cascade will feed it:
- windows of 2k+1 consecutive frames of each video (`WindowSet`: HR frames, every `--every`-th, default 1 for
  TCSR, and their degraded LR, by default MATLAB bicubic);
- inputs = a frozen F-EDSR's (`--fedsr MODEL.pysr`) float HR Y outputs of those LR frames, **precomputed once per
  video on whole frames with the pysr engine** (the same model file and runtime the server runs, unclamped as the
  cascade passes them on; whole frames, so crops carry no zero-padding border that serving never sees; and a step
  costs only TCSR's own forward and backward);
- with `--stills`, half of every batch is windows panned across still images instead (pysr/train/pan.py: exact
  sub-pixel motion, as much of it as there are stills);
- target = the HR middle frame; the same random HR crop (LR `--patch` × scale pixels, even), flip and 90° rotation
  for the whole window and its target;
- loss = `tcsr_loss`: L1(out, target) + α·warp loss at flow level 1 + β·warp loss at level 2 (α = 0.01,
  β = 0.1; `--loss` must stay l1).
Resume is the loop's: the precomputed inputs are a pure function of the data and the F-EDSR file, whose SHA-256
(not its path) is one of the options a resume must match.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from pysr.errors import InputError
from pysr.models import tcsr
from pysr.train import data as train_data
from pysr.train.pan import MixedWindows, PanWindows

# --channels C [OFR_C [OFR_BLOCKS [E]]]: fusion/reconstruction width, OFRnet width, OFRnet ResBs, attention maps
CHANNEL_FIELDS = ("channels", "ofr_channels", "ofr_blocks", "attention_channels")


def model_config(channels: tuple[int, ...] | None, radius: int, flow_scale: float = 1.0) -> tcsr.TcsrConfig:
    channels = tuple(channels or ())
    if len(channels) > len(CHANNEL_FIELDS):
        raise InputError(f"TCSR takes --channels C [OFR_C [OFR_BLOCKS [E]]], got {len(channels)} numbers: {channels}")
    try:
        return tcsr.TcsrConfig(radius=radius, flow_scale=flow_scale, **dict(zip(CHANNEL_FIELDS, channels)))
    except ValueError as err:
        raise InputError(f"TCSR config: {err}") from None


def file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_fedsr(path: str, scale: int):
    """The frozen first stage: a single-frame Y model of the run's scale."""
    from pysr.model import load
    from pysr.stream.session import temporal_kind

    if not path:
        raise InputError("--arch tcsr needs --fedsr MODEL.pysr: TCSR learns to refine that model's outputs")
    model = load(path)
    if temporal_kind(model.facts)[0] != "single" or model.colour_mode != "y" or model.in_channels != 1:
        raise InputError(f"--fedsr {path}: TCSR refines the Y output of a single-frame Y model; this one is "
                         f"{model.facts['temporal']}, colour {model.colour_mode}")
    if model.scale != scale:
        raise InputError(f"--fedsr {path} upscales ×{model.scale}, --scale is {scale}", f"pass --scale {model.scale}")
    return model


class FedsrWindows:
    """Windows of F-EDSR outputs (inputs) and HR middle frames (targets), cropped at HR."""

    def __init__(self, cfg: train_data.DataConfig, patch: int, radius: int, fedsr, backend: str = "cpu"):
        if cfg.colour != "y":
            raise InputError("TCSR trains on Y planes; --colour must be y")
        self.radius, self.crop = radius, patch * cfg.scale
        if self.crop % 2:
            raise InputError(f"TCSR's crop (--patch × --scale = {self.crop}) must be even: its coarse flow level "
                             "works at half size")
        windows = train_data.WindowSet(cfg, patch, radius)
        self.hr, self.names, self.skipped = windows.hr, windows.names, windows.skipped
        self.inputs = []                                    # per video: (T, 1, H, W) float32 F-EDSR outputs
        for lr in windows.lr:
            plan = fedsr.plan(backend, (1,) + lr.shape[1:])
            self.inputs.append(np.concatenate([plan.run(np.ascontiguousarray(f[None]))[0] for f in lr]))
        p = self.crop
        sizes = np.array([(len(h) - 2 * radius) * (h.shape[2] - p + 1) * (h.shape[3] - p + 1) for h in self.hr],
                         np.float64)
        self.weights = sizes / sizes.sum()

    def __len__(self) -> int:
        return sum(len(h) - 2 * self.radius for h in self.hr)

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Inputs n×(2k+1)×P×P (oldest frame first) and targets n×1×P×P, P = patch·scale, float32."""
        p, k = self.crop, self.radius
        x = np.empty((n, 2 * k + 1, p, p), np.float32)
        y = np.empty((n, 1, p, p), np.float32)
        for b, q in enumerate(rng.choice(len(self.hr), size=n, p=self.weights)):
            ins, hr = self.inputs[q], self.hr[q]
            t = int(rng.integers(k, len(hr) - k))
            y0 = int(rng.integers(0, hr.shape[2] - p + 1))
            x0 = int(rng.integers(0, hr.shape[3] - p + 1))
            rot, flip = int(rng.integers(4)), bool(rng.integers(2))
            x[b] = train_data.augment(ins[t - k : t + k + 1, 0, y0 : y0 + p, x0 : x0 + p], rot, flip)
            y[b] = train_data.augment(hr[t, :, y0 : y0 + p, x0 : x0 + p], rot, flip)
        return x, y


def training_windows(cfg, log) -> FedsrWindows | MixedWindows:
    """The data of a `pysr train --arch tcsr` run (a loop.TrainConfig): the videos' windows, mixed half and half
    with the panned stills when `cfg.stills` names any, each logged with what it holds."""
    t = time.perf_counter()
    fedsr = load_fedsr(cfg.fedsr, cfg.data.scale)
    videos = FedsrWindows(cfg.data, cfg.patch, cfg.radius, fedsr)
    log(f"data: {len(videos)} windows of {2 * cfg.radius + 1} frames from {len(videos.hr)} video(s), inputs = "
        f"{Path(cfg.fedsr).name} on {cfg.data.degradation} ×{cfg.data.scale} LR, {videos.skipped} sources skipped, "
        f"{time.perf_counter() - t:.1f} s")
    if not cfg.stills:
        return videos
    t = time.perf_counter()
    stills = PanWindows(cfg.stills, cfg.data, cfg.patch, cfg.radius, cfg.pan_speed, fedsr)
    log(f"data: {len(stills)} stills panned at up to {cfg.pan_speed} HR pixels per frame (half of every batch), "
        f"{stills.skipped} too small skipped, {time.perf_counter() - t:.1f} s")
    return MixedWindows(videos, stills)
