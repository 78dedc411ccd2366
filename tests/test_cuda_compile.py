"""Every CUDA source in kernels/cuda compiles, without a GPU: nvcc for sm_90 (as libpysr builds them) and, where
libnvrtc is found, NVRTC (as the cuda backend builds them through CuPy). The kernels a compiler produced must be
exactly the entry points the backend launches, with the argument types it passes (pysr/backends/_cuda_kernels.py),
so a renamed kernel or a parameter added on one side only fails here, not on a GPU.

nvcc: skipped when it is not on PATH (or $PYSR_NVCC). NVRTC: skipped unless libnvrtc is found ($PYSR_NVRTC, the
system's library path, the nvidia-cuda-nvrtc wheel, $CUDA_PATH). Both compile two files at a time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pysr.backends._cuda_kernels import ENTRY_POINTS, SOURCES
from pysr.ops import OpType

CU_FILES = sorted(SOURCES.glob("*.cu"))
HEADERS = {p.name for p in SOURCES.glob("*.cuh")}
ARCH = "90"
JOBS = 2
TYPE_LETTERS = {"int": "i", "long long": "l", "float": "f", "double": "d"}


def test_every_op_has_a_cuda_source():
    missing = [op.value for op in OpType if not (SOURCES / f"{op.value}.cu").is_file()]
    assert not missing, f"ops without kernels/cuda/<op>.cu: {missing}"


def test_entry_point_table_covers_every_source():
    assert set(ENTRY_POINTS) == {p.stem for p in CU_FILES}, "pysr/backends/_cuda_kernels.py and kernels/cuda differ"


def _code(text: str) -> str:
    """The source without comments (what the compiler reads)."""
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)


@pytest.mark.parametrize("path", CU_FILES + sorted(SOURCES.glob("*.cuh")), ids=lambda p: p.name)
def test_sources_need_no_host_headers(path):
    """NVRTC has no host headers and no <cstdint>: only the folder's own headers, included by a relative name."""
    code = _code(path.read_text())
    for inc in re.findall(r"#\s*include\s*(\S+)", code):
        assert inc.startswith('"') and inc.strip('"') in HEADERS, f"{path.name}: #include {inc} (only {HEADERS})"
    bad = sorted(set(re.findall(r"\b(u?int\d+_t|std::\w+|printf|malloc)\b", code)))
    assert not bad, f"{path.name} uses {bad}: not available under NVRTC without host headers"


# ---- nvcc ------------------------------------------------------------------------------------------------------------


def _nvcc() -> str | None:
    return os.environ.get("PYSR_NVCC") or shutil.which("nvcc")


def _compile_nvcc(nvcc: str, src: Path, out: Path) -> tuple[str, str]:
    cmd = [nvcc, f"-arch=sm_{ARCH}", "-std=c++17", "-c", str(src), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    return src.name, "" if proc.returncode == 0 else f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"


def _kernel_signatures(obj: Path) -> dict[str, str]:
    """extern "C" kernel name -> signature letters, read from the host stubs nvcc puts in the object file."""
    names = subprocess.run(["nm", "-g", "--defined-only", str(obj)], capture_output=True, text=True,
                           check=True).stdout.split()
    stubs = [n for n in names if "__device_stub__" in n]
    text = subprocess.run(["c++filt"], input="\n".join(stubs), capture_output=True, text=True, check=True).stdout
    out = {}
    for line in text.splitlines():
        m = re.match(r"__device_stub__Z(\d+)(\S+?)\((.*)\)$", line.strip())
        assert m, f"unexpected stub {line!r}"
        name = m.group(2)[: int(m.group(1))]
        params = [p.strip() for p in m.group(3).split(",")] if m.group(3) else []
        out[name] = "".join("P" if "*" in p else TYPE_LETTERS.get(p, f"<{p}>") for p in params)
    return out


def test_nvcc_compiles_every_kernel_for_sm90(tmp_path):
    nvcc = _nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found (set PYSR_NVCC or put the CUDA toolkit's bin/ on PATH)")
    with ThreadPoolExecutor(JOBS) as pool:
        results = list(pool.map(lambda p: _compile_nvcc(nvcc, p, tmp_path / f"{p.stem}.o"), CU_FILES))
    failed = [f"--- {name}\n{log[-4000:]}" for name, log in results if log]
    assert not failed, "nvcc failed:\n" + "\n".join(failed)
    if not (shutil.which("nm") and shutil.which("c++filt")):
        pytest.skip("compiled; nm / c++filt (binutils) not found to read the kernel signatures")
    for src in CU_FILES:
        got = _kernel_signatures(tmp_path / f"{src.stem}.o")
        want = ENTRY_POINTS[src.stem]
        assert set(got) == set(want), (f"{src.name}: kernels {sorted(got)}, the backend expects {sorted(want)} "
                                        "(pysr/backends/_cuda_kernels.py)")
        wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
        assert not wrong, f"{src.name}: (compiled, expected) signatures differ: {wrong}"


# ---- NVRTC ----------------------------------------------------------------------------------------------------------


def _find_nvrtc() -> str | None:
    if os.environ.get("PYSR_NVRTC"):
        return os.environ["PYSR_NVRTC"]
    candidates = []
    found = ctypes.util.find_library("nvrtc")
    if found:
        candidates.append(found)
    for site in sys.path:
        candidates += sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib", "libnvrtc.so*")))
        candidates += sorted(glob.glob(os.path.join(site, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")))
    for root in (os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root:
            candidates += sorted(glob.glob(os.path.join(root, "lib64", "libnvrtc.so*")))
    for c in candidates:
        if "builtins" not in c:
            try:
                ctypes.CDLL(c)
                return c
            except OSError:
                continue
    return None


def _nvrtc_compile(lib, src: Path) -> tuple[int, str, str]:
    """(result code, log, PTX) of one NVRTC compile with the options the cuda backend uses."""
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), src.read_bytes(), src.name.encode(), 0, None, None) == 0
    try:
        opts = [b"-std=c++17", f"-arch=compute_{ARCH}".encode(), f"-I{SOURCES}".encode()]
        rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        n = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
        log = ctypes.create_string_buffer(n.value)
        lib.nvrtcGetProgramLog(prog, log)
        ptx = b""
        if rc == 0:
            lib.nvrtcGetPTXSize(prog, ctypes.byref(n))
            buf = ctypes.create_string_buffer(n.value)
            lib.nvrtcGetPTX(prog, buf)
            ptx = buf.value
        return rc, log.value.decode(errors="replace"), ptx.decode(errors="replace")
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def test_nvrtc_compiles_every_kernel():
    path = _find_nvrtc()
    if path is None:
        pytest.skip("libnvrtc not found (set PYSR_NVRTC=/path/to/libnvrtc.so, or `pip install nvidia-cuda-nvrtc`)")
    lib = ctypes.CDLL(path)
    with ThreadPoolExecutor(JOBS) as pool:
        results = dict(zip(CU_FILES, pool.map(lambda p: _nvrtc_compile(lib, p), CU_FILES)))
    failed = [f"--- {p.name}\n{log[-4000:]}" for p, (rc, log, _) in results.items() if rc != 0]
    assert not failed, f"NVRTC ({path}) failed:\n" + "\n".join(failed)
    for p, (_, _, ptx) in results.items():
        entries = set(re.findall(r"\.entry\s+(\w+)\s*\(", ptx))
        assert entries == set(ENTRY_POINTS[p.stem]), f"{p.name}: PTX entries {sorted(entries)}"
