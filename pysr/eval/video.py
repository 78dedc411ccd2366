"""Evaluate a video sequence: ground truth from a folder of images or a video file, LR from a folder or MATLAB
bicubic of each GT frame; per-frame and mean PSNR/SSIM, bicubic beside.

Conventions: as pysr/eval/images.py (MATLAB Y, not rounded; bicubic = imresize_uint8(lr, scale)), except
that the default shave is 4 pixels whatever the scale (Vid4's convention, ../shared/data/README.md). GT frames
are decoded in order to RGB24 with PyAV (the shared Vid4 GT is lossless FFV1 `gbrp`, so exact); GT frame k
pairs with LR file k (sorted by name). An LR folder longer than the GT (Vid4 foliage and walk keep 20 GT
frames) is cut to the GT's length; a shorter one is an error.
A model is a *sequence* callable: iterator of LR frames -> iterator of SR frames, one per LR frame, in
order, so a recurrent or windowed model plugs in as it is; `frame_model` wraps a single-image model and
`session_model` any `.pysr` model (a temporal one through a Session: SR frame k is the output of LR frame k).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from pysr.errors import DataError
from pysr.eval.images import Report, Row, check_lr, check_scale, list_images, mod_crop, read_rgb, score
from pysr.ops.resize_bicubic_matlab import imresize_uint8

SequenceModel = Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]]
VID4_SHAVE = 4


def read_video(path: str | Path) -> Iterator[np.ndarray]:
    """Frames of a video file as H×W×3 uint8 RGB, in decode order."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as err:
        raise DataError(f"cannot open video {path}: {err}") from None
    with container:
        if not container.streams.video:
            raise DataError(f"{path} holds no video stream")
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def read_frames(source: str | Path) -> Iterator[np.ndarray]:
    """A folder of images (sorted by name) or a video file."""
    source = Path(source)
    if source.is_dir():
        return (read_rgb(p) for p in list_images(source))
    if source.is_file():
        return read_video(source)
    raise DataError(f"no such folder or video file: {source}")


def frame_model(upscale: Callable[[np.ndarray], np.ndarray]) -> SequenceModel:
    """A single-image upscaler (LR frame -> SR frame) as a SequenceModel."""
    return lambda frames: (upscale(f) for f in frames)


def session_model(model, scale: int, backend: str = "cpu") -> SequenceModel:
    """A `.pysr` model as a SequenceModel: single-frame models frame by frame, temporal ones (recurrent,
    window(k)) through one Session per sequence — every frame pushed, then flushed; the session returns its
    outputs in input order, so output k belongs to LR frame k whatever its latency."""
    from pysr.eval.images import model_upscaler
    from pysr.stream.session import Session

    if model.facts.get("temporal", "single") == "single":
        return frame_model(model_upscaler(model, scale, backend))
    if model.scale != scale:
        raise DataError(f"the model upscales ×{model.scale}, the evaluation is ×{scale}",
                        f"pass --scale {model.scale} (with LR made for ×{model.scale}) or a ×{scale} model")

    def run(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        session = Session(model, backend)
        for frame in frames:
            yield from session.push(frame)
        yield from session.flush()

    return run


def cascade_model(fedsr, tcsr, scale: int, policy: str = "all", backend: str = "cpu") -> SequenceModel:
    """The live server's cascade as a SequenceModel: F-EDSR on every frame, TCSR (a window(k) model at scale 1) on
    the frames `policy` picks ("all", "every:N", "budget:MS", "none"; pysr/stream/cascade.py), flushed at the
    sequence's end, so output k belongs to LR frame k."""
    from pysr.stream.cascade import Cascade, parse_policy

    if fedsr.scale != scale:
        raise DataError(f"the model upscales ×{fedsr.scale}, the evaluation is ×{scale}", f"pass --scale {fedsr.scale}")
    cascade = Cascade(fedsr, tcsr, parse_policy(policy), backend)     # checked before any frame is read

    def run(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in frames:
            yield from (out.frame for out in cascade.push(frame))
        yield from (out.frame for out in cascade.flush())

    return run


def evaluate_video(gt: str | Path, scale: int, lr_dir: str | Path | None = None, model: SequenceModel | None = None,
                   shave: int = VID4_SHAVE, model_name: str | None = None) -> Report:
    check_scale(scale)
    gt_frames = [mod_crop(f, scale) for f in read_frames(gt)]
    if not gt_frames:
        raise DataError(f"{gt} holds no frames")
    if lr_dir is not None:
        files = list_images(lr_dir)
        if len(files) < len(gt_frames):
            raise DataError(f"{lr_dir} has {len(files)} LR frames, the ground truth {len(gt_frames)}")
        lr_frames = [read_rgb(p) for p in files[:len(gt_frames)]]
    else:
        lr_frames = [imresize_uint8(f, 1.0 / scale) for f in gt_frames]
    for k, (hr, lr) in enumerate(zip(gt_frames, lr_frames)):
        check_lr(hr, lr, scale, f"frame {k}")
    report = Report(str(gt), scale, shave, model_name)
    for k, (hr, lr) in enumerate(zip(gt_frames, lr_frames)):
        report.rows.append(Row(f"{k:08d}", score(hr, imresize_uint8(lr, scale), shave, f"frame {k}")))
    if model is not None:
        sr_frames = list(islice(model(iter(lr_frames)), len(lr_frames) + 1))
        if len(sr_frames) != len(lr_frames):
            raise DataError(f"the model gave {len(sr_frames)} frames for {len(lr_frames)} LR frames")
        for k, (row, hr, sr) in enumerate(zip(report.rows, gt_frames, sr_frames)):
            row.model = score(hr, sr, shave, f"frame {k}")
    return report
