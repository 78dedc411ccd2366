"""decode thread → inference (caller's thread) → encode thread, through two bounded queues.

    source.items() ──q_in──▶ stage.push(frame) ──q_out──▶ sink.write / sink.copy_packet
     (decode thread)          (this thread)                (encode thread)

numba and PyAV release the GIL, so the three stages overlap on separate cores. The queues are bounded
(a few frames), so a slow stage throttles the others and memory stays flat. Audio/subtitle packets travel
the same queues as the frames, keeping demux order. Inference runs in the calling thread so that Ctrl-C
(KeyboardInterrupt) lands there: decoding is told to stop, the frames already inferred are still encoded,
and the caller then closes the sink, which flushes the encoder — the partial output plays, and
`sink.frames` / `sink.packets_done` say exactly what it holds.

The inference stage is a `Stage`: `push(frame)` returns the output frames that are ready (0 or more, in
input order, each carrying its own input frame's index and pts) and `flush()` the ones still held at the end
of the stream. A single-frame model returns its frame at once; a temporal model's session may hold some back
(latency). The muxer interleaves by timestamp, so video that trails the copied packets is fine.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pysr.errors import MediaError
from pysr.video.reader import Decoded

_END = object()


@dataclass
class Stats:
    frames: int = 0                 # frames inferred and sent to the encoder in this run
    decode_s: float = 0.0           # decode + YUV→RGB, summed over the decode thread
    infer_s: float = 0.0
    encode_s: float = 0.0           # RGB→YUV + encode + mux
    wall_s: float = 0.0
    interrupted: bool = False
    skipped: int = 0                # decoded frames dropped unseen (resume)
    warmup: int = 0                 # frames run through the model again with their outputs dropped (resume)
    extra: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else 0.0


class Stage(Protocol):
    def push(self, frame: Decoded) -> list[Decoded]: ...

    def flush(self) -> list[Decoded]: ...


class _Failure:
    def __init__(self, err: BaseException):
        self.err = err


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def run(source, stage: Stage, sink, *, skip_frames: int = 0, warmup: int = 0,
        skip_packets: dict[int, int] | None = None, max_frames: int | None = None,
        on_frame: Callable[[int], None] | None = None, depth: int = 4) -> Stats:
    """Run the three stages until the input ends, `max_frames` frames after `skip_frames` are done, or Ctrl-C.

    The first `skip_frames` frames and the first `skip_packets[i]` packets of copied stream i are not written
    (resume): of those frames the last `warmup` still go through the stage, so that a temporal model's state is
    what it was, and their outputs are dropped; the ones before are dropped as they are decoded. At the end of
    the input (not at Ctrl-C: the held frames' outputs would assume the stream ends there) `stage.flush()` gives
    the last outputs. `on_frame(n)` is called in this thread after each frame sent to the encoder. Returns the
    stats; stats.interrupted is True after a KeyboardInterrupt (the sink is left open for the caller to close).
    Errors of any stage are raised here after the other stages stopped.
    """
    first_pushed = skip_frames - min(warmup, skip_frames)
    stats = Stats()
    q_in: queue.Queue = queue.Queue(depth)
    q_out: queue.Queue = queue.Queue(depth)
    stop_decode, stop_encode = threading.Event(), threading.Event()
    skip_packets = dict(skip_packets or {})
    failures: list[BaseException] = []

    def decode() -> None:
        try:
            seen = {}
            items = iter(source.items())
            while not stop_decode.is_set():
                t0 = time.perf_counter()
                item = next(items, _END)
                stats.decode_s += time.perf_counter() - t0
                if item is _END:
                    break
                if isinstance(item, Decoded):
                    if item.index < first_pushed:
                        stats.skipped += 1
                        continue
                    if max_frames is not None and item.index >= skip_frames + max_frames:
                        break
                else:
                    i = item.stream.index
                    seen[i] = seen.get(i, 0) + 1
                    if seen[i] <= skip_packets.get(i, 0):
                        continue
                if not _put(q_in, item, stop_decode):
                    return
        except BaseException as err:  # noqa: BLE001 (handed to the caller's thread)
            _put(q_in, _Failure(err), stop_decode)
            return
        _put(q_in, _END, stop_decode)

    def encode() -> None:
        while True:
            item = q_out.get()
            if item is _END:
                return
            if failures:
                continue            # drain so the inference thread never blocks
            t0 = time.perf_counter()
            try:
                if isinstance(item, Decoded):
                    sink.write(item.image, item.pts)
                else:
                    sink.copy_packet(item)
            except BaseException as err:  # noqa: BLE001
                failures.append(err)
                stop_decode.set()
                stop_encode.set()
            stats.encode_s += time.perf_counter() - t0

    def send(outs: list[Decoded]) -> None:
        for out in outs:
            if out.index < skip_frames:
                stats.warmup += 1       # already in the output: only the model's state needed it
                continue
            stats.frames += 1
            q_out.put(out)
            if on_frame is not None:
                on_frame(stats.frames)

    t_dec = threading.Thread(target=decode, name="pysr-decode", daemon=True)
    t_enc = threading.Thread(target=encode, name="pysr-encode", daemon=True)
    t_start = time.perf_counter()
    t_dec.start()
    t_enc.start()
    try:
        while not stop_encode.is_set():
            try:
                item = q_in.get(timeout=0.1)
            except queue.Empty:
                if not t_dec.is_alive() and q_in.empty():
                    break
                continue
            if item is _END:
                break
            if isinstance(item, _Failure):
                raise item.err
            if isinstance(item, Decoded):
                t0 = time.perf_counter()
                outs = stage.push(item)
                stats.infer_s += time.perf_counter() - t0
                send(outs)
            else:
                q_out.put(item)
        if not stop_encode.is_set():    # the input ended (or max_frames): the frames still held
            t0 = time.perf_counter()
            outs = stage.flush()
            stats.infer_s += time.perf_counter() - t0
            send(outs)
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        stop_decode.set()
        q_out.put(_END)             # the encode thread writes what is queued, then stops
        t_enc.join()
        t_dec.join(timeout=5)
        stats.wall_s = time.perf_counter() - t_start
    if failures:
        err = failures[0]
        if isinstance(err, KeyboardInterrupt):
            stats.interrupted = True
        elif isinstance(err, OSError):
            raise MediaError(f"cannot write {getattr(sink, 'label', 'output')}: {err.strerror or err}") from None
        else:
            raise err
    return stats
