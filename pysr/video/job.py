"""`pysr upscale` jobs: model fit checks, output naming, resume bookkeeping, the final report.

Output safety: a video is written to `NAME.partial.EXT` beside the output and renamed to `NAME.EXT` only
when complete; a failed job deletes it. An interrupted job flushes and closes it (it plays) and writes
`NAME.EXT.pysr-progress.json`: frames done, their last pts, the packets of each copied stream done, and
what the job was (input identity, model, encoder options). `--resume` checks that record, remuxes the
partial file's packets into a fresh `NAME.partial.EXT`, skips exactly that many decoded frames and copied
packets of the input, and carries on encoding: every input frame ends up in the output once, in order.
A temporal model's state is not in the partial file: the resumed job runs the model again over the written
frames it needs (all of them for a recurrent model, the last k for window(k)), dropping their outputs, so the
frames after them are exactly those of an uninterrupted run.

With `tcsr` the video goes through the live server's cascade (pysr/stream/cascade.py): the model, a Y F-EDSR, on
every frame and TCSR, a window(k) model, on the frames `tcsr_policy` picks; a resume re-runs the last k frames.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

import pysr
from pysr.errors import MediaError
from pysr.video import pipeline
from pysr.video.images import check_output_folder, folder_pairs, is_image, read_image, save_atomic, upscale_pil
from pysr.video.progress import Progress
from pysr.video.reader import Decoded, open_source
from pysr.video.writer import AvSink, EncodeOptions, Y4mSink

SIDECAR_VERSION = 1


@dataclass
class Job:
    input: str
    output: str | None
    model: pysr.Model
    backend: str = "cpu"
    tile: int | str | None = None
    encode: EncodeOptions = None
    progress: str = "line"
    benchmark: bool = False
    resume: bool = False
    overwrite: bool = False
    frames: int | None = None
    tcsr: pysr.Model | None = None       # the cascade's second stage (videos only)
    tcsr_policy: str = "all"

    def __post_init__(self):
        if self.encode is None:
            self.encode = EncodeOptions()


def _name(model: pysr.Model) -> str:
    return model.facts.get("name", model.facts["architecture"])


def make_infer(model: pysr.Model, backend: str, tile, mono: bool):
    """frame -> upscaled frame for RGB (H×W×3) or, on the luma-only path, H×W uint8. Single-frame models only
    (images, and videos through `FrameStage`); videos with temporal models go through `SessionStage`."""
    temporal = model.facts.get("temporal", "single")
    if temporal != "single":
        raise MediaError(f"model {_name(model)} is temporal ({temporal}); images are upscaled with single-frame "
                         "models", "for a sequence, give a video (a folder of frames is not read as one)")
    if mono:
        _check_mono(model, tile)

        def infer_y(y: np.ndarray) -> np.ndarray:
            return _y_to_u8(pysr.api.run_y(y.astype(np.float32) * np.float32(1 / 255), model, backend))

        return infer_y
    from pysr.api import upscale_frame

    def infer(rgb: np.ndarray) -> np.ndarray:
        return upscale_frame(rgb, model, backend, tile)

    return infer


def _check_mono(model: pysr.Model, tile) -> None:
    if model.colour_mode != "y":
        raise MediaError(f"model {_name(model)} works on RGB (colour mode {model.colour_mode}); this input is grey "
                         "(luma only) and needs a model with colour mode y")
    if tile is not None:
        raise MediaError("--tile is not supported for grey (luma-only) input")


def _y_to_u8(y: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8)


class FrameStage:
    """A single-frame model as a pipeline stage: each frame's output at once."""

    def __init__(self, infer):
        self.infer = infer

    def push(self, frame: Decoded) -> list[Decoded]:
        return [Decoded(frame.index, frame.pts, self.infer(frame.image))]

    def flush(self) -> list[Decoded]:
        return []


class SessionStage:
    """A temporal model as a pipeline stage, through a Session (pysr/stream/session.py). The session returns
    outputs in input order, `latency` frames behind; `pending` holds the index and pts of every frame pushed
    whose output has not come out, so output i leaves with input i's pts (all in the input stream's time base)."""

    def __init__(self, model: pysr.Model, backend: str, mono: bool):
        from pysr.stream.session import Session

        self.session, self.mono = Session(model, backend), mono
        self.pending: deque[tuple[int, int | None]] = deque()

    def push(self, frame: Decoded) -> list[Decoded]:
        self.pending.append((frame.index, frame.pts))
        if self.mono:       # luma only, Y model: the network on Y planes, no colour conversion
            return self._match(self.session.push_planes(frame.image.astype(np.float32) * np.float32(1 / 255)))
        return self._match(self.session.push(frame.image))

    def flush(self) -> list[Decoded]:
        return self._match(self.session.flush())

    def _match(self, outs: list[np.ndarray]) -> list[Decoded]:
        done = []
        for out in outs:
            index, pts = self.pending.popleft()
            done.append(Decoded(index, pts, _y_to_u8(out[0]) if self.mono else out))
        return done


class CascadeStage(SessionStage):
    """F-EDSR on every frame and TCSR on the frames a policy picks (pysr/stream/cascade.py) as a pipeline stage;
    outputs in input order, k frames behind. `first`: the input index of the first frame pushed (a resumed job's
    warm-up start), so the policy picks the frames one uninterrupted run would."""

    def __init__(self, fedsr: pysr.Model, tcsr: pysr.Model, policy: str, backend: str, first: int = 0):
        from pysr.stream.cascade import Cascade, Offset, parse_policy

        self.session, self.mono = Cascade(fedsr, tcsr, Offset(parse_policy(policy), first), backend), False
        self.pending: deque[tuple[int, int | None]] = deque()

    def push(self, frame: Decoded) -> list[Decoded]:
        self.pending.append((frame.index, frame.pts))
        return self._match([out.frame for out in self.session.push(frame.image)])

    def flush(self) -> list[Decoded]:
        return self._match([out.frame for out in self.session.flush()])


def make_stage(job: Job, mono: bool, first: int = 0):
    """The pipeline's inference stage for a video: `FrameStage` for single-frame models, `SessionStage` for
    temporal ones, `CascadeStage` with `job.tcsr`; `first` = the input index of the first frame it gets."""
    from pysr.stream.session import temporal_kind

    model, backend, tile = job.model, job.backend, job.tile
    if job.tcsr is not None:
        if tile is not None or mono:
            raise MediaError("--tcsr runs the cascade on whole colour frames: "
                             + ("drop --tile" if tile is not None else "this input is grey (luma only)"))
        return CascadeStage(model, job.tcsr, job.tcsr_policy, backend, first)
    kind, _ = temporal_kind(model.facts)
    if kind == "single":
        return FrameStage(make_infer(model, backend, tile, mono))
    if tile is not None:
        raise MediaError(f"--tile is for single-frame models; model {_name(model)} is temporal "
                         f"({model.facts['temporal']}): its state and neighbour frames reach across the whole frame, "
                         "so tiles are not defined", "drop --tile")
    if mono:
        _check_mono(model, tile)
    return SessionStage(model, backend, mono)


def warmup_frames(model: pysr.Model, done: int) -> int:
    """How many of the `done` frames already written a resumed job runs through the model again (outputs
    dropped) so that the frames after them come out exactly as in one uninterrupted run: a recurrent model's
    state depends on every earlier frame; window(k) output t reads frames t−k … t+k only. For the cascade pass
    its TCSR (window(k))."""
    from pysr.stream.session import temporal_kind

    kind, k = temporal_kind(model.facts)
    return {"single": 0, "recurrent": done, "window": min(k, done)}[kind]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- images

def upscale_images(job: Job) -> None:
    src, dst = Path(job.input), Path(job.output)
    infer = make_infer(job.model, job.backend, job.tile, mono=False)
    s = job.model.scale
    if src.is_dir():
        pairs = folder_pairs(src, dst, job.overwrite)
        dst.mkdir(exist_ok=True)
        prog = Progress(job.progress, len(pairs))
        t0 = time.perf_counter()
        for i, (a, b) in enumerate(pairs, 1):
            save_atomic(upscale_pil(read_image(a), infer, s), b, job.overwrite)
            prog.update(i)
        prog.finish()
        say(f"wrote {len(pairs)} images to {dst} in {time.perf_counter() - t0:.1f} s")
        return
    if dst.is_dir():
        dst = dst / src.name
    check_output_folder(dst)
    if dst.exists() and not job.overwrite:
        raise MediaError(f"{dst} exists", "pass --overwrite to replace it")
    im = read_image(src)
    out = upscale_pil(im, infer, s)
    save_atomic(out, dst, job.overwrite)
    say(f"wrote {dst}: {im.size[0]}×{im.size[1]} → {out.size[0]}×{out.size[1]}")


# ---------------------------------------------------------------- video

def partial_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.partial{out.suffix}")


def sidecar_path(out: Path) -> Path:
    return out.with_name(out.name + ".pysr-progress.json")


def temporal_model(job: Job) -> pysr.Model:
    """The model whose frame dependencies a resume must rebuild: TCSR in the cascade, else the model."""
    return job.model if job.tcsr is None else job.tcsr


def _identity(job: Job) -> dict:
    st = os.stat(job.input)
    ident = {"input": str(Path(job.input).resolve()), "input_size": st.st_size, "input_mtime_ns": st.st_mtime_ns,
             "model": job.model.source, "model_facts": job.model.facts, "backend": job.backend, "tile": job.tile,
             "encode": job.encode.as_dict()}
    if job.tcsr is not None:            # absent without the cascade, so older records still resume
        ident.update({"tcsr": job.tcsr.source, "tcsr_facts": job.tcsr.facts, "tcsr_policy": job.tcsr_policy})
    return ident


def _check_output(job: Job, out: Path) -> None:
    check_output_folder(out)
    if out.is_dir():
        raise MediaError(f"{out} is a folder; a video output is a file")
    if Path(job.input) != Path("-") and out.resolve() == Path(job.input).resolve():
        raise MediaError("the output is the input file", "choose another output name")
    if out.exists() and not job.overwrite:
        raise MediaError(f"{out} exists", "pass --overwrite to replace it")
    if partial_path(out).exists() and not job.resume and not job.overwrite:
        raise MediaError(f"{partial_path(out)} holds an interrupted run",
                         "pass --resume to continue it, or --overwrite to start over")


def _open_sink(job: Job, facts, width: int, height: int, path: Path | None, prev: Path | None = None):
    if job.benchmark:
        return AvSink(None, None, facts, width, height, job.encode, null=True, label="(benchmark: discarded)")
    if job.output == "-":
        return Y4mSink(sys.stdout.buffer, facts, width, height, job.encode.pix_fmt)
    if path.suffix.lower() == ".y4m":
        try:
            f = open(path, "wb")  # noqa: SIM115 (closed by the job)
        except OSError as err:
            raise MediaError(f"cannot write {job.output}: {err.strerror}") from None
        sink = Y4mSink(f, facts, width, height, job.encode.pix_fmt, label=job.output)
        sink.file = f
        return sink
    return AvSink(str(path), None, facts, width, height, job.encode, label=job.output,
                  resume_from=None if prev is None else str(prev))


def _close(sink) -> None:
    sink.close()
    f = getattr(sink, "file", None)
    if f is not None:
        f.close()


def upscale_video(job: Job) -> pipeline.Stats:
    out = None if job.benchmark or job.output == "-" else Path(job.output)
    if out is not None:
        _check_output(job, out)
    if job.resume and out is None:
        raise MediaError("--resume needs an output file (not `-o -` or --benchmark)")
    record = None
    if job.resume and sidecar_path(out).exists() and not job.overwrite:
        record = _load_record(job, out)
        if out.suffix.lower() == ".y4m":
            raise MediaError("--resume is not supported for y4m output files")
    elif job.resume:
        say(f"nothing to resume for {out}: starting from the first frame")
    done = 0 if record is None else int(record["frames_done"])
    warmup = warmup_frames(temporal_model(job), done)

    source = open_source(job.input)
    try:
        facts = source.facts
        source.warn()
        stage = make_stage(job, facts.mono, first=done - warmup)
        s = job.model.scale
        width, height = facts.width * s, facts.height * s
        return _run(job, source, facts, stage, width, height, out, record, warmup)
    finally:
        source.close()


def _load_record(job: Job, out: Path) -> dict:
    path = sidecar_path(out)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise MediaError(f"cannot resume: {path} is unreadable ({err})", "start over with --overwrite") from None
    if record.get("version") != SIDECAR_VERSION or not partial_path(out).exists():
        raise MediaError(f"cannot resume: {path} does not match a partial output {partial_path(out)}",
                         "start over with --overwrite")
    now = json.loads(json.dumps(_identity(job)))
    for key, value in now.items():
        if record.get("job", {}).get(key) != value:
            raise MediaError(f"cannot resume: {key} differs from the interrupted run's "
                             f"({record.get('job', {}).get(key)!r} then, {value!r} now)", "start over with --overwrite")
    return record


def _run(job: Job, source, facts, stage, width: int, height: int, out: Path | None, record: dict | None,
         warmup: int):
    """`warmup`: the written frames a resume runs through the model again (warmup_frames)."""
    partial = None if out is None else partial_path(out)
    prev = None
    skip_frames, skip_packets = 0, {}
    if record is not None:
        prev = partial.with_name(f"{out.stem}.partial-prev{out.suffix}")
        os.replace(partial, prev)
    elif partial is not None:
        partial.unlink(missing_ok=True)
        sidecar_path(out).unlink(missing_ok=True)
    sink = None
    try:
        sink = _open_sink(job, facts, width, height, partial, prev)
        if record is not None:
            done = sink.copy_previous()
            if done != record["frames_done"]:
                raise MediaError(f"cannot resume: {prev} holds {done} frames, the record says {record['frames_done']}",
                                 "start over with --overwrite")
            skip_frames = done
            skip_packets = {int(k): v for k, v in record["packets_done"].items()}
            say(f"resuming {out} after frame {done}")
            if warmup:
                model = temporal_model(job)
                say(f"note: model {_name(model)} is temporal ({model.facts['temporal']}); its state is not "
                    f"in the partial file, so it runs again over the last {warmup} of those frames (outputs "
                    "discarded) — that takes about as long as upscaling them did")
    except BaseException:
        if sink is not None:
            sink.abort()
        if partial is not None:
            partial.unlink(missing_ok=True)
        if prev is not None:
            os.replace(prev, partial)
        raise
    if isinstance(sink, Y4mSink) and facts.copy_streams:
        say(f"note: y4m output holds video only; {len(facts.copy_streams)} audio/subtitle stream(s) not copied")

    total = facts.total if job.frames is None else min(job.frames, facts.total or job.frames)
    prog = Progress(job.progress, total, skip_frames)
    try:
        stats = pipeline.run(source, stage, sink, skip_frames=skip_frames, warmup=warmup, skip_packets=skip_packets,
                             max_frames=None if job.frames is None else max(job.frames - skip_frames, 0),
                             on_frame=prog.update)
        if stats.interrupted:
            _close(sink)
        elif sink.frames + skip_frames == 0:
            raise MediaError(f"{facts.name}: no frames decoded")
        else:
            _close(sink)
    except BaseException:
        sink.abort()
        f = getattr(sink, "file", None)
        if f is not None:
            f.close()
        if partial is not None:
            partial.unlink(missing_ok=True)
            if prev is not None:
                os.replace(prev, partial)       # the earlier partial and its record still stand
        raise
    if prev is not None:
        prev.unlink(missing_ok=True)
    done = sink.frames + skip_frames
    if stats.interrupted:
        prog.finish("interrupted", frames_written=done)
        _interrupted(job, out, partial, sink, done, skip_packets)
        raise KeyboardInterrupt
    prog.finish("done", frames_written=done)
    if partial is not None:
        os.replace(partial, out)
        sidecar_path(out).unlink(missing_ok=True)
    if job.benchmark:
        _report_benchmark(stats, facts, width, height, job)
    else:
        say(f"wrote {job.output if out is None else out}: {done} frames, {facts.width}×{facts.height} → "
            f"{width}×{height}, {stats.frames} upscaled in {stats.wall_s:.1f} s ({stats.fps:.2f} fps)")
    return stats


def _interrupted(job: Job, out: Path | None, partial: Path | None, sink, done: int, skip_packets: dict) -> None:
    if partial is None:
        say(f"interrupted: {done} frames written to {'stdout' if job.output == '-' else 'the benchmark sink'}")
        return
    if done == 0:
        partial.unlink(missing_ok=True)
        sidecar_path(out).unlink(missing_ok=True)
        say(f"interrupted before any frame was written; no output left at {out}")
        return
    packets = {str(i): n + skip_packets.get(i, 0) for i, n in sink.packets_done.items()}
    record = {"version": SIDECAR_VERSION, "frames_done": done, "last_pts": sink.last_pts,
              "time_base": str(Fraction(sink.cc.time_base)) if hasattr(sink, "cc") else None,
              "packets_done": packets, "partial": partial.name, "job": _identity(job)}
    tmp = sidecar_path(out).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=str))
    os.replace(tmp, sidecar_path(out))
    say(f"interrupted: {done} frames written to {partial} (it plays); run the same command with --resume to finish "
        f"{out}")


def _report_benchmark(stats: pipeline.Stats, facts, width: int, height: int, job: Job) -> None:
    n = max(stats.frames, 1)
    say(f"benchmark: {stats.frames} frames {facts.width}×{facts.height} → {width}×{height}, model "
        f"{job.model.facts.get('name', '?')}, backend {job.backend}, encoder {job.encode.codec} (output discarded)")
    for stage, secs in (("decode", stats.decode_s), ("inference", stats.infer_s), ("encode", stats.encode_s)):
        say(f"  {stage:10s} {secs:8.2f} s  {secs / n * 1e3:9.1f} ms/frame  {n / secs if secs else 0:8.2f} fps")
    say(f"  {'total':10s} {stats.wall_s:8.2f} s  {stats.wall_s / n * 1e3:9.1f} ms/frame  {stats.fps:8.2f} fps "
        "(stages overlap)")


def run_job(job: Job) -> None:
    src = job.input
    if src != "-" and not Path(src).exists():
        raise MediaError(f"{src}: no such file or folder")
    if job.tcsr is not None and src != "-" and (Path(src).is_dir() or is_image(src)):
        raise MediaError("--tcsr is for videos: TCSR refines frames with their neighbours",
                         "give a video file (or y4m on stdin)")
    if src != "-" and Path(src).is_dir():
        if job.benchmark or job.resume:
            raise MediaError("--benchmark and --resume apply to videos, not image folders")
        return upscale_images(job)
    if src != "-" and is_image(src):
        if job.output == "-" or job.benchmark or job.resume:
            raise MediaError("image input needs an image output file (no `-o -`, --benchmark or --resume)")
        return upscale_images(job)
    upscale_video(job)
