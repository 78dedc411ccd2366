"""`pysr push -f FMT -i DEVICE`: an input device or generated source of PyAV's FFmpeg instead of a file. A camera
(v4l2, avfoundation, dshow) cannot be had on a test machine; lavfi stands in for one here: an endless live source
with video and audio, which push reads until --frames."""

from __future__ import annotations

import av
import pytest

from pysr.cli import main

pytestmark = [
    pytest.mark.skipif("libx264" not in av.codecs_available, reason="PyAV's FFmpeg has no libx264"),
    pytest.mark.skipif(not {"flv", "lavfi"} <= av.formats_available, reason="PyAV's FFmpeg lacks flv or lavfi"),
]

GRAPH = "testsrc=size=640x360:rate=25[out0];sine=f=440:sample_rate=48000[out1]"


def test_push_reads_a_live_source_with_its_audio_until_frames(tmp_path, capsys):
    out = tmp_path / "o.flv"
    assert main(["push", "-f", "lavfi", "-i", GRAPH, "--url", str(out), "--lr", "320x180", "--frames", "50"]) == 0
    err = capsys.readouterr().err
    assert "sent 50 frames" in err and "pcm_s16le 48000 Hz → AAC mono 48000 Hz" in err, err
    with av.open(str(out)) as c:
        sizes = {(f.width, f.height) for f in c.decode(video=0)}
    with av.open(str(out)) as c:
        video = sum(1 for p in c.demux(video=0) if p.size)
    with av.open(str(out)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
    assert video == 50 and sizes == {(320, 180)}
    assert abs(samples / 48000 - 2.0) < 0.1, samples                  # 2 s of the tone beside 2 s of video


def test_push_input_format_and_options_are_checked(tmp_path, capsys):
    args = ["--url", str(tmp_path / "o.flv"), "--lr", "320x180"]
    assert main(["push", "-f", "no_such_device", "-i", "x", *args]) == 2
    err = capsys.readouterr().err
    assert "input format 'no_such_device' is not in this FFmpeg" in err and "lavfi" in err, err
    with pytest.raises(SystemExit) as stop:                   # argparse refuses it, as any malformed option
        main(["push", "-f", "lavfi", "-i", GRAPH, "--input-option", "novalue", *args])
    assert stop.value.code == 2 and "expected KEY=VALUE, got 'novalue'" in capsys.readouterr().err
    assert main(["push", "-f", "lavfi", "-i", "no_such_filter=1", *args]) == 2
    assert "cannot read" in capsys.readouterr().err
