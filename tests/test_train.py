"""`pysr train`: the torch twin against the exported .pysr on the engine, a short run, exact resume, the
training data (degradations, crops, videos, refused evaluation sets) and the CLI's errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import pysr
from pysr import cli
from pysr.errors import InputError, PysrError
from pysr.models import espcn
from pysr.ops.resize_bicubic_matlab import imresize_uint8
from pysr.train import data as td

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def textured(rng, h: int, w: int) -> np.ndarray:
    """A uint8 RGB image with structure at several scales (smooth noise + edges), so SR has something to learn."""
    from PIL import Image

    img = np.zeros((h, w, 3))
    for cell in (4, 9, 23):
        small = rng.uniform(0, 255, (h // cell + 2, w // cell + 2, 3)).astype(np.uint8)
        img += np.asarray(Image.fromarray(small).resize((w + 2 * cell, h + 2 * cell), Image.BICUBIC))[:h, :w] / 3
    img[:, w // 3 : w // 3 + 3] = 250                                  # a few hard edges
    img[h // 2 : h // 2 + 2, :] = 5
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(7)
    for i, (h, w) in enumerate([(96, 120), (110, 97), (72, 72), (30, 40)]):   # the last is too small at ×4
        Image.fromarray(textured(rng, h, w)).save(folder / f"im{i}.png")
    return folder


@pytest.fixture(scope="module")
def video_file(tmp_path_factory):
    import av

    path = tmp_path_factory.mktemp("vid") / "clip.mp4"
    rng = np.random.default_rng(3)
    base = textured(rng, 80, 112)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 112, 80, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.roll(base, 2 * i, axis=1), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


# --- (1) torch twin == exported model on the pysr engine ---------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_exported_model_matches_torch(torch, scale, activation):
    from pysr.train.torch_models import build, export

    cfg = espcn.EspcnConfig(scale=scale, channels=(12, 7), kernels=(5, 3, 3), activation=activation)
    torch.manual_seed(scale)
    net = build("espcn", cfg)
    x = np.random.default_rng(scale).uniform(0, 1, (1, 1, 29, 37)).astype(np.float32)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for stage in ("random init", "briefly trained"):
        if stage == "briefly trained":                                  # move the weights off their init
            for _ in range(5):
                xb = torch.rand(4, 1, 10, 10)
                loss = torch.nn.functional.l1_loss(net(xb), torch.rand(4, 1, 10 * scale, 10 * scale))
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            want = net(torch.from_numpy(x)).numpy()
        model = export(net, cfg, {"test": stage})
        got = pysr.run_y(x, model=model)
        assert got.shape == (1, 1, 29 * scale, 37 * scale) == want.shape
        err = float(np.abs(got - want).max())
        assert err <= 1e-5, f"{stage} ×{scale} {activation}: max abs {err:.3g} between pysr and torch"
        assert np.abs(want).max() > 0.05                                # a real output, not all zeros


def test_export_refuses_non_finite_weights(torch):
    from pysr.train.torch_models import build, export

    cfg = espcn.EspcnConfig(scale=2, channels=(4, 4))
    net = build("espcn", cfg)
    with torch.no_grad():
        net.conv2.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(PysrError, match="conv2.weight"):
        export(net, cfg, {})


# --- (2) a short run learns and exports -------------------------------------------------------------------------

def test_short_run_reduces_loss_and_exports(torch, image_dir, tmp_path):
    from pysr.train.loop import TrainConfig, train

    out = tmp_path / "m.pysr"
    cfg = TrainConfig(td.DataConfig((str(image_dir),), scale=2), channels=(16, 8), patch=12, batch=8, steps=30,
                      lr=3e-3, log_every=10, output=str(out), command="pysr train --test")
    lines = []
    r = train(cfg, log=lines.append)
    assert len(r.losses) == 30
    first, last = np.mean(r.losses[:5]), np.mean(r.losses[-5:])
    assert last < 0.7 * first, f"loss {first:.4f} -> {last:.4f}"
    assert any(line.startswith("step 30/30") and "steps/s" in line and "ETA" in line for line in lines)
    m = pysr.load(out)
    assert m.scale == 2 and m.colour_mode == "y"
    prov = m.facts["provenance"]
    assert prov["steps"] == 30 and prov["data"] == [str(image_dir)] and prov["command"] == "pysr train --test"
    assert prov["degradation"] == "bicubic" and prov["seconds"] > 0
    lr = np.random.default_rng(0).uniform(0, 1, (20, 16)).astype(np.float32)
    with torch.no_grad():
        want = r.net(torch.from_numpy(lr[None, None])).numpy()[0, 0]
    assert np.abs(pysr.run_y(lr, model=m) - want).max() <= 1e-5


def test_validation_psnr_beats_nothing(torch, image_dir, tmp_path):
    from pysr.train.loop import TrainConfig, train

    cfg = TrainConfig(td.DataConfig((str(image_dir),), scale=2), channels=(8, 8), patch=12, batch=4, steps=4,
                      val=str(image_dir), val_every=2)
    lines = []
    r = train(cfg, log=lines.append)
    assert r.val_psnr is not None and np.isfinite(r.val_psnr)
    assert sum("val" in line and "PSNR" in line for line in lines) == 2
    assert "val" in r.model.facts["provenance"]


def test_init_starts_from_a_model_and_refuses_a_different_one(torch, image_dir, tmp_path):
    from pysr.train.loop import TrainConfig, train

    base = TrainConfig(td.DataConfig((str(image_dir),), scale=2), channels=(8, 6), patch=10, batch=4, steps=6,
                       lr=5e-3, log_every=100, output=str(tmp_path / "a.pysr"))
    pairs = td.PairSet(base.data, base.patch)
    first = train(base, pairs=pairs, log=lambda s: None)
    # lr 1e-12: the fine-tuned net is the starting model to float precision, which a fresh init is not
    tuned = train(TrainConfig(**{**base.__dict__, "init": base.output, "lr": 1e-12, "output": None}), pairs=pairs,
                  log=lambda s: None)
    for key, value in first.net.state_dict().items():
        assert torch.allclose(tuned.net.state_dict()[key], value, atol=1e-9), key
    assert tuned.model.facts["provenance"]["init"] == "a.pysr"
    with pytest.raises(InputError, match="configuration"):
        train(TrainConfig(**{**base.__dict__, "init": base.output, "channels": (8, 8), "output": None}),
              pairs=pairs, log=lambda s: None)


def test_bf16_precision_learns_like_fp32_and_belongs_to_the_run(torch, image_dir, tmp_path):
    from dataclasses import replace

    from pysr.train.loop import TrainConfig, train

    base = TrainConfig(td.DataConfig((str(image_dir),), scale=2), arch="fedsr", channels=(8, 2), patch=12, batch=8,
                       steps=30, lr=3e-3, log_every=100)
    pairs = td.PairSet(base.data, base.patch)
    fp32 = train(base, pairs=pairs, log=lambda s: None)
    bf16 = train(replace(base, precision="bf16"), pairs=pairs, log=lambda s: None)
    assert bf16.losses[0] != fp32.losses[0]                  # the same first batch, so the forward ran in bfloat16
    first, last, ref = np.mean(bf16.losses[:5]), np.mean(bf16.losses[-5:]), np.mean(fp32.losses[-5:])
    assert last < 0.7 * first and abs(last - ref) < 0.1 * ref, (first, last, ref)
    assert bf16.model.facts["provenance"]["precision"] == "bf16"
    ckpt = str(tmp_path / "bf16.ckpt")
    train(replace(base, precision="bf16", checkpoint=ckpt, stop_at=2), pairs=pairs, log=lambda s: None)
    with pytest.raises(InputError, match="precision"):
        train(replace(base, checkpoint=ckpt), resume=True, pairs=pairs)
    with pytest.raises(InputError, match="precision"):
        train(replace(base, precision="fp16"), pairs=pairs)


# --- (3) exact resume -------------------------------------------------------------------------------------------

def test_resume_is_bit_exact(torch, image_dir, tmp_path):
    from pysr.train.loop import TrainConfig, train

    base = TrainConfig(td.DataConfig((str(image_dir),), scale=3), channels=(8, 6), patch=10, batch=4, steps=8,
                       lr=5e-3, checkpoint_every=3, log_every=100)
    pairs = td.PairSet(base.data, base.patch)
    straight = train(base, pairs=pairs, log=lambda s: None)
    ckpt = str(tmp_path / "run.ckpt")
    half = train(TrainConfig(**{**base.__dict__, "checkpoint": ckpt, "stop_at": 4}), pairs=pairs, log=lambda s: None)
    assert half.step == 4 and half.model is None and Path(ckpt).is_file()
    resumed = train(TrainConfig(**{**base.__dict__, "checkpoint": ckpt}), resume=True, pairs=pairs,
                    log=lambda s: None)
    assert resumed.step == 8 and len(resumed.losses) == 4
    assert half.losses + resumed.losses == straight.losses
    a, b = straight.net.state_dict(), resumed.net.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resume"
    # a different seed (or any option that decides the weights) is refused
    with pytest.raises(InputError, match="seed"):
        train(TrainConfig(**{**base.__dict__, "checkpoint": ckpt, "seed": 1}), resume=True, pairs=pairs)


def test_resume_accepts_the_same_folders_spelled_another_way(torch, image_dir, tmp_path, monkeypatch):
    from pysr.train.loop import TrainConfig, train

    ckpt = str(tmp_path / "run.ckpt")
    base = TrainConfig(td.DataConfig((str(image_dir),), scale=2), channels=(4, 4), patch=8, batch=2, steps=4,
                       checkpoint=ckpt, checkpoint_every=2, log_every=100)
    train(TrainConfig(**{**base.__dict__, "stop_at": 2}), log=lambda s: None)
    monkeypatch.chdir(image_dir.parent)                    # the same folder, now as a relative path
    relative = TrainConfig(**{**base.__dict__, "data": td.DataConfig((image_dir.name,), scale=2)})
    assert train(relative, resume=True, log=lambda s: None).step == 4
    with pytest.raises(InputError, match="sources"):       # another folder is still refused
        other = tmp_path / "other"
        other.mkdir()
        train(TrainConfig(**{**base.__dict__, "data": td.DataConfig((str(other),), scale=2)}), resume=True)


# --- (4) data ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("degradation", td.DEGRADATIONS)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_pairs_have_the_right_shapes(image_dir, degradation, scale):
    pairs = td.PairSet(td.DataConfig((str(image_dir),), scale=scale, degradation=degradation), patch=9)
    multiple = 2 * scale if degradation == "h264" else scale
    for hr, lr in zip(pairs.hr, pairs.lr):
        assert hr.shape[0] == lr.shape[0] == 1 and hr.dtype == lr.dtype == np.float32
        assert hr.shape[1] % multiple == 0 and hr.shape[2] % multiple == 0
        assert hr.shape[1:] == (lr.shape[1] * scale, lr.shape[2] * scale)
        assert lr.min() >= 16 / 255 - 1e-6 and lr.max() <= 235 / 255 + 1e-6
    lr_b, hr_b = pairs.batch(np.random.default_rng(0), 5)
    assert lr_b.shape == (5, 1, 9, 9) and hr_b.shape == (5, 1, 9 * scale, 9 * scale)
    assert len(pairs) == 4 - (scale == 4)                     # the 30×40 image is too small at ×4 (36 px)


def test_rescale_adds_each_image_downscaled_by_matlab_bicubic(image_dir):
    pairs = td.PairSet(td.DataConfig((str(image_dir),), scale=3, rescales=(1.0, 0.5)), patch=8)
    from PIL import Image

    rgb = np.asarray(Image.open(image_dir / "im0.png"))                      # 96×120
    k = pairs.names.index(f"{image_dir / 'im0.png'} ×0.5")
    half = imresize_uint8(rgb, 0.5)                                          # 48×60: HR of the ×0.5 copy
    np.testing.assert_allclose(pairs.hr[k][0], td.rgb_to_y(half), atol=1e-6)
    np.testing.assert_allclose(pairs.lr[k][0], td.rgb_to_y(imresize_uint8(half, 1 / 3)), atol=1e-6)
    # a crop is 24 HR pixels: all four images as given; halved, the 30×40 one (15×20) is too small
    assert sorted(n.rsplit("/", 1)[-1] for n in pairs.names) == [
        "im0.png", "im0.png ×0.5", "im1.png", "im1.png ×0.5", "im2.png", "im2.png ×0.5", "im3.png"]
    assert pairs.skipped == 1
    with pytest.raises(InputError, match="--rescale factors must lie in"):
        td.PairSet(td.DataConfig((str(image_dir),), scale=3, rescales=(1.0, 1.5)), patch=8)


def test_bicubic_lr_is_matlab_imresize_of_the_rgb(image_dir):
    from PIL import Image

    pairs = td.PairSet(td.DataConfig((str(image_dir),), scale=3), patch=8)
    rgb = np.asarray(Image.open(image_dir / "im1.png"))[:108, :96]            # 110×97 cut to a multiple of 3
    k = pairs.names.index(str(image_dir / "im1.png"))
    lr_rgb = imresize_uint8(rgb, 1 / 3)
    assert lr_rgb.shape == (36, 32, 3)
    y = (16 + (65.481 * lr_rgb[..., 0] + 128.553 * lr_rgb[..., 1] + 24.966 * lr_rgb[..., 2]) / 255) / 255
    np.testing.assert_allclose(pairs.lr[k][0], y, atol=1e-6)
    assert td.rgb_to_y(np.array([[[255, 255, 255], [0, 0, 0]]], np.uint8)) == pytest.approx(
        np.array([[235 / 255, 16 / 255]]), abs=1e-6)


def test_crops_stay_aligned_under_flips_and_rotations(image_dir):
    """RGB crops: MATLAB-downscaling an HR crop reproduces its LR crop away from the crop's border."""
    s, p = 2, 16
    pairs = td.PairSet(td.DataConfig((str(image_dir),), scale=s, colour="rgb"), patch=p)
    lr_b, hr_b = pairs.batch(np.random.default_rng(1), 12)
    for lr, hr in zip(lr_b, hr_b):
        hr_u8 = np.rint(hr.transpose(1, 2, 0) * 255).astype(np.uint8)
        down = imresize_uint8(hr_u8, 1 / s).astype(np.float64) / 255
        inner = (slice(3, -3), slice(3, -3))
        diff = np.abs(down[inner] - lr.transpose(1, 2, 0)[inner])
        assert diff.max() <= 1.01 / 255 and diff.mean() < 0.3 / 255, "LR and HR crops are not aligned"


def test_blur_degradation(image_dir):
    const = np.full((24, 18, 3), 77, np.uint8)
    assert (td.blur(const, 3, 1.5) == 77).all() and td.blur(const, 3, 1.5).shape == (8, 6, 3)
    mat = td.gaussian_matrix(20, 4, 1.0)
    np.testing.assert_allclose(mat.sum(axis=1), 1)
    assert mat.shape == (5, 20) and np.argmax(mat[1]) in (5, 6)            # centred on its footprint 4..7
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert td.blur(img, 2, 2.0).std() < td.blur(img, 2, 0.5).std()          # more sigma, smoother


def test_video_sources_and_h264(video_file):
    groups = td.read_sources([str(video_file)], every=3)
    assert len(groups) == 1 and len(groups[0][1]) == 4                       # frames 0, 3, 6, 9 of 10
    assert groups[0][1][0].shape == (80, 112, 3)
    cfg = td.DataConfig((str(video_file),), scale=2, degradation="h264", every=3, bitrate=td.parse_bitrate("60k"))
    pairs = td.PairSet(cfg, patch=8)
    bic = td.PairSet(td.DataConfig((str(video_file),), scale=2, every=3), patch=8)
    assert len(pairs) == 4 and pairs.lr[0].shape == (1, 40, 56)
    d = [float(np.mean((a - b) ** 2)) for a, b in zip(pairs.lr, bic.lr)]
    assert all(x > 0 for x in d), "the h264 round trip changed nothing"
    assert 10 * np.log10(1 / np.mean(d)) > 18                                 # degraded, not destroyed
    low = td.h264_roundtrip([np.rint(bic.lr[i][0] * 255).astype(np.uint8)[..., None].repeat(3, 2)
                             for i in range(4)], 20_000)
    assert len(low) == 4 and low[0].shape == (40, 56, 3)


def test_a_folder_of_frames_is_one_video_for_windows(tmp_path):
    from PIL import Image

    for i in range(12):                                      # f0 … f11: numbered order, not f0, f1, f10, f11, f2
        Image.fromarray(np.full((24, 32, 3), 10 * i, np.uint8)).save(tmp_path / f"f{i}.png")
    (seq,) = td.read_sources([str(tmp_path)], every=1, sequences=True)
    assert [int(f[0, 0, 0]) for f in seq[1]] == [10 * i for i in range(12)]
    (seq,) = td.read_sources([str(tmp_path)], every=5, sequences=True)
    assert [int(f[0, 0, 0]) for f in seq[1]] == [0, 50, 100]
    assert len(td.read_sources([str(tmp_path)], every=1)) == 12      # single-frame training: one image each
    ws = td.WindowSet(td.DataConfig((str(tmp_path),), scale=2, every=1), patch=8, radius=1)
    assert len(ws) == 10
    lr, hr = ws.batch(np.random.default_rng(0), 4)
    assert lr.shape == (4, 3, 8, 8) and hr.shape == (4, 3, 16, 16)
    Image.fromarray(np.zeros((20, 32, 3), np.uint8)).save(tmp_path / "f12.png")
    with pytest.raises(InputError, match="f12.png is 32×20"):
        td.read_sources([str(tmp_path)], every=1, sequences=True)


def test_bitrate_parsing():
    assert td.parse_bitrate("300k") == 300_000 and td.parse_bitrate("1.5M") == 1_500_000
    assert td.parse_bitrate("250000") == 250_000
    for bad in ("fast", "12", "-3k"):
        with pytest.raises(InputError):
            td.parse_bitrate(bad)


@pytest.mark.parametrize("path", ["data/Set5/HR", "x/set14", "shared/data/Vid4/GT/calendar.mkv"])
def test_evaluation_sets_are_refused(path):
    with pytest.raises(PysrError, match="evaluation sets"):
        td.refuse_eval_sets([path])
    td.refuse_eval_sets(["data/train/T91", "video/bigbuckbunny.mp4"])         # these are fine


def test_real_evaluation_folder_is_refused():
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found at {SHARED}")
    with pytest.raises(PysrError, match="Set5"):
        td.read_sources([str(SHARED / "data/Set5/HR")])


def test_folder_without_images_names_its_subfolders(tmp_path):
    (tmp_path / "hr").mkdir()
    with pytest.raises(InputError, match="hr"):
        td.read_sources([str(tmp_path)])


# --- (5) CLI ----------------------------------------------------------------------------------------------------

def run_cli(capsys, *argv):
    rc = cli.main(["train", *map(str, argv)])
    return rc, capsys.readouterr()


def test_cli_trains_and_records_its_command(torch, image_dir, tmp_path, capsys):
    out = tmp_path / "cli.pysr"
    rc, io = run_cli(capsys, "--scale", 2, "--channels", 6, 4, "--data", image_dir, "--steps", 3, "--patch", 10,
                     "--batch", 2, "--log-every", 1, "-o", out)
    assert rc == 0, io.err
    assert "step 3/3" in io.out and f"wrote {out}" in io.out
    cmd = pysr.load(out).facts["provenance"]["command"]
    assert cmd.startswith("pysr train") and "--scale 2" in cmd and "--channels 6 4" in cmd and str(image_dir) in cmd
    assert "--radius" not in cmd and "--pan-speed" not in cmd          # TCSR's options are not this run's


@pytest.mark.parametrize("argv, message", [
    (["--scale", 4, "--data", "/x/Set5/HR", "-o", "o.pysr"], "evaluation sets"),
    (["--scale", 4, "--data", "/nonexistent/folder", "-o", "o.pysr"], "does not exist"),
    (["--scale", 2, "--data", "DATA", "--resume", "-o", "o.pysr"], "--checkpoint"),
    (["--scale", 2, "--data", "DATA", "--degradation", "h264", "--bitrate", "fast", "-o", "o.pysr"], "bitrate"),
    (["--scale", 2, "--data", "DATA", "--steps", 0, "-o", "o.pysr"], "--steps"),
    (["--scale", 2, "--data", "DATA", "--arch", "nope", "-o", "o.pysr"], "cannot train"),
])
def test_cli_errors_exit_2(torch, image_dir, capsys, argv, message):
    argv = [image_dir if a == "DATA" else a for a in argv]
    rc, io = run_cli(capsys, *argv)
    assert rc == 2 and message in io.err and io.err.startswith("pysr train: error:")


def test_cli_without_torch_says_how_to_install(monkeypatch, image_dir, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)                          # `import torch` raises ImportError
    rc, io = run_cli(capsys, "--scale", 2, "--data", image_dir, "-o", "o.pysr")
    assert rc == 2 and 'pip install "pysr[train]"' in io.err
