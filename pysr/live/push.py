"""`pysr push`: a file, y4m on stdin or a capture device → downscale → H.264 (low latency) → RTMP (FLV) to the
server.

    open_source(IN).items() ─▶ [--fps: keep the frames that fall on the new rate] ─▶ downscale to --lr
        ─▶ AvSink(rtmp URL, "flv"): RGB → YUV (pysr/video/colour.py) → libx264 → RTMP
    the first audio stream ─▶ AudioTranscoder (pysr/video/audio.py) ─▶ AvSink.write_audio: AAC in the same FLV
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

--train (docs/live.md, "Streamer and online trainer"): AvSink shows every encoded packet to a `KeyframeTap`,
which decodes each keyframe with a fresh decoder — exactly the frame the server's decoder produces — and the pair
(source frame at scale × LR, decoded keyframe) goes to the monitor's thread (pysr/live/trainer.py), which measures
the deployed model's gain, feeds the trainer and decides when it trains; updates go out through
pysr/live/publisher.py within --uplink. The video loop only hands frames over: it never waits for training.

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
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np

from pysr.errors import InputError, MediaError
from pysr.video.audio import AudioTranscoder, first_audio
from pysr.video.colour import from_tags
from pysr.video.reader import Decoded, StreamFacts, frame_to_image, open_source
from pysr.video.writer import AvSink, EncodeOptions, parse_bitrate

if TYPE_CHECKING:
    from pysr.live.publisher import UpdatePublisher
    from pysr.live.trainer import OnlineTrainer, TrainingControl


AUDIO_BPS = (8_000, 512_000)            # --audio-bitrate range (AAC)


@dataclass
class TrainOptions:
    """`pysr push --train`: the online trainer beside the stream (docs/live.md)."""

    model: str                          # .pysr or shipped name: the model `pysr serve -m` runs the stream with
    control: str                        # http://HOST:PORT of the server's control API
    uplink: str                         # "1M": video bitrate + update bitrate stay within it
    key: str | None = None              # signs the updates; None: the URL's last path element (the stream key)
    stream: str | None = None           # the stream's NAME on the server (keys file); None: the key
    th_s: float = 2.5                   # THs, dB over bicubic
    steps: int = 3000                   # the step budget of one training run
    eval_steps: int = 100               # the candidate is evaluated every this many steps (or 10 s)
    threads: int = 1                    # torch threads
    margin: float = 0.1                 # share of the uplink kept free
    backend: str = "cpu"                # engine backend of the monitor's gains
    probe_s: float | None = 10.0        # a probe run after this many seconds without training (None: no probes)
    recent: int | None = 8              # keyframes a scene change's or a probe's run learns from (None: all 32)
    keep: int = 4                       # scenes whose model is kept for recall (0: none)


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
    train: TrainOptions | None = None
    audio_bitrate: str = "64k"          # AAC of the input's first audio stream; "0": no audio
    input_format: str | None = None     # FFmpeg's -f for the input: a capture device (v4l2, x11grab …) or lavfi
    input_options: dict[str, str] = field(default_factory=dict)    # its options (video_size, framerate …)


@dataclass
class PushStats:
    frames: int = 0
    reconnects: int = 0
    wall_s: float = 0.0
    late_s: float = 0.0                 # --realtime: the most a frame left after it was due
    audio_frames: int = 0               # AAC frames handed to the muxer


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


class KeyframeTap:
    """AvSink's `on_packet`: each keyframe packet decoded by a fresh decoder (an IDR frame needs no earlier one)
    given the encoder's headers, turned into RGB as the server's reader does (`frame_to_image`, colour from the
    stream's tags). `take()` returns [(pts, image)] since the last call. A keyframe that fails to decode is said and
    skipped: the tap never fails the video."""

    def __init__(self, log=say):
        self.log, self._out = log, []

    def __call__(self, packet, encoder) -> None:
        if not packet.is_keyframe:
            return
        try:
            dec = av.CodecContext.create(encoder.codec.canonical_name, "r")
            dec.extradata = encoder.extradata
            dec.thread_count = 1
            frames = [*dec.decode(packet), *dec.decode(None)]
        except (av.FFmpegError, ValueError) as err:
            self.log(f"keyframe at pts {packet.pts} could not be decoded for training ({err}); skipped")
            return
        for f in frames:
            colour = from_tags(f.colorspace, f.color_range, f.height, f.format.name)
            self._out.append((packet.pts, frame_to_image(f, colour)))

    def take(self) -> list[tuple[int, np.ndarray]]:
        out, self._out = self._out, []
        return out


@dataclass
class LiveTraining:
    control: TrainingControl
    trainer: OnlineTrainer
    publisher: UpdatePublisher
    hr_size: tuple[int, int]            # width, height of the training targets: scale × --lr

    def close(self, log, wait: bool = True) -> None:
        self.control.close(wait)
        self.publisher.close(60.0 if wait else 0)
        c, p = self.control, self.publisher
        log(f"training: {c.keyframes} keyframes measured ({c.skipped} skipped), {self.trainer.steps} steps, "
            f"{self.trainer.published} models exported, {p.sent} updates sent ({p.bytes} bytes), {p.accepted} "
            f"accepted; the server runs model v{c.version}")


def start_training(cfg: PushConfig, video_bps: int, log=say) -> LiveTraining:
    """Load the model, check the uplink leaves room for updates (UplinkError at start if not), start the trainer,
    the monitor's thread and the update sender."""
    import pysr
    from pysr.live.publisher import HttpTransport, UpdatePublisher
    from pysr.live.stop_rule import StopRule
    from pysr.live.trainer import ControlConfig, OnlineTrainer, ProbeConfig, TrainerConfig, TrainingControl
    from pysr.live.uplink import UplinkBudget

    opts = cfg.train
    key = opts.key or cfg.url.rstrip("/").rsplit("/", 1)[-1]
    uplink = parse_bitrate(opts.uplink)
    budget = UplinkBudget(float(uplink), opts.margin)
    rate = budget.update_rate(video_bps)
    transport = HttpTransport(opts.control)
    model = pysr.load(opts.model)
    width, height = cfg.lr
    hr_size = (width * model.scale, height * model.scale)
    trainer = OnlineTrainer(model, TrainerConfig(eval_steps=opts.eval_steps, budget_steps=opts.steps,
                                                   threads=opts.threads), log=log)
    probe = None if opts.probe_s is None else ProbeConfig(every_s=opts.probe_s)
    control = TrainingControl(model, trainer, ControlConfig(stop=StopRule(th_s=opts.th_s), backend=opts.backend,
                                                            probe=probe, recent=opts.recent, keep=opts.keep),
                              log=log)
    publisher = UpdatePublisher(transport, key, opts.stream or key, model, budget, video_bps, control.accepted,
                                log=log)
    trainer.publish = lambda m, gain: publisher.submit(m)
    control.planes.warm(model, width, height)
    log(f"online training of {model!r} on keyframes, HR targets {hr_size[0]}×{hr_size[1]}; uplink {uplink / 1e3:.0f} "
        f"kbit/s = video {video_bps / 1e3:.0f} + updates {rate * 8 / 1e3:.0f} + margin {opts.margin:.0%} (chunks of "
        f"{publisher.chunk} bytes); {control.threshold_text()}, run budget {opts.steps} steps")
    publisher.start()
    trainer.launch()
    control.launch()
    return LiveTraining(control, trainer, publisher, hr_size)


def _timed(items: Iterator, facts: StreamFacts, fps: Fraction | None, audio=None):
    """(frame, seconds from the first, output pts) per video frame, and the packets of the `audio` stream as they
    are. With `fps`, pts counts 1/fps slots from the first frame and a frame is kept when it opens a slot not taken
    yet: fewer frames when the rate drops, never a duplicate (no drift either way). The first frame's time is the
    audio's origin with `fps` (0 without: pts are the input's), said by an `_Origin` before that frame; audio
    packets that come before it follow it (the connection opens with the first frame)."""
    tb, rate = facts.time_base, facts.rate or Fraction(25)
    last, t0, held = -1, None, []
    for f in items:
        if not isinstance(f, Decoded):
            if audio is not None and f.stream is audio:
                if t0 is None:
                    held.append(f)
                else:
                    yield f
            continue
        t = f.pts * tb if f.pts is not None else f.index / rate
        if t0 is None:
            t0 = t
            yield _Origin(float(t0) if fps is not None else 0.0)
        if fps is None:
            yield f, float(t - t0), f.pts if f.pts is not None else round(f.index / rate / tb)
        else:
            slot = int((t - t0) * fps + Fraction(1, 1000))
            if slot > last:
                last = slot
                yield f, float(t - t0), slot
        yield from held
        held.clear()


@dataclass(frozen=True)
class _Origin:
    seconds: float                      # the media time output pts count from (the audio's origin)


def push(cfg: PushConfig, log=say) -> PushStats:
    width, height = cfg.lr
    bps = parse_bitrate(cfg.bitrate)
    source = open_source(cfg.input, cfg.input_format, cfg.input_options)
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
        audio = _audio(cfg, facts, log)
        live = start_training(cfg, bps + (audio.spec.bitrate if audio else 0), log) if cfg.train is not None else None
        if live is not None and (facts.width < live.hr_size[0] or facts.height < live.hr_size[1]):
            log(f"warning: the source ({facts.width}×{facts.height}) is smaller than the training targets "
                f"({live.hr_size[0]}×{live.hr_size[1]}, scale × --lr): they are upsampled")
        done = False
        try:
            stats = _send(cfg, _timed(source.items(), facts, fps, audio and audio.stream), out, opts, keyint, log,
                          live, audio)
            done = True
            return stats
        finally:
            if live is not None:
                live.close(log, wait=done)
    finally:
        source.close()


def audio_bitrate(text: str) -> int:
    """--audio-bitrate: bits per second, 0 for no audio."""
    if text.strip() == "0":
        return 0
    try:
        bps = parse_bitrate(text)
    except MediaError:
        raise InputError(f"--audio-bitrate {text!r}: expected a bitrate such as 64k, or 0 for no audio") from None
    if not AUDIO_BPS[0] <= bps <= AUDIO_BPS[1]:
        raise InputError(f"--audio-bitrate {text}: AAC takes {AUDIO_BPS[0] // 1000}k to {AUDIO_BPS[1] // 1000}k "
                         "(0: no audio)")
    return bps


def _audio(cfg: PushConfig, facts: StreamFacts, log) -> AudioTranscoder | None:
    bps = audio_bitrate(cfg.audio_bitrate)
    stream = first_audio(facts.copy_streams)
    if not bps or stream is None:
        return None
    try:
        audio = AudioTranscoder(stream, bps)
    except MediaError as err:
        log(f"warning: {err}; the stream goes without audio")
        return None
    a = audio.spec
    log(f"audio: {stream.codec_context.name} {stream.rate} Hz → AAC {a.layout} {a.rate} Hz at {a.bitrate // 1000} "
        "kbit/s")
    return audio


def _send(cfg: PushConfig, timed, facts: StreamFacts, opts: EncodeOptions, keyint: int, log,
          live: LiveTraining | None = None, audio: AudioTranscoder | None = None) -> PushStats:
    stats = PushStats()
    sink, attempts, carried = None, 0, 0
    tap = KeyframeTap(log) if live is not None else None
    recent: dict[int, tuple[float, np.ndarray]] = {}    # pts -> (seconds, source frame) of the last frames sent
    last_key = -1.0
    anchor = None                       # (wall clock, media seconds) the pacing counts from
    start = time.monotonic()
    try:
        for item in timed:
            if cfg.frames is not None and stats.frames >= cfg.frames:
                break
            if isinstance(item, _Origin):
                if audio is not None:
                    audio.origin_s = item.seconds
                continue
            if not isinstance(item, tuple):     # an audio packet: sent with the connection that is up
                for f in audio.frames(item):
                    if sink is not None:
                        _write_audio(sink, f, stats)
                continue
            frame, t, pts = item
            lr = downscale(frame.image, *cfg.lr)
            if tap is not None:
                recent[pts] = (t, frame.image)
                if len(recent) > 16:
                    del recent[next(iter(recent))]
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
                        sink = AvSink(cfg.url, "flv", facts, *cfg.lr, opts, label=cfg.url, on_packet=tap,
                                      audio=audio and audio.spec)
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
            for key_pts, image in tap.take() if tap is not None else ():
                t_key, source_image = recent.get(key_pts, (None, None))
                if t_key is not None and t_key > last_key:      # a keyframe resent after a reconnect counts once
                    last_key = t_key
                    live.control.submit(t_key, downscale(source_image, *live.hr_size), image)
        if sink is not None:
            for f in audio.frames(None) if audio is not None else ():
                _write_audio(sink, f, stats)
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


def _write_audio(sink: AvSink, frame, stats: PushStats) -> None:
    try:
        sink.write_audio(frame)
        stats.audio_frames += 1
    except MediaError:          # the video's next write finds the connection down and reconnects
        pass
