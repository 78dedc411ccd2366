"""When the streamer's online training stops: TH = min(THs, α·THp), stop once the smoothed gain reaches TH.

THs is a fixed gain (dB over bicubic) set from experience; THp is the maximum gain predicted from the
cold-start training curve (gain against training step or seconds) by the patent's shallow network:
1 input, three hidden layers of 20 sigmoid units, 1 output, fitted by MSE + L2. α < 1.

Where the patent is silent (docs/live.md, "Monitor and stop rule", gives the reasons):
- the output unit is linear: a sigmoid output could never predict a plateau above the largest gain seen;
- time is mapped onto a closed interval before the fit, u = t / (t + c) with c = `time_scale` × the last
  t seen (t → ∞ is u = 1; the patent notes the network fits continuous functions on a closed interval);
  with the default the data lie on u in [0, 1/2];
- THp = the largest fitted value for t in [t_last, horizon × t_last] (default: as long again as the cold
  start). A sigmoid network continues its last slope for a while before its units saturate, so its value
  at u = 1 overshoots a saturating curve (up to 17 % on a(1 - exp(-t/τ)) seen to 2-6 τ); over one more
  cold-start length it stays within a few per cent (tests/test_live_monitor.py). `horizon = inf` is u = 1;
- u and the gains are normalised (u to [-1, 1], gains to zero mean and unit variance); full-batch Adam
  written here, Glorot-uniform initialisation from a fixed seed, L2 on the weights (not the biases).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pysr.errors import PysrError


class StopRuleError(PysrError, ValueError):
    """The training curve is too short, out of order or non-finite, or the configuration is out of range."""


@dataclass(frozen=True)
class PlateauConfig:
    hidden: tuple[int, ...] = (20, 20, 20)  # the patent's 1-20-20-20-1
    l2: float = 1e-5            # × sum of squared weights, added to the MSE (normalised units)
    lr: float = 0.01            # Adam step
    iterations: int = 3000      # full-batch Adam steps
    seed: int = 0
    time_scale: float = 1.0     # c = time_scale × t_last in u = t / (t + c)
    horizon: float = 2.0        # THp = max of the fit for t in [t_last, horizon × t_last]; inf: up to u = 1
    min_points: int = 10        # fewer points: no prediction (StopRuleError)
    max_points: int = 400       # longer curves are thinned evenly to this many
    grid: int = 201             # points searched for the maximum

    def __post_init__(self):
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise StopRuleError(f"plateau MLP: hidden layer sizes must be >= 1, got {self.hidden}")
        if (self.l2 < 0 or self.lr <= 0 or self.iterations < 1 or self.time_scale <= 0 or self.min_points < 3
                or not self.horizon >= 1):
            raise StopRuleError("plateau MLP: need l2 >= 0, lr > 0, iterations >= 1, time_scale > 0, min_points >= 3, "
                                "horizon >= 1")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


@dataclass
class Mlp:
    """Sigmoid hidden layers, linear output; column vectors are rows (N × features)."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]

    @staticmethod
    def init(sizes: list[int], seed: int) -> Mlp:
        rng = np.random.default_rng(seed)
        ws, bs = [], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            lim = math.sqrt(6.0 / (a + b))
            ws.append(rng.uniform(-lim, lim, (a, b)))
            bs.append(np.zeros(b))
        return Mlp(ws, bs)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        acts = [x]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = acts[-1] @ w + b
            acts.append(z if i == len(self.weights) - 1 else _sigmoid(z))
        return acts[-1], acts

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[0]

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, l2: float):
        out, acts = self.forward(x)
        err = out - y
        loss = float(np.mean(err * err)) + l2 * sum(float((w * w).sum()) for w in self.weights)
        delta = 2.0 * err / len(x)
        gw, gb = [None] * len(self.weights), [None] * len(self.weights)
        for i in range(len(self.weights) - 1, -1, -1):
            gw[i] = acts[i].T @ delta + 2.0 * l2 * self.weights[i]
            gb[i] = delta.sum(axis=0)
            if i:
                a = acts[i]
                delta = (delta @ self.weights[i].T) * a * (1.0 - a)
        return loss, gw, gb

    def fit(self, x: np.ndarray, y: np.ndarray, l2: float, lr: float, iterations: int) -> float:
        """Full-batch Adam (β1 0.9, β2 0.999, ε 1e-8). Returns the final loss."""
        params = self.weights + self.biases
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        b1, b2, eps = 0.9, 0.999, 1e-8
        loss = math.inf
        for step in range(1, iterations + 1):
            loss, gw, gb = self.loss_and_grads(x, y, l2)
            c1, c2 = 1.0 - b1**step, 1.0 - b2**step
            for p, g, mi, vi in zip(params, gw + gb, m, v):
                mi *= b1
                mi += (1.0 - b1) * g
                vi *= b2
                vi += (1.0 - b2) * g * g
                p -= lr * (mi / c1) / (np.sqrt(vi / c2) + eps)
        return loss


@dataclass(frozen=True)
class PlateauFit:
    """THp and what it was predicted from; `predict(t)` evaluates the fitted curve (t may exceed the data)."""

    th_p: float
    t_last: float
    loss: float
    points: int
    config: PlateauConfig
    net: Mlp = field(repr=False)
    y_mean: float = field(repr=False)
    y_std: float = field(repr=False)

    def _u(self, t) -> np.ndarray:
        c = self.config.time_scale * self.t_last
        return 1.0 - c / (np.asarray(t, np.float64) + c)  # t = inf gives 1

    def predict_u(self, u) -> np.ndarray:
        x = (2.0 * np.asarray(u, np.float64) - 1.0).reshape(-1, 1)
        return self.net(x)[:, 0] * self.y_std + self.y_mean

    def predict(self, t) -> np.ndarray:
        return self.predict_u(self._u(t))


def fit_plateau(ts, gains, config: PlateauConfig | None = None) -> PlateauFit:
    """Fit the MLP to the cold-start curve (t >= 0 strictly increasing, gains in dB) and predict THp."""
    cfg = config or PlateauConfig()
    t = np.asarray(ts, np.float64).ravel()
    y = np.asarray(gains, np.float64).ravel()
    if t.shape != y.shape:
        raise StopRuleError(f"training curve: {len(t)} times but {len(y)} gains")
    if len(t) < cfg.min_points:
        raise StopRuleError(f"training curve has {len(t)} points; THp needs at least {cfg.min_points}")
    if not (np.isfinite(t).all() and np.isfinite(y).all()):
        raise StopRuleError("training curve holds NaN or infinite values")
    if t[0] < 0 or (np.diff(t) <= 0).any():
        raise StopRuleError("training curve: times must be >= 0 and strictly increasing")
    if len(t) > cfg.max_points:
        keep = np.unique(np.round(np.linspace(0, len(t) - 1, cfg.max_points)).astype(int))
        t, y = t[keep], y[keep]
    t_last = float(t[-1])
    u = t / (t + cfg.time_scale * t_last)
    y_mean, y_std = float(y.mean()), float(y.std())
    y_std = y_std if y_std > 1e-9 else 1.0
    net = Mlp.init([1, *cfg.hidden, 1], cfg.seed)
    loss = net.fit((2.0 * u - 1.0)[:, None], ((y - y_mean) / y_std)[:, None], cfg.l2, cfg.lr, cfg.iterations)
    probe = PlateauFit(0.0, t_last, loss, len(t), cfg, net, y_mean, y_std)
    end = probe._u(cfg.horizon * t_last)
    th_p = float(probe.predict_u(np.linspace(u[-1], end, cfg.grid)).max())
    return PlateauFit(th_p, t_last, loss, len(t), cfg, net, y_mean, y_std)


@dataclass(frozen=True)
class StopRule:
    """TH = min(THs, α·THp); before THp is known (during the cold start itself) TH = THs."""

    th_s: float = 2.5           # dB over bicubic: a choice; set it from experience with your content
    alpha: float = 0.9          # < 1 (patent); the share of the predicted plateau worth training for
    th_p: float | None = None

    def __post_init__(self):
        if not 0 < self.alpha < 1:
            raise StopRuleError(f"stop rule: alpha must be in (0, 1), got {self.alpha}")
        if not math.isfinite(self.th_s) or (self.th_p is not None and not math.isfinite(self.th_p)):
            raise StopRuleError("stop rule: THs and THp must be finite")

    @property
    def threshold(self) -> float:
        return self.th_s if self.th_p is None else min(self.th_s, self.alpha * self.th_p)

    def should_stop(self, current_smoothed_gain: float) -> bool:
        return float(current_smoothed_gain) >= self.threshold

    def with_cold_start(self, ts, gains, config: PlateauConfig | None = None) -> StopRule:
        """This rule with THp predicted from a cold-start curve."""
        return StopRule(self.th_s, self.alpha, fit_plateau(ts, gains, config).th_p)
