"""`pysr push`: a file or y4m on stdin → downscale → H.264 (low latency) → RTMP (FLV) to the server.

    open_source(IN).items() ─▶ [--fps: keep the frames that fall on the new rate] ─▶ downscale to --lr
        ─▶ AvSink(rtmp URL, "flv"): RGB → YUV (pysr/video/colour.py) → libx264 → RTMP
        [--realtime: each frame leaves when its pts is due]

Downscaling uses swscale's bicubic through PyAV (`VideoFrame.reformat`), RGB → RGB: its filter widens with the
reduction factor, so a 1280 → 640 reduction is anti-aliased, and it runs in C without the GIL. The numba
`resize_bicubic_torch` kernel is PyTorch's bicubic — four fixed taps whatever the factor — which aliases when
shrinking by 2 or more (it exists to match PyTorch, for training data). Colour conversion stays ours (stated
matrix and range, tagged on the stream) so the server decodes with the same matrix.

Encoder: libx264, preset veryfast, tune zerolatency (no B-frames, no lookahead: a frame is on the wire as soon as
it is encoded), a keyframe every `keyframe_s` seconds exactly (scene-cut keyframes off, so HLS segments on the
server are regular), ABR at --bitrate with a one-second VBV (maxrate = bufsize·1 s = bitrate) so the uplink
sees a bounded rate.

Reconnect: a failed connect or a dropped connection (any write error) closes the connection, waits 0.5 s,
1 s, 2 s … (at most 8 s) and publishes again to the same URL — same stream key — with a fresh encoder, starting
with a keyframe and resending the frame that failed; the server continues the same stream. At most `retries`
attempts in a row; the count is reset once a connection has carried two keyframe intervals. Frames that were in
the socket's buffers when the connection dropped are lost. With --realtime the pacing restarts at the resent frame.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from pysr.errors import MediaError
from pysr.video.reader import Decoded, StreamFacts, open_source
from pysr.video.writer import AvSink, EncodeOptions, parse_bitrate


@dataclass
class PushConfig:
    input: str
    url: str
    lr: tuple[int, int]                 # width, height
    bitrate: str = "500k"
    fps: float | None = None            # None: the input's rate and timestamps
    realtime: bool = False
    retries: int = 5
    frames: int | None = None
    keyframe_s: float = 2.0


@dataclass
class PushStats:
    frames: int = 0
    reconnects: int = 0
    wall_s: float = 0.0
    late_s: float = 0.0                 # --realtime: the most a frame left after it was due


def say(text: str) -> None:
    print(f"pysr push: {text}", file=sys.stderr, flush=True)


def parse_size(text: str) -> tuple[int, int]:
    w, x, h = text.lower().partition("x")
    if not (x and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
        raise MediaError(f"--lr {text!r}: expected WIDTHxHEIGHT, e.g. 640x360")
    if int(w) % 2 or int(h) % 2:
        raise MediaError(f"--lr {text}: H.264 in 4:2:0 needs an even width and height")
    return int(w), int(h)


def downscale(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """RGB (H×W×3) or grey (H×W) uint8 to width×height with swscale's bicubic (anti-aliased when shrinking)."""
    if image.shape[:2] == (height, width):
        return image
    fmt = "gray" if image.ndim == 2 else "rgb24"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
    return frame.reformat(width=width, height=height, interpolation="BICUBIC").to_ndarray()


def _timed(frames: Iterator[Decoded], facts: StreamFacts, fps: Fraction | None):
    """(frame, seconds from the first, output pts). With `fps`, pts counts 1/fps slots and a frame is kept when it
    opens a slot not taken yet: fewer frames when the rate drops, never a duplicate (no drift either way)."""
    tb, rate = facts.time_base, facts.rate or Fraction(25)
    last, t0 = -1, None
    for f in frames:
        t = f.pts * tb if f.pts is not None else f.index / rate
        t0 = t if t0 is None else t0
        if fps is None:
            yield f, float(t - t0), f.pts if f.pts is not None else round(f.index / rate / tb)
            continue
        slot = int((t - t0) * fps + Fraction(1, 1000))
        if slot > last:
            last = slot
            yield f, float(t - t0), slot


def push(cfg: PushConfig, log=say) -> PushStats:
    width, height = cfg.lr
    bps = parse_bitrate(cfg.bitrate)
    source = open_source(cfg.input)
    try:
        source.warn()
        facts = source.facts
        fps = Fraction(cfg.fps).limit_denominator(1001) if cfg.fps else None
        rate = fps or facts.rate or Fraction(25)
        tb = 1 / fps if fps else facts.time_base
        if abs(width / height - facts.width / facts.height) > 0.01 * facts.width / facts.height:
            log(f"warning: {facts.width}×{facts.height} is stretched to {width}×{height} (another aspect ratio)")
        out = StreamFacts(cfg.url, width, height, tb, rate, None, "libx264", "yuv420p", facts.colour)
        keyint = max(1, round(cfg.keyframe_s * rate))
        opts = EncodeOptions("libx264", None, str(bps), "yuv420p",
                             {"preset": "veryfast", "tune": "zerolatency", "x264-params": f"keyint={keyint}:scenecut=0",
                              "maxrate": str(bps), "bufsize": str(bps)})
        frames = (x for x in source.items() if isinstance(x, Decoded))
        return _send(cfg, _timed(frames, facts, fps), out, opts, keyint, log)
    finally:
        source.close()


def _send(cfg: PushConfig, timed, facts: StreamFacts, opts: EncodeOptions, keyint: int, log) -> PushStats:
    stats = PushStats()
    sink, attempts, carried = None, 0, 0
    anchor = None                       # (wall clock, media seconds) the pacing counts from
    start = time.monotonic()
    try:
        for frame, t, pts in timed:
            if cfg.frames is not None and stats.frames >= cfg.frames:
                break
            lr = downscale(frame.image, *cfg.lr)
            while True:
                if cfg.realtime:
                    anchor = anchor or (time.monotonic(), t)
                    due = anchor[0] + (t - anchor[1])
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    else:
                        stats.late_s = max(stats.late_s, -wait)
                try:
                    if sink is None:
                        sink = AvSink(cfg.url, "flv", facts, *cfg.lr, opts, label=cfg.url)
                    sink.write(lr, pts)
                    carried += 1
                    if carried >= 2 * keyint:
                        attempts = 0
                    break
                except MediaError as err:
                    if sink is not None:
                        sink.abort()
                    sink, carried, anchor = None, 0, None
                    why = str(err).splitlines()[0]
                    if attempts >= cfg.retries:
                        raise MediaError(f"{why}; gave up after {attempts} reconnect attempts in a row",
                                         "is the server up, and is the stream key in its keys file? A refused key is "
                                         "answered by closing the connection") from None
                    attempts += 1
                    stats.reconnects += 1
                    delay = min(0.5 * 2 ** (attempts - 1), 8.0)
                    log(f"connection failed at frame {stats.frames} ({why}); reconnecting in {delay:g} s "
                        f"(attempt {attempts}/{cfg.retries})")
                    time.sleep(delay)
            stats.frames += 1
        if sink is not None:
            sink.close()
            sink = None
    finally:
        if sink is not None:            # Ctrl-C or an error: flush what was encoded, end the RTMP stream
            try:
                sink.close()
            except MediaError:
                sink.abort()
        stats.wall_s = time.monotonic() - start
    return stats
