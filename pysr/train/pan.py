"""Panned windows: TCSR training windows made from still images (`pysr train --arch tcsr --stills DIR`).

A camera panning over a still scene films frame t of a window at the crop origin (y0 + t·vy, x0 + t·vx), t = −k … k,
for a velocity (vy, vx) of whole HR pixels per frame drawn uniformly from [−V, V]² per window (`--pan-speed V`).
Whole HR pixels are exact (no interpolation blurs the targets) and, unless a multiple of the scale, they are
sub-pixel motions on the LR grid: the aliasing that differs from frame to frame and that TCSR's neighbours exist
to resolve. Each frame's LR is the degradation of the still with its own sampling phase: for every phase
(py, px) ∈ [0, scale)² the LR of `still[py:, px:]` is made once and the frozen F-EDSR runs on it once, on the whole
image, with the engine (as `tcsr_loop.FedsrWindows` does for videos); a frame at HR origin (Y, X) is then the crop
at (Y − py, X − px) of phase (Y mod s, X mod s). So a panned window equals, away from the image edges, the window
a real panning camera would give (tests/test_train_tcsr.py checks it).
Inputs n×(2k+1)×P×P (oldest frame first), targets n×1×P×P (the still at the centre frame's origin), P = patch·s.
"""

from __future__ import annotations

import numpy as np

from pysr.errors import InputError
from pysr.train import data as train_data


class PanWindows:
    def __init__(self, sources, cfg: train_data.DataConfig, patch: int, radius: int, speed: int, fedsr,
                 backend: str = "cpu"):
        if speed < 1:
            raise InputError(f"--pan-speed must be >= 1 HR pixel per frame, got {speed}")
        s = cfg.scale
        self.scale, self.radius, self.speed, self.crop = s, radius, speed, patch * s
        multiple = 2 * s if cfg.degradation == "h264" else s
        self.hr, self.inputs, self.names = [], [], []      # per still: Y (H, W); {(py, px): F-EDSR output}
        self.skipped = 0
        for name, frames in train_data.read_sources(sources, 1):
            img = frames[0]
            if min(img.shape[:2]) < self.crop + 2 * radius * speed + multiple:
                self.skipped += 1
                continue
            phases = {}
            for py in range(s):
                for px in range(s):
                    lr = train_data.degrade([train_data.crop_to_multiple(img[py:, px:], multiple)], cfg)[0]
                    y = train_data.to_planes(lr, "y")
                    phases[py, px] = fedsr.plan(backend, (1,) + y.shape).run(np.ascontiguousarray(y[None]))[0][0, 0]
            self.hr.append(train_data.to_planes(img, "y")[0])
            self.inputs.append(phases)
            self.names.append(name)
        if not self.hr:
            raise InputError(f"no still is at least {self.crop + 2 * radius * speed + multiple} pixels on each side "
                             f"(the crop and {radius} frame(s) of motion at {speed} px; {self.skipped} skipped)",
                             "lower --patch or --pan-speed")
        sizes = np.array([(h.shape[0] - self.crop) * (h.shape[1] - self.crop) for h in self.hr], np.float64)
        self.weights = (sizes + 1) / (sizes + 1).sum()

    def __len__(self) -> int:
        return len(self.hr)

    def window(self, q: int, y0: int, x0: int, vy: int, vx: int) -> tuple[np.ndarray, np.ndarray]:
        """Still q filmed with the centre frame's crop at (y0, x0), moving (vy, vx) per frame: inputs
        (2k+1, P, P) and target (1, P, P), views into the precomputed planes."""
        p, s, k = self.crop, self.scale, self.radius
        frames = []
        for t in range(-k, k + 1):
            y, x = y0 + t * vy, x0 + t * vx
            py, px = y % s, x % s
            frames.append(self.inputs[q][py, px][y - py : y - py + p, x - px : x - px + p])
        if any(f.shape != (p, p) for f in frames) or min(y0 - k * abs(vy), x0 - k * abs(vx)) < 0:
            raise ValueError(f"window at ({y0}, {x0}) moving ({vy}, {vx}) leaves still {q}")
        return np.stack(frames), self.hr[q][None, y0 : y0 + p, x0 : x0 + p]

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        p, s, k, v = self.crop, self.scale, self.radius, self.speed
        x = np.empty((n, 2 * k + 1, p, p), np.float32)
        y = np.empty((n, 1, p, p), np.float32)
        for b, q in enumerate(rng.choice(len(self.hr), size=n, p=self.weights)):
            h, w = self.hr[q].shape
            vy, vx = (int(c) for c in rng.integers(-v, v + 1, size=2))
            # every frame's phase crop must fit: origin + P <= size − (s − 1) (a phase image loses up to s − 1)
            y0 = int(rng.integers(k * abs(vy), h - (s - 1) - p - k * abs(vy) + 1))
            x0 = int(rng.integers(k * abs(vx), w - (s - 1) - p - k * abs(vx) + 1))
            frames, target = self.window(int(q), y0, x0, vy, vx)
            rot, flip = int(rng.integers(4)), bool(rng.integers(2))
            x[b] = train_data.augment(frames, rot, flip)
            y[b] = train_data.augment(target, rot, flip)
        return x, y


class MixedWindows:
    """Half of every batch from the videos' windows, half from the panned stills."""

    def __init__(self, videos, stills: PanWindows):
        self.videos, self.stills = videos, stills

    def __len__(self) -> int:
        return len(self.videos) + len(self.stills)

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        xa, ya = self.videos.batch(rng, n // 2)
        xb, yb = self.stills.batch(rng, n - n // 2)
        return np.concatenate([xa, xb]), np.concatenate([ya, yb])
