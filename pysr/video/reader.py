"""Decode a video (PyAV, or y4m on a pipe/file) into RGB uint8 frames with their timestamps.

A source is opened in the caller's thread and decodes its first frame there, so an unreadable file, a
missing video stream or an unsupported codec is reported before any output exists. `items()` then
yields, in demux order, `Decoded` frames of the (first) video stream and the raw packets of the audio and
subtitle streams that the writer copies untouched.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from pysr.errors import MediaError
from pysr.video.colour import Colour, from_tags, warn_if_assumed, yuv_to_rgb
from pysr.video.y4m import PIX_FMT, SUBSAMPLING, Y4mReader

YUV8 = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "yuv410p",
        "yuv411p"}
RGB_LIKE = ("rgb", "bgr", "gbr", "argb", "abgr")


@dataclass
class Decoded:
    index: int                  # 0-based, in presentation order
    pts: int | None             # in `StreamFacts.time_base`
    image: np.ndarray           # H×W×3 uint8 RGB, or H×W uint8 luma for a grey (mono) stream


@dataclass
class StreamFacts:
    name: str
    width: int
    height: int
    time_base: Fraction
    rate: Fraction | None       # nominal frame rate (average), None when unknown
    total: int | None           # frame count from the header, or duration × rate; None when unknown
    codec: str
    pix_fmt: str
    colour: Colour | None       # None for grey streams (no chroma, luma passed through)
    mono: bool = False
    copy_streams: list = field(default_factory=list)   # av streams to remux (audio, subtitles)


def plane_array(plane) -> np.ndarray:
    """A PyAV plane as an H×W uint8 view (line padding dropped)."""
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:plane.height, :plane.width]


def frame_to_image(frame: av.VideoFrame, colour: Colour | None) -> np.ndarray:
    fmt = frame.format.name
    if fmt == "gray" or colour is None:
        return plane_array((frame if fmt == "gray" else frame.reformat(format="gray")).planes[0]).copy()
    if fmt.startswith(RGB_LIKE):
        return frame.to_ndarray(format="rgb24")
    if fmt not in YUV8:                     # 10-bit, semi-planar …: to planar 8-bit YUV, no matrix involved
        frame = frame.reformat(format="yuv444p")
    y, u, v = (plane_array(p) for p in frame.planes[:3])
    return yuv_to_rgb(y, u, v, colour)


# FFmpeg's input devices and generated sources (libavdevice), for the message when one is missing
INPUT_DEVICES = {"v4l2", "video4linux2", "x11grab", "avfoundation", "dshow", "gdigrab", "kmsgrab", "fbdev", "lavfi",
                 "alsa", "pulse", "openal", "jack", "decklink", "android_camera", "vfwcap"}


class AvSource:
    """Any container and codec FFmpeg decodes; with `fmt` (and `options`), any input device or source format of
    PyAV's FFmpeg (a camera through v4l2, a screen through x11grab, a lavfi graph …)."""

    def __init__(self, path: str | Path, fmt: str | None = None, options: dict[str, str] | None = None):
        self.name = str(path)
        if fmt is not None and fmt not in av.formats_available:
            devices = sorted(f for f in av.formats_available if f in INPUT_DEVICES)
            raise MediaError(f"input format {fmt!r} is not in this FFmpeg (PyAV's build)",
                             f"its capture devices and sources: {', '.join(devices) or 'none'}")
        try:
            self.container = av.open(self.name, "r", format=fmt, options=options or {})
        except FileNotFoundError:
            raise MediaError(f"{path}: no such file") from None
        except PermissionError:
            raise MediaError(f"{path}: permission denied") from None
        except (av.FFmpegError, OSError, ValueError) as err:
            raise MediaError(f"{path}: cannot read as image or video ({err})") from None
        try:
            self._open()
        except BaseException:
            self.container.close()
            raise

    def _open(self) -> None:
        c = self.container
        if not c.streams.video:
            kinds = ", ".join(s.type for s in c.streams) or "none"
            raise MediaError(f"{self.name}: no video stream (streams: {kinds})")
        vs = self.stream = c.streams.video[0]
        if vs.codec_context is None:
            raise MediaError(f"{self.name}: video codec {vs.codec_parameters.name!r} is not supported by this FFmpeg")
        vs.thread_type = "AUTO"
        copy = [s for s in c.streams if s.type in ("audio", "subtitle")]
        self._raw = self._demux([vs, *copy])
        self._ahead: list = []
        first = None
        for item in self._raw:
            self._ahead.append(item)
            if isinstance(item, av.VideoFrame):
                first = item
                break
        if first is None:
            raise MediaError(f"{self.name}: the video stream holds no decodable frame")
        mono = first.format.name == "gray"
        colour = None
        if not mono:
            cc = vs.codec_context
            colour = from_tags(first.colorspace if first.colorspace != 2 else cc.colorspace,
                               first.color_range or cc.color_range, first.height, first.format.name)
            if first.format.name.startswith(RGB_LIKE):
                colour = Colour(colour.matrix, colour.range)     # RGB needs no matrix: nothing assumed
        tb = vs.time_base or Fraction(1, 1)
        rate = vs.average_rate or vs.guessed_rate
        total = vs.frames or None
        if total is None and rate:
            if vs.duration:
                total = round(vs.duration * tb * rate)
            elif c.duration:
                total = round(Fraction(c.duration, av.time_base) * rate)
        self.facts = StreamFacts(self.name, first.width, first.height, tb, Fraction(rate) if rate else None, total,
                                 vs.codec_context.name, first.format.name, colour, mono, copy)

    def _demux(self, streams) -> Iterator:
        try:
            for packet in self.container.demux(streams):
                if packet.stream.type != "video":
                    if packet.dts is not None or packet.size:
                        yield packet
                    continue
                yield from packet.decode()
        except av.FFmpegError as err:
            raise MediaError(f"{self.name}: cannot decode ({err})") from None

    def items(self) -> Iterator:
        index, colour = 0, self.facts.colour
        ahead, self._ahead = self._ahead, []
        for x in itertools.chain(ahead, self._raw):
            if isinstance(x, av.VideoFrame):
                if (x.width, x.height) != (self.facts.width, self.facts.height):
                    raise MediaError(f"{self.name}: frame {index} is {x.width}×{x.height}, the stream started "
                                     f"at {self.facts.width}×{self.facts.height} (size changes are not supported)")
                yield Decoded(index, x.pts, frame_to_image(x, colour))
                index += 1
            else:
                yield x

    def warn(self) -> None:
        if self.facts.colour is not None:
            warn_if_assumed(self.facts.colour, self.name, stacklevel=2)

    def close(self) -> None:
        self.container.close()


class Y4mSource:
    """YUV4MPEG2 from a pipe (`-`) or a .y4m file; pts = frame index in 1/rate."""

    def __init__(self, path: str | Path):
        self.name = "stdin" if str(path) == "-" else str(path)
        if str(path) == "-":
            self._file = sys.stdin.buffer
        else:
            try:
                self._file = open(path, "rb")  # noqa: SIM115 (closed in close())
            except OSError as err:
                raise MediaError(f"{path}: cannot open ({err.strerror})") from None
        try:
            self.reader = Y4mReader(self._file, self.name)
            self._frames = iter(self.reader)
            self._first = next(self._frames, None)
        except BaseException:
            self.close()
            raise
        if self._first is None:
            self.close()
            raise MediaError(f"{self.name}: the y4m stream holds no frame")
        h = self.reader.header
        mono = h.chroma == "mono"
        rng = {"limited": 1, "full": 2}.get(h.color_range)
        colour = None if mono else from_tags(None, rng, h.height)
        self.facts = StreamFacts(self.name, h.width, h.height, 1 / h.rate, h.rate, None, "rawvideo",
                                 PIX_FMT[h.chroma], colour, mono)

    def planes(self) -> Iterator[list[np.ndarray]]:
        first, self._first = self._first, None
        if first is not None:
            yield first
        yield from self._frames

    def items(self) -> Iterator[Decoded]:
        sub = SUBSAMPLING[self.reader.header.chroma]
        for i, p in enumerate(self.planes()):
            img = p[0].copy() if sub is None else yuv_to_rgb(p[0], p[1], p[2], self.facts.colour)
            yield Decoded(i, i, img)

    def warn(self) -> None:
        if self.facts.colour is not None:
            warn_if_assumed(self.facts.colour, self.name, stacklevel=2)

    def close(self) -> None:
        if self._file is not sys.stdin.buffer:
            self._file.close()


def open_source(path: str | Path, fmt: str | None = None, options: dict[str, str] | None = None
                ) -> AvSource | Y4mSource:
    """y4m (a file, or stdin as "-") or anything FFmpeg opens; `fmt`/`options`: FFmpeg's `-f` and its input
    options, for capture devices (v4l2, x11grab, avfoundation, dshow …) and lavfi graphs."""
    if fmt is None and (str(path) == "-" or str(path).lower().endswith(".y4m")):
        return Y4mSource(path)
    return AvSource(path, fmt, options)
