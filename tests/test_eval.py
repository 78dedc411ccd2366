"""pysr eval: metrics against independent references, the shared bicubic baselines, a shipped model, the CLI."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pysr import cli
from pysr.errors import DataError
from pysr.eval.images import evaluate_images, model_upscaler, read_rgb
from pysr.eval.metrics import psnr, ssim, y_channel
from pysr.eval.video import evaluate_video
from pysr.ops.resize_bicubic_matlab import imresize_uint8

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(11)


def ssim_loops(a, b):
    """Wang et al. SSIM written out: 2-D Gaussian from exp(−(x²+y²)/2σ²), every valid 11×11 window by hand."""
    r = np.arange(11) - 5.0
    g = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5**2))
    g /= g.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            pa, pb = a[i:i + 11, j:j + 11], b[i:i + 11, j:j + 11]
            ma, mb = (g * pa).sum(), (g * pb).sum()
            va, vb = (g * (pa - ma) ** 2).sum(), (g * (pb - mb) ** 2).sum()
            cov = (g * (pa - ma) * (pb - mb)).sum()
            vals.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_y_channel_is_matlab_rgb2ycbcr_unrounded():
    px = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [10, 20, 30]]], np.uint8)
    y = y_channel(px)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y[0], [16.0, 235.0, 16 + 65.481, 16 + (654.81 + 2571.06 + 748.98) / 255], atol=1e-12)


def test_psnr_known_values():
    a = np.full((12, 10), 100.0)
    b = a + 5.0
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25.0), abs=1e-12)
    c = a.copy()
    c[0, :] += 51.0                       # only the top row differs: shaving it away leaves equal planes
    assert psnr(a, c) == pytest.approx(10 * math.log10(255**2 / (51.0**2 / 12)), abs=1e-12)
    assert psnr(a, c, shave=1) == math.inf
    x, y = RNG.uniform(16, 235, (20, 20)), RNG.uniform(16, 235, (20, 20))
    assert psnr(x, y, 2) == psnr(y, x, 2)


def test_ssim_matches_loop_reference():
    a = RNG.uniform(16, 235, (23, 29))
    b = np.clip(a + RNG.normal(0, 12, a.shape), 0, 255)
    assert ssim(a, b) == pytest.approx(ssim_loops(a, b), abs=1e-12)
    assert ssim(a, b, shave=3) == pytest.approx(ssim_loops(a[3:-3, 3:-3], b[3:-3, 3:-3]), abs=1e-12)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-15)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-15)


def test_ssim_matches_torch_conv():
    torch = pytest.importorskip("torch")
    a = RNG.uniform(16, 235, (40, 33))
    b = np.clip(a + RNG.normal(0, 20, a.shape), 0, 255)
    r = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / 4.5)
    w = (g / g.sum())[None, None]
    ta, tb = torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None]

    def f(x):
        return torch.nn.functional.conv2d(x, w)
    ma, mb = f(ta), f(tb)
    va, vb, cov = f(ta * ta) - ma**2, f(tb * tb) - mb**2, f(ta * tb) - ma * mb
    c1, c2 = 6.5025, 58.5225
    ref = ((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))).mean().item()
    assert ssim(a, b) == pytest.approx(ref, abs=1e-12)


def test_metric_errors():
    with pytest.raises(DataError, match="one size"):
        psnr(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(DataError, match="shave"):
        psnr(np.zeros((4, 4)), np.zeros((4, 4)), shave=2)
    with pytest.raises(DataError, match="SSIM needs"):
        ssim(np.zeros((12, 12)), np.zeros((12, 12)), shave=1)


# ------------------------------------------------------------------------------------ shared baselines

def baselines(shared):
    return json.loads((shared / "data" / "bicubic_baselines.json").read_text())


@pytest.mark.shared
@pytest.mark.parametrize("name", ["Set5", "Set14"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_baselines_reproduced(shared, name, scale):
    want = baselines(shared)[name][f"x{scale}"]
    data = shared / "data" / name
    report = evaluate_images(data / "HR", scale, data / "LR_bicubic" / f"X{scale}")
    got = {r.name: r.bicubic for r in report.rows}
    assert set(got) == set(want["psnr_y"]) - {"mean"}
    for image, (p, s) in got.items():
        assert abs(p - want["psnr_y"][image]) <= 1e-3, f"{name} ×{scale} {image}: PSNR {p:.4f}"
        assert abs(s - want["ssim_y"][image]) <= 1e-4, f"{name} ×{scale} {image}: SSIM {s:.5f}"
    mp, ms = report.mean("bicubic")
    assert abs(mp - want["psnr_y"]["mean"]) <= 1e-3 and abs(ms - want["ssim_y"]["mean"]) <= 1e-4


@pytest.mark.shared
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matlab_lr_from_hr_matches_stored_lr(shared, scale):
    # Set5 at every scale (Set14 ×2-×4 holds 42 more files and only costs time; the op's own MATLAB check is
    # tests/test_matlab_resize.py)
    data = shared / "data" / "Set5"
    for hr_path in sorted((data / "HR").glob("*.png")):
        lr = read_rgb(data / "LR_bicubic" / f"X{scale}" / hr_path.name)
        made = imresize_uint8(read_rgb(hr_path), 1 / scale)
        assert made.shape == lr.shape and np.array_equal(made, lr), f"{hr_path.name} ×{scale}"
    # and the evaluation without --lr (LR made from HR) gives the same numbers as with the stored LR
    a = evaluate_images(data / "HR", scale)
    b = evaluate_images(data / "HR", scale, data / "LR_bicubic" / f"X{scale}")
    assert [r.bicubic for r in a.rows] == [r.bicubic for r in b.rows]


@pytest.mark.shared
def test_vid4_calendar_bicubic(shared):
    want = baselines(shared)["Vid4_x4"]["calendar"]
    data = shared / "data" / "Vid4"
    report = evaluate_video(data / "GT" / "calendar.mkv", 4, data / "BIx4" / "calendar")
    assert len(report.rows) == want["frames"] == 41
    got = [r.bicubic[0] for r in report.rows]
    assert np.max(np.abs(np.array(got) - want["per_frame_psnr_y"])) <= 1e-3
    mp, ms = report.mean("bicubic")
    assert abs(mp - want["psnr_y"]) <= 1e-3 and abs(ms - want["ssim_y"]) <= 1e-4


@pytest.mark.shared
def test_shipped_espcn_beats_bicubic_on_set5(shared):
    import pysr

    model = pysr.load(ROOT / "weights" / "espcn_x4.pysr")
    data = shared / "data" / "Set5"
    report = evaluate_images(data / "HR", 4, data / "LR_bicubic" / "X4", model_upscaler(model, 4))
    (bp, bs), (mp, ms) = report.mean("bicubic"), report.mean("model")
    assert mp > bp + 0.3 and ms > bs, f"ESPCN ×4 {mp:.2f}/{ms:.4f} vs bicubic {bp:.2f}/{bs:.4f}"
    with pytest.raises(DataError, match="×4"):
        model_upscaler(model, 2)


# Set5 Y-PSNR / SSIM of every shipped model as weights/README.md states them (MATLAB LR as stored).
SHIPPED_SET5 = {"espcn_x2": (2, 36.36, 0.9533), "espcn_x2_wide": (2, 36.42, 0.9537), "espcn_x3": (3, 32.36, 0.9048),
                "espcn_x4": (4, 30.13, 0.8556), "fedsr_x2": (2, 37.49, 0.9589), "fedsr_x4": (4, 31.18, 0.8809)}


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(SHIPPED_SET5))
def test_shipped_models_score_what_weights_readme_says(shared, name):
    import pysr
    from pysr.model import shipped_models

    assert set(SHIPPED_SET5) == set(shipped_models()), "a shipped model without its Set5 figure here"
    scale, want_psnr, want_ssim = SHIPPED_SET5[name]
    data = shared / "data" / "Set5"
    upscale = model_upscaler(pysr.load(name), scale)
    report = evaluate_images(data / "HR", scale, data / "LR_bicubic" / f"X{scale}", upscale)
    psnr_y, ssim_y = report.mean("model")
    assert abs(psnr_y - want_psnr) <= 0.005 and abs(ssim_y - want_ssim) <= 0.00005, (psnr_y, ssim_y)
    assert f"{want_psnr:.2f} / {want_ssim:.4f}" in (ROOT / "weights" / "README.md").read_text()


# ------------------------------------------------------------------------------------------------ CLI

def write_set(folder, n=2, size=(36, 30)):
    from PIL import Image

    folder.mkdir()
    for i in range(n):
        img = RNG.integers(0, 256, size + (3,), dtype=np.uint8)
        Image.fromarray(img).save(folder / f"im{i}.png")
    return folder


def test_cli_table_and_json(tmp_path, capsys):
    hr = write_set(tmp_path / "hr")
    out = tmp_path / "r.json"
    model = ROOT / "weights" / "espcn_x4.pysr"
    assert cli.main(["eval", "--hr", str(hr), "--scale", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "bicubic PSNR" in text and "im0" in text and "mean" in text and "model PSNR" not in text
    data = json.loads(out.read_text())
    assert [r["name"] for r in data["rows"]] == ["im0", "im1"] and data["mean"]["model"] is None
    mean_line = next(line for line in text.splitlines() if line.startswith("mean"))
    assert f"{data['mean']['bicubic']['psnr']:.2f}" in mean_line
    assert cli.main(["eval", "--hr", str(hr), "--scale", "4", "-m", str(model), "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    direct = evaluate_images(hr, 4)
    assert [r["bicubic"]["psnr"] for r in data["rows"]] == [r.bicubic[0] for r in direct.rows]
    assert data["mean"]["model"]["psnr"] > 0 and data["model"] == str(model)


@pytest.mark.parametrize("case", ["missing", "empty", "names", "sizes", "model_scale"])
def test_cli_bad_input(tmp_path, capsys, case):
    hr = write_set(tmp_path / "hr")
    args = {
        "missing": ["--hr", str(tmp_path / "nope"), "--scale", "2"],
        "empty": ["--hr", str(hr), "--lr", str((tmp_path / "empty").resolve()), "--scale", "2"],
        "names": ["--hr", str(hr), "--lr", str(tmp_path / "lr"), "--scale", "2"],
        "sizes": ["--hr", str(hr), "--lr", str(tmp_path / "lr"), "--scale", "3"],
        "model_scale": ["--hr", str(hr), "--scale", "2", "-m", str(ROOT / "weights" / "espcn_x4.pysr")],
    }[case]
    (tmp_path / "empty").mkdir()
    if case in ("names", "sizes"):
        write_set(tmp_path / "lr", n=1 if case == "names" else 2, size=(18, 15))
    assert cli.main(["eval", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pysr eval: error: ") and len(err.strip().splitlines()) <= 2
