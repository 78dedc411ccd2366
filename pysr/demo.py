"""`pysr demo`: the engine end to end on a bundled sample, no other files needed.

The bundled 640×360 HR sample is shrunk ×4 with MATLAB's bicubic (the SR benchmark convention), then
upscaled back by the shipped ESPCN ×4 on the chosen backend and by bicubic; both are scored against the
HR (Y PSNR, 4 px shaved) and written as PNGs with a side-by-side comparison.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import numpy as np

from pysr.errors import PysrError


def y_psnr(a: np.ndarray, b: np.ndarray, shave: int) -> float:
    def y(img):
        img = img.astype(np.float64)
        return 16 + (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255

    d = (y(a) - y(b))[shave:-shave, shave:-shave]
    return float(10 * np.log10(255.0**2 / np.mean(d * d)))


def shipped_model_path(name: str) -> Path:
    path = resources.files("pysr.weights") / f"{name}.pysr"
    if not path.is_file():
        raise PysrError(f"shipped model {name!r} is not installed", "run `pysr models` to list shipped models")
    return Path(str(path))


def run_demo(out_dir: str, backend: str = "cpu", model_name: str = "espcn_x4") -> dict:
    from PIL import Image

    import pysr
    from pysr.ops.resize_bicubic_matlab import imresize_uint8

    model = pysr.load(shipped_model_path(model_name))
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
    Image.fromarray(np.concatenate([bic, sr, hr], axis=1)).save(out / "bicubic_pysr_original.png")
    return {"model": repr(model), "lr": lr.shape[:2], "hr": sr.shape[:2], "ms": ms,
            "psnr_pysr": y_psnr(sr, hr, s), "psnr_bicubic": y_psnr(bic, hr, s), "out": str(out)}
