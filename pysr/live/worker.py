"""One stream on the server: RTMP in → decode → the per-frame step → H.264 → HLS, through pysr/video/pipeline.py.

    RtmpSource.items() ──q_in──▶ Step.push(frame) ──q_out──▶ HlsSink.write → DIR/<name>/index.m3u8 + seg_NNNNN.ts
     (decode thread)              (server thread)             (encode thread)

A `StreamWorker` lives as long as its stream key: it outlives the connection. Each publish of the key is a
session (`run_session`): when the input ends or is lost the encoder is flushed and the HLS muxer closes the
playlist (#EXT-X-ENDLIST); the next publish of the same key reopens it with `append_list`, so the playlist goes on
with new segments after an #EXT-X-DISCONTINUITY, the segment numbers continue and the frame timestamps are moved to
follow the last frame of the previous session (one monotonic timeline). The model (and its update version) stays.

The per-frame step is pluggable: any object with `push(Decoded) -> [Decoded]`, `flush() -> [Decoded]` and
`swap(model)` (at a frame boundary: the next push runs the new model), built by `make_step(model, mono)`.
`FrameStep` runs a single-frame model on every frame; `CascadeStep` (`pysr serve --tcsr`) runs the cascade of
pysr/stream/cascade.py: F-EDSR on every frame, TCSR on the frames its policy picks, k frames late. A model
update is handed over by the control thread (`offer`) and taken by the worker thread just before the next frame,
so every frame runs entirely on one model.

Latency here is "decode → segment written": from the moment a frame leaves the decoder to the moment the HLS
muxer renames the segment that holds it into place and rewrites the playlist — about one segment duration, since
a segment is only published when the next keyframe starts the following one.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import av
import numpy as np

from pysr.errors import MediaError
from pysr.live.updates import Running
from pysr.model import Model
from pysr.video import pipeline
from pysr.video.audio import first_audio
from pysr.video.job import FrameStage, make_infer
from pysr.video.reader import AvSource, Decoded
from pysr.video.writer import AvSink, EncodeOptions

PLAYLIST = "index.m3u8"
HLS_AUDIO = ("aac", "mp3")      # audio codecs copied from FLV into MPEG-TS segments
SEGMENTS = "seg_%05d.ts"


class Step(Protocol):
    def push(self, frame: Decoded) -> list[Decoded]: ...

    def flush(self) -> list[Decoded]: ...

    def swap(self, model: Model) -> None: ...


class FrameStep:
    """A single-frame model on every frame (`pysr.api.upscale_frame`, or the Y path for grey input)."""

    def __init__(self, model: Model, backend: str = "cpu", mono: bool = False):
        self.backend, self.mono = backend, mono
        self.swap(model)

    def swap(self, model: Model) -> None:
        self.model, self.stage = model, FrameStage(make_infer(model, self.backend, None, self.mono))

    def push(self, frame: Decoded) -> list[Decoded]:
        return self.stage.push(frame)

    def flush(self) -> list[Decoded]:
        return []


class CascadeStep:
    """F-EDSR on every frame and TCSR on the frames `policy` picks (pysr/stream/cascade.py). Outputs leave TCSR's
    window radius k frames late, each with its own input's index and pts; `flush` at the end of a session gives the
    held frames (their windows reflected at the end). A model update replaces F-EDSR from the next frame pushed."""

    def __init__(self, model: Model, tcsr: Model, policy: str, backend: str = "cpu", mono: bool = False):
        from pysr.stream.cascade import Cascade, parse_policy

        if mono:
            raise MediaError("this stream is luma only (gray); the cascade refines colour frames' Y",
                             "publish a colour stream, or serve without --tcsr")
        self.policy = policy
        self.cascade = Cascade(model, tcsr, parse_policy(policy), backend)
        self.pending: deque[tuple[int, int | None]] = deque()
        self.refined = 0

    def swap(self, model: Model) -> None:
        self.cascade.swap_fedsr(model)

    def push(self, frame: Decoded) -> list[Decoded]:
        self.pending.append((frame.index, frame.pts))
        return self._match(self.cascade.push(frame.image))

    def flush(self) -> list[Decoded]:
        return self._match(self.cascade.flush())

    def _match(self, outs) -> list[Decoded]:
        done = []
        for out in outs:
            index, pts = self.pending.popleft()
            self.refined += out.refined
            done.append(Decoded(index, pts, out.frame))
        return done


def cascade_steps(tcsr: Model, policy: str, backend: str) -> Callable[[Model, bool], Step]:
    """A worker's `make_step` for the cascade; the policy text is checked now (InputError)."""
    from pysr.stream.cascade import parse_policy

    parse_policy(policy)
    return lambda model, mono: CascadeStep(model, tcsr, policy, backend, mono)


def warm(model: Model, backend: str, mono: bool, width: int, height: int) -> None:
    """Run the model once on a blank frame: loads its kernels and compiles its plan for that size."""
    make_infer(model, backend, None, mono)(np.zeros((height, width) if mono else (height, width, 3), np.uint8))


@dataclass
class LiveOptions:
    hls_time: float = 2.0           # seconds per segment (keyframe interval of the output encoder)
    crf: float = 20.0
    bitrate: str | None = None      # given: ABR at this rate instead of crf
    backend: str = "cpu"
    rw_timeout_s: float = 5.0       # a publisher silent this long counts as lost


class RtmpSource(AvSource):
    """An accepted RTMP publish read like a file (pysr/video/reader.py): video frames, and the packets of its
    first audio stream (AAC or MP3: what FLV and MPEG-TS both carry) to be copied into the HLS output. A lost or
    closed connection ends the input (the reason is kept in `lost`) instead of failing it; the decoder is
    drained."""

    def __init__(self, container, name: str):
        self.name, self.container, self.lost = name, container, None
        # NOTE: frame threading holds (threads − 1) frames in the decoder; on a live stream that is latency.
        container.streams.video[0].thread_count = 1
        try:
            self._open()
        except BaseException:
            container.close()
            raise
        self.facts = replace(self.facts, copy_streams=_hls_audio(self.facts.copy_streams))

    def _demux(self, streams):
        vs = streams[0]
        try:
            for packet in self.container.demux(vs, *_hls_audio(streams[1:])):
                if packet.stream is vs:
                    yield from packet.decode()
                elif packet.size:
                    yield packet
        except (av.FFmpegError, OSError) as err:
            self.lost = getattr(err, "strerror", None) or str(err)
            with contextlib.suppress(av.FFmpegError, OSError):
                yield from vs.codec_context.decode(None)


def _hls_audio(streams) -> list:
    """The first audio stream the HLS output can carry as it is, as a list (empty: none)."""
    audio = first_audio(streams, HLS_AUDIO)
    return [audio] if audio is not None else []


class HlsSink(AvSink):
    """AvSink into FFmpeg's HLS muxer: mpegts segments written to a temp name and renamed (`temp_file`), the
    playlist rewritten after each segment. `on_segment(cut_pts)` is called when a segment was published: every
    frame with pts < cut_pts is in a written segment (None at close: all of them)."""

    def __init__(self, folder: Path, facts, width: int, height: int, opts: EncodeOptions, hls_time: float,
                 on_segment: Callable[[int | None], None]):
        folder.mkdir(parents=True, exist_ok=True)
        self.playlist = folder / PLAYLIST
        append = self.playlist.exists()
        super().__init__(str(self.playlist), "hls", facts, width, height, opts, label=str(self.playlist))
        flags = "temp_file+independent_segments" + ("+append_list" if append else "")
        # NOTE: the header (and these options) are written with the first packet, so they can still be set here.
        self.container.container_options.update({
            "hls_time": f"{hls_time:g}", "hls_list_size": "0", "hls_playlist_type": "event", "hls_flags": flags,
            "hls_segment_type": "mpegts", "hls_segment_filename": str(folder / SEGMENTS)})
        self.on_segment, self._stamp = on_segment, self._playlist_stamp()

    def _playlist_stamp(self):
        try:
            st = os.stat(self.playlist)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _mux_video(self, packet) -> None:
        cut = packet.pts                # encoder time base; the muxer rescales the packet in place
        super()._mux_video(packet)
        stamp = self._playlist_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self.on_segment(cut)

    def close(self) -> None:
        super().close()
        self.on_segment(None)


class _Window:
    """Rate over the last n events."""

    def __init__(self, n: int = 50):
        self.times: deque[float] = deque(maxlen=n)

    def add(self, t: float) -> None:
        self.times.append(t)

    def rate(self) -> float:
        t = self.times
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0


class StreamWorker:
    """Everything the server keeps for one stream key: model (as a `Running`), timeline, counters."""

    def __init__(self, name: str, key: str, model: Model, hls_root: Path, options: LiveOptions | None = None,
                 make_step: Callable[[Model, bool], Step] | None = None, log: Callable[[str], None] | None = None,
                 running: Running | None = None):
        self.name, self.key = name, key
        self.options = options or LiveOptions()
        self.folder = Path(hls_root) / name
        self.make_step = make_step or (lambda m, mono: FrameStep(m, self.options.backend, mono))
        self.log = log or (lambda text: None)
        self.running = running or Running.initial(model, name)     # (a restored one: pysr/live/state.py)
        self._next: Running | None = None
        self._lock = threading.Lock()
        self.update_lock = threading.Lock()     # held by the control API while it checks an update
        self.state = "waiting"          # waiting (for a publisher) | live
        self.sessions = 0
        self.frames_in = self.frames_out = 0    # over all sessions
        self.dropped = 0
        self.gaps = 0                   # frames missing from the input's timeline (nginx drops for a slow worker)
        self.segments = 0
        self.lr_size = self.hr_size = None
        self.swaps: list[dict] = []
        self.last_lost: str | None = None
        self._pending: deque[tuple[int, float]] = deque()     # (pts, decoded at) of frames not yet in a segment
        self._lat_last: list[float] = []
        self._lat_sum, self._lat_n, self._lat_max = 0.0, 0, 0.0
        self._fps = _Window()
        self._offset = 0                # added to the input pts: one timeline over sessions
        self._next_pts: int | None = None
        self._frame_step = 40
        self._stop = threading.Event()
        self._mono = False
        self._first_in: int | None = None
        self._last_in: int | None = None
        self._gap_step: int | None = None
        self._step: Step | None = None
        self._refined_before = 0       # TCSR frames of the ended sessions (cascade steps)
        self._tcsr_policy: str | None = None

    # -- control thread ------------------------------------------------------------------------------------------

    def offer(self, new: Running) -> None:
        """Hand a checked model over; the worker runs it from its next frame. A later offer replaces an untaken one."""
        with self._lock:
            self._next = new

    def latest(self) -> Running:
        """The model the stream runs, or the one it will run from its next frame: updates are checked against it."""
        with self._lock:
            return self._next or self.running

    def warm(self, model: Model) -> None:
        """Compile the model's plan for this stream's frame size off the worker thread, so the swap costs no frame."""
        if self.lr_size is not None:
            warm(model, self.options.backend, self._mono, *self.lr_size)

    def status(self) -> dict:
        with self._lock:
            lat = self._lat_last
            return {
                "state": self.state, "sessions": self.sessions, "frames_in": self.frames_in,
                "frames_out": self.frames_out, "fps": round(self._fps.rate(), 2),
                "latency_ms": {"last_segment": round(1000 * sum(lat) / len(lat), 1) if lat else None,
                               "mean": round(1000 * self._lat_sum / self._lat_n, 1) if self._lat_n else None,
                               "max": round(1000 * self._lat_max, 1) if self._lat_n else None},
                "queue_depth": self.frames_in - self.frames_out - self.dropped if self.state == "live" else 0,
                "dropped_frames": self.dropped + self.gaps, "ingest_gaps": self.gaps, "segments": self.segments,
                "model_version": self.running.version, "model": repr(self.running.model),
                "pending_update": self._next.version if self._next is not None else None,
                "swaps": list(self.swaps), "lr": self.lr_size, "hr": self.hr_size,
                "playlist": str(self.folder / PLAYLIST), "last_input_end": self.last_lost,
                **self._cascade_status(),
            }

    def _cascade_status(self) -> dict:
        if self._tcsr_policy is None:
            return {}
        step = self._step
        now = step.refined if isinstance(step, CascadeStep) else 0
        return {"tcsr": {"policy": self._tcsr_policy, "refined_frames": self._refined_before + now}}

    def stop(self) -> None:
        self._stop.set()

    # -- server thread -------------------------------------------------------------------------------------------

    def run_session(self, container, label: str) -> pipeline.Stats:
        """Serve one publish until its input ends, is lost, or `stop()`; the playlist is closed (ENDLIST) after."""
        source = RtmpSource(container, label)
        try:
            return self._run(source)
        finally:
            source.close()

    def _run(self, source: RtmpSource) -> pipeline.Stats:
        facts = source.facts
        self._mono = facts.mono
        model = self.running.model
        if model.facts.get("temporal", "single") != "single":
            raise MediaError(f"stream {self.name}: model {model!r} is temporal; this server stage runs single-frame "
                             "models", "the cascade (pysr/stream/cascade.py) plugs in as the worker's step")
        s = model.scale
        width, height = facts.width * s, facts.height * s
        rate = facts.rate or 25
        self._frame_step = max(1, round(1 / (rate * facts.time_base)))
        self._time_base = facts.time_base
        self._gap_step = self._frame_step if facts.rate else None      # an unknown rate cannot tell a gap
        keyint = max(1, round(self.options.hls_time * rate))
        o = self.options
        x264 = {"preset": "veryfast", "tune": "zerolatency", "x264-params": f"keyint={keyint}:scenecut=0"}
        opts = EncodeOptions("libx264", None if o.bitrate else o.crf, o.bitrate, "yuv420p", x264)
        step = self.make_step(model, facts.mono)
        self._step = step
        if isinstance(step, CascadeStep):
            self._tcsr_policy = step.policy
        sink = HlsSink(self.folder, facts, width, height, opts, o.hls_time, self._segment_written)
        with self._lock:
            self.lr_size, self.hr_size = [facts.width, facts.height], [width, height]
            self.sessions += 1
            self.state = "live"
            self._fps = _Window()
            self._pending.clear()
        self._first_in = self._last_in = None
        done_before = self.frames_out
        try:
            stats = pipeline.run(_Tap(source, self), _Stage(step, self), _Counted(sink, self))
            if stats.interrupted:
                self._stop.set()
            sink.close()                # flush the encoder; the muxer writes the last segment and #EXT-X-ENDLIST
        except BaseException:
            sink.abort()
            raise
        finally:
            with self._lock:
                self.state = "waiting"
                self.last_lost = source.lost
                self.dropped = self.frames_in - self.frames_out       # decoded, never encoded (a failed session)
                self._refined_before += getattr(step, "refined", 0)
                self._step = None
                self._fps = _Window()
        self.log(f"stream {self.name}: session {self.sessions} ended after {self.frames_out - done_before} frames "
                 f"({source.lost or 'end of input'}); playlist closed")
        return stats

    def _take_update(self, step: Step, frame: Decoded) -> None:
        with self._lock:
            new, self._next = self._next, None
            if new is None:
                return
            self.running = new
            self.swaps.append({"version": new.version, "frame": frame.index, "pts": frame.pts})
        step.swap(new.model)
        self.log(f"stream {self.name}: model v{new.version} from frame {frame.index}")

    def _decoded(self, item: Decoded) -> Decoded:
        if self._first_in is None:
            self._first_in = item.pts if item.pts is not None else 0
            if self._next_pts is not None:
                self._offset = self._next_pts - self._first_in
        pts = (item.pts if item.pts is not None else self._first_in) + self._offset
        gap = 0
        if item.pts is not None:
            if self._gap_step and self._last_in is not None and item.pts - self._last_in > 1.5 * self._gap_step:
                gap = round((item.pts - self._last_in) / self._gap_step) - 1
            self._last_in = item.pts
        now = time.monotonic()
        with self._lock:
            self.gaps += gap
            index = self.frames_in
            self.frames_in += 1
            self._pending.append((pts, now))
        return Decoded(index, pts, item.image)

    def _audio(self, packet):
        """An audio packet moved onto the stream's timeline by the session's offset, as its frames are."""
        shift = round(self._offset * self._time_base / packet.time_base)
        if packet.pts is not None:
            packet.pts += shift
        if packet.dts is not None:
            packet.dts += shift
        return packet

    def _encoded(self, pts: int | None) -> None:
        with self._lock:
            self.frames_out += 1
            self._fps.add(time.monotonic())
            if pts is not None:
                self._next_pts = pts + self._frame_step

    def _segment_written(self, cut: int | None) -> None:
        now = time.monotonic()
        with self._lock:
            lat = []
            while self._pending and (cut is None or self._pending[0][0] < cut):
                lat.append(now - self._pending.popleft()[1])
            if lat:                     # (the first packet after a reconnect rewrites the playlist: no segment)
                self.segments += 1
                self._lat_last = lat
                self._lat_sum += sum(lat)
                self._lat_n += len(lat)
                self._lat_max = max(self._lat_max, max(lat))


class _Tap:
    """The source as the pipeline sees it: frames and audio packets on the stream's timeline, timed, stoppable.
    Audio that comes before the session's first frame waits for it (the timeline's offset is set there)."""

    HELD = 256                  # audio packets held at most before the first frame (about 5 s of AAC)

    def __init__(self, source: RtmpSource, worker: StreamWorker):
        self.source, self.worker = source, worker

    def items(self):
        held, w = [], self.worker
        for item in self.source.items():
            if w._stop.is_set():
                return
            if isinstance(item, Decoded):
                yield w._decoded(item)
                yield from map(w._audio, held)
                held.clear()
            elif w._first_in is None:
                held = [*held[-(self.HELD - 1):], item]
            else:
                yield w._audio(item)


class _Stage:
    def __init__(self, step: Step, worker: StreamWorker):
        self.step, self.worker = step, worker

    def push(self, frame: Decoded) -> list[Decoded]:
        if self.worker._next is not None:
            self.worker._take_update(self.step, frame)
        return self.step.push(frame)

    def flush(self) -> list[Decoded]:
        return self.step.flush()


class _Counted:
    """The sink, counting what it was given."""

    def __init__(self, sink: HlsSink, worker: StreamWorker):
        self.sink, self.worker, self.label = sink, worker, sink.label

    def write(self, image: np.ndarray, pts: int | None) -> None:
        self.sink.write(image, pts)
        self.worker._encoded(pts)

    def copy_packet(self, packet) -> None:
        self.sink.copy_packet(packet)
