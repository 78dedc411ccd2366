"""`pip install .` must ship the numba kernels (kernels/ is installed as pysr.kernels), the shipped
weights, the demo sample and the native module built from csrc/ (scikit-build-core); docs/ops.md must
describe the op set as implemented."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPENDENCIES = ("numpy", "numba", "llvmlite", "safetensors", "PIL", "av")     # what `import pysr` needs


def _build_deps_here() -> bool:
    try:
        import pybind11  # noqa: F401
        import scikit_build_core  # noqa: F401
    except ImportError:
        return False
    return True


def test_wheel_contains_kernels_weights_sample_and_native_module(tmp_path):
    # A private build tree (a full compile, about a minute on 2 cores) so that a developer's incremental tree
    # build/<wheel tag> is left alone; the build requirements come from this environment when it has them.
    isolation = ["--no-build-isolation"] if _build_deps_here() else []
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(tmp_path),
           f"-Cbuild-dir={tmp_path / 'build'}", str(ROOT)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("pysr-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for op in (ROOT / "kernels/cpu").glob("*.py"):
        assert f"pysr/kernels/cpu/{op.name}" in names
    for model in (ROOT / "weights").glob("*.pysr"):
        assert f"pysr/weights/{model.name}" in names
    assert {"pysr/data/bbb_640x360.png", "pysr/data/README.md", "pysr/weights/README.md"} <= names
    assert any(n.startswith("pysr/_native.") and n.endswith(".so") for n in names), "no native module in the wheel"
    assert not any(n.startswith(("tests/", "bench/", "csrc/", "build/", "include/")) for n in names)
    assert not any("__pycache__" in n or n.endswith((".nbi", ".nbc")) for n in names)
    entry_points = zipfile.ZipFile(wheel).read("pysr-0.1.0.dist-info/entry_points.txt").decode()
    assert "pysr = pysr.cli:main" in entry_points

    # the installed wheel, alone on the path (-S: no .pth files, so no editable install of this tree either)
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the dependencies from wherever this interpreter finds them (a venv may take them from the system's site)
    deps = {str(Path(importlib.import_module(m).__file__).parent.parent) for m in DEPENDENCIES}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), *sorted(deps)])}
    code = ("import numpy as np, pysr; from pysr import backends; "
            "print(pysr.__file__, backends.available()['native']); "
            "print(pysr.run(np.zeros((5, 6, 3), np.uint8), model=pysr.load('espcn_x2'), backend='native').shape)")
    proc = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [str(target / "pysr" / "__init__.py"), "ok", "(10,", "12,", "3)"], proc.stdout


def test_ops_doc_is_current():
    from pysr.ops.doc import render

    assert (ROOT / "docs/ops.md").read_text() == render(), "regenerate: python -m pysr.ops.doc > docs/ops.md"
