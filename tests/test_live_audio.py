"""Audio on the live path: `pysr push` re-encodes the input's first audio stream as AAC beside its video
(pysr/video/audio.py), in step with it; the server copies it into the HLS output (tests/test_live_nginx.py checks
that end to end)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif("libx264" not in av.codecs_available, reason="PyAV's FFmpeg has no libx264"),
    pytest.mark.skipif("flv" not in av.formats_available, reason="PyAV's FFmpeg lacks flv"),
]

RATE, SECONDS, FPS = 44100, 2.0, 25


def _clip(path, channels: int = 6, frame: int = 1000, audio_start: float = 0.0) -> None:
    """A 2 s clip: 64×48 frames at 25 fps, and PCM audio at 44.1 kHz (`channels`, in packets of `frame` samples, a
    440 Hz tone) starting at `audio_start` seconds."""
    with av.open(str(path), "w", format="matroska") as c:
        v = c.add_stream("libx264", rate=FPS)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("pcm_s16le", rate=RATE)
        a.layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
        n = round(SECONDS * FPS)
        samples = np.arange(round((SECONDS - audio_start) * RATE))
        tone = (8000 * np.sin(2 * np.pi * 440 * samples / RATE)).astype(np.int16)
        first = round(audio_start * RATE)
        for i in range(n):
            img = np.full((48, 64, 3), (i * 9) % 256, np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            c.mux(v.encode(f))
            t0, t1 = i / FPS, (i + 1) / FPS         # the audio of this frame's time, in `frame`-sample pieces
            lo, hi = max(0, round(t0 * RATE) - first), max(0, round(t1 * RATE) - first)
            for s in range(lo - lo % frame, hi - hi % frame, frame):
                chunk = np.repeat(tone[s : s + frame][None], channels, 0).T.reshape(1, -1)
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="s16", layout=a.layout.name)
                af.sample_rate, af.pts, af.time_base = RATE, first + s, Fraction(1, RATE)
                c.mux(a.encode(af))
        c.mux(v.encode(None))
        c.mux(a.encode(None))


def _read(path) -> tuple[list[float], list[tuple[float, int]], object]:
    """(video pts in seconds, [(audio pts seconds, samples)], the audio codec context)."""
    video, audio = [], []
    with av.open(str(path)) as c:
        a = c.streams.audio[0] if c.streams.audio else None
        for p in c.demux():
            if p.pts is None:
                continue
            if p.stream.type == "video":
                video.append(float(p.pts * p.time_base))
            else:
                audio += [(float(f.pts * f.time_base), f.samples) for f in p.decode()]
        cc = a.codec_context if a is not None else None
        return sorted(video), audio, cc


def test_transcoder_cuts_encoder_frames_on_one_sample_clock(tmp_path):
    from pysr.video.audio import AudioTranscoder, first_audio
    from pysr.video.reader import open_source

    _clip(tmp_path / "a.mkv", channels=6, frame=1000)
    src = open_source(str(tmp_path / "a.mkv"))
    try:
        stream = first_audio(src.facts.copy_streams)
        tr = AudioTranscoder(stream, 64000, origin_s=0.5)
        assert tr.spec.rate == RATE and tr.spec.layout == "stereo" and tr.spec.bitrate == 64000
        out = []
        for item in src.items():
            if getattr(item, "stream", None) is stream:
                out += tr.frames(item)
        out += tr.frames(None)
    finally:
        src.close()
    sizes = [f.samples for f in out]
    assert set(sizes[:-1]) == {1024} and 0 < sizes[-1] <= 1024          # the AAC encoder's frame size
    assert all(f.format.name == "fltp" and f.layout.name == "stereo" and f.sample_rate == RATE for f in out)
    # packets that start before the origin (0.5 s) are dropped: 23 of 1000 samples; the first kept one starts at
    # 23000 samples, 0.522 s as Matroska's milliseconds have it, so 0.022 s (970 samples) after the origin
    assert tr.dropped == 23 and sum(sizes) == 88 * 1000 - 23000      # the clip holds 88 whole packets
    starts = [f.pts for f in out]
    assert starts[0] == 970 and starts == list(970 + np.cumsum([0, *sizes[:-1]]))    # one clock, no gaps


def test_push_sends_audio_in_step_with_the_video(tmp_path):
    from pysr.live.push import PushConfig, push

    _clip(tmp_path / "a.mkv", channels=6, frame=1000, audio_start=0.2)
    logs: list[str] = []
    stats = push(PushConfig(str(tmp_path / "a.mkv"), str(tmp_path / "o.flv"), (32, 24), "200k"), log=logs.append)
    video, audio, cc = _read(tmp_path / "o.flv")
    assert stats.frames == len(video) == 50 and 0 <= len(audio) - stats.audio_frames <= 1    # (+ AAC's priming)
    assert cc.name == "aac" and cc.sample_rate == RATE and cc.channels == 2, cc
    assert any("→ AAC stereo 44100 Hz at 64 kbit/s" in x for x in logs), logs
    start = audio[0][0] - video[0]      # the audio began 0.2 s into the clip, and still does (less AAC's 1024-sample
                                        # priming: 23 ms)
    seconds = sum(n for _, n in audio) / RATE
    assert abs(start - 0.2) < 0.03 and abs(seconds - (SECONDS - 0.2)) < 0.05, (start, seconds)
    # audio from the start, demuxed before the first frame: none of it is lost while the connection opens
    _clip(tmp_path / "z.mkv", channels=2, frame=1024)
    push(PushConfig(str(tmp_path / "z.mkv"), str(tmp_path / "z.flv"), (32, 24), "200k"), log=logs.append)
    video, audio, _ = _read(tmp_path / "z.flv")
    assert abs(audio[0][0] - video[0] + 1024 / RATE) < 0.002, (audio[0], video[0])       # priming: 1024 early
    assert sum(n for _, n in audio) >= 86 * 1024                 # the clip's 86 packets (+ priming, + padding)
    # --fps 10: the video's pts count from its first frame; the audio keeps its place against it
    push(PushConfig(str(tmp_path / "a.mkv"), str(tmp_path / "f.flv"), (32, 24), "200k", fps=10), log=logs.append)
    video, audio, _ = _read(tmp_path / "f.flv")
    assert len(video) == 20 and abs(audio[0][0] - video[0] - 0.2) < 0.03
    # --audio-bitrate 0: video only
    push(PushConfig(str(tmp_path / "a.mkv"), str(tmp_path / "n.flv"), (32, 24), "200k", audio_bitrate="0"),
         log=logs.append)
    video, audio, cc = _read(tmp_path / "n.flv")
    assert len(video) == 50 and not audio and cc is None


def test_bad_audio_bitrates_are_refused_before_anything_opens(tmp_path, capsys):
    from pysr.cli import main

    args = ["push", "-i", str(tmp_path / "missing.mkv"), "--url", "rtmp://127.0.0.1:1/live/k", "--lr", "32x24"]
    for bad, said in (("abc", "expected a bitrate such as 64k"), ("5", "AAC takes 8k to 512k"),
                      ("2M", "AAC takes 8k to 512k")):
        assert main([*args, "--audio-bitrate", bad]) == 2
        assert said in capsys.readouterr().err
    assert main([*args, "--audio-bitrate", "0"]) == 2          # 0 is fine: the missing input is what stops it
    assert "no such file" in capsys.readouterr().err
