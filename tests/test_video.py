"""pysr.video: reader/writer keep every frame, its timestamp and the copied audio; y4m is bit-exact; colour
follows the stream's tags (or warns what it assumed)."""

from __future__ import annotations

import io
import warnings
from fractions import Fraction

import av
import numpy as np
import pytest

from pysr.errors import MediaError
from pysr.video.colour import Colour, ColourWarning, from_tags, rgb_to_yuv, yuv_to_rgb
from pysr.video.reader import Decoded, open_source
from pysr.video.writer import AvSink, EncodeOptions
from pysr.video.y4m import Y4mReader, Y4mWriter, parse_header

VFR_PTS = [0, 40, 80, 130, 200, 210, 300, 340, 400, 480, 520, 560]     # ms, deliberately irregular


def pattern(i: int, h: int = 32, w: int = 48) -> np.ndarray:
    """A distinct smooth-plus-noise RGB frame per index (x264 keeps it recognisable)."""
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(i)
    img = np.stack([(xx * 5 + i * 17) % 256, (yy * 7 + i * 29) % 256, ((xx + yy) * 3 + i * 41) % 256], -1)
    return np.clip(img + rng.integers(-8, 9, img.shape), 0, 255).astype(np.uint8)


def make_video(path, pts_ms=VFR_PTS, size=(48, 32), audio=True, codec="libx264", pix_fmt="yuv420p",
               colorspace=None, color_range=None):
    """A small video with the given pts (milliseconds) and, optionally, a mono AAC track of 6 frames."""
    w, h = size
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=25)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.codec_context.time_base = Fraction(1, 1000)
        if colorspace is not None:
            v.codec_context.colorspace = colorspace
        if color_range is not None:
            v.codec_context.color_range = color_range
        a = None
        if audio:
            a = out.add_stream("aac", rate=8000)
            a.layout = "mono"
        for i, p in enumerate(pts_ms):
            f = av.VideoFrame.from_ndarray(pattern(i, h, w), format="rgb24").reformat(format=pix_fmt)
            if colorspace is not None:
                f.colorspace = colorspace
            if color_range is not None:
                f.color_range = color_range
            f.pts, f.time_base = p, Fraction(1, 1000)
            for pk in v.encode(f):
                out.mux(pk)
        for pk in v.encode(None):
            out.mux(pk)
        if a is not None:
            for i in range(6):
                af = av.AudioFrame.from_ndarray(np.sin(np.arange(1024, dtype=np.float32) * (i + 1) / 50)[None],
                                                format="fltp", layout="mono")
                af.sample_rate, af.pts = 8000, i * 1024
                for pk in a.encode(af):
                    out.mux(pk)
            for pk in a.encode(None):
                out.mux(pk)
    return path


def frame_times(path) -> list[Fraction]:
    with av.open(str(path)) as c:
        return [f.pts * f.time_base for f in c.decode(video=0)]


def audio_packets(path) -> int:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return 0
        return sum(1 for p in c.demux(audio=0) if p.size)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_reader_writer_round_trip_vfr_with_audio(tmp_path, suffix):
    src = make_video(tmp_path / "in.mp4")
    source = open_source(src)
    facts = source.facts
    assert (facts.width, facts.height, facts.total) == (48, 32, len(VFR_PTS))
    assert [s.type for s in facts.copy_streams] == ["audio"]
    sink = AvSink(str(tmp_path / f"out{suffix}"), None, facts, 96, 64, EncodeOptions(crf=10))
    frames = 0
    for item in source.items():
        if isinstance(item, Decoded):
            assert item.image.shape == (32, 48, 3)
            sink.write(np.repeat(np.repeat(item.image, 2, 0), 2, 1), item.pts)
            frames += 1
        else:
            sink.copy_packet(item)
    sink.close()
    source.close()
    assert frames == len(VFR_PTS)
    times = frame_times(tmp_path / f"out{suffix}")
    assert times == [Fraction(p, 1000) for p in VFR_PTS]       # exact, not approximately
    assert audio_packets(tmp_path / f"out{suffix}") == audio_packets(src) > 0
    with av.open(str(tmp_path / f"out{suffix}")) as c:
        f = next(c.decode(video=0))
        assert (f.width, f.height) == (96, 64)
        err = np.abs(f.to_ndarray(format="rgb24").astype(int) - np.repeat(np.repeat(pattern(0), 2, 0), 2, 1))
        assert np.median(err) < 12                               # the frame is the frame, not a neighbour


def y4m_bytes(chroma: str, frames: int = 3, w: int = 10, h: int = 6, extra: str = " XYSCSS=420JPEG") -> bytes:
    header = parse_header(f"YUV4MPEG2 W{w} H{h} F30000:1001 Ip A1:1 C{chroma}{extra}".encode())
    buf = io.BytesIO()
    writer = Y4mWriter(buf, header)
    rng = np.random.default_rng(len(chroma))
    for _ in range(frames):
        writer.write([rng.integers(0, 256, s, dtype=np.uint8) for s in header.plane_shapes])
    return buf.getvalue()


@pytest.mark.parametrize("chroma", ["420jpeg", "420mpeg2", "444", "422", "mono"])
def test_y4m_round_trip_bit_exact(chroma):
    data = y4m_bytes(chroma)
    reader = Y4mReader(io.BytesIO(data))
    assert (reader.header.width, reader.header.height, reader.header.rate) == (10, 6, Fraction(30000, 1001))
    out = io.BytesIO()
    writer = Y4mWriter(out, reader.header)
    n = 0
    for planes in reader:
        writer.write(planes)
        n += 1
    assert n == 3 and out.getvalue() == data


@pytest.mark.parametrize("chroma, pix_fmt", [("420jpeg", "yuv420p"), ("444", "yuv444p")])
def test_y4m_planes_match_ffmpeg(tmp_path, chroma, pix_fmt):
    """Our writer's stream decodes in FFmpeg to the same planes we read."""
    path = tmp_path / "a.y4m"
    path.write_bytes(y4m_bytes(chroma, extra=""))
    ours = list(Y4mReader(io.BytesIO(path.read_bytes())))
    with av.open(str(path)) as c:
        theirs = list(c.decode(video=0))
    assert len(theirs) == len(ours) == 3
    for f, planes in zip(theirs, ours):
        assert f.format.name == pix_fmt
        for p, q in zip(f.planes, planes):
            got = np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: p.height, : p.width]
            np.testing.assert_array_equal(got, q)


@pytest.mark.parametrize("data, match", [
    (b"YUV4MPEG2 W8 H8 F25:1 It C420jpeg\n", "interlaced"),
    (b"YUV4MPEG2 W8 H8 F25:1 C411\n", "C411"),
    (b"YUV4MPEG2 W8 F25:1\n", "width"),
    (b"RIFF....", "not a YUV4MPEG2"),
    (b"YUV4MPEG2 W8 H8 F25:1 C444\nFRAME\n" + bytes(100), "truncated at frame 0"),
])
def test_y4m_refuses_bad_streams(data, match):
    with pytest.raises(MediaError, match=match):
        list(Y4mReader(io.BytesIO(data)))


def reference_rgb(y, u, v, matrix, rng) -> np.ndarray:
    """float64 textbook conversion (chroma replicated over its block), rounded."""
    kr, kb = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}[matrix]
    fy, fx = y.shape[0] // u.shape[0], y.shape[1] // u.shape[1]
    u = np.repeat(np.repeat(u, fy, 0), fx, 1).astype(np.float64)
    v = np.repeat(np.repeat(v, fy, 0), fx, 1).astype(np.float64)
    if rng == "limited":
        yn, pb, pr = (y - 16.0) / 219.0, (u - 128.0) / 224.0, (v - 128.0) / 224.0
    else:
        yn, pb, pr = y / 255.0, (u - 128.0) / 255.0, (v - 128.0) / 255.0
    r = yn + 2 * (1 - kr) * pr
    b = yn + 2 * (1 - kb) * pb
    g = (yn - kr * r - kb * b) / (1 - kr - kb)
    return np.clip(np.rint(np.stack([r, g, b], -1) * 255), 0, 255)


@pytest.mark.parametrize("colorspace, color_range, matrix, rng", [(1, 1, "bt709", "limited"),
                                                                   (5, 2, "bt601", "full")])
def test_tagged_colour_matches_float64_reference(tmp_path, colorspace, color_range, matrix, rng):
    src = make_video(tmp_path / "c.mkv", pts_ms=[0, 40, 80], audio=False, colorspace=colorspace,
                     color_range=color_range)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColourWarning)
        source = open_source(src)
        source.warn()                                          # tagged: nothing assumed, no warning
    assert source.facts.colour == Colour(matrix, rng)
    got = [item.image for item in source.items()]
    source.close()
    with av.open(str(src)) as c:
        decoded = list(c.decode(video=0))
    assert len(got) == len(decoded) == 3
    for img, f in zip(got, decoded):
        y, u, v = (np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: p.height, : p.width] for p in f.planes)
        ref = reference_rgb(y.astype(np.float64), u, v, matrix, rng)
        assert np.abs(img.astype(int) - ref).max() <= 1


def test_untagged_colour_warns_what_it_assumed(tmp_path):
    src = make_video(tmp_path / "u.mp4", pts_ms=[0, 40], audio=False)
    source = open_source(src)
    with pytest.warns(ColourWarning, match="assumed BT.601.*assumed limited"):
        source.warn()
    source.close()
    assert from_tags(2, 0, 720).matrix == "bt709" and from_tags(2, 0, 576).matrix == "bt601"
    assert from_tags(1, 2, 576) == Colour("bt709", "full")
    assert "bt2020" in from_tags(9, 1, 1080).assumed


@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("rng", ["limited", "full"])
def test_rgb_yuv444_round_trip(matrix, rng):
    rgb = np.random.default_rng(5).integers(0, 256, (16, 12, 3), dtype=np.uint8)
    c = Colour(matrix, rng)
    back = yuv_to_rgb(*rgb_to_yuv(rgb, c, (1, 1)), c)
    # 8-bit limited-range YUV cannot hold every RGB triple: a few LSB, never more
    assert np.abs(back.astype(int) - rgb).max() <= (2 if rng == "full" else 3)


def test_writer_tags_output_like_input(tmp_path):
    src = make_video(tmp_path / "t.mkv", pts_ms=[0, 40, 80], audio=False, colorspace=1, color_range=1)
    source = open_source(src)
    out = tmp_path / "o.mkv"
    sink = AvSink(str(out), None, source.facts, 48, 32, EncodeOptions("ffv1", pix_fmt="yuv444p"))
    images = []
    for item in source.items():
        images.append(item.image)
        sink.write(item.image, item.pts)
    sink.close()
    source.close()
    back = open_source(out)
    assert back.facts.colour == Colour("bt709", "limited")
    again = [item.image for item in back.items()]
    back.close()
    assert len(again) == 3
    for a, b in zip(images, again):
        assert np.abs(a.astype(int) - b).max() <= 3      # lossless codec: only the 8-bit YUV rounding
