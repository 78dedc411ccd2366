"""`pysr upscale` end to end: images and folders equal `pysr.run`, videos keep every frame, timestamp and
audio packet, y4m pipes work, Ctrl-C leaves a playable partial that --resume completes exactly, and every
user mistake is one line with exit 2."""

from __future__ import annotations

import errno
import io
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from test_video import VFR_PTS, audio_packets, frame_times, make_video, pattern

import pysr
from pysr.cli import main
from pysr.models import espcn
from pysr.models.convert import facts_for
from pysr.video.colour import Colour, rgb_to_yuv, yuv_to_rgb
from pysr.video.y4m import Y4mReader, Y4mWriter, parse_header

ROOT = Path(__file__).resolve().parent.parent


def tiny_model(tmp_path, scale=4, in_channels=1) -> Path:
    cfg = espcn.EspcnConfig(scale=scale, channels=(6, 5), kernels=(3, 3, 3), in_channels=in_channels)
    path = tmp_path / f"tiny_x{scale}_c{in_channels}.pysr"
    pysr.Model(espcn.build(cfg, espcn.init_params(cfg, seed=7)), facts_for("espcn", cfg, {}, "MIT", "tiny")).save(path)
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model"))


def upscale(*argv) -> int:
    return main(["upscale", "--progress", "none", *map(str, argv)])


def one_error_line(err: str) -> str:
    """The error line (with its HINT line, if any); fails on a traceback or more than one error."""
    assert "Traceback" not in err
    lines = err.splitlines()
    at = [i for i, ln in enumerate(lines) if ln.startswith("pysr upscale: error:")]
    assert len(at) == 1, err
    return "\n".join(ln for ln in lines[at[0]:at[0] + 2] if ln.startswith(("pysr upscale: error:", "HINT:")))


def test_image_file_equals_pysr_run(tmp_path, model_path):
    img = pattern(3, 20, 14)
    Image.fromarray(img).save(tmp_path / "a.png")
    assert upscale("-i", tmp_path / "a.png", "-o", tmp_path / "b.png", "-m", model_path) == 0
    got = np.asarray(Image.open(tmp_path / "b.png"))
    np.testing.assert_array_equal(got, pysr.run(img, model=pysr.load(model_path)))
    assert got.shape == (80, 56, 3)
    assert not list(tmp_path.glob("*partial*"))


def test_folder_equals_pysr_run(tmp_path, model_path, capsys):
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    imgs = {"x.png": pattern(1, 12, 9), "y.png": pattern(2, 8, 16)}
    for name, img in imgs.items():
        Image.fromarray(img).save(src / name)
    (src / "notes.txt").write_text("not an image")
    Image.fromarray(pattern(4, 10, 10)).convert("L").save(src / "grey.png")
    assert upscale("-i", src, "-o", dst, "-m", model_path) == 0
    assert sorted(p.name for p in dst.iterdir()) == ["grey.png", "x.png", "y.png"]
    model = pysr.load(model_path)
    for name, img in imgs.items():
        np.testing.assert_array_equal(np.asarray(Image.open(dst / name)), pysr.run(img, model=model))
    assert Image.open(dst / "grey.png").mode == "L" and Image.open(dst / "grey.png").size == (40, 40)
    capsys.readouterr()
    assert upscale("-i", src, "-o", dst, "-m", model_path) == 2        # outputs exist: refuse
    assert "--overwrite" in capsys.readouterr().err


def test_video_end_to_end(tmp_path, model_path):
    src = make_video(tmp_path / "in.mp4")
    out = tmp_path / "out.mkv"
    assert upscale("-i", src, "-o", out, "-m", model_path) == 0
    with av.open(str(out)) as c:
        frames = list(c.decode(video=0))
    assert [(f.width, f.height) for f in frames] == [(192, 128)] * len(VFR_PTS)
    assert frame_times(out) == [Fraction(p, 1000) for p in VFR_PTS]
    assert audio_packets(out) == audio_packets(src) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mkv"]


def y4m_input(frames=5, w=12, h=8) -> tuple[bytes, list[np.ndarray]]:
    header = parse_header(f"YUV4MPEG2 W{w} H{h} F25:1 Ip C420jpeg".encode())
    buf, rgbs = io.BytesIO(), []
    writer = Y4mWriter(buf, header)
    for i in range(frames):
        planes = rgb_to_yuv(pattern(i, h, w), Colour("bt601", "limited"))
        writer.write(planes)
        rgbs.append(yuv_to_rgb(*planes, Colour("bt601", "limited")))
    return buf.getvalue(), rgbs


def test_y4m_pipe_stdin_to_stdout(tmp_path, model_path):
    data, rgbs = y4m_input()
    r = subprocess.run([sys.executable, "-m", "pysr.cli", "upscale", "-i", "-", "-o", "-", "-m", str(model_path),
                        "--progress", "none"], input=data, capture_output=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert "assumed BT.601" in r.stderr.decode()                      # y4m carries no matrix: said so
    reader = Y4mReader(io.BytesIO(r.stdout))
    assert (reader.header.width, reader.header.height, reader.header.rate) == (48, 32, Fraction(25))
    got = list(reader)
    model = pysr.load(model_path)
    assert len(got) == len(rgbs)
    for planes, rgb in zip(got, rgbs):
        want = rgb_to_yuv(pysr.run(rgb, model=model), Colour("bt601", "limited"))
        for p, q in zip(planes, want):
            np.testing.assert_array_equal(p, q)


def test_benchmark_writes_nothing_and_reports_stages(tmp_path, model_path, capsys):
    src = make_video(tmp_path / "in.mp4")
    before = sorted(tmp_path.iterdir())
    assert upscale("-i", src, "-o", tmp_path / "never.mp4", "-m", model_path, "--benchmark", "--frames", "5") == 0
    err = capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == before
    assert "benchmark: 5 frames" in err
    for stage in ("decode", "inference", "encode", "total"):
        assert any(line.strip().startswith(stage) and "fps" in line for line in err.splitlines()), err


def test_progress_json(tmp_path, model_path, capsys):
    src = make_video(tmp_path / "in.mp4", audio=False)
    assert main(["upscale", "-i", str(src), "-o", str(tmp_path / "o.mp4"), "-m", str(model_path),
                 "--progress", "json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert events and events[-1]["event"] == "done"
    assert events[-1]["frame"] == events[-1]["total"] == events[-1]["frames_written"] == len(VFR_PTS)
    assert all({"frame", "total", "fps", "elapsed", "remaining"} <= e.keys() for e in events)


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_interrupt_then_resume_is_exact(tmp_path, model_path, monkeypatch, capsys, suffix):
    from pysr.video.progress import Progress

    pts = list(range(0, 40 * 30, 40))
    pts[7:] = [p + 13 for p in pts[7:]]                                   # a step in the timestamps
    src = make_video(tmp_path / "in.mp4", pts_ms=pts)
    out = tmp_path / f"out{suffix}"
    partial = tmp_path / f"out.partial{suffix}"
    real_update = Progress.update

    def interrupt_at(k):
        def update(self, frames):
            real_update(self, frames)
            if frames == k:
                raise KeyboardInterrupt
        return update

    monkeypatch.setattr(Progress, "update", interrupt_at(9))
    assert upscale("-i", src, "-o", out, "-m", model_path) == 130
    err = capsys.readouterr().err
    assert "9 frames written" in err and str(partial) in err and "--resume" in err
    assert not out.exists() and partial.exists()
    assert frame_times(partial) == [Fraction(p, 1000) for p in pts[:9]]   # the partial plays
    assert upscale("-i", src, "-o", out, "-m", model_path) == 2          # no silent restart over it
    assert "--resume" in one_error_line(capsys.readouterr().err)

    monkeypatch.setattr(Progress, "update", interrupt_at(6))               # interrupted again while resuming
    assert upscale("-i", src, "-o", out, "-m", model_path, "--resume") == 130
    assert "15 frames written" in capsys.readouterr().err

    monkeypatch.setattr(Progress, "update", real_update)
    assert upscale("-i", src, "-o", out, "-m", model_path, "--resume") == 0
    assert frame_times(out) == [Fraction(p, 1000) for p in pts]
    assert audio_packets(out) == audio_packets(src) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", out.name]
    with av.open(str(out)) as c:
        last = list(c.decode(video=0))[-1].to_ndarray(format="rgb24")
    fresh = pysr.run(pattern(len(pts) - 1), model=pysr.load(model_path))
    assert np.median(np.abs(last.astype(int) - fresh)) < 12               # frame k is input frame k


def test_resume_refuses_a_changed_job(tmp_path, model_path, monkeypatch, capsys):
    from pysr.video.progress import Progress

    src = make_video(tmp_path / "in.mp4", audio=False)

    def update(self, frames):
        if frames == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "update", update)
    assert upscale("-i", src, "-o", tmp_path / "o.mp4", "-m", model_path) == 130
    monkeypatch.undo()
    capsys.readouterr()
    assert upscale("-i", src, "-o", tmp_path / "o.mp4", "-m", model_path, "--resume", "--crf", "30") == 2
    assert "encode differs" in one_error_line(capsys.readouterr().err)
    assert (tmp_path / "o.partial.mp4").exists()                          # the earlier work is kept


def test_disk_full_leaves_nothing_that_looks_complete(tmp_path, model_path, monkeypatch, capsys):
    from pysr.video import writer

    src = make_video(tmp_path / "in.mp4", audio=False)
    real_write = writer.AvSink.write

    def write(self, image, pts):
        if self.frames == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, image, pts)

    monkeypatch.setattr(writer.AvSink, "write", write)
    assert upscale("-i", src, "-o", tmp_path / "o.mp4", "-m", model_path) == 2
    assert "No space left on device" in one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def bad_inputs(tmp_path: Path) -> list:
    good = make_video(tmp_path / "good.mp4", pts_ms=[0, 40, 80], audio=False)
    (tmp_path / "trunc.mp4").write_bytes(good.read_bytes()[:200])
    (tmp_path / "text.mp4").write_text("hello, not a video\n" * 20)
    (tmp_path / "exists.mp4").write_bytes(b"x")
    with av.open(str(tmp_path / "audio.m4a"), "w") as c:
        a = c.add_stream("aac", rate=8000)
        a.layout = "mono"
        for i in range(3):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 8000, i * 1024
            for p in a.encode(f):
                c.mux(p)
        for p in a.encode(None):
            c.mux(p)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    return [
        (["-i", tmp_path / "missing.mp4"], "no such file"),
        (["-i", tmp_path / "trunc.mp4"], "trunc.mp4"),
        (["-i", tmp_path / "text.mp4"], "cannot read"),
        (["-i", tmp_path / "audio.m4a"], "no video stream"),
        (["-i", tmp_path / "bad.png", "-o", tmp_path / "o.png"], "cannot read as an image"),
        (["-i", good, "-o", tmp_path / "nodir" / "o.mp4"], "does not exist"),
        (["-i", good, "-o", tmp_path / "exists.mp4"], "--overwrite"),
        (["-i", good, "-o", "/proc/pysr-cannot-write.mp4"], "cannot write"),
        (["-i", good, "-o", tmp_path / "o.xyzvideo"], "cannot write"),
        (["-i", good, "--codec", "nosuchcodec"], "unknown encoder"),
        (["-i", good, "--pix-fmt", "yuv420p", "-m", "odd3"], "odd"),
        (["-i", good, "-m", "nosuchmodel"], "nosuchmodel"),
        (["-i", good, "--resume", "-o", "-"], "--resume"),
    ]


def test_bad_inputs_exit_2_with_one_line(tmp_path, model_path, capsys):
    odd = tiny_model(tmp_path, scale=3)                  # 45×31 ×3 = 135×93: odd, no 4:2:0
    src = make_video(tmp_path / "odd.mp4", pts_ms=[0, 40], size=(45, 31), audio=False, pix_fmt="yuv444p")
    for argv, match in bad_inputs(tmp_path):
        argv = [str(a) for a in argv]
        if "odd3" in argv:
            argv[argv.index("odd3")] = str(odd)
            argv[1] = str(src)
        if "-m" not in argv:
            argv += ["-m", str(model_path)]
        if "-o" not in argv:
            argv += ["-o", str(tmp_path / "out.mp4")]
        assert upscale(*argv) == 2, argv
        line = one_error_line(capsys.readouterr().err)
        assert match in line, (argv, line)
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob("*partial*"))


def test_rgb_model_on_grey_y4m_is_refused(tmp_path):
    rgb_model = tiny_model(tmp_path, scale=2, in_channels=3)
    header = parse_header(b"YUV4MPEG2 W8 H6 F25:1 Ip Cmono")
    buf = io.BytesIO()
    Y4mWriter(buf, header).write([np.full((6, 8), 100, np.uint8)])
    r = subprocess.run([sys.executable, "-m", "pysr.cli", "upscale", "-i", "-", "-o", "-", "-m", str(rgb_model)],
                       input=buf.getvalue(), capture_output=True, cwd=ROOT, timeout=300)
    err = r.stderr.decode()
    assert r.returncode == 2 and "colour mode y" in one_error_line(err) and r.stdout == b""


def test_grey_y4m_runs_the_y_model_on_luma(tmp_path, model_path):
    header = parse_header(b"YUV4MPEG2 W8 H6 F25:1 Ip Cmono")
    buf = io.BytesIO()
    y = pattern(0, 6, 8)[..., 0]
    Y4mWriter(buf, header).write([y])
    r = subprocess.run([sys.executable, "-m", "pysr.cli", "upscale", "-i", "-", "-o", "-", "-m", str(model_path),
                        "--progress", "none"], input=buf.getvalue(), capture_output=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    reader = Y4mReader(io.BytesIO(r.stdout))
    assert reader.header.chroma == "mono"
    (got,), = list(reader)
    want = pysr.run_y(y.astype(np.float32) / 255, model=pysr.load(model_path))
    np.testing.assert_array_equal(got, np.clip(np.rint(want * 255), 0, 255).astype(np.uint8))
