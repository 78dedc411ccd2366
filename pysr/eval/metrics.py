"""SR metrics exactly as the SR papers compute them (the convention of ../shared/data/bicubic_baselines.json).

y_channel(rgb)   MATLAB rgb2ycbcr luma of H×W×3 uint8 RGB, float64, NOT rounded:
                 Y = 16 + (65.481·R + 128.553·G + 24.966·B)/255 with R, G, B in 0…255 (range 16…235).
psnr(a, b, shave)  on two equal-size Y planes after removing `shave` pixels from every border:
                 10·log10(255² / mean((a − b)²)) in float64; inf when they are equal.
ssim(a, b, shave)  Wang et al. 2004 on the shaved planes: 11×11 Gaussian window, σ = 1.5, normalised to sum 1
                 (separable: the 2-D MATLAB fspecial window is the outer product of the 1-D one); local
                 means μ, variances σ² = E[x²] − μ², covariance at VALID window positions only (no padding);
                 C1 = (0.01·255)², C2 = (0.03·255)²; the mean of the SSIM map.
Everything is float64 numpy; the filter is two 1-D valid correlations (no scipy).
"""

from __future__ import annotations

import numpy as np

from pysr.errors import DataError

L = 255.0
K1, K2 = 0.01, 0.03
WINDOW, SIGMA = 11, 1.5


def y_channel(rgb: np.ndarray) -> np.ndarray:
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3):
        raise DataError(f"y_channel: expected an H×W×3 uint8 RGB image, got {getattr(rgb, 'dtype', type(rgb))} "
                        f"{getattr(rgb, 'shape', '')}")
    x = rgb.astype(np.float64)
    return 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0


def _shaved(a: np.ndarray, b: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise DataError(f"metrics need two Y planes of one size, got {a.shape} and {b.shape}")
    if shave < 0 or a.shape[0] <= 2 * shave or a.shape[1] <= 2 * shave:
        raise DataError(f"cannot shave {shave} pixels from every border of a {a.shape[1]}×{a.shape[0]} plane")
    if shave:
        a, b = a[shave:-shave, shave:-shave], b[shave:-shave, shave:-shave]
    return a, b


def psnr(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    a, b = _shaved(a, b, shave)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(L * L / mse))


def gaussian_1d(size: int = WINDOW, sigma: float = SIGMA) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """2-D correlation of x with the separable window g⊗g at valid positions: (H−k+1)×(W−k+1)."""
    k = g.size
    h, w = x.shape
    rows = sum(g[i] * x[i:h - k + 1 + i, :] for i in range(k))
    return sum(g[j] * rows[:, j:w - k + 1 + j] for j in range(k))


def ssim(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    a, b = _shaved(a, b, shave)
    if min(a.shape) < WINDOW:
        raise DataError(f"SSIM needs at least {WINDOW}×{WINDOW} pixels after shaving, got {a.shape[1]}×{a.shape[0]}")
    g = gaussian_1d()
    c1, c2 = (K1 * L) ** 2, (K2 * L) ** 2
    mu_a, mu_b = filter_valid(a, g), filter_valid(b, g)
    var_a = filter_valid(a * a, g) - mu_a**2
    var_b = filter_valid(b * b, g) - mu_b**2
    cov = filter_valid(a * b, g) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(m.mean())
