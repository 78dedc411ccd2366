"""tOF (pysr/eval/temporal.py): zero for identical sequences, the known value for a shifted one, TecoGAN's
Farneback parameters and crop, and `pysr eval --tof` on a video (table, JSON, refusals)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from media import lossless_rgb_video, panning

from pysr import cli
from pysr.errors import DataError
from pysr.eval import temporal

cv2 = pytest.importorskip("cv2", reason='tOF needs OpenCV: pip install "pysr[eval]"')


def test_identical_sequences_give_zero():
    seq = panning(7, 2)
    assert temporal.tof(seq, seq) == 0.0
    assert temporal.tof(seq, [f.copy() for f in seq], "tecogan") == 0.0
    assert list(temporal.tof_pairs(seq, seq)) == [1, 2, 3, 4, 5, 6]
    assert list(temporal.tof_pairs(seq, seq, "tecogan")) == [3, 4]            # 2 frames cut at each end


@pytest.mark.parametrize("gt_speed, sr_speed", [(2, 0), (3, 1), (1, 0)])
def test_a_shifted_sequence_gives_the_speed_difference(gt_speed, sr_speed):
    gt = panning(5, gt_speed)
    sr = panning(5, sr_speed, seed=0) if sr_speed else [gt[0]] * 5            # a frozen SR has zero motion
    value = temporal.tof(sr, gt)
    assert value == pytest.approx(gt_speed - sr_speed, abs=0.05), value


def test_farneback_parameters_and_norm_are_tecogans():
    gt, sr = panning(2, 3), panning(2, 1, seed=1)
    g = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in gt + sr]
    f_gt = cv2.calcOpticalFlowFarneback(g[0], g[1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    f_sr = cv2.calcOpticalFlowFarneback(g[2], g[3], None, 0.5, 3, 15, 3, 5, 1.2, 0)
    d = f_gt - f_sr
    assert temporal.tof(sr, gt) == pytest.approx(float(np.mean(np.sqrt(np.sum(d * d, axis=-1)))), rel=1e-6)
    assert temporal.FARNEBACK == {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5,
                                  "poly_sigma": 1.2, "flags": 0}


def test_tecogan_crop_and_errors():
    assert temporal.crop_8x8(np.zeros((100, 70, 2))).shape == (64, 32, 2)   # 96 > 84 → 64; 64 > 54 → 32
    assert temporal.crop_8x8(np.zeros((576, 704, 2))).shape == (544, 672, 2)  # Vid4 calendar's size
    with pytest.raises(DataError, match="at least 6"):
        temporal.tof(panning(5, 1), panning(5, 1), "tecogan")
    with pytest.raises(DataError, match="at least 2"):
        temporal.tof(panning(1, 1), panning(1, 1))
    with pytest.raises(DataError, match="SR frames"):
        temporal.tof(panning(3, 1), panning(4, 1))


@pytest.fixture(scope="module")
def gt_video(tmp_path_factory):
    return lossless_rgb_video(tmp_path_factory.mktemp("tof") / "gt.mkv", panning(4, 2, 48, 64))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from pysr.model import Model
    from pysr.models import fedsr
    from pysr.models.convert import facts_for

    cfg = fedsr.FedsrConfig(scale=2, channels=4, blocks=1)
    path = tmp_path_factory.mktemp("tofm") / "f.pysr"
    Model(fedsr.build(cfg, fedsr.init_params(cfg, 3)), facts_for("fedsr", cfg, {}, "MIT")).save(path)
    return path


def test_cli_adds_the_tof_column(gt_video, model_file, capsys):
    from pysr.eval.temporal import sequence_frames

    assert cli.main(["eval", "--hr", str(gt_video), "--scale", "2", "-m", str(model_file), "--tof"]) == 0
    out = capsys.readouterr().out
    assert "tOF (egvsr)" in out and out.splitlines()[1].count("tOF") == 2
    assert cli.main(["eval", "--hr", str(gt_video), "--scale", "2", "-m", str(model_file), "--tof", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tof_convention"] == "egvsr" and data["rows"][0]["tof"] == {"bicubic": None, "model": None}
    gt, lr = sequence_frames(gt_video, 2)
    from pysr.ops.resize_bicubic_matlab import imresize_uint8

    bic = temporal.tof([imresize_uint8(f, 2) for f in lr], gt)
    assert data["mean"]["tof"]["bicubic"] == pytest.approx(bic, abs=1e-12)
    assert data["mean"]["tof"]["model"] > 0 and all(r["tof"]["model"] is not None for r in data["rows"][1:])
    # bicubic only: the bicubic column alone
    assert cli.main(["eval", "--hr", str(gt_video), "--scale", "2", "--tof", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mean"]["tof"] == {"bicubic": pytest.approx(bic, abs=1e-12), "model": None}


def test_cli_refusals(gt_video, tmp_path, capsys, monkeypatch):
    (tmp_path / "imgs").mkdir()
    assert cli.main(["eval", "--hr", str(tmp_path / "imgs"), "--scale", "2", "--tof"]) == 2
    assert "video metric" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "cv2", None)                     # `import cv2` raises ImportError
    assert cli.main(["eval", "--hr", str(gt_video), "--scale", "2", "--tof"]) == 2
    assert 'pip install "pysr[eval]"' in capsys.readouterr().err
