"""The .pysr reader and the C API under AddressSanitizer + UndefinedBehaviorSanitizer, and fuzzed.

One session-scoped clang build (cmake -DPYSR_FUZZ=ON, -O1; bench/fuzz_model_file.py `build_fuzzer`) into a
temporary folder gives the libFuzzer harness csrc/fuzz/fuzz_model_file.cpp and an ASan + UBSan libpysr.so, which
is installed to a temporary prefix; the host example (examples/host) is built against it with the same sanitizers.
  · every input kept in tests/fuzz_regressions/ is replayed: a clean exit;
  · multi-MiB hostile files load or fail within 30 s and 1 GiB each (they once took minutes or gigabytes);
  · the seed corpus (shipped weights, tiny models, hand-made hostile files) then 30 s of fuzzing on one process:
    no crash, leak, timeout or out-of-memory — a failure names the input libFuzzer kept and shows its report;
  · the host example upscales a short y4m clip (carphone, or synthetic without ../shared) under ASan (leaks
    checked) and UBSan with ESPCN ×2 and tiny window(1) and recurrent models: a clean exit, every frame out.
(No valgrind run: ASan's leak check covers the host example, and valgrind cannot run an ASan build.)
Skips, saying why, when clang, libFuzzer or cmake is missing (.ci/run installs clang and libclang-rt-14-dev).
The longer run, with a persistent corpus: `python bench/fuzz_model_file.py` (csrc/README.md).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import fuzz_model_file as fz  # bench/fuzz_model_file.py (tests/conftest.py puts bench/ on the path)
import numpy as np
import pytest

import pysr

ROOT = Path(__file__).resolve().parent.parent
REGRESSIONS = ROOT / "tests" / "fuzz_regressions"
FUZZ_SECONDS = 30
# A sanitizer report ends the process with an error; leaks are checked at exit (and after each input while fuzzing).
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}


def _report(res: subprocess.CompletedProcess, limit: int = 6000) -> str:
    text = (res.stdout or "") + (res.stderr or "")
    return text[-limit:]


@pytest.fixture(scope="session")
def fuzz_build(tmp_path_factory):
    """The harness and the sanitized library, built once per run: paths. Under pytest-xdist the workers share
    one build (the first to take the lock builds, the others wait and reuse it)."""
    why = fz.libfuzzer_missing()
    if why:
        pytest.skip(why)
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, shared by workers
    tmp = root / "fuzz-build"
    with open(root / "fuzz-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (tmp / "done").exists():
            fz.build_fuzzer(tmp / "build")
            fz.run_checked(["cmake", "--install", tmp / "build", "--prefix", tmp / "install"])
            (tmp / "done").touch()
    return {"binary": tmp / "build" / fz.BINARY, "prefix": tmp / "install", "tmp": tmp}


def _run_harness(binary: Path, args: list, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **SAN_ENV})


def test_regression_inputs_pass(fuzz_build, tmp_path):
    files = sorted(p for p in REGRESSIONS.iterdir() if p.is_file() and p.suffix != ".md")
    if not files:
        pytest.skip("tests/fuzz_regressions/ holds no inputs")
    res = _run_harness(fuzz_build["binary"], ["-timeout=10", "-rss_limit_mb=2048", *files], tmp_path, 600)
    if res.returncode != 0:
        running = [line.split("Running: ", 1)[1] for line in res.stderr.splitlines() if "Running: " in line]
        culprit = running[-1] if running else "?"
        pytest.fail(f"kept fuzzing input {culprit} fails again (exit {res.returncode}):\n{_report(res)}")
    assert res.stderr.count("Executed ") == len(files), _report(res)


def test_oversized_files_fail_fast(fuzz_build, tmp_path):
    """Multi-MiB hostile files (bench/fuzz_model_file.py `oversized_files`): seconds and a few hundred MiB each."""
    paths = []
    for name, data in fz.oversized_files().items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(data)
    for path in paths:
        res = _run_harness(fuzz_build["binary"], ["-timeout=30", "-rss_limit_mb=1024", path], tmp_path, 300)
        assert res.returncode == 0, f"{path.name} (exit {res.returncode}):\n{_report(res)}"


def test_fuzz_for_a_bounded_time(fuzz_build, tmp_path):
    seeds, corpus, artifacts = tmp_path / "seeds", tmp_path / "corpus", tmp_path / "artifacts"
    corpus.mkdir()
    artifacts.mkdir()
    fz.write_seeds(seeds)
    # -max_len: big enough for every tiny model whole; the shipped weights are seeds, mutated within it
    args = [corpus, seeds, f"-dict={fz.DICT}", f"-max_total_time={FUZZ_SECONDS}", "-timeout=10", "-rss_limit_mb=2048",
            "-max_len=65536", f"-artifact_prefix={artifacts}/", "-print_final_stats=1", "-seed=1"]
    res = _run_harness(fuzz_build["binary"], args, tmp_path, FUZZ_SECONDS + 240)
    found = sorted(p for p in artifacts.iterdir() if p.name.startswith(fz.ARTIFACT_PREFIXES))
    if res.returncode != 0 or found:
        pytest.fail(f"libFuzzer exit {res.returncode}; kept input(s): {', '.join(map(str, found)) or 'none'}\n"
                    "(copy each into tests/fuzz_regressions/ as <kind>-<sha1>, then fix the bug)\n" + _report(res))
    stats = [line for line in res.stderr.splitlines() if line.startswith("stat::")]
    print("\n".join(stats))
    assert any(line.startswith("stat::number_of_executed_units") for line in stats), _report(res)


def _clip_y4m(shared_dir: Path | None, out: Path, frames: int, size: tuple[int, int]) -> None:
    """A short 4:2:0 y4m clip: the carphone video through PyAV when ../shared is there, else synthetic."""
    video = shared_dir / "data" / "video" / "carphone_pristine.mp4" if shared_dir else None
    if video is not None and video.exists():
        pytest.importorskip("av")
        from test_native_lib import _y4m_from_video

        _y4m_from_video(video, out, frames, size, "yuv420p")
        return
    from fractions import Fraction

    from pysr.video.y4m import Y4mHeader, Y4mWriter

    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    with out.open("wb") as f:
        writer = Y4mWriter(f, Y4mHeader(w, h, Fraction(25, 1), "420jpeg"))
        for t in range(frames):
            y = (128 + 90 * np.sin(yy / 5.0 + xx / 7.0 + t)).astype(np.uint8)
            u = np.full((h // 2, w // 2), 100 + 10 * t, np.uint8)
            writer.write([y, u, 255 - u])


@pytest.fixture(scope="session")
def sanitized_host(fuzz_build):
    """examples/host built with clang, ASan and UBSan against the sanitized libpysr install."""
    host = fuzz_build["tmp"] / f"host-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    flags = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g"
    fz.run_checked(["cmake", "-S", ROOT / "examples" / "host", "-B", host, *gen, "-DCMAKE_CXX_COMPILER=clang++",
             f"-DCMAKE_PREFIX_PATH={fuzz_build['prefix']}", "-DCMAKE_BUILD_TYPE=Debug", f"-DCMAKE_CXX_FLAGS={flags}",
             "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined"])
    fz.run_checked(["cmake", "--build", host, "-j2"])
    return host / "pysr_host"


@pytest.mark.parametrize("which", ["espcn_x2", "window", "recurrent"])
def test_host_example_under_asan_and_ubsan(sanitized_host, which, tmp_path):
    """The shipped ESPCN ×2, and tiny window(1) and recurrent models (send / receive and carried state)."""
    from conftest import SHARED

    from pysr.video.y4m import Y4mReader

    model = ROOT / "weights" / "espcn_x2.pysr"
    if which != "espcn_x2":
        model = tmp_path / f"{which}.pysr"
        (fz.tiny_window_model if which == "window" else fz.tiny_recurrent_model)().save(model)
    src, dst = tmp_path / "in.y4m", tmp_path / "out.y4m"
    _clip_y4m(SHARED if SHARED.is_dir() else None, src, 3, (48, 32))
    res = subprocess.run([str(sanitized_host), "-m", str(model), "-i", str(src), "-o", str(dst), "--threads", "2"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, **SAN_ENV})
    assert res.returncode == 0, f"pysr_host under ASan + UBSan (exit {res.returncode}):\n{_report(res)}"
    assert "ERROR: AddressSanitizer" not in res.stderr and "runtime error" not in res.stderr, _report(res)
    scale = pysr.load(model).scale
    with dst.open("rb") as f:
        reader = Y4mReader(f)
        assert (reader.header.width, reader.header.height) == (48 * scale, 32 * scale)
        assert sum(1 for _ in reader) == 3
