"""The CUDA kernels as the host sees them: where the sources are, every entry point of every kernels/cuda/*.cu file
and its argument signature. Pure Python (no CuPy), so tests/test_cuda_compile.py checks this table against what
nvcc actually compiled (names and parameter types of every `extern "C"` kernel) on a machine without a GPU, and
the backend converts every launch argument to the declared type (a Python int passed where the kernel takes an
`int` would otherwise go in as 64 bits and shift every later argument).

Signature letters: P pointer, i int (int32), l long long (int64), f float, d double.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pysr.kernels

SOURCES = Path(pysr.kernels.__file__).resolve().parent / "cuda"

# storage suffix of each precision: fp32 and tf32 store float32, fp16 half, bf16 bfloat16
STORAGE = {"fp32": "f32", "tf32": "f32", "fp16": "f16", "bf16": "bf16"}
SUFFIXES = ("f32", "f16", "bf16")
MMA_SUFFIX = {"tf32": "tf32", "fp16": "f16", "bf16": "bf16"}   # conv2d_mma.cu entry of each precision
MMA_TILES = (16, 32, 64)

EPILOGUE = "PPPifiiififfiiii"   # conv2d_epilogue.cuh PYSR_EPILOGUE_PARAMS
SEPARABLE = "PPliiiiPPiPPi"      # separable.cuh PYSR_SEPARABLE_ENTRY

_PER_TYPE = {   # file stem -> {kernel name pattern ({t} = storage suffix): signature}
    "activation": {"activation_{t}": "PPlliifPff"},
    "add": {"add_{t}": "PPPlf"},
    "mul": {"mul_{t}": "PPPl"},
    "affine": {"affine_{t}": "PPlff"},
    "batch_norm": {"batch_norm_{t}": "PPlliPP"},
    "pixel_shuffle": {"pixel_shuffle_{t}": "PPiiiiii"},
    "space_to_depth": {"space_to_depth_{t}": "PPiiiiii"},
    "channel_shuffle": {"channel_shuffle_{t}": "PPiili"},
    "concat": {"concat_{t}": "PPiilii"},
    "split": {"split_{t}": "PPiilii"},
    "pad": {"pad_{t}": "PPliiiiiiif"},
    "pool2d": {"pool2d_{t}": "PPliii"},
    "resize_bilinear": {"resize_bilinear_{t}": SEPARABLE},
    "resize_bicubic_torch": {"resize_bicubic_torch_{t}": SEPARABLE},
    "resize_bicubic_matlab": {"resize_bicubic_matlab_{t}": SEPARABLE},
    "upsample_bicubic_tecogan": {"upsample_bicubic_tecogan_{t}": SEPARABLE},
    "warp": {"warp_{t}": "PPPiiiiffff"},
    "rgb_to_ycbcr": {"rgb_to_ycbcr_{t}": "PPili" + "d" * 12},
    "ycbcr_to_rgb": {"ycbcr_to_rgb_{t}": "PPil" + "d" * 12},
    "conv2d": {"conv2d_direct_{t}": "PPP" + "i" * 14 + EPILOGUE},
    "conv2d_depthwise": {"conv2d_depthwise_{t}": "PPP" + "i" * 13 + EPILOGUE},
    "frames": {"rgb_u8_to_planar_{t}": "PPiil", "planar_to_rgb_u8_{t}": "PPiil", "y_u8_to_plane_{t}": "PPiil",
               "plane_to_y_u8_{t}": "PPiil"},
    "yuv": {"yuv_to_planar_{t}": "PPPlliiii" + "f" * 7 + "P", "planar_to_yuv_{t}": "PPPPll" + "i" * 6 + "f" * 7},
}


def _entry_points() -> dict[str, dict[str, str]]:
    table = {stem: {name.format(t=t): sig for name, sig in kernels.items() for t in SUFFIXES}
             for stem, kernels in _PER_TYPE.items()}
    table["conv2d_mma"] = {f"conv2d_mma_{t}_n{bn}": "PPP" + "i" * 15 + EPILOGUE
                           for t in MMA_SUFFIX.values() for bn in MMA_TILES}
    table["cast"] = {f"cast_{a}_to_{b}": "PPl" for t in ("f16", "bf16") for a, b in (("f32", t), (t, "f32"))}
    table["yuv"].update({"yuv_to_rgb_u8": "PPPlliiii" + "f" * 7 + "P", "rgb_u8_to_yuv": "PlPPPll" + "i" * 6 + "f" * 7})
    return table


# file stem -> {kernel name: signature}: every entry point of kernels/cuda, the file it lives in
ENTRY_POINTS: dict[str, dict[str, str]] = _entry_points()


def source_digest() -> str:
    """A hash of every source and header: prepended to each compiled source so that CuPy's kernel cache (keyed on
    the source text, not on the headers it includes) never serves a binary built from older headers."""
    h = hashlib.sha256()
    for p in sorted(SOURCES.glob("*.cu*")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
