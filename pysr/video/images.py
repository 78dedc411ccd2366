"""Image files and folders through the same model: Pillow in, Pillow out, written under a temporary name
and renamed when complete."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pysr.errors import MediaError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def partial_name(path: Path) -> Path:
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def _format_for(path: Path) -> str:
    from PIL import Image

    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"{path}: cannot tell the image format from the extension {path.suffix!r}",
                         f"use one of {', '.join(IMAGE_SUFFIXES)}")
    return fmt


def read_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except FileNotFoundError:
        raise MediaError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise MediaError(f"{path}: cannot read as an image ({err})") from None


def upscale_pil(im, infer: Callable[[np.ndarray], np.ndarray], scale: int):
    """RGB through the model; grey stays grey; alpha is resized with bicubic and put back."""
    from PIL import Image

    alpha = None
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        alpha = im.getchannel("A")
    grey = im.mode in ("L", "I;16", "I", "F", "1", "LA")
    out = Image.fromarray(infer(np.asarray(im.convert("RGB"))))
    if grey:
        out = out.convert("L")
    if alpha is not None:
        out.putalpha(alpha.resize(out.size, Image.Resampling.BICUBIC))
        if grey:
            out = out.convert("LA")
    return out


def save_atomic(img, dst: Path, overwrite: bool) -> None:
    fmt = _format_for(dst)
    if dst.exists() and not overwrite:
        raise MediaError(f"{dst} exists", "pass --overwrite to replace it")
    if fmt == "JPEG" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    tmp = partial_name(dst)
    try:
        img.save(tmp, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
        os.replace(tmp, dst)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise MediaError(f"cannot write {dst}: {err.strerror or err}") from None


def check_output_folder(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise MediaError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise MediaError(f"cannot write {path}: permission denied on folder {parent}")


def upscale_image(src: Path, dst: Path, infer, scale: int, overwrite: bool) -> tuple[tuple, tuple]:
    check_output_folder(dst)
    _format_for(dst)
    if dst.exists() and not overwrite:
        raise MediaError(f"{dst} exists", "pass --overwrite to replace it")
    im = read_image(src)
    out = upscale_pil(im, infer, scale)
    save_atomic(out, dst, overwrite)
    return im.size, out.size


def folder_pairs(src: Path, dst: Path, overwrite: bool) -> list[tuple[Path, Path]]:
    files = sorted(p for p in src.iterdir() if p.is_file() and is_image(p) and ".partial." not in p.name)
    if not files:
        raise MediaError(f"{src}: no image files ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    if dst.exists() and not dst.is_dir():
        raise MediaError(f"{dst} exists and is not a folder")
    if dst.resolve() == src.resolve():
        raise MediaError("the output folder is the input folder", "choose another output folder")
    check_output_folder(dst)
    pairs = [(p, dst / p.name) for p in files]
    clash = [d for _, d in pairs if d.exists()]
    if clash and not overwrite:
        raise MediaError(f"{clash[0]} exists ({len(clash)} of {len(pairs)} outputs do)", "pass --overwrite to replace")
    return pairs
