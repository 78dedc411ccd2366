"""Training pairs for pysr's trainers: HR/LR planes made once, random crops taken from them in numpy.

Sources are folders of images (PNG/JPEG/BMP, not recursive) and video files (every k-th frame, decoded with
PyAV). Each HR image is cropped to a multiple of the scale (of 2·scale for h264, whose 4:2:0 LR needs even
sizes), degraded once into its LR image (all uint8 RGB, as a stored or transmitted LR frame would be), and both
are turned into float32 planes in [0, 1]: MATLAB `rgb2ycbcr` Y for `y` models, RGB for `rgb` ones. A batch is
then a set of random aligned crops (LR patch p×p, HR patch p·s×p·s) with random flips and 90° rotations.

Degradations (`DEGRADATIONS`):
  bicubic  MATLAB imresize on uint8 (`imresize_uint8`): the LR convention of every SR benchmark, so train with it.
  blur     Gaussian blur of σ (HR pixels) centred on each LR pixel's HR footprint, then rounded to uint8.
  h264     bicubic, then the LR frames of one source (all sampled frames of a video, or one image) are encoded
           and decoded with libx264 at `bitrate` (streaming artefacts). x264 is deterministic at a fixed
           bitrate, so the degraded frames are made once and cached rather than encoded per crop.
Evaluation sets (Set5, Set14, Vid4) are refused as training sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from pysr.errors import InputError, PysrError
from pysr.ops.resize_bicubic_matlab import imresize_uint8

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".y4m", ".ts", ".flv", ".m4v")
DEGRADATIONS = ("bicubic", "blur", "h264")
EVAL_SETS = re.compile(r"set5|set14|vid4", re.IGNORECASE)


@dataclass(frozen=True)
class DataConfig:
    sources: tuple[str, ...]           # folders of images and/or video files
    scale: int
    degradation: str = "bicubic"
    colour: str = "y"                  # "y" (MATLAB rgb2ycbcr Y) or "rgb"
    every: int = 10                    # video: keep every k-th frame
    sigma: float = 1.2                 # blur: Gaussian σ in HR pixels
    bitrate: int = 300_000             # h264: bits per second
    fps: int = 25                      # h264: nominal frame rate (the bit budget per frame is bitrate / fps)
    rescales: tuple[float, ...] = (1.0,)    # each HR frame also serves downscaled by these (MATLAB bicubic)


def parse_bitrate(text: str) -> int:
    """'300k', '1.5M', '250000' -> bits per second."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmM]?)\s*(?:b|bps|bit/s)?\s*", str(text))
    if not m:
        raise InputError(f"bitrate {text!r} is not a number with an optional k or M (e.g. 300k)")
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    if value < 1000:
        raise InputError(f"bitrate {text!r} is below 1 kbit/s")
    return int(value)


def refuse_eval_sets(paths, what: str = "training data") -> None:
    for p in paths:
        resolved = Path(p).resolve()
        for part in (*Path(p).parts, *resolved.parts):
            if EVAL_SETS.search(part):
                raise PysrError(f"{what} {p!s} lies in {part!r}: Set5, Set14 and Vid4 are evaluation sets",
                                "train on data/train (T91, B100, ntia_Aspen/hr) or video clips; evaluate on Set5")


# --- reading -------------------------------------------------------------------------------------------------

def read_image(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), np.uint8)
    except OSError as err:
        raise InputError(f"cannot read image {path}: {err}") from err


def read_sequence(paths: list[Path]) -> list[np.ndarray]:
    """A folder's frame files as one video's frames; they must share one size."""
    frames = [read_image(p) for p in paths]
    for p, f in zip(paths, frames):
        if f.shape != frames[0].shape:
            raise InputError(f"{p} is {f.shape[1]}×{f.shape[0]}, {paths[0].name} {frames[0].shape[1]}×"
                             f"{frames[0].shape[0]}: the frames of a sequence folder share one size",
                             "give each video's frames a folder of their own")
    return frames


def read_video(path: Path, every: int) -> list[np.ndarray]:
    """Every `every`-th decoded frame (0, k, 2k, …) as H×W×3 uint8 RGB."""
    import av

    frames = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path} holds no video stream")
            for i, frame in enumerate(container.decode(video=0)):
                if i % every == 0:
                    frames.append(frame.to_ndarray(format="rgb24"))
    except av.FFmpegError as err:
        raise InputError(f"cannot decode video {path}: {err}") from err
    if not frames:
        raise InputError(f"{path}: no frames decoded")
    return frames


def natural_key(path: Path) -> list:
    """Sort key that orders frame files as numbered: hr2.png before hr10.png."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def read_sources(sources, every: int = 10, sequences: bool = False) -> list[tuple[str, list[np.ndarray]]]:
    """[(source name, [frames])]: one entry per image (one frame) and one per video (its sampled frames). With
    `sequences` (the windows of temporal training) a folder's images are instead one video: its frames in
    numbered order (hr2.png before hr10.png), every `every`-th, all of one size."""
    if not sources:
        raise InputError("no training data given", "pass --data with folders of images or video files")
    refuse_eval_sets(sources)
    if every < 1:
        raise InputError(f"--every must be >= 1, got {every}")
    groups = []
    for src in sources:
        path = Path(src)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file())
            images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
            videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
            if not images and not videos:
                subdirs = sorted(p.name for p in path.iterdir() if p.is_dir())
                raise InputError(f"{path}: no images or videos in this folder (folders are not searched)",
                                 f"pass one of its subfolders: {subdirs}" if subdirs else None)
            if sequences and images:
                groups.append((str(path), read_sequence(sorted(images, key=natural_key)[::every])))
            else:
                groups += [(str(p), [read_image(p)]) for p in images]
            groups += [(str(p), read_video(p, every)) for p in videos]
        elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            groups.append((str(path), read_video(path, every)))
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            groups.append((str(path), [read_image(path)]))
        elif path.exists():
            raise InputError(f"{path}: not a folder, image or video ({', '.join(VIDEO_SUFFIXES)})")
        else:
            raise InputError(f"training data {path} does not exist")
    return groups


# --- degradations --------------------------------------------------------------------------------------------

def bicubic(hr: np.ndarray, scale: int) -> np.ndarray:
    return imresize_uint8(hr, 1.0 / scale)


def gaussian_matrix(n: int, scale: int, sigma: float) -> np.ndarray:
    """(n // scale) × n weights: a Gaussian of σ centred on each LR pixel's HR footprint (its centre is
    i·s + (s − 1)/2), taps within 3σ (at least the footprint), symmetric border, rows summing to 1."""
    m = n // scale
    radius = max(int(np.ceil(3 * sigma)), scale)
    mat = np.zeros((m, n))
    for i in range(m):
        c = i * scale + (scale - 1) / 2
        j = np.arange(int(np.floor(c - radius)), int(np.ceil(c + radius)) + 1)
        w = np.exp(-((j - c) ** 2) / (2 * sigma * sigma))
        j = np.abs(j)                                       # mirror: -1 -> 1 ... (whole-sample symmetric)
        j = np.clip(np.where(j > n - 1, 2 * (n - 1) - j, j), 0, n - 1)
        np.add.at(mat[i], j, w)
        mat[i] /= mat[i].sum()
    return mat


def blur(hr: np.ndarray, scale: int, sigma: float) -> np.ndarray:
    if not sigma > 0:
        raise InputError(f"blur sigma must be > 0, got {sigma}")
    x = hr.astype(np.float64)
    x = np.einsum("ih,hwc->iwc", gaussian_matrix(hr.shape[0], scale, sigma), x)
    x = np.einsum("jw,iwc->ijc", gaussian_matrix(hr.shape[1], scale, sigma), x)
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def h264_roundtrip(frames: list[np.ndarray], bitrate: int, fps: int = 25) -> list[np.ndarray]:
    """Encode same-size RGB uint8 frames (even sizes) with libx264 at `bitrate` (ABR, veryfast, zero latency:
    no B-frames, as a live sender would) and decode them back to RGB uint8."""
    import av

    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise InputError(f"h264 needs even frame sizes, got {w}×{h}")
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.bit_rate = int(bitrate)
    enc.time_base, enc.framerate = Fraction(1, fps), Fraction(fps, 1)
    enc.options = {"preset": "veryfast", "tune": "zerolatency", "threads": "1"}   # 1 thread: deterministic
    packets = []
    for i, f in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24").reformat(format="yuv420p")
        vf.pts = i
        packets += enc.encode(vf)
    packets += enc.encode(None)
    dec = av.CodecContext.create("h264", "r")
    out = []
    for p in [*packets, None]:
        out += [fr.to_ndarray(format="rgb24") for fr in dec.decode(p)]
    if len(out) != len(frames):
        raise PysrError(f"h264 round trip gave {len(out)} frames for {len(frames)}")
    return out


def degrade(frames: list[np.ndarray], cfg: DataConfig) -> list[np.ndarray]:
    """LR uint8 RGB frames of one source's (already cropped) HR frames."""
    s = cfg.scale
    if cfg.degradation == "bicubic":
        return [bicubic(f, s) for f in frames]
    if cfg.degradation == "blur":
        return [blur(f, s, cfg.sigma) for f in frames]
    if cfg.degradation == "h264":
        return h264_roundtrip([bicubic(f, s) for f in frames], cfg.bitrate, cfg.fps)
    raise InputError(f"unknown degradation {cfg.degradation!r}; known: {DEGRADATIONS}")


# --- planes and crops ----------------------------------------------------------------------------------------

def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr luma of uint8 RGB, on [0, 1] (16/255 … 235/255), float32, unrounded."""
    x = rgb.astype(np.float32)
    return ((16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0) / 255.0).astype(
        np.float32)


def to_planes(rgb: np.ndarray, colour: str) -> np.ndarray:
    """uint8 H×W×3 -> float32 C×H×W in [0, 1]."""
    if colour == "y":
        return rgb_to_y(rgb)[None]
    if colour == "rgb":
        return np.ascontiguousarray(rgb.transpose(2, 0, 1), np.float32) / np.float32(255)
    raise InputError(f"unknown colour mode {colour!r}; known: y, rgb")


def crop_to_multiple(img: np.ndarray, m: int) -> np.ndarray:
    return img[: img.shape[0] // m * m, : img.shape[1] // m * m]


class PairSet:
    """HR and LR planes of every training frame, made once; `batch` crops from them in numpy."""

    def __init__(self, cfg: DataConfig, patch: int):
        if cfg.degradation not in DEGRADATIONS:
            raise InputError(f"unknown degradation {cfg.degradation!r}; known: {DEGRADATIONS}")
        if cfg.scale < 1 or patch < 1:
            raise InputError(f"scale and patch must be >= 1, got {cfg.scale} and {patch}")
        self.cfg, self.patch, self.scale = cfg, patch, cfg.scale
        multiple = 2 * cfg.scale if cfg.degradation == "h264" else cfg.scale
        self.hr, self.lr, self.names = [], [], []
        skipped = 0
        if not cfg.rescales or any(not 0 < f <= 1 for f in cfg.rescales):
            raise InputError(f"--rescale factors must lie in (0, 1], got {list(cfg.rescales)}")
        for name, source in read_sources(cfg.sources, cfg.every):
            for f in cfg.rescales:
                frames = source if f == 1 else [imresize_uint8(x, f) for x in source]
                frames = [crop_to_multiple(x, multiple) for x in frames]
                if min(frames[0].shape[:2]) < patch * cfg.scale:
                    skipped += 1
                    continue
                for hr, lr in zip(frames, degrade(frames, cfg)):
                    self.hr.append(to_planes(hr, cfg.colour))
                    self.lr.append(to_planes(lr, cfg.colour))
                    self.names.append(name if f == 1 else f"{name} ×{f:g}")
        if not self.hr:
            raise InputError(f"no training image is at least {patch * cfg.scale} pixels on each side "
                             f"({skipped} smaller skipped)", "lower --patch or add larger images")
        # Crops are drawn with probability proportional to each frame's number of crop positions.
        sizes = np.array([(l.shape[1] - patch + 1) * (l.shape[2] - patch + 1) for l in self.lr], np.float64)
        self.weights = sizes / sizes.sum()
        self.skipped = skipped

    def __len__(self) -> int:
        return len(self.hr)

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n random aligned crops: LR n×C×p×p and HR n×C×ps×ps (float32), each flipped/rotated at random."""
        p, s = self.patch, self.scale
        c = self.hr[0].shape[0]
        lr = np.empty((n, c, p, p), np.float32)
        hr = np.empty((n, c, p * s, p * s), np.float32)
        frames = rng.choice(len(self.hr), size=n, p=self.weights)
        for b, k in enumerate(frames):
            l_img, h_img = self.lr[k], self.hr[k]
            y0 = int(rng.integers(0, l_img.shape[1] - p + 1))
            x0 = int(rng.integers(0, l_img.shape[2] - p + 1))
            rot, flip = int(rng.integers(4)), bool(rng.integers(2))
            l_crop = l_img[:, y0 : y0 + p, x0 : x0 + p]
            h_crop = h_img[:, y0 * s : (y0 + p) * s, x0 * s : (x0 + p) * s]
            lr[b] = augment(l_crop, rot, flip)
            hr[b] = augment(h_crop, rot, flip)
        return lr, hr


def augment(x: np.ndarray, rot: int, flip: bool) -> np.ndarray:
    x = np.rot90(x, rot, axes=(1, 2))
    return x[:, :, ::-1] if flip else x


# --- validation ----------------------------------------------------------------------------------------------

def validation_pairs(folder: str, scale: int, colour: str = "y") -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(name, LR planes, HR planes)] of a folder of HR images: HR cropped to a multiple of the scale, LR by
    MATLAB bicubic (the benchmark convention), both as float32 planes in [0, 1]."""
    path = Path(folder)
    if not path.is_dir():
        raise InputError(f"validation folder {path} does not exist")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"validation folder {path} holds no images")
    pairs = []
    for f in files:
        hr = crop_to_multiple(read_image(f), scale)
        pairs.append((f.stem, to_planes(bicubic(hr, scale), colour), to_planes(hr, colour)))
    return pairs


def psnr(sr: np.ndarray, hr: np.ndarray, shave: int) -> float:
    """PSNR (peak 1) of C×H×W planes in [0, 1] with `shave` pixels cut from each border; sr is clamped."""
    d = np.clip(sr.astype(np.float64), 0, 1) - hr.astype(np.float64)
    if shave:
        d = d[:, shave:-shave, shave:-shave]
    mse = float(np.mean(d * d))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


# --- windows of consecutive frames (temporal models: TCSR) ------------------------------------------------------

class WindowSet:
    """Windows of 2k+1 consecutive frames of each video, HR and degraded LR made once as in `PairSet` (every
    `cfg.every`-th frame: pass every=1 for truly consecutive frames); `batch` takes the same random crop, flip
    and rotation from every frame of a window. A folder of images is one video (its frames in numbered order).
    Sources with fewer than 2k+1 frames or smaller than the HR patch are skipped. Frames are concatenated along
    channels, oldest first (the one-input window convention of docs/temporal.md): LR n×(2k+1)·C×p×p and HR
    n×(2k+1)·C×ps×ps; the centre frame is index k."""

    def __init__(self, cfg: DataConfig, patch: int, radius: int):
        if cfg.degradation not in DEGRADATIONS:
            raise InputError(f"unknown degradation {cfg.degradation!r}; known: {DEGRADATIONS}")
        if cfg.scale < 1 or patch < 1 or radius < 1:
            raise InputError(f"scale, patch and radius must be >= 1, got {cfg.scale}, {patch} and {radius}")
        self.cfg, self.patch, self.scale, self.radius = cfg, patch, cfg.scale, radius
        multiple = 2 * cfg.scale if cfg.degradation == "h264" else cfg.scale
        self.hr, self.lr, self.names = [], [], []           # per sequence: (T, C, H, W) float32
        skipped = 0
        for name, frames in read_sources(cfg.sources, cfg.every, sequences=True):
            frames = [crop_to_multiple(f, multiple) for f in frames]
            if len(frames) < 2 * radius + 1 or min(frames[0].shape[:2]) < patch * cfg.scale:
                skipped += 1
                continue
            self.hr.append(np.stack([to_planes(f, cfg.colour) for f in frames]))
            self.lr.append(np.stack([to_planes(f, cfg.colour) for f in degrade(frames, cfg)]))
            self.names.append(name)
        if not self.hr:
            raise InputError(f"no training video has {2 * radius + 1} frames of at least {patch * cfg.scale} pixels "
                             f"on each side ({skipped} sources skipped)", "pass video files, lower --patch")
        sizes = np.array([(len(l) - 2 * radius) * (l.shape[2] - patch + 1) * (l.shape[3] - patch + 1)
                          for l in self.lr], np.float64)
        self.weights = sizes / sizes.sum()
        self.skipped = skipped

    def __len__(self) -> int:
        return sum(len(h) - 2 * self.radius for h in self.hr)

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        p, s, k = self.patch, self.scale, self.radius
        c = self.hr[0].shape[1]
        lr = np.empty((n, (2 * k + 1) * c, p, p), np.float32)
        hr = np.empty((n, (2 * k + 1) * c, p * s, p * s), np.float32)
        for b, q in enumerate(rng.choice(len(self.hr), size=n, p=self.weights)):
            l_seq, h_seq = self.lr[q], self.hr[q]
            t = int(rng.integers(k, len(l_seq) - k))
            y0 = int(rng.integers(0, l_seq.shape[2] - p + 1))
            x0 = int(rng.integers(0, l_seq.shape[3] - p + 1))
            rot, flip = int(rng.integers(4)), bool(rng.integers(2))
            l_win = l_seq[t - k : t + k + 1, :, y0 : y0 + p, x0 : x0 + p].reshape(-1, p, p)
            h_win = h_seq[t - k : t + k + 1, :, y0 * s : (y0 + p) * s, x0 * s : (x0 + p) * s].reshape(-1, p * s, p * s)
            lr[b] = augment(l_win, rot, flip)
            hr[b] = augment(h_win, rot, flip)
        return lr, hr
