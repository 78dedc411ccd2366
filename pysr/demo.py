"""`pysr demo`: the engine end to end on a bundled sample, no other files needed.

The bundled 640×360 HR sample is shrunk ×4 with MATLAB's bicubic (the SR benchmark convention), then
upscaled back by the shipped ESPCN ×4 on the chosen backend and by bicubic; both are scored against the
HR (Y PSNR, 4 px shaved) and written as PNGs, a labelled side-by-side comparison with a magnified detail,
and a small PSNR table (psnr.md).
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import numpy as np


def y_psnr(a: np.ndarray, b: np.ndarray, shave: int) -> float:
    def y(img):
        img = img.astype(np.float64)
        return 16 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255

    d = (y(a) - y(b))[shave:-shave, shave:-shave]
    return float(10 * np.log10(255.0**2 / np.mean(d * d)))


def run_demo(out_dir: str, backend: str = "cpu", model_name: str = "espcn_x4") -> dict:
    from PIL import Image

    import pysr
    from pysr.ops.resize_bicubic_matlab import imresize_uint8

    model = pysr.load(model_name)
    s = model.scale
    hr = np.asarray(Image.open(resources.files("pysr.data") / "bbb_640x360.png").convert("RGB"))
    hr = hr[: hr.shape[0] // s * s, : hr.shape[1] // s * s]
    lr = imresize_uint8(hr, 1 / s)
    pysr.run(lr, model=model, backend=backend)  # compile for this size (numba JIT on first use)
    t0 = time.perf_counter()
    sr = pysr.run(lr, model=model, backend=backend)
    ms = (time.perf_counter() - t0) * 1e3
    bic = imresize_uint8(lr, s)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(lr).save(out / "lr.png")
    Image.fromarray(bic).save(out / "bicubic.png")
    Image.fromarray(sr).save(out / "pysr.png")
    scores = {"bicubic": y_psnr(bic, hr, s), "pysr": y_psnr(sr, hr, s)}
    comparison(bic, sr, hr, scores, model_name).save(out / "bicubic_pysr_original.png")
    table = ["| method | Y PSNR (dB) |", "| --- | --- |", f"| bicubic (MATLAB) | {scores['bicubic']:.2f} |",
             f"| pysr {model_name} | {scores['pysr']:.2f} |"]
    (out / "psnr.md").write_text("\n".join(table) + "\n")
    return {"model": repr(model), "lr": lr.shape[:2], "hr": sr.shape[:2], "ms": ms,
            "psnr_pysr": scores["pysr"], "psnr_bicubic": scores["bicubic"], "out": str(out)}


# The detail shown magnified under the full frames: (top, left, height, width) in HR pixels, chosen on the bundled
# sample (fur, eye and grass: where bicubic blurs most).
DETAIL = (10, 200, 90, 160)
ZOOM = 4


def comparison(bic: np.ndarray, sr: np.ndarray, hr: np.ndarray, scores: dict, model_label: str):
    """bicubic | pysr | original, each labelled with its Y PSNR, full frame above a ×4 nearest-neighbour zoom
    of one detail (outlined in the full frames)."""
    from PIL import Image, ImageDraw, ImageFont

    t, l, h, w = DETAIL
    t, l = min(t, hr.shape[0] - h), min(l, hr.shape[1] - w)
    labels = [f"bicubic  {scores['bicubic']:.2f} dB", f"pysr {model_label}  {scores['pysr']:.2f} dB", "original"]
    width = hr.shape[1]
    bar = 34
    zoom_h = h * ZOOM * width // (w * ZOOM)
    canvas = Image.new("RGB", (3 * width, bar + hr.shape[0] + zoom_h), (24, 24, 24))
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=22)
    except TypeError:                                   # Pillow < 10.1: the fixed bitmap font
        font = ImageFont.load_default()
    for i, (img, label) in enumerate(zip((bic, sr, hr), labels)):
        x0 = i * width
        draw.text((x0 + 10, 5), label, fill=(235, 235, 235), font=font)
        canvas.paste(Image.fromarray(img), (x0, bar))
        draw.rectangle((x0 + l, bar + t, x0 + l + w - 1, bar + t + h - 1), outline=(255, 210, 0), width=2)
        detail = Image.fromarray(img[t:t + h, l:l + w]).resize((width, zoom_h), Image.NEAREST)
        canvas.paste(detail, (x0, bar + hr.shape[0]))
    return canvas
