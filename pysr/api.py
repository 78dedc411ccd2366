"""`pysr.run`: frames in, frames out.

    model = pysr.load("espcn_x4.pysr")
    hr = pysr.run(frame, model=model)             # one H×W×3 uint8 RGB frame -> (s·H)×(s·W)×3 uint8
    for hr in pysr.run(frames, model=model): ...  # any iterable of frames -> iterator of frames
    y_hr = pysr.run_y(y, model=model)             # float32 Y plane(s) in [0, 1] -> float32
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from pysr.errors import InputError
from pysr.kernels.cpu.frames import planar_to_rgb_u8, rgb_u8_to_planar
from pysr.model import Model, load
from pysr.stream import tiles


def _model(model) -> Model:
    if isinstance(model, Model):
        return model
    if model is None:
        raise InputError("no model given", "pass model=pysr.load(path) or a path to a .pysr file")
    return load(model)


def check_frame(frame, index: int | None = None) -> np.ndarray:
    where = "frame" if index is None else f"frame {index}"
    if not isinstance(frame, np.ndarray):
        raise InputError(f"{where}: expected a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InputError(f"{where}: expected dtype uint8, got {frame.dtype}", "RGB frames are H×W×3 uint8 (0..255)")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InputError(f"{where}: expected shape (H, W, 3), got {frame.shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InputError(f"{where}: frame is empty ({frame.shape[0]}×{frame.shape[1]})")
    return frame


def to_uint8_hwc(x: np.ndarray) -> np.ndarray:
    """1×3×H×W float in [0, 1] -> H×W×3 uint8, rounded half to even."""
    x = np.asarray(x)
    if x.dtype == np.float32 and x.ndim == 4 and x.shape[:2] == (1, 3):
        return planar_to_rgb_u8(x)                      # the same values, one parallel pass
    return np.clip(np.rint(x[0].transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


def upscale_frame(frame: np.ndarray, model: Model, backend: str = "cpu", tile=None) -> np.ndarray:
    """tile: None = the whole frame in one plan; N = N×N LR tiles; "auto" = N from a memory budget. Tiled output
    is bit-identical to the whole frame's (pysr/stream/tiles.py states the halo and window rules)."""
    tile = tiles.check_tile(tile)
    frame = check_frame(frame)
    x = rgb_u8_to_planar(frame)                         # 1×3×H×W float32, frame/255
    if tile == "auto":
        tile = tiles.auto_tile(model, backend, frame.shape[0], frame.shape[1])
    if tile is not None:
        return tiles.upscale_tiled(x, model, backend, tile, to_uint8_hwc)
    plan = model.plan(backend, x.shape, rgb=True)
    return to_uint8_hwc(plan.run(x)[0])


def run(frames, model=None, backend: str = "cpu", tile=None):
    """Upscale one uint8 RGB frame (H×W×3), or an iterable of them (returns an iterator). `tile` as in
    upscale_frame. Recurrent and window(k) models run through a Session (pysr/stream/session.py): an iterable is
    one sequence, frames out in order; one frame is a sequence of one frame."""
    model = _model(model)
    tile = tiles.check_tile(tile)
    if model.facts["temporal"] != "single":
        return _run_session(frames, model, backend, tile)
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        return upscale_frame(frames, model, backend, tile)
    if isinstance(frames, np.ndarray):
        frames = list(frames)
    if not isinstance(frames, Iterable):
        raise InputError(f"frames must be an H×W×3 uint8 array or an iterable of them, got {type(frames).__name__}")
    return _iter(frames, model, backend, tile)


def _iter(frames: Iterable, model: Model, backend: str, tile=None) -> Iterator[np.ndarray]:
    for i, frame in enumerate(frames):
        check_frame(frame, i)
        yield upscale_frame(frame, model, backend, tile)


def _run_session(frames, model: Model, backend: str, tile):
    from pysr.stream.session import Session

    if tile is not None:
        raise InputError(f"tiling is for single-frame models; this one is {model.facts['temporal']}", "pass tile=None")
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        session = Session(model, backend)
        return (session.push(check_frame(frames)) + session.flush())[0]
    if not isinstance(frames, Iterable):
        raise InputError(f"frames must be an H×W×3 uint8 array or an iterable of them, got {type(frames).__name__}")
    return _iter_session(frames, Session(model, backend))


def _iter_session(frames: Iterable, session) -> Iterator[np.ndarray]:
    for frame in frames:
        yield from session.push(frame)
    yield from session.flush()


def run_y(planes: np.ndarray, model=None, backend: str = "cpu") -> np.ndarray:
    """Float API for Y models: an H×W or N×1×H×W float32 plane(s) in the model's input range ->
    the network output with the same rank, unclamped."""
    model = _model(model)
    if not isinstance(planes, np.ndarray) or planes.dtype.kind != "f":
        raise InputError(f"planes must be a float numpy array, got {getattr(planes, 'dtype', type(planes))}")
    if planes.ndim not in (2, 4) or (planes.ndim == 4 and planes.shape[1] != model.in_channels):
        raise InputError(f"planes must be H×W or N×{model.in_channels}×H×W, got shape {planes.shape}")
    if planes.size == 0:
        raise InputError(f"planes are empty: shape {planes.shape}")
    if model.in_channels != 1 and planes.ndim == 2:
        raise InputError(f"this model takes {model.in_channels} channels; pass N×C×H×W")
    x = planes[None, None] if planes.ndim == 2 else planes
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise InputError("planes hold NaN or infinite values")
    out = model.plan(backend, x.shape).run(x)[0]
    return out[0, 0] if planes.ndim == 2 else out
