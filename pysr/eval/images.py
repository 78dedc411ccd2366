"""Evaluate an image set: HR folder + LR (a folder of the same file names, or MATLAB bicubic of the HR).

Conventions (those of ../shared/data/bicubic_baselines.json):
- HR is read as 8-bit RGB and cropped to a multiple of `scale` (top-left kept). The shared Set5/Set14 HR are
  already cropped to a multiple of 12, so this is a no-op there.
- LR: the file of the same name in `lr_dir`, which must be exactly HR size / scale; without `lr_dir`,
  `imresize_uint8(hr, 1/scale)` (MATLAB bicubic, uint8 in and out, every 1-D pass rounded).
- Bicubic baseline: `imresize_uint8(lr, scale)` back to the HR size. Model: `pysr.api.upscale_frame`.
- PSNR and SSIM on MATLAB Y (float, not rounded) with `shave` (default: scale) pixels removed from every
  border; means are plain means over images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pysr.errors import DataError
from pysr.eval.metrics import psnr, ssim, y_channel
from pysr.ops.resize_bicubic_matlab import imresize_uint8

IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg")
Upscaler = Callable[[np.ndarray], np.ndarray]        # H×W×3 uint8 LR -> (s·H)×(s·W)×3 uint8


@dataclass
class Row:
    name: str
    bicubic: tuple[float, float]                      # (PSNR dB, SSIM)
    model: tuple[float, float] | None = None


@dataclass
class Report:
    """Per-image (or per-frame) rows and plain means; `to_json` gives the command's JSON."""
    source: str
    scale: int
    shave: int
    model: str | None
    rows: list[Row] = field(default_factory=list)

    def mean(self, which: str) -> tuple[float, float] | None:
        vals = [getattr(r, which) for r in self.rows]
        if not vals or vals[0] is None:
            return None
        return float(np.mean([v[0] for v in vals])), float(np.mean([v[1] for v in vals]))

    def to_json(self) -> dict:
        def pair(v):
            return None if v is None else {"psnr": v[0], "ssim": v[1]}

        return {"source": self.source, "scale": self.scale, "shave": self.shave, "model": self.model,
                "rows": [{"name": r.name, "bicubic": pair(r.bicubic), "model": pair(r.model)} for r in self.rows],
                "mean": {"bicubic": pair(self.mean("bicubic")), "model": pair(self.mean("model"))}}


def read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(f"cannot read image {path}: {err}") from None


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"not a folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    h, w = img.shape[0] // scale * scale, img.shape[1] // scale * scale
    if h == 0 or w == 0:
        raise DataError(f"a {img.shape[1]}×{img.shape[0]} image is smaller than the scale {scale}")
    return img[:h, :w]


def check_lr(hr: np.ndarray, lr: np.ndarray, scale: int, name: str) -> None:
    want = (hr.shape[0] // scale, hr.shape[1] // scale)
    if lr.shape[:2] != want:
        raise DataError(f"{name}: LR is {lr.shape[1]}×{lr.shape[0]}, expected {want[1]}×{want[0]} "
                        f"(HR {hr.shape[1]}×{hr.shape[0]} / {scale})", "is --scale right, and the LR of this HR?")


def score(hr: np.ndarray, sr: np.ndarray, shave: int, name: str) -> tuple[float, float]:
    if sr.shape != hr.shape:
        raise DataError(f"{name}: output is {sr.shape[1]}×{sr.shape[0]}, HR is {hr.shape[1]}×{hr.shape[0]}")
    y_hr, y_sr = y_channel(hr), y_channel(sr)
    return psnr(y_hr, y_sr, shave), ssim(y_hr, y_sr, shave)


def evaluate_pairs(pairs: Iterable[tuple[str, np.ndarray, np.ndarray]], scale: int, shave: int,
                   upscale: Upscaler | None, report: Report) -> Report:
    """Append one row per (name, HR, LR) to `report`: bicubic and, with `upscale`, the model."""
    for name, hr, lr in pairs:
        check_lr(hr, lr, scale, name)
        row = Row(name, score(hr, imresize_uint8(lr, scale), shave, name))
        if upscale is not None:
            row.model = score(hr, upscale(lr), shave, name)
        report.rows.append(row)
    return report


def image_pairs(hr_dir: str | Path, lr_dir: str | Path | None, scale: int):
    """(name, HR cropped to a multiple of scale, LR) per HR file; LR names must match the HR names."""
    hr_files = list_images(hr_dir)
    if lr_dir is not None:
        lr_files = {p.name: p for p in list_images(lr_dir)}
        missing = [p.name for p in hr_files if p.name not in lr_files]
        if missing:
            raise DataError(f"{lr_dir} has no LR for {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}",
                            "LR files carry the same names as their HR files")
    for p in hr_files:
        hr = mod_crop(read_rgb(p), scale)
        lr = read_rgb(lr_files[p.name]) if lr_dir is not None else imresize_uint8(hr, 1.0 / scale)
        yield p.stem, hr, lr


def evaluate_images(hr_dir: str | Path, scale: int, lr_dir: str | Path | None = None, upscale: Upscaler | None = None,
                    shave: int | None = None, model_name: str | None = None) -> Report:
    check_scale(scale)
    shave = scale if shave is None else shave
    report = Report(str(hr_dir), scale, shave, model_name)
    return evaluate_pairs(image_pairs(hr_dir, lr_dir, scale), scale, shave, upscale, report)


def check_scale(scale) -> None:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise DataError(f"scale must be an integer >= 1, got {scale!r}")


def model_upscaler(model, scale: int, backend: str = "cpu", tile=None) -> Upscaler:
    """A single-image model as an Upscaler; its scale must be the evaluation's."""
    from pysr.api import upscale_frame

    if model.scale != scale:
        raise DataError(f"the model upscales ×{model.scale}, the evaluation is ×{scale}",
                        f"pass --scale {model.scale} (with LR made for ×{model.scale}) or a ×{scale} model")
    if model.facts.get("temporal", "single") != "single":
        raise DataError(f"{model!r} is a temporal model ({model.facts['temporal']}); only single-image models "
                        "evaluate here for now")
    return lambda lr: upscale_frame(lr, model, backend, tile)
