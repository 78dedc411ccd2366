"""`pysr train --arch tcsr`: windows of a frozen F-EDSR's outputs (precomputed with the engine), still images panned
into windows, TCSR's loss, a 20-step run that lowers the loss and exports a window(k) model, bit-exact resume, and
the CLI's refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media import textured

import pysr
from pysr import cli
from pysr.errors import InputError
from pysr.model import Model
from pysr.models import fedsr, tcsr
from pysr.models.convert import facts_for
from pysr.train import data as td


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """8 frames of a 48×64 pan (2 px per frame), lossless."""
    import av

    path = tmp_path_factory.mktemp("tcsr_clip") / "pan.mkv"
    big = textured(48, 64 + 2 * 8)
    with av.open(str(path), "w") as c:
        v = c.add_stream("ffv1", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "bgr0"
        for t in range(8):
            f = np.ascontiguousarray(big[:, 2 * t : 2 * t + 64])
            for pk in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="bgr0")):
                c.mux(pk)
        for pk in v.encode(None):
            c.mux(pk)
    return path


@pytest.fixture(scope="module")
def fedsr_file(tmp_path_factory):
    cfg = fedsr.FedsrConfig(scale=2, channels=4, blocks=1)
    path = tmp_path_factory.mktemp("tcsr_fedsr") / "fedsr_x2.pysr"
    Model(fedsr.build(cfg, fedsr.init_params(cfg, 1)), facts_for("fedsr", cfg, {}, "MIT")).save(path)
    return path


@pytest.fixture(scope="module")
def windows(clip, fedsr_file):
    from pysr.train.tcsr_loop import FedsrWindows, load_fedsr

    return FedsrWindows(td.DataConfig((str(clip),), scale=2, every=1), 12, 1, load_fedsr(str(fedsr_file), 2))


@pytest.fixture(scope="module")
def stills(tmp_path_factory):
    """A folder of two still images, 70×90 and 64×64."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("tcsr_stills") / "stills"
    folder.mkdir()
    for i, (h, w) in enumerate([(70, 90), (64, 64)]):
        Image.fromarray(textured(h, w, 10 + i)).save(folder / f"still{i}.png")
    return folder


def base_config(clip, fedsr_file, **kw):
    from pysr.train.loop import TrainConfig

    opts = dict(arch="tcsr", fedsr=str(fedsr_file), radius=1, channels=(6, 4, 1), patch=12, batch=4, steps=8,
                lr=3e-3, log_every=100)
    opts.update(kw)
    return TrainConfig(td.DataConfig((str(clip),), scale=2, every=1), **opts)


def test_windows_are_fedsr_outputs_of_bicubic_lr(windows, fedsr_file, clip):
    from pysr.ops.resize_bicubic_matlab import imresize_uint8

    assert len(windows) == 8 - 2 and windows.inputs[0].shape == windows.hr[0].shape == (8, 1, 48, 64)
    hr_rgb = list(td.read_video(Path(clip), 1))
    lr_y = td.rgb_to_y(imresize_uint8(hr_rgb[3], 0.5))
    want = pysr.run_y(lr_y, model=pysr.load(fedsr_file))            # the engine on the whole frame
    np.testing.assert_array_equal(windows.inputs[0][3, 0], want)
    np.testing.assert_allclose(windows.hr[0][3, 0], td.rgb_to_y(hr_rgb[3]), atol=1e-6)
    x, y = windows.batch(np.random.default_rng(0), 5)
    assert x.shape == (5, 3, 24, 24) and y.shape == (5, 1, 24, 24) and x.dtype == y.dtype == np.float32
    # the window and its target share one crop: the middle input is F-EDSR of the target's frame, same place
    rng = np.random.default_rng(1)
    q = rng.choice(1, p=windows.weights)
    t, y0, x0 = int(rng.integers(1, 7)), int(rng.integers(0, 25)), int(rng.integers(0, 41))
    rot, flip = int(rng.integers(4)), bool(rng.integers(2))
    x, y = windows.batch(np.random.default_rng(1), 1)
    assert q == 0
    crop = (slice(y0, y0 + 24), slice(x0, x0 + 24))
    np.testing.assert_array_equal(x[0], td.augment(windows.inputs[0][t - 1 : t + 2, 0][(slice(None), *crop)],
                                                   rot, flip))
    np.testing.assert_array_equal(y[0], td.augment(windows.hr[0][t][(slice(None), *crop)], rot, flip))


@pytest.mark.parametrize("vy, vx", [(1, 3), (-2, 1), (0, -3)])
def test_panned_still_is_what_a_panning_camera_films(stills, fedsr_file, vy, vx):
    """A panned window equals the window of a real camera moving (vy, vx) HR pixels per frame over the still: each
    frame its own crop of the still, bicubic ×2 LR, the F-EDSR on the whole frame. Odd speeds put neighbours on
    the other LR sampling phase. Compared away from the camera frames' edges (bicubic taps + F-EDSR's reach)."""
    from pysr.ops.resize_bicubic_matlab import imresize_uint8
    from pysr.train.pan import PanWindows
    from pysr.train.tcsr_loop import load_fedsr

    model = load_fedsr(str(fedsr_file), 2)
    pan = PanWindows((str(stills / "still0.png"),), td.DataConfig((), scale=2), 6, 1, 3, model)
    assert len(pan) == 1 and pan.skipped == 0
    still = td.read_image(stills / "still0.png")
    y0, x0, p, m = 24, 30, 12, 20                        # centre crop origin, crop side, the frames' margin
    frames, target = pan.window(0, y0, x0, vy, vx)
    assert frames.shape == (3, p, p) and target.shape == (1, p, p)
    np.testing.assert_allclose(target[0], td.rgb_to_y(still)[y0 : y0 + p, x0 : x0 + p], atol=1e-6)
    for i, t in enumerate((-1, 0, 1)):
        y, x = y0 + t * vy - m, x0 + t * vx - m          # the camera frame: the crop plus m pixels around it
        frame = still[y : y + p + 2 * m, x : x + p + 2 * m]
        want = pysr.run_y(td.rgb_to_y(imresize_uint8(frame, 0.5)), model=model)[m : m + p, m : m + p]
        np.testing.assert_allclose(frames[i], want, atol=1e-5, err_msg=f"frame {t}")


def test_panned_batches_stay_inside_and_mix_half_and_half(stills, fedsr_file, windows):
    from pysr.train.pan import MixedWindows, PanWindows
    from pysr.train.tcsr_loop import load_fedsr

    cfg = td.DataConfig((), scale=2)
    pan = PanWindows((str(stills),), cfg, 12, 1, 4, load_fedsr(str(fedsr_file), 2))
    assert len(pan) == 2
    rng = np.random.default_rng(0)
    for _ in range(50):                                 # any draw fits (window() raises when a frame leaves)
        x, y = pan.batch(rng, 4)
    assert x.shape == (4, 3, 24, 24) and y.shape == (4, 1, 24, 24)
    mixed = MixedWindows(windows, pan)
    x, y = mixed.batch(np.random.default_rng(1), 5)
    assert x.shape == (5, 3, 24, 24) and len(mixed) == len(windows) + 2
    r = np.random.default_rng(1)
    np.testing.assert_array_equal(x[:2], windows.batch(r, 2)[0])
    np.testing.assert_array_equal(x[2:], pan.batch(r, 3)[0])
    with pytest.raises(InputError, match="at least 84 pixels"):       # 2·40 crop, ±1 px of motion, phase slack
        PanWindows((str(stills),), cfg, 40, 1, 1, load_fedsr(str(fedsr_file), 2))


def test_resume_is_bit_exact(torch, clip, fedsr_file, windows, tmp_path):
    from pysr.train.loop import TrainConfig, train

    base = base_config(clip, fedsr_file, steps=6, checkpoint_every=2)
    straight = train(base, pairs=windows, log=lambda s: None)
    ckpt = str(tmp_path / "tcsr.ckpt")
    half = train(TrainConfig(**{**base.__dict__, "checkpoint": ckpt, "stop_at": 3}), pairs=windows, log=lambda s: None)
    assert half.step == 3 and half.model is None
    resumed = train(TrainConfig(**{**base.__dict__, "checkpoint": ckpt}), resume=True, pairs=windows,
                    log=lambda s: None)
    assert half.losses + resumed.losses == straight.losses and resumed.step == 6
    a, b = straight.net.state_dict(), resumed.net.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resume"
    # another radius or another F-EDSR file decides other weights: refused
    with pytest.raises(InputError, match="radius"):
        train(TrainConfig(**{**base.__dict__, "checkpoint": ckpt, "radius": 2}), resume=True, pairs=windows)
    other = tmp_path / "other.pysr"
    cfg = fedsr.FedsrConfig(scale=2, channels=4, blocks=1)
    Model(fedsr.build(cfg, fedsr.init_params(cfg, 2)), facts_for("fedsr", cfg, {}, "MIT")).save(other)
    with pytest.raises(InputError, match="fedsr_sha256"):
        train(TrainConfig(**{**base.__dict__, "checkpoint": ckpt, "fedsr": str(other)}), resume=True, pairs=windows)


def test_cli_20_steps_lower_the_loss_and_export_a_window_model(torch, clip, fedsr_file, tmp_path, capsys):
    out = tmp_path / "tcsr.pysr"
    code = cli.main(["train", "--arch", "tcsr", "--fedsr", str(fedsr_file), "--scale", "2", "--data", str(clip),
                     "--channels", "6", "4", "1", "--patch", "12", "--batch", "4", "--steps", "20", "--lr", "3e-3",
                     "--log-every", "5", "-o", str(out)])
    io = capsys.readouterr()
    assert code == 0, io.err
    assert "windows of 3 frames" in io.out
    losses = [float(line.split("loss ")[1].split()[0]) for line in io.out.splitlines() if line.startswith("step ")]
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0], f"losses {losses}"
    m = pysr.load(out)
    assert m.facts["architecture"] == "tcsr" and m.facts["temporal"] == "window(1)" and m.scale == 1
    assert tcsr.config_from_json(m.facts["config"]) == tcsr.TcsrConfig(radius=1, channels=6, ofr_channels=4,
                                                                       ofr_blocks=1)
    prov = m.facts["provenance"]
    assert prov["fedsr"] == Path(fedsr_file).name and "warp" in prov["loss"] and "--arch tcsr" in prov["command"]
    # it runs where it is meant to: behind the F-EDSR in a cascade
    from pysr.stream.cascade import Cascade, always

    c = Cascade(pysr.load(fedsr_file), m, always())
    outs = [o for f in [textured(12, 16, s) for s in range(3)] for o in c.push(f)] + c.flush()
    assert [o.refined for o in outs] == [True] * 3 and outs[0].frame.shape == (24, 32, 3)


def test_cli_stills_flow_scale_and_warp_weights(torch, clip, fedsr_file, stills, tmp_path, capsys):
    out, ckpt = tmp_path / "tcsr.pysr", tmp_path / "tcsr.ckpt"
    argv = ["train", "--arch", "tcsr", "--fedsr", str(fedsr_file), "--scale", "2", "--data", str(clip), "--stills",
            str(stills), "--pan-speed", "3", "--flow-scale", "15.5", "--warp-weights", "0.25", "0.5", "--channels",
            "6", "4", "1", "--patch", "12", "--batch", "4", "--steps", "4", "--log-every", "2", "--checkpoint",
            str(ckpt), "-o", str(out)]
    code = cli.main(argv)
    io = capsys.readouterr()
    assert code == 0, io.err
    assert "2 stills panned at up to 3 HR pixels per frame" in io.out
    m = pysr.load(out)
    assert tcsr.config_from_json(m.facts["config"]).flow_scale == 15.5
    prov = m.facts["provenance"]
    assert prov["stills"] == [str(stills)] and prov["pan_speed"] == 3 and "--stills" in prov["command"]
    assert prov["loss"] == "L1 + 0.25·warp1 + 0.5·warp2" and "--warp-weights 0.25 0.5" in prov["command"]
    # the stills, their speed and the loss weights belong to the run: a resume with another is refused
    code = cli.main([a if a != "3" else "2" for a in argv] + ["--resume"])
    assert code == 2 and "pan_speed" in capsys.readouterr().err
    code = cli.main([a if a != "0.25" else "0.2" for a in argv] + ["--resume"])
    assert code == 2 and "warp_weights" in capsys.readouterr().err
    for extra in (["--stills", str(stills)], ["--warp-weights", "0.2", "0.3"]):
        code = cli.main(["train", "--arch", "espcn", "--scale", "2", "--data", str(stills), *extra,
                         "--steps", "1", "-o", str(tmp_path / "espcn.pysr")])
        assert code == 2 and "--warp-weights are only for --arch tcsr" in capsys.readouterr().err


def test_warp_weights_weigh_the_loss(torch, clip, fedsr_file, tmp_path, capsys):
    """The same first step under two weightings: the logged loss is L1 + α·warp1 + β·warp2 with the given α, β,
    and the logged warp losses are the ones it weighs."""
    logged = {}
    for beta in ("0.5", "0.9"):
        argv = ["train", "--arch", "tcsr", "--fedsr", str(fedsr_file), "--scale", "2", "--data", str(clip),
                "--channels", "6", "4", "1", "--patch", "12", "--batch", "4", "--steps", "1", "--log-every", "1",
                "--warp-weights", "0", beta, "-o", str(tmp_path / "tcsr.pysr")]
        assert cli.main(argv) == 0
        line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("step 1/1"))
        words = line.split()
        logged[beta] = {key: float(words[words.index(key) + 1]) for key in ("loss", "warp1", "warp2")}
    half, more = logged["0.5"], logged["0.9"]
    assert half["warp1"] == more["warp1"] and half["warp2"] == more["warp2"] > 1e-3   # the same untrained net
    assert more["loss"] - half["loss"] == pytest.approx(0.4 * half["warp2"], abs=2e-5)


@pytest.mark.parametrize("argv, message", [
    (["--arch", "tcsr"], "--fedsr"),
    (["--arch", "tcsr", "--fedsr", "FEDSR", "--scale", "3"], "×2"),
    (["--arch", "espcn", "--fedsr", "FEDSR"], "only for --arch tcsr"),
    (["--arch", "tcsr", "--fedsr", "FEDSR", "--loss", "mse"], "own loss"),
    (["--arch", "tcsr", "--fedsr", "FEDSR", "--channels", "4", "4", "1", "1", "1"], "C [OFR_C"),
    (["--arch", "tcsr", "--fedsr", "FEDSR", "--rescale", "1", "0.5"], "single-frame training"),
    (["--arch", "tcsr", "--fedsr", "FEDSR", "--warp-weights", "0.5", "0.2"], "0 <= ALPHA < BETA < 1"),
    (["--arch", "tcsr", "--fedsr", "FEDSR", "--warp-weights", "0.1", "1"], "0 <= ALPHA < BETA < 1"),
])
def test_cli_refusals(torch, clip, fedsr_file, capsys, argv, message):
    argv = [str(fedsr_file) if a == "FEDSR" else a for a in argv]
    if "--scale" not in argv:
        argv += ["--scale", "2"]
    rc = cli.main(["train", *argv, "--data", str(clip), "--steps", "1", "-o", "unused.pysr"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err
