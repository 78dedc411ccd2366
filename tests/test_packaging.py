"""`pip install .` must ship the numba kernels (kernels/ is installed as pysr.kernels), the shipped
weights and the demo sample; docs/ops.md must describe the op set as implemented."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_kernels_weights_and_sample(tmp_path):
    pytest.importorskip("setuptools")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("pysr-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for op in (ROOT / "kernels/cpu").glob("*.py"):
        assert f"pysr/kernels/cpu/{op.name}" in names
    for model in (ROOT / "weights").glob("*.pysr"):
        assert f"pysr/weights/{model.name}" in names
    assert "pysr/data/bbb_640x360.png" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_ops_doc_is_current():
    from pysr.ops.doc import render

    assert (ROOT / "docs/ops.md").read_text() == render(), "regenerate: python -m pysr.ops.doc > docs/ops.md"
