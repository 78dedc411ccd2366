"""`pysr demo` (the README's main job) runs with nothing but the installed package and beats bicubic."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
from PIL import Image

from pysr.cli import main
from pysr.demo import y_psnr


def test_demo_writes_pictures_and_a_table_that_agree(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    sr, bic, lr = (np.asarray(Image.open(out / f"{n}.png")) for n in ("pysr", "bicubic", "lr"))
    assert sr.shape == bic.shape == (lr.shape[0] * 4, lr.shape[1] * 4, 3)
    side = Image.open(out / "bicubic_pysr_original.png")
    assert side.width == 3 * sr.shape[1] and side.height > sr.shape[0]
    table = (out / "psnr.md").read_text()
    bic_db, sr_db = (float(v) for v in re.findall(r"\| (\d+\.\d\d) \|", table))
    hr = np.asarray(Image.open(resources.files("pysr.data") / "bbb_640x360.png").convert("RGB"))
    assert abs(y_psnr(sr, hr, 4) - sr_db) < 0.006 and abs(y_psnr(bic, hr, 4) - bic_db) < 0.006
    assert sr_db > bic_db + 0.5
    assert f"pysr {sr_db:.2f} dB" in capsys.readouterr().out
