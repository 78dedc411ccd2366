"""tOF: the temporal optical-flow metric of TecoGAN (Chu et al., "Learning temporal coherence via
self-supervision for GAN-based video generation", 2020) as TecoGAN's and EGVSR's evaluation code compute it.

Per consecutive frame pair (t−1, t) of one sequence:
    grey      = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)            uint8 (0.299 R + 0.587 G + 0.114 B, rounded)
    flow      = cv2.calcOpticalFlowFarneback(grey[t−1], grey[t], None,
                    pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
    tOF(t)    = mean over pixels of ‖flow_GT − flow_SR‖₂            (the end-point error of the two flows)
and the sequence's tOF is the plain mean over its pairs. Lower is better; identical sequences give exactly 0.
Both papers print it ×10 in their tables; pysr reports the raw value.

Two conventions, differing only in which pixels and pairs count:
  egvsr    (default) EGVSR codes/metrics/metric_calculator.py `compute_tOF` (from TecoGAN-PyTorch): every
           consecutive pair of the sequence, every pixel.
  tecogan  TecoGAN metrics.py: the first and last `cutfr = 2` frames are left out (pairs (t−1, t) for
           t = 3 … n−3), and each flow is centre-cropped by `crop_8x8` (height and width cut to a multiple of 32
           that leaves at least 16 pixels, the cut split evenly) before the difference.
The comment in TecoGAN's code calls the norm "l1 vector norm" but the code takes the Euclidean norm per pixel,
as EGVSR does; so does this.

OpenCV is needed for the flow: an optional dependency (`pip install "pysr[eval]"`, opencv-python-headless); without
it `require_cv2` raises a DataError saying so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pysr.errors import DataError

CONVENTIONS = ("egvsr", "tecogan")
FARNEBACK = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5, "poly_sigma": 1.2,
             "flags": 0}
TECOGAN_CUT_FRAMES = 2


def require_cv2():
    try:
        import cv2
    except ImportError:
        raise DataError("tOF needs OpenCV (its Farneback optical flow), which is not installed",
                        'pip install "pysr[eval]" (opencv-python-headless)') from None
    return cv2


def grey(rgb: np.ndarray) -> np.ndarray:
    cv2 = require_cv2()
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3):
        raise DataError(f"tOF: expected H×W×3 uint8 RGB frames, got {getattr(rgb, 'dtype', type(rgb))} "
                        f"{getattr(rgb, 'shape', '')}")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def flow(prev_grey: np.ndarray, cur_grey: np.ndarray) -> np.ndarray:
    """Farneback flow from prev to cur with TecoGAN's parameters: H×W×2 float32, (x, y) in pixels."""
    cv2 = require_cv2()
    p = FARNEBACK
    return cv2.calcOpticalFlowFarneback(prev_grey, cur_grey, None, p["pyr_scale"], p["levels"], p["winsize"],
                                        p["iterations"], p["poly_n"], p["poly_sigma"], p["flags"])


def crop_8x8(img: np.ndarray) -> np.ndarray:
    """TecoGAN's centre crop: each side to a multiple of 32 at most side − 16, the cut split evenly."""
    h0, w0 = img.shape[:2]
    h, w = h0 // 32 * 32, w0 // 32 * 32
    while h > h0 - 16:
        h -= 32
    while w > w0 - 16:
        w -= 32
    if h <= 0 or w <= 0:
        raise DataError(f"tOF (tecogan): a {w0}×{h0} frame is too small for its 32-pixel centre crop")
    y, x = (h0 - h) // 2, (w0 - w) // 2
    return img[y:y + h, x:x + w]


def tof_pairs(sr: Sequence[np.ndarray], gt: Sequence[np.ndarray], convention: str = "egvsr") -> dict[int, float]:
    """{t: tOF of the pair (t−1, t)} for the pairs the convention counts; SR and GT frames pair by index."""
    if convention not in CONVENTIONS:
        raise DataError(f"unknown tOF convention {convention!r}; known: {CONVENTIONS}")
    if len(sr) != len(gt):
        raise DataError(f"tOF: {len(sr)} SR frames for {len(gt)} ground-truth frames")
    for t, (a, b) in enumerate(zip(sr, gt)):
        if a.shape != b.shape:
            raise DataError(f"tOF: frame {t} is {a.shape[1]}×{a.shape[0]} in SR, {b.shape[1]}×{b.shape[0]} in GT")
    n = len(gt)
    cut = TECOGAN_CUT_FRAMES if convention == "tecogan" else 0
    ts = range(cut + 1, n - cut)
    out, prev = {}, None
    for t in ts:
        cur = (grey(sr[t]), grey(gt[t]))
        if prev is None:
            prev = (grey(sr[t - 1]), grey(gt[t - 1]))
        f_sr, f_gt = flow(prev[0], cur[0]), flow(prev[1], cur[1])
        if convention == "tecogan":
            f_sr, f_gt = crop_8x8(f_sr), crop_8x8(f_gt)
        d = f_gt.astype(np.float64) - f_sr
        out[t] = float(np.mean(np.sqrt(np.sum(d * d, axis=-1))))
        prev = cur
    return out


def min_frames(convention: str) -> int:
    return 2 if convention == "egvsr" else 2 * TECOGAN_CUT_FRAMES + 2


def tof(sr: Sequence[np.ndarray], gt: Sequence[np.ndarray], convention: str = "egvsr") -> float:
    """The sequence's tOF: the mean over its counted pairs."""
    pairs = tof_pairs(sr, gt, convention)
    if not pairs:
        raise DataError(f"tOF ({convention}) needs at least {min_frames(convention)} frames, got {len(gt)}")
    return float(np.mean(list(pairs.values())))


def sequence_frames(gt: str | Path, scale: int, lr_dir: str | Path | None = None):
    """(GT frames, LR frames) read exactly as `pysr.eval.video.evaluate_video` reads them."""
    from pysr.eval.images import list_images, mod_crop, read_rgb
    from pysr.eval.video import read_frames
    from pysr.ops.resize_bicubic_matlab import imresize_uint8

    gt_frames = [mod_crop(f, scale) for f in read_frames(gt)]
    if lr_dir is None:
        return gt_frames, [imresize_uint8(f, 1.0 / scale) for f in gt_frames]
    return gt_frames, [read_rgb(p) for p in list_images(lr_dir)[:len(gt_frames)]]


def capture(model, store: list):
    """A sequence model (iterator of LR frames -> iterator of SR frames) that also keeps its SR frames in `store`."""
    def run(frames):
        for sr in model(frames):
            store.append(sr)
            yield sr
    return run


def video_tof(gt_frames, lr_frames, scale: int, sr_frames=None, convention: str = "egvsr") -> dict:
    """{"bicubic": {t: tOF}, "model": {t: tOF} or None} for one sequence; bicubic = MATLAB imresize of the LR."""
    from pysr.ops.resize_bicubic_matlab import imresize_uint8

    require_cv2()
    bic = [imresize_uint8(lr, scale) for lr in lr_frames]
    result = {"bicubic": tof_pairs(bic, gt_frames, convention), "model": None}
    if sr_frames is not None:
        result["model"] = tof_pairs(sr_frames, gt_frames, convention)
    if not result["bicubic"]:
        raise DataError(f"tOF ({convention}) needs at least {min_frames(convention)} frames, the sequence has "
                        f"{len(gt_frames)}")
    return result
