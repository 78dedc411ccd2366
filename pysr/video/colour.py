"""YUV ⇄ RGB for the video path: matrix and range from the stream's tags, or an announced assumption.

A decoder hands out Y, U, V planes; the network wants RGB. FFmpeg tags a stream with its matrix
(AVColorSpace) and range (AVColorRange); when a stream carries no tags we assume what a player would —
BT.601 below 720 lines, BT.709 from 720 lines up, limited range — and say so in a warning.

Conversion is exact to the formulas below in float32 (within 1 LSB of float64), done here rather than by
swscale so that the matrix, the range and the chroma siting are the ones we state:
  limited: Y' = (Y − 16)/219, Pb = (U − 128)/224, Pr = (V − 128)/224;  full: Y' = Y/255, Pb = (U − 128)/255 …
  R = Y' + 2(1 − Kr)·Pr,  B = Y' + 2(1 − Kb)·Pb,  G = (Y' − Kr·R − Kb·B)/Kg.
Chroma is upsampled by replication (each chroma sample covers its 2×2 / 2×1 block) and downsampled by the
mean of the block, so a 4:4:4 round trip is lossless up to rounding and a 4:2:0 one keeps luma detail.
The block mean is summed row by row, rows top to bottom ((a + b) + (c + d) for 4:2:0), then divided.
The arithmetic runs in kernels/cpu/yuv.py; tests/test_yuv_kernels.py holds the numpy reference it matches bit for bit.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from pysr.errors import InputError, ShapeError
from pysr.kernels.cpu import yuv

KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}

# FFmpeg's AVColorSpace / AVColorRange values (libavutil/pixfmt.h).
AVCOL_SPC = {1: "bt709", 5: "bt601", 6: "bt601"}          # BT709, BT470BG, SMPTE170M
AVCOL_SPC_OUT = {"bt709": 1, "bt601": 6}
AVCOL_RANGE = {1: "limited", 2: "full"}
AVCOL_RANGE_OUT = {"limited": 1, "full": 2}
AVCOL_SPC_NAMES = {0: "rgb", 2: "unspecified", 4: "fcc", 7: "smpte240m", 8: "ycgco", 9: "bt2020nc", 10: "bt2020c"}


class ColourWarning(UserWarning):
    """The stream does not say its colour matrix or range; the message says what was assumed."""


@dataclass(frozen=True)
class Colour:
    matrix: str                 # "bt601" | "bt709"
    range: str                  # "limited" | "full"
    assumed: str | None = None  # what was guessed and why, None when the tags said everything

    def __str__(self) -> str:
        return f"{self.matrix.upper().replace('BT', 'BT.')} {self.range} range"


def from_tags(colorspace: int | None, color_range: int | None, height: int, pix_fmt: str = "") -> Colour:
    """Colour of a stream from FFmpeg's tags; untagged (or unknown) parts are assumed and reported."""
    notes = []
    matrix = AVCOL_SPC.get(colorspace or 2)
    if matrix is None:
        matrix = "bt709" if height >= 720 else "bt601"
        tag = AVCOL_SPC_NAMES.get(colorspace, colorspace)
        why = "untagged" if (colorspace or 2) == 2 else f"tagged {tag} (unsupported)"
        notes.append(f"matrix {why}, assumed {matrix.upper().replace('BT', 'BT.')} ({'HD' if height >= 720 else 'SD'}, "
                     f"{height} lines)")
    rng = AVCOL_RANGE.get(color_range or 0)
    if rng is None:
        rng = "full" if pix_fmt.startswith("yuvj") else "limited"
        if not pix_fmt.startswith("yuvj"):
            notes.append("range untagged, assumed limited (16-235)")
    return Colour(matrix, rng, "; ".join(notes) or None)


def warn_if_assumed(colour: Colour, what: str, stacklevel: int = 2) -> None:
    if colour.assumed:
        warnings.warn(f"{what}: colour {colour.assumed}", ColourWarning, stacklevel=stacklevel + 1)


def _scales(rng: str) -> tuple[float, float, float]:
    """(luma offset, luma span, chroma span) in code values."""
    return (16.0, 219.0, 224.0) if rng == "limited" else (0.0, 255.0, 255.0)


def _planes_in(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[int, int]:
    """Row and column chroma factors of 8-bit planes, as replication needs them (ceil(H / Hc), ceil(W / Wc))."""
    for p in (y, u, v):
        if not isinstance(p, np.ndarray) or p.dtype != np.uint8 or p.ndim != 2:
            got = f"{p.dtype} {p.shape}" if isinstance(p, np.ndarray) else type(p).__name__
            raise InputError(f"expected an H×W uint8 plane, got {got}")
    if u.shape != v.shape or not 0 < u.shape[0] <= y.shape[0] or not 0 < u.shape[1] <= y.shape[1]:
        raise ShapeError(f"chroma planes {u.shape} and {v.shape} do not fit luma {y.shape}")
    return -(-y.shape[0] // u.shape[0]), -(-y.shape[1] // u.shape[1])


def _rows(p: np.ndarray) -> np.ndarray:
    # NOTE: the kernels take any row stride (PyAV planes carry line padding) but need unit column strides.
    return p if p.strides[-1] == p.itemsize else np.ascontiguousarray(p)


def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, colour: Colour) -> np.ndarray:
    """8-bit Y, U, V planes (chroma at full, half-width or half-size) -> H×W×3 uint8 RGB."""
    fy, fx = _planes_in(y, u, v)
    kr, kb = KR_KB[colour.matrix]
    off, ys, cs = _scales(colour.range)
    k = (np.float32(off), np.float32(255.0 / ys), np.float32(255.0 / cs), np.float32(2 * (1 - kr)),
         np.float32(2 * (1 - kr) * kr / (1 - kr - kb)), np.float32(2 * (1 - kb) * kb / (1 - kr - kb)),
         np.float32(2 * (1 - kb)))
    out = np.empty(y.shape + (3,), np.uint8)
    yuv.yuv_to_rgb(_rows(y), _rows(u), _rows(v), out, fy, fx, k)
    return out


def rgb_to_yuv(rgb: np.ndarray, colour: Colour, sub: tuple[int, int] = (2, 2)):
    """H×W×3 uint8 RGB -> (Y, U, V) uint8 planes; chroma subsampled by `sub` = (rows, cols) block means."""
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{rgb.dtype} {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
        raise InputError(f"expected an H×W×3 uint8 RGB frame, got {got}")
    fy, fx = sub
    if not (isinstance(fy, (int, np.integer)) and isinstance(fx, (int, np.integer)) and fy > 0 and fx > 0):
        raise InputError(f"chroma subsampling must be two positive integers (rows, cols), got {sub!r}")
    kr, kb = KR_KB[colour.matrix]
    kg = 1 - kr - kb
    off, ys, cs = _scales(colour.range)
    k = (np.float32(kr), np.float32(kg), np.float32(kb), np.float32(cs / 255.0 / (2 * (1 - kb))),
         np.float32(cs / 255.0 / (2 * (1 - kr))), np.float32(ys / 255.0), np.float32(off))
    h, w = rgb.shape[:2]
    y = np.empty((h, w), np.uint8)
    u = np.empty((-(-h // fy), -(-w // fx)), np.uint8)
    v = np.empty_like(u)
    yuv.rgb_to_yuv(np.ascontiguousarray(rgb), y, u, v, fy, fx, k)
    return y, u, v
