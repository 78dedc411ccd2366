"""`pysr upscale` and `pysr eval` with temporal models: a window(1) Y model and a recurrent model run through a
Session in the video pipeline. Every output frame is its own input frame's (pts kept exactly) and equals
`pysr.run` on the same decoded frames; Ctrl-C + --resume rebuilds the model's state and stays exact; --tile is
refused; per-frame eval numbers equal a direct computation."""

from __future__ import annotations

import io
import json
from fractions import Fraction

import av
import numpy as np
import pytest
from media import lossless_rgb_video
from test_session import tiny_egvsr, window_model
from test_upscale_cli import one_error_line
from test_video import audio_packets, frame_times, make_video, pattern

import pysr
from pysr.cli import main
from pysr.eval.images import mod_crop
from pysr.eval.metrics import psnr, ssim, y_channel
from pysr.eval.video import read_video
from pysr.ops.resize_bicubic_matlab import imresize_uint8
from pysr.stream.session import Session
from pysr.video.colour import rgb_to_yuv
from pysr.video.reader import Decoded, open_source, plane_array
from pysr.video.writer import output_colour
from pysr.video.y4m import Y4mReader, Y4mWriter, parse_header

PTS = [0, 40, 80, 130, 200, 210, 300, 340, 400, 480]       # ms, 10 frames, irregular
LOSSLESS = ("--codec", "ffv1", "--pix-fmt", "yuv444p")      # the output's YUV is exactly what the pipeline made


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    window, _, _ = window_model(c=1)        # window(1) on Y, chroma upscaled beside it (as SOF-VSR)
    window.save(d / "window.pysr")
    tiny_egvsr().save(d / "recurrent.pysr")
    return {"window": d / "window.pysr", "recurrent": d / "recurrent.pysr"}


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("video") / "in.mp4", pts_ms=PTS, size=(24, 16))


def upscale(*argv) -> int:
    return main(["upscale", "--progress", "none", *map(str, argv)])


def expected_planes(src, model_path=None, run=None) -> list[list[np.ndarray]]:
    """`pysr.run` (or `run`: RGB frames -> HR frames) on the RGB frames the pipeline decodes, converted to YUV
    4:4:4 as the pipeline's encoder does."""
    source = open_source(src)
    try:
        colour = output_colour(source.facts.colour, "yuv444p")
        frames = [d.image for d in source.items() if isinstance(d, Decoded)]
    finally:
        source.close()
    hr = run(frames) if run is not None else pysr.run(frames, model=pysr.load(model_path))
    return [list(rgb_to_yuv(f, colour, (1, 1))) for f in hr]


def output_planes(path) -> list[list[np.ndarray]]:
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    assert all(f.format.name == "yuv444p" for f in frames)
    return [[plane_array(p).copy() for p in f.planes[:3]] for f in frames]


def assert_planes_equal(got, want):
    assert len(got) == len(want)
    for t, (g, w) in enumerate(zip(got, want)):
        for name, a, b in zip("YUV", g, w):
            d = np.abs(a.astype(int) - b)
            assert d.max() == 0, f"frame {t} plane {name}: {(d > 0).sum()} values differ, max {d.max()}"


@pytest.mark.parametrize("kind", ["window", "recurrent"])
def test_temporal_video_equals_pysr_run(tmp_path, models, video, kind):
    out = tmp_path / "out.mkv"
    assert upscale("-i", video, "-o", out, "-m", models[kind], *LOSSLESS) == 0
    assert frame_times(out) == frame_times(video) == [Fraction(p, 1000) for p in PTS]
    assert audio_packets(out) == audio_packets(video) > 0
    want = expected_planes(video, models[kind])
    got = output_planes(out)
    assert got[0][0].shape == (32, 48)
    assert_planes_equal(got, want)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"]


def interrupted_upscale(monkeypatch, after: int, *argv) -> int:
    """`pysr upscale` with a Ctrl-C as frame `after` is reported; returns its exit status."""
    from pysr.video.progress import Progress

    real_update = Progress.update

    def update(self, frames):
        real_update(self, frames)
        if frames == after:
            raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Progress, "update", update)
        return upscale(*argv)


@pytest.mark.parametrize(("kind", "rerun"), [("window", 1), ("recurrent", 4)])
def test_interrupt_then_resume_rebuilds_the_state(tmp_path, models, video, monkeypatch, capsys, kind, rerun):
    out, partial = tmp_path / "out.mkv", tmp_path / "out.partial.mkv"
    assert interrupted_upscale(monkeypatch, 4, "-i", video, "-o", out, "-m", models[kind], *LOSSLESS) == 130
    assert "4 frames written" in capsys.readouterr().err
    assert frame_times(partial) == [Fraction(p, 1000) for p in PTS[:4]]
    assert upscale("-i", video, "-o", out, "-m", models[kind], *LOSSLESS, "--resume") == 0
    err = capsys.readouterr().err
    assert "resuming" in err and f"runs again over the last {rerun} of those frames" in err
    assert frame_times(out) == [Fraction(p, 1000) for p in PTS]
    assert audio_packets(out) == audio_packets(video)
    assert_planes_equal(output_planes(out), expected_planes(video, models[kind]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"]


@pytest.fixture(scope="module")
def cascade_models(tmp_path_factory):
    from test_cascade import fedsr_model, tcsr_model

    d = tmp_path_factory.mktemp("cascade")
    fedsr_model(scale=2).save(d / "fedsr.pysr")
    tcsr_model(1).save(d / "tcsr.pysr")
    return d / "fedsr.pysr", d / "tcsr.pysr"


def test_cascade_video_interrupted_and_resumed_equals_the_cascade(tmp_path, cascade_models, video, monkeypatch,
                                                                   capsys):
    from pysr.stream.cascade import Cascade, parse_policy

    fedsr, tcsr = cascade_models
    refined = []

    def cascade(frames):
        c = Cascade(pysr.load(fedsr), pysr.load(tcsr), parse_policy("every:3"))
        outs = [o for f in frames for o in c.push(f)] + c.flush()
        refined[:] = [o.refined for o in outs]
        return [o.frame for o in outs]

    want = expected_planes(video, run=cascade)
    assert refined == [t % 3 == 0 for t in range(10)]
    argv = ("-i", video, "-o", tmp_path / "out.mkv", "-m", fedsr, "--tcsr", tcsr, "--tcsr-policy", "every:3",
            *LOSSLESS)
    assert upscale(*argv) == 0
    assert frame_times(tmp_path / "out.mkv") == [Fraction(p, 1000) for p in PTS]
    assert_planes_equal(output_planes(tmp_path / "out.mkv"), want)
    # interrupted after 5 frames: the resume re-runs frame 4 and must not take it for a sequence's frame 0
    assert interrupted_upscale(monkeypatch, 5, *argv[:3], tmp_path / "again.mkv", *argv[4:]) == 130
    capsys.readouterr()
    assert upscale(*argv[:3], tmp_path / "again.mkv", *argv[4:], "--resume") == 0
    assert "runs again over the last 1 of those frames" in capsys.readouterr().err
    assert_planes_equal(output_planes(tmp_path / "again.mkv"), want)
    fedsr_alone = expected_planes(video, fedsr)
    assert not np.array_equal(fedsr_alone[3][0], want[3][0]) and np.array_equal(fedsr_alone[4][0], want[4][0])


def test_cascade_refusals(tmp_path, cascade_models, models, video, capsys):
    from PIL import Image

    fedsr, tcsr = cascade_models
    Image.fromarray(pattern(0, 16, 24)).save(tmp_path / "a.png")
    for argv, message in [(("-i", tmp_path / "a.png", "-o", tmp_path / "b.png"), "--tcsr is for videos"),
                          (("-i", video, "-o", tmp_path / "o.mkv", "--tile", "8"), "drop --tile"),
                          (("-i", video, "-o", tmp_path / "o.mkv", "--tcsr-policy", "often"), "unknown TCSR policy")]:
        assert upscale(*argv, "-m", fedsr, "--tcsr", tcsr) == 2
        assert message in one_error_line(capsys.readouterr().err)
    assert upscale("-i", video, "-o", tmp_path / "o.mkv", "-m", fedsr, "--tcsr", models["recurrent"]) == 2
    assert "window(k) model at scale 1" in one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_tile_and_images_are_refused(tmp_path, models, video, capsys):
    from PIL import Image

    for kind in ("window", "recurrent"):
        assert upscale("-i", video, "-o", tmp_path / "o.mkv", "-m", models[kind], "--tile", "8") == 2
        line = one_error_line(capsys.readouterr().err)
        assert "--tile" in line and "temporal" in line, line
    Image.fromarray(pattern(0, 16, 24)).save(tmp_path / "a.png")
    assert upscale("-i", tmp_path / "a.png", "-o", tmp_path / "b.png", "-m", models["window"]) == 2
    assert "temporal" in one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_grey_y4m_runs_the_y_window_model_on_luma(tmp_path, models):
    header = parse_header(b"YUV4MPEG2 W10 H6 F25:1 Ip Cmono")
    ys = [pattern(i, 6, 10)[..., 0] for i in range(4)]
    with open(tmp_path / "in.y4m", "wb") as f:
        writer = Y4mWriter(f, header)
        for y in ys:
            writer.write([y])
    assert upscale("-i", tmp_path / "in.y4m", "-o", tmp_path / "out.y4m", "-m", models["window"]) == 0
    reader = Y4mReader(io.BytesIO((tmp_path / "out.y4m").read_bytes()))
    assert reader.header.chroma == "mono" and (reader.header.width, reader.header.height) == (20, 12)
    got = [p[0] for p in reader]
    s = Session(pysr.load(models["window"]))
    outs = [o for y in ys for o in s.push_planes(y.astype(np.float32) * np.float32(1 / 255))] + s.flush()
    assert len(got) == len(outs) == 4
    for g, o in zip(got, outs):
        np.testing.assert_array_equal(g, np.clip(np.rint(o[0] * 255), 0, 255).astype(np.uint8))


@pytest.mark.parametrize("kind", ["window", "recurrent"])
def test_eval_sequence_per_frame_equals_direct(tmp_path, models, capsys, kind):
    gt = lossless_rgb_video(tmp_path / "gt.mkv", [pattern(i, 24, 32) for i in range(5)])
    assert main(["eval", "--hr", str(gt), "--scale", "2", "-m", str(models[kind]), "--json", "-"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    hr = [mod_crop(f, 2) for f in read_video(gt)]
    assert [np.array_equal(a, pattern(i, 24, 32)) for i, a in enumerate(hr)] == [True] * 5
    sr = list(pysr.run([imresize_uint8(f, 0.5) for f in hr], model=pysr.load(models[kind])))
    assert len(rows) == len(sr) == 5
    for row, a, b in zip(rows, hr, sr):
        ya, yb = y_channel(a), y_channel(b)
        assert (row["model"]["psnr"], row["model"]["ssim"]) == (psnr(ya, yb, 4), ssim(ya, yb, 4)), row["name"]
    # Output 2 depends on its neighbours (window) or the frames before (state): alone it differs.
    alone = pysr.run(imresize_uint8(hr[2], 0.5), model=pysr.load(models[kind]))
    assert not np.array_equal(alone, sr[2])


def test_eval_cascade_scores_what_the_cascade_outputs(tmp_path, capsys):
    from test_cascade import fedsr_model, tcsr_model

    from pysr.stream.cascade import Cascade, parse_policy

    gt = lossless_rgb_video(tmp_path / "gt.mkv", [pattern(i, 24, 32) for i in range(5)])
    fedsr, tcsr = fedsr_model(scale=2), tcsr_model(1)
    fedsr.save(tmp_path / "fedsr.pysr")
    tcsr.save(tmp_path / "tcsr.pysr")
    hr = [mod_crop(f, 2) for f in read_video(gt)]
    lr = [imresize_uint8(f, 0.5) for f in hr]
    for policy in ("all", "every:2"):
        assert main(["eval", "--hr", str(gt), "--scale", "2", "-m", str(tmp_path / "fedsr.pysr"), "--tcsr",
                     str(tmp_path / "tcsr.pysr"), "--tcsr-policy", policy, "--json", "-"]) == 0
        data = json.loads(capsys.readouterr().out)
        cascade = Cascade(fedsr, tcsr, parse_policy(policy))
        outs = [o for f in lr for o in cascade.push(f)] + cascade.flush()
        assert [o.refined for o in outs] == ([True] * 5 if policy == "all" else [True, False] * 2 + [True])
        for row, a, o in zip(data["rows"], hr, outs, strict=True):
            ya, yb = y_channel(a), y_channel(o.frame)
            assert (row["model"]["psnr"], row["model"]["ssim"]) == (psnr(ya, yb, 4), ssim(ya, yb, 4)), row["name"]
        assert "TCSR" in data["model"] and policy in data["model"]
    fedsr_alone = list(pysr.run(lr, model=fedsr))
    assert not np.array_equal(fedsr_alone[2], outs[2].frame)             # TCSR changed the frames it refined
    for argv, message in [(["--tcsr", str(tmp_path / "tcsr.pysr")], "needs a video --hr and the F-EDSR"),
                          (["-m", str(tmp_path / "fedsr.pysr"), "--tcsr", str(tmp_path / "fedsr.pysr")],
                           "window(k) model at scale 1"),
                          (["-m", str(tmp_path / "fedsr.pysr"), "--tcsr", str(tmp_path / "tcsr.pysr"),
                            "--tcsr-policy", "often"], "unknown TCSR policy")]:
        assert main(["eval", "--hr", str(gt), "--scale", "2", *argv]) == 2
        assert message in capsys.readouterr().err


def test_real_egvsr_random_weights(tmp_path, shared):
    pth = shared / "weights" / "egvsr_random_seed0" / "EGVSR_random_seed0.pth"
    model = tmp_path / "egvsr.pysr"
    assert main(["import", str(pth), "--arch", "egvsr", "-o", str(model)]) == 0
    src = make_video(tmp_path / "in.mp4", pts_ms=[0, 40, 90], size=(64, 48), audio=False)
    out = tmp_path / "out.mkv"
    assert upscale("-i", src, "-o", out, "-m", model, *LOSSLESS) == 0
    assert frame_times(out) == [Fraction(p, 1000) for p in (0, 40, 90)]
    got = output_planes(out)
    assert got[0][0].shape == (192, 256)
    assert_planes_equal(got, expected_planes(src, model))
