"""The streamer's monitor: the PSNR gain of the current model on each keyframe, smoothed online, and a
`needs_training` event when the smoothed curve drops (a scene change). docs/live.md states it in full.

Smoothing is the patent's locally weighted regression: each point is weighted by the Epanechnikov kernel
D(t) = 3/4 (1 - t²) for |t| <= 1 (else 0), t = |x_j - x0| / λ, over the k nearest points, λ = |x0 - x[k]|
the distance to the k-th nearest (the point itself counts as the first, so the k-th gets weight 0 and k - 1
points carry weight). The patent's formula is a kernel-weighted fit at x0; we fit a line (degree 1) by
default because online the k nearest points all lie in the past, where a weighted mean (degree 0) lags
behind a trend by about λ/3; degree 0 is kept as an option.

A scene change is a drop of the smoothed curve over one kernel width that is both larger than
`z` standard deviations of that difference under noise alone and larger than `min_drop_db`; the noise σ
of the raw gains is estimated robustly (MAD of first differences) and the standard deviation of the
difference follows exactly from the smoother's weights (the smooth is linear in the gains).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pysr.errors import PysrError

MAD_TO_SIGMA = 1.4826  # σ of a normal distribution = 1.4826 × its median absolute deviation


class MonitorError(PysrError, ValueError):
    """A monitor input is out of order, non-finite, or its configuration is out of range."""


@dataclass(frozen=True)
class MonitorConfig:
    """Defaults are choices (the patent fixes only the kernel and the k-nearest window); docs/live.md."""

    k: int = 13                 # points in the kernel window, counting the new point; k - 1 carry weight
    degree: int = 1             # 1: local linear fit (default), 0: kernel-weighted mean
    lag: int | None = None      # the drop is s[i] - s[i - lag]; None: k - 1 (one window, no overlap)
    z: float = 4.0              # drop must exceed z × its noise standard deviation ...
    min_drop_db: float = 0.5    # ... and this many dB
    spread_window: int = 128    # the last this-many gains estimate the noise σ (±12 % at 128)
    confirm: int = 2            # the drop must hold on this many consecutive points (one odd keyframe is not a scene)
    min_spacing: int = 16       # points between two events; also, a drop is never measured from before the last event
    warmup: int | None = None   # points before the first event can fire; None: k + lag
    direction: str = "drop"     # "drop": falls only; "both": rises as well (content getting easier)

    def __post_init__(self):
        if self.k < 2 + self.degree:
            raise MonitorError(f"monitor: k = {self.k} is too small for a degree-{self.degree} fit "
                               f"(need k >= {2 + self.degree}: the k-th nearest point gets weight 0)")
        if self.degree not in (0, 1):
            raise MonitorError(f"monitor: degree must be 0 or 1, got {self.degree}")
        if self.lag is not None and self.lag < 1:
            raise MonitorError(f"monitor: lag must be >= 1, got {self.lag}")
        if self.z <= 0 or self.min_drop_db < 0 or self.spread_window < 8 or self.min_spacing < 1 or self.confirm < 1:
            raise MonitorError("monitor: need z > 0, min_drop_db >= 0, spread_window >= 8, min_spacing >= 1, "
                               "confirm >= 1")
        if self.direction not in ("drop", "both"):
            raise MonitorError(f"monitor: direction must be 'drop' or 'both', got {self.direction!r}")

    @property
    def jump_lag(self) -> int:
        return self.k - 1 if self.lag is None else self.lag

    @property
    def first_event(self) -> int:
        return self.k + self.jump_lag if self.warmup is None else self.warmup


def epanechnikov(t: np.ndarray) -> np.ndarray:
    """D(t) = 3/4 (1 - t²) for |t| <= 1, else 0."""
    t = np.asarray(t, np.float64)
    return np.where(np.abs(t) <= 1.0, 0.75 * (1.0 - t * t), 0.0)


def smoother_weights(x0: float, xs: np.ndarray, k: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """The local fit at x0 over the k nearest of xs, as a linear smoother: returns (indices, l) with
    smoothed value = l @ ys[indices]. Degree 1 falls back to 0 where fewer than two points carry weight."""
    xs = np.asarray(xs, np.float64)
    d = xs - x0
    idx = np.argsort(np.abs(d), kind="stable")[: min(k, len(xs))]
    d = d[idx]
    lam = float(np.abs(d).max())
    w = epanechnikov(d / lam) if lam > 0 else np.ones(len(d))
    if degree == 1 and np.count_nonzero(w) >= 2:
        s0, s1, s2 = w.sum(), (w * d).sum(), (w * d * d).sum()
        det = s0 * s2 - s1 * s1
        if det > 1e-12 * max(s0 * s2, 1e-300):
            # weighted least squares for a + b·d, value at d = 0: a = Σ w (s2 - s1 d) y / det
            return idx, w * (s2 - s1 * d) / det
    return idx, w / w.sum()


def lowess(xs, ys, k: int = 13, degree: int = 1) -> np.ndarray:
    """Two-sided (offline) smooth of a whole curve with the same kernel and window as the monitor."""
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    out = np.empty(len(xs))
    for i, x0 in enumerate(xs):
        idx, l = smoother_weights(x0, xs, k, degree)
        out[i] = l @ ys[idx]
    return out


def keyframe_gain(hr_y: np.ndarray, sr_y: np.ndarray, bicubic_y: np.ndarray, shave: int = 0) -> float:
    """The monitored quantity: PSNR(model output) - PSNR(bicubic) on one keyframe's Y plane, in dB."""
    from pysr.eval.metrics import psnr

    a, b = psnr(sr_y, hr_y, shave), psnr(bicubic_y, hr_y, shave)
    if not (math.isfinite(a) and math.isfinite(b)):
        raise MonitorError("keyframe gain: a PSNR is infinite (an output equals the original exactly)")
    return a - b


@dataclass(frozen=True)
class MonitorEvent:
    """A scene change: the trainer should (re)start training if it is stopped."""

    kind: str             # "needs_training"
    index: int            # the point at which it fired (0-based count of points seen)
    x: float
    jump_db: float        # s[i] - s[i - lag]
    threshold_db: float   # the jump's magnitude had to exceed this


@dataclass(frozen=True)
class MonitorStep:
    smoothed: float
    event: MonitorEvent | None


class Monitor:
    """Online: `update(x, gain)` per keyframe, x strictly increasing (frame index or seconds). This object is a
    stream's explicit state; it keeps the last max(k, lag + 1, spread_window) points only."""

    def __init__(self, config: MonitorConfig | None = None):
        self.config = config or MonitorConfig()
        c = self.config
        self._keep = max(c.k + c.jump_lag, c.spread_window) + 1
        self.reset()

    def reset(self) -> None:
        """Forget the curve (e.g. when the baseline itself changes); events re-arm after the warm-up."""
        self._x: list[float] = []
        self._y: list[float] = []
        self._s: list[float] = []
        self._l: list[tuple[np.ndarray, np.ndarray]] = []  # per point: (absolute indices, smoother weights)
        self._n = 0
        self._last_event = -(10**9)
        self._run = 0  # consecutive points beyond the threshold (same sign)

    @property
    def count(self) -> int:
        return self._n

    @property
    def smoothed(self) -> list[float]:
        return list(self._s)

    def noise_sigma(self) -> float:
        """Robust σ of the raw gains: MAD of first differences / √2 × 1.4826 over the spread window."""
        y = np.asarray(self._y[-self.config.spread_window:])
        if len(y) < 3:
            return 0.0
        dy = np.diff(y)
        return float(MAD_TO_SIGMA * np.median(np.abs(dy - np.median(dy))) / math.sqrt(2.0))

    def update(self, x: float, gain: float) -> MonitorStep:
        c = self.config
        x, gain = float(x), float(gain)
        if not (math.isfinite(x) and math.isfinite(gain)):
            raise MonitorError(f"monitor: point ({x}, {gain}) is not finite")
        if self._x and x <= self._x[-1]:
            raise MonitorError(f"monitor: x must increase strictly, got {x} after {self._x[-1]}")
        self._x.append(x)
        self._y.append(gain)
        first = self._n - len(self._x) + 1  # absolute index of self._x[0]
        window = np.asarray(self._x[-c.k:])
        rel, l = smoother_weights(x, window, c.k, c.degree)
        base = len(self._x) - len(window)
        s = float(l @ np.asarray(self._y)[base + rel])
        self._s.append(s)
        self._l.append((first + base + rel, l))
        i = self._n
        self._n += 1
        event = self._detect(i)
        if len(self._x) > self._keep:
            del self._x[0], self._y[0], self._s[0], self._l[0]
        return MonitorStep(s, event)

    def _detect(self, i: int) -> MonitorEvent | None:
        c = self.config
        lag = c.jump_lag
        off = len(self._s) - 1 - i  # list position = absolute index + off
        if (i < c.first_event or i - lag + off < 0 or i - self._last_event < c.min_spacing
                or i - lag < self._last_event):
            self._run = 0
            return None
        jump = self._s[-1] - self._s[i - lag + off]
        # var(s_i - s_{i-lag}) = σ² Σ_j (l_i[j] - l_{i-lag}[j])² for independent noise of σ
        (ia, la), (ib, lb) = self._l[-1], self._l[i - lag + off]
        diff = dict(zip(ia.tolist(), la.tolist()))
        for j, v in zip(ib.tolist(), lb.tolist()):
            diff[j] = diff.get(j, 0.0) - v
        gain_sd = math.sqrt(sum(v * v for v in diff.values()))
        threshold = max(c.z * self.noise_sigma() * gain_sd, c.min_drop_db)
        sign = -1 if jump < -threshold else (1 if c.direction == "both" and jump > threshold else 0)
        self._run = self._run + sign if sign and self._run * sign >= 0 else sign
        if abs(self._run) < c.confirm:
            return None
        self._run = 0
        self._last_event = i
        return MonitorEvent("needs_training", i, self._x[-1], jump, threshold)


def smooth_and_detect(xs, ys, config: MonitorConfig | None = None) -> tuple[np.ndarray, list[MonitorEvent]]:
    """Run a Monitor over a whole curve: (online smoothed values, events)."""
    m = Monitor(config)
    steps = [m.update(x, y) for x, y in zip(xs, ys)]
    return np.array([s.smoothed for s in steps]), [s.event for s in steps if s.event is not None]
