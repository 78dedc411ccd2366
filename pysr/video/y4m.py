"""Raw YUV4MPEG2 (y4m) on pipes and files: header parsing, frame reading and writing, bit-exact.

    YUV4MPEG2 W<w> H<h> F<num>:<den> [I<p|t|b|m>] [A<n>:<d>] [C<chroma>] [X<extension> ...]\n
    FRAME[ params]\n <Y plane><U plane><V plane>   (planar, 8 bit; no U/V for Cmono)

Chroma tags 420jpeg (the default), 420mpeg2, 420paldv, 420 (the same 4:2:0 layout, differing only in
siting), 422, 444 and mono are read and written; only progressive video (Ip or no I tag) is accepted.
Header tokens are kept in their order so that reading and rewriting a stream gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import BinaryIO

import numpy as np

from pysr.errors import MediaError

MAGIC = b"YUV4MPEG2"
SUBSAMPLING = {"420jpeg": (2, 2), "420mpeg2": (2, 2), "420paldv": (2, 2), "420": (2, 2), "422": (1, 2),
               "444": (1, 1), "mono": None}
PIX_FMT = {"420jpeg": "yuv420p", "420mpeg2": "yuv420p", "420paldv": "yuv420p", "420": "yuv420p",
           "422": "yuv422p", "444": "yuv444p", "mono": "gray"}
CHROMA_FOR_PIX_FMT = {"yuv420p": "420jpeg", "yuvj420p": "420jpeg", "yuv422p": "422", "yuv444p": "444", "gray": "mono"}


@dataclass
class Y4mHeader:
    width: int
    height: int
    rate: Fraction
    chroma: str = "420jpeg"
    aspect: str | None = None
    extensions: list[str] = field(default_factory=list)
    tokens: list[str] | None = None     # the header as read, for a byte-exact rewrite

    @property
    def color_range(self) -> str | None:
        for x in self.extensions:
            if x.upper().startswith("COLORRANGE="):
                return {"LIMITED": "limited", "FULL": "full"}.get(x.split("=", 1)[1].upper())
        return None

    @property
    def plane_shapes(self) -> list[tuple[int, int]]:
        sub = SUBSAMPLING[self.chroma]
        if sub is None:
            return [(self.height, self.width)]
        c = (-(-self.height // sub[0]), -(-self.width // sub[1]))
        return [(self.height, self.width), c, c]

    @property
    def frame_bytes(self) -> int:
        return sum(h * w for h, w in self.plane_shapes)

    def encode(self) -> bytes:
        tokens = self.tokens
        if tokens is None:
            tokens = [f"W{self.width}", f"H{self.height}", f"F{self.rate.numerator}:{self.rate.denominator}", "Ip"]
            if self.aspect:
                tokens.append(f"A{self.aspect}")
            tokens.append(f"C{self.chroma}")
            tokens += [f"X{x}" for x in self.extensions]
        return b" ".join([MAGIC, *(t.encode("ascii") for t in tokens)]) + b"\n"


def _readline(stream: BinaryIO, what: str, limit: int = 4096) -> bytes | None:
    line = bytearray()
    while True:
        c = stream.read(1)
        if not c:
            if line:
                raise MediaError(f"y4m: truncated {what} line")
            return None
        if c == b"\n":
            return bytes(line)
        line += c
        if len(line) > limit:
            raise MediaError(f"y4m: {what} line longer than {limit} bytes (not a y4m stream?)")


def parse_header(line: bytes) -> Y4mHeader:
    parts = line.split(b" ")
    if parts[0] != MAGIC:
        raise MediaError(f"not a YUV4MPEG2 stream (starts with {line[:16]!r})",
                         "pipes carry y4m: e.g. `ffmpeg -i in.mp4 -f yuv4mpegpipe - | pysr upscale -i - ...`")
    tokens = [p.decode("ascii", "replace") for p in parts[1:] if p]
    w = h = rate = None
    chroma, aspect, ext = "420jpeg", None, []
    for t in tokens:
        key, val = t[0], t[1:]
        try:
            if key == "W":
                w = int(val)
            elif key == "H":
                h = int(val)
            elif key == "F":
                n, d = val.split(":")
                rate = Fraction(int(n), int(d))
            elif key == "I":
                if val != "p":
                    raise MediaError(f"y4m: interlaced video (I{val}) is not supported; only progressive (Ip)")
            elif key == "A":
                aspect = val
            elif key == "C":
                chroma = val
                if val not in SUBSAMPLING:
                    raise MediaError(f"y4m: colour space C{val} is not supported",
                                     f"supported: {', '.join('C' + k for k in SUBSAMPLING)} (8 bit)")
            elif key == "X":
                ext.append(val)
        except (ValueError, ZeroDivisionError):
            raise MediaError(f"y4m: malformed header token {t!r}") from None
    if not w or not h or w <= 0 or h <= 0 or rate is None or rate <= 0:
        raise MediaError(f"y4m: header lacks a valid width, height or frame rate: {line.decode('ascii', 'replace')!r}")
    return Y4mHeader(w, h, rate, chroma, aspect, ext, tokens)


class Y4mReader:
    """Iterate the frames of a y4m stream as lists of uint8 planes ([Y] or [Y, U, V])."""

    def __init__(self, stream: BinaryIO, name: str = "y4m"):
        self.stream, self.name = stream, name
        magic = stream.read(len(MAGIC))
        if not magic:
            raise MediaError(f"{name}: empty input, expected a YUV4MPEG2 stream")
        if magic != MAGIC:
            parse_header(magic)                 # raises "not a YUV4MPEG2 stream"
        self.header = parse_header(magic + (_readline(stream, "header") or b""))

    def __iter__(self):
        hdr, index = self.header, 0
        size = hdr.frame_bytes
        while True:
            line = _readline(self.stream, "FRAME")
            if line is None:
                return
            if not line.startswith(b"FRAME"):
                raise MediaError(f"{self.name}: frame {index}: expected FRAME marker, got {line[:16]!r}")
            data = self.stream.read(size)
            while 0 < len(data) < size:                 # pipes deliver in pieces
                more = self.stream.read(size - len(data))
                if not more:
                    break
                data += more
            if len(data) < size:
                raise MediaError(f"{self.name}: truncated at frame {index} ({len(data)} of {size} bytes)")
            buf, planes, at = np.frombuffer(data, np.uint8), [], 0
            for h, w in hdr.plane_shapes:
                planes.append(buf[at:at + h * w].reshape(h, w))
                at += h * w
            yield planes
            index += 1


class Y4mWriter:
    def __init__(self, stream: BinaryIO, header: Y4mHeader):
        self.stream, self.header = stream, header
        stream.write(header.encode())

    def write(self, planes) -> None:
        for p, shape in zip(planes, self.header.plane_shapes, strict=True):
            if p.shape != shape or p.dtype != np.uint8:
                raise MediaError(f"y4m: plane of shape {p.shape} {p.dtype}, expected {shape} uint8")
        self.stream.write(b"FRAME\n")
        for p in planes:
            self.stream.write(np.ascontiguousarray(p).data)

    def flush(self) -> None:
        self.stream.flush()
