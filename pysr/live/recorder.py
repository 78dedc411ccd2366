"""`pysr webrtc --record DIR`: a peer's upscaled frames written to a file as they are sent back.

    UpscaledTrack.recv ─▶ Recorder.put (never waits; a full queue — 32 frames — drops the frame, counted)
        ─▶ its own thread: libx264 (veryfast, crf 20) ─▶ DIR/<peer>-<date>-<time>.mkv.part ─▶ renamed at close

Timestamps are the frames' own (RTP's 90 kHz clock, as received: a dropped frame leaves a gap, so the file plays
at the pace the peer sent). A frame whose size differs from the first (a sender adapting to its bandwidth) is
scaled to the recording's size, so one file holds the whole call. The file carries `.part` until `close` has
flushed the encoder and finished the container; a recording cut short (the process killed) keeps that name, so it
is never taken for a complete one. A peer that sent no frame leaves no file.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from fractions import Fraction
from pathlib import Path

import av

CLOCK = Fraction(1, 90000)          # RTP's video clock: the frames' time base


class Recorder:
    def __init__(self, path: Path, crf: float = 20.0, depth: int = 32, log=print):
        self.path, self.part = path, path.with_name(path.name + ".part")
        self.crf, self.log = crf, log
        self.frames = self.dropped = 0
        self.size: tuple[int, int] | None = None
        self.error: str | None = None
        self._q: queue.Queue = queue.Queue(depth)
        self._thread = threading.Thread(target=self._run, name=f"pysr-record-{path.stem}", daemon=True)
        self._thread.start()

    def put(self, frame: av.VideoFrame) -> None:
        """Hand a frame over; never waits (the encoder behind: the frame is dropped and counted)."""
        if self.error is not None:
            return
        try:
            self._q.put_nowait(frame)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 60.0) -> Path | None:
        """Flush and finish the file; returns its path (None: no frame came, or writing failed)."""
        if self._thread.is_alive():
            self._q.put(None)           # the thread consumes until it sees this, even after an error
            self._thread.join(timeout)
        if self.error is not None or not self.frames:
            return None
        return self.path

    def _run(self) -> None:
        container = stream = last = None
        ended = False
        try:
            while (frame := self._q.get()) is not None:
                if stream is None:
                    self.size = (frame.width, frame.height)
                    container = av.open(str(self.part), "w", format="matroska")
                    stream = container.add_stream("libx264", rate=30)
                    stream.width, stream.height, stream.pix_fmt = *self.size, "yuv420p"
                    stream.time_base = CLOCK
                    stream.options = {"preset": "veryfast", "crf": f"{self.crf:g}"}
                pts = frame.pts if frame.pts is not None else (last or 0) + 3000
                if last is not None and pts <= last:        # a repeated or reordered timestamp
                    self.dropped += 1
                    continue
                if (frame.width, frame.height) != self.size or frame.format.name != "yuv420p":
                    frame = frame.reformat(width=self.size[0], height=self.size[1], format="yuv420p")
                frame.pts, frame.time_base, last = pts, CLOCK, pts
                for packet in stream.encode(frame):
                    container.mux(packet)
                self.frames += 1
            ended = True
            if container is not None:
                for packet in stream.encode(None):
                    container.mux(packet)
                container.close()
                container = None
                os.replace(self.part, self.path)
        except (av.FFmpegError, OSError, ValueError) as err:
            self.error = str(err)
            self.log(f"recording {self.path.name} failed ({err}); the frames that came after are not recorded")
            while not ended and self._q.get() is not None:     # drain until close() says stop
                pass
        finally:
            if container is not None:
                with contextlib.suppress(av.FFmpegError, OSError):
                    container.close()
