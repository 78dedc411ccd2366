"""Encode RGB frames and mux them with the input's audio/subtitle packets copied (no re-encode).

Video timestamps are the input's: each frame is encoded with the input frame's pts in the input stream's
time base (the encoder's time base), so variable frame rate survives; the muxer only rescales. Colour is
converted with the same matrix and range as the input and the stream is tagged with them. A null sink
encodes and discards the packets (`--benchmark`); `Y4mSink` writes raw y4m to a pipe or file.
`AvSink(on_packet=f)` shows f every video packet before it is muxed (`pysr push --train` decodes its keyframes
from there: the frames exactly as a decoder of the written stream sees them, with no second encoder).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np

from pysr.errors import MediaError
from pysr.video.audio import AudioEncode
from pysr.video.colour import AVCOL_RANGE_OUT, AVCOL_SPC_OUT, Colour, rgb_to_yuv
from pysr.video.reader import StreamFacts, plane_array
from pysr.video.y4m import CHROMA_FOR_PIX_FMT, Y4mHeader, Y4mWriter

SUBSAMPLE = {"yuv420p": (2, 2), "yuvj420p": (2, 2), "yuv422p": (1, 2), "yuvj422p": (1, 2), "yuv444p": (1, 1),
             "yuvj444p": (1, 1)}
# PyAV does not list an encoder's private options; these take `crf`.
CRF_ENCODERS = {"libx264", "libx264rgb", "libx265", "libvpx", "libvpx-vp9", "libaom-av1", "libsvtav1", "librav1e"}


@dataclass
class EncodeOptions:
    codec: str = "libx264"
    crf: float | None = None            # None: 18 where the encoder has a crf option and no bitrate is given
    bitrate: str | None = None          # "4M", "800k", "1500000"
    pix_fmt: str = "yuv420p"
    options: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"codec": self.codec, "crf": self.crf, "bitrate": self.bitrate, "pix_fmt": self.pix_fmt,
                "options": dict(sorted(self.options.items()))}


def parse_bitrate(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*", text)
    if not m:
        raise MediaError(f"--bitrate {text!r}: expected a number with an optional k/M/G suffix, e.g. 4M")
    return int(float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2).lower()])


def output_colour(colour: Colour | None, pix_fmt: str) -> Colour:
    base = colour or Colour("bt601", "limited")
    return Colour(base.matrix, "full" if pix_fmt.startswith("yuvj") else base.range)


def make_frame(image: np.ndarray, pix_fmt: str, colour: Colour) -> av.VideoFrame:
    """RGB (H×W×3) or luma (H×W) uint8 -> a VideoFrame in `pix_fmt` (our own matrix maths for planar
    8-bit YUV, swscale for anything else)."""
    h, w = image.shape[:2]
    if pix_fmt in SUBSAMPLE or (pix_fmt == "gray" and image.ndim == 2):
        if image.ndim == 2:                     # grey: luma as is, neutral chroma
            sub = SUBSAMPLE.get(pix_fmt, (1, 1))
            planes = [image] + [np.full((-(-h // sub[0]), -(-w // sub[1])), 128, np.uint8)] * (pix_fmt != "gray") * 2
        else:
            planes = rgb_to_yuv(image, colour, SUBSAMPLE[pix_fmt])
        frame = av.VideoFrame(w, h, pix_fmt)
        for plane, data in zip(frame.planes, planes, strict=True):
            plane_array(plane)[:] = data
    else:
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
            format=pix_fmt, dst_colorspace="itu709" if colour.matrix == "bt709" else "itu601",
            dst_color_range="JPEG" if colour.range == "full" else "MPEG")
    frame.colorspace = AVCOL_SPC_OUT[colour.matrix]
    frame.color_range = AVCOL_RANGE_OUT[colour.range]
    return frame


def _configure(cc, facts: StreamFacts, width: int, height: int, opts: EncodeOptions, colour: Colour) -> None:
    cc.width, cc.height, cc.pix_fmt = width, height, opts.pix_fmt
    cc.time_base = facts.time_base
    if facts.rate:
        cc.framerate = facts.rate
    cc.colorspace = AVCOL_SPC_OUT[colour.matrix]
    cc.color_range = AVCOL_RANGE_OUT[colour.range]
    options = {}
    has_crf = cc.codec.name in CRF_ENCODERS
    if opts.bitrate is not None:
        cc.bit_rate = parse_bitrate(opts.bitrate)
    crf = opts.crf if opts.crf is not None else (18 if opts.bitrate is None and has_crf else None)
    if crf is not None:
        if not has_crf:
            raise MediaError(f"encoder {opts.codec} has no crf option", "use --bitrate instead")
        options["crf"] = f"{crf:g}"
    options.update(opts.options)
    cc.options = options


def check_encoder(opts: EncodeOptions, width: int, height: int) -> None:
    try:
        codec = av.Codec(opts.codec, "w")
    except (ValueError, av.FFmpegError):
        raise MediaError(f"unknown encoder {opts.codec!r}", "e.g. libx264, libx265, libvpx-vp9, ffv1") from None
    if codec.type != "video":
        raise MediaError(f"encoder {opts.codec!r} is not a video encoder")
    formats = [f.name for f in codec.video_formats or ()]
    if formats and opts.pix_fmt not in formats:
        raise MediaError(f"encoder {opts.codec} does not take pixel format {opts.pix_fmt!r}",
                         f"it takes: {', '.join(formats)}")
    sub = SUBSAMPLE.get(opts.pix_fmt, (1, 1))
    if opts.pix_fmt in ("nv12", "nv21", "yuv420p10le"):
        sub = (2, 2)
    if height % sub[0] or width % sub[1]:
        raise MediaError(f"output size {width}×{height} is odd; pixel format {opts.pix_fmt} needs it even",
                         "use --pix-fmt yuv444p")


def _nal_units(extradata: bytes | None) -> set[bytes] | None:
    """H.264 parameter sets from avcC (as muxed in MP4/MKV) or Annex B (as an encoder hands them out)."""
    if not extradata:
        return set()
    if extradata[0] == 1 and len(extradata) > 6:        # avcC
        units, at = set(), 6
        for count_at in (5, None):
            n = (extradata[5] & 0x1F) if count_at else extradata[at - 1]
            for _ in range(n):
                size = int.from_bytes(extradata[at:at + 2], "big")
                units.add(extradata[at + 2:at + 2 + size])
                at += 2 + size
            at += 1
        return units
    if extradata.startswith((b"\0\0\1", b"\0\0\0\1")):
        return {u.strip(b"\0") for u in re.split(b"\0\0\1", extradata) if u.strip(b"\0")}
    return None


def same_headers(a: bytes | None, b: bytes | None) -> bool:
    """Whether two streams' codec headers match (H.264 in either layout; other codecs byte for byte)."""
    na, nb = _nal_units(a), _nal_units(b)
    if na is not None and nb is not None:
        return na == nb
    return (a or b"") == (b or b"")


ANNEXB_FILTERS = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


class AvSink:
    """Encode + mux into a container (or, null=True, encode and drop the packets)."""

    def __init__(self, path: str | None, fmt: str | None, facts: StreamFacts, width: int, height: int,
                 opts: EncodeOptions, null: bool = False, label: str | None = None, resume_from: str | None = None,
                 on_packet: Callable[[av.Packet, av.CodecContext], None] | None = None,
                 audio: AudioEncode | None = None):
        check_encoder(opts, width, height)
        self.label = label or str(path)
        self.on_packet = on_packet      # (packet, encoder) for every video packet, before the muxer takes it
        self.opts, self.colour = opts, output_colour(facts.colour, opts.pix_fmt)
        self.container = self.prev = self.audio = None
        self.copy_map: dict[int, object] = {}
        self.packets_done: dict[int, int] = {s.index: 0 for s in facts.copy_streams}
        self.frames = 0
        self.last_pts: int | None = None
        self.bytes = 0
        self._last_dts: Fraction | None = None
        try:
            if resume_from is not None:
                try:
                    self.prev = av.open(resume_from, "r")
                except (av.FFmpegError, OSError) as err:
                    raise MediaError(f"cannot resume from {resume_from}: {err}",
                                     "start over with --overwrite") from None
                if not self.prev.streams.video:
                    raise MediaError(f"cannot resume from {resume_from}: it holds no video stream")
            if null:
                self.cc = av.CodecContext.create(opts.codec, "w")
            if not null:
                # NOTE: copied AAC starts at a negative pts (encoder priming); FFmpeg's default would shift every
                # stream of e.g. Matroska to make it non-negative, moving the video pts. Keep timestamps as they are.
                # Re-encoded AAC (push) starts at -1024 too, and FLV cannot hold a negative time: shift every stream.
                shift = "make_non_negative" if audio is not None else "disabled"
                self.container = av.open(path, "w", format=fmt, options={"avoid_negative_ts": shift})
                self.stream = self.container.add_stream(opts.codec, rate=facts.rate)
                self.stream.time_base = facts.time_base
                self.cc = self.stream.codec_context
                for s in facts.copy_streams:
                    self.copy_map[s.index] = self.container.add_stream_from_template(s)
                if audio is not None:       # re-encoded audio (pysr/video/audio.py)
                    self.audio = self.container.add_stream("aac", rate=audio.rate)
                    self.audio.layout, self.audio.bit_rate = audio.layout, audio.bitrate
            _configure(self.cc, facts, width, height, opts, self.colour)
        except (av.FFmpegError, OSError, ValueError) as err:
            self._close_quietly()
            raise self._error(err) from None
        except BaseException:
            self._close_quietly()
            raise

    def _error(self, err) -> MediaError:
        text = getattr(err, "strerror", None) or str(err)
        if "codec" in str(err).lower() or isinstance(err, ValueError):
            return MediaError(f"cannot write {self.label}: {err}",
                              "the container may not hold this codec or a copied audio/subtitle stream; try .mkv")
        return MediaError(f"cannot write {self.label}: {text}")

    def _mux_video(self, packet) -> None:
        self.bytes += packet.size
        if self.on_packet is not None:  # NOTE: before mux: the muxer takes the packet's data and blanks it
            self.on_packet(packet, self.cc)
        if self.container is None:
            return
        packet.stream = self.stream
        if packet.dts is not None:
            # NOTE: after a resume the new encoder's first dts are extrapolated backwards from its first pts and
            # may not exceed the copied part's last dts; they are fictitious, so move them just past it.
            t = packet.dts * packet.time_base
            if self._last_dts is not None and t <= self._last_dts:
                dts = math.floor(self._last_dts / packet.time_base) + 1
                if packet.pts is not None and dts > packet.pts:
                    raise MediaError(f"cannot join the resumed output to the partial one at pts {packet.pts}",
                                     "start over with --overwrite")
                packet.dts = dts
                t = dts * packet.time_base
            self._last_dts = t
        self.container.mux(packet)

    def write(self, image: np.ndarray, pts: int | None) -> None:
        frame = make_frame(image, self.opts.pix_fmt, self.colour)
        frame.pts = pts if pts is not None else self.frames
        frame.time_base = self.cc.time_base
        try:
            for packet in self.cc.encode(frame):
                self._mux_video(packet)
        except (av.FFmpegError, OSError) as err:
            raise self._error(err) from None
        self.frames += 1
        self.last_pts = frame.pts

    def write_audio(self, frame) -> None:
        """One frame for the AAC stream (`audio=`): fltp, the encoder's frame size, pts in 1/rate."""
        if self.audio is None:
            return
        try:
            for packet in self.audio.encode(frame):
                self.container.mux(packet)
        except (av.FFmpegError, OSError, ValueError) as err:
            raise self._error(err) from None

    def copy_packet(self, packet) -> None:
        index = packet.stream.index
        if self.container is not None:
            packet.stream = self.copy_map[index]
            try:
                self.container.mux(packet)
            except (av.FFmpegError, OSError, ValueError) as err:
                raise self._error(err) from None
        self.packets_done[index] += 1

    def copy_previous(self) -> int:
        """Remux every packet of the partial output given as `resume_from`; returns its number of video frames."""
        prev, name = self.prev, self.prev.name
        pv = prev.streams.video[0]
        others = [s for s in prev.streams if s.type in ("audio", "subtitle")]
        if len(others) != len(self.copy_map):
            raise MediaError(f"cannot resume from {name}: its streams differ from the input's")
        targets = {pv.index: self.stream, **{s.index: t for s, t in zip(others, self.copy_map.values())}}
        # NOTE: the muxer takes the encoder's packets as the encoder emits them (H.264/HEVC: Annex B start codes,
        # converted to length prefixes on the way in); packets read back from MP4/MKV are length-prefixed already
        # and must be turned back into Annex B, or the muxer mangles them.
        bsf = None
        extradata = pv.codec_context.extradata or b""
        if pv.codec_context.name in ANNEXB_FILTERS and extradata[:1] == b"\x01":
            bsf = av.bitstream.BitStreamFilterContext(ANNEXB_FILTERS[pv.codec_context.name], pv)
        frames = 0
        try:
            for packet in prev.demux(pv, *others):
                if packet.dts is None and not packet.size:
                    continue
                if packet.stream is pv:
                    for p in bsf.filter(packet) if bsf is not None else [packet]:
                        p.time_base = packet.time_base if p.time_base is None else p.time_base
                        self._mux_video(p)
                        frames += 1
                else:
                    packet.stream = targets[packet.stream.index]
                    self.container.mux(packet)
            if not self.cc.is_open:
                self.cc.open()
        except (av.FFmpegError, OSError) as err:
            raise MediaError(f"cannot resume from {name}: {err}", "start over with --overwrite") from None
        if frames and not same_headers(pv.codec_context.extradata, self.cc.extradata):
            raise MediaError(f"cannot resume from {name}: the encoder's stream headers differ from the "
                             "partial output's (encoder settings changed?)", "start over with --overwrite")
        prev.close()
        self.prev = None
        return frames

    def close(self) -> None:
        """Flush the encoder and finish the file (also after an interrupt: the result plays)."""
        try:
            for packet in self.cc.encode(None):
                self._mux_video(packet)
            if self.audio is not None:
                for packet in self.audio.encode(None):
                    self.container.mux(packet)
            if self.container is not None:
                self.container.close()
                self.container = None
        except (av.FFmpegError, OSError) as err:
            self._close_quietly()
            raise self._error(err) from None

    def _close_quietly(self) -> None:
        if self.prev is not None:
            with contextlib.suppress(av.FFmpegError, OSError):
                self.prev.close()
            self.prev = None
        if self.container is not None:
            with contextlib.suppress(av.FFmpegError, OSError):
                self.container.close()
            self.container = None

    def abort(self) -> None:
        self._close_quietly()


class Y4mSink:
    """Raw y4m on a pipe or file: no audio, frame rate from the input (timestamps are not carried)."""

    def __init__(self, stream: BinaryIO, facts: StreamFacts, width: int, height: int, pix_fmt: str,
                 label: str = "stdout"):
        self.label = label
        if facts.mono:
            pix_fmt = "gray"
        chroma = CHROMA_FOR_PIX_FMT.get(pix_fmt)
        if chroma is None:
            raise MediaError(f"y4m output cannot carry pixel format {pix_fmt!r}",
                             "use --pix-fmt yuv420p, yuv422p or yuv444p")
        if not facts.rate:
            raise MediaError(f"{facts.name}: frame rate unknown, y4m output needs one")
        self.colour = output_colour(facts.colour, pix_fmt)
        self.pix_fmt = pix_fmt
        sub = {"420jpeg": (2, 2), "422": (1, 2), "444": (1, 1), "mono": (1, 1)}[chroma]
        self.sub = sub
        ext = ["COLORRANGE=FULL"] if self.colour.range == "full" and chroma != "mono" else []
        header = Y4mHeader(width, height, facts.rate, chroma, None, ext)
        self.frames, self.last_pts, self.bytes = 0, None, 0
        self.packets_done = {s.index: 0 for s in facts.copy_streams}
        try:
            self.writer = Y4mWriter(stream, header)
        except OSError as err:
            raise MediaError(f"cannot write {label}: {err.strerror or err}") from None
        self._stream = stream

    def write(self, image: np.ndarray, pts: int | None) -> None:
        planes = [image] if image.ndim == 2 else rgb_to_yuv(image, self.colour, self.sub)
        try:
            self.writer.write(planes)
        except OSError as err:
            raise MediaError(f"cannot write {self.label}: {err.strerror or err}") from None
        self.frames += 1
        self.bytes += sum(p.size for p in planes)
        self.last_pts = pts

    def copy_packet(self, packet) -> None:
        self.packets_done[packet.stream.index] += 1      # y4m holds video only: packets dropped (reported)

    def close(self) -> None:
        try:
            self.writer.flush()
        except OSError as err:
            raise MediaError(f"cannot write {self.label}: {err.strerror or err}") from None

    def abort(self) -> None:
        pass
