"""libpysr's planner (csrc/plan.cpp), one or more builds side by side in ONE process: the bytes of a plan's slots
(its intermediate values; the caller's input and output are not in them) and the ms of one run through the C API,
2 threads, on ESPCN ×4 (weights/espcn_x4.pysr) at 480×270 → 1920×1080, F-EDSR ×4 (default config, random weights)
at 320×180 and SOF-VSR ×2 (TIP, 320 channels, random weights; 3 frames stacked) at 320×180 (its run at --sofvsr-size:
a 320×180 step takes seconds on 2 cores).

    python bench/native_plan.py --build BEFORE --build AFTER [--repeat 9] [--sofvsr-size 160x90] [--models sofvsr]

A build folder holds libpysr.so and the module _native*.so of one source tree (`cmake -S TREE -B FOLDER -G Ninja
-DPYSR_BUILD_PYTHON=ON && cmake --build FOLDER -j2`); its plan_info (csrc/python/module.cpp) gives the slot bytes
and steps. Each build runs in a worker process of its own (two builds do not load side by side in one process);
runs are interleaved round by round across them (0.3 s pause, one untimed run, one timed), and every build's
output must equal the others' bit for bit before anything is timed.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

THREADS = 2
os.environ.setdefault("NUMBA_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pysr  # noqa: E402
from pysr.models import fedsr, sofvsr  # noqa: E402
from pysr.models.convert import facts_for  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AGAIN = 8
KEYS = ("espcn", "fedsr", "sofvsr")  # models() in this order


class Build:
    """One build folder: its libpysr.so through ctypes and its module (loaded as a top-level `_native`)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.c = c = ctypes.CDLL(str(folder / "libpysr.so"))
        vp = ctypes.c_void_p
        c.pysr_last_error.restype = ctypes.c_char_p
        c.pysr_model_load_memory.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(vp)]
        c.pysr_session_create.argtypes = [vp, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p, ctypes.POINTER(vp)]
        for name in ("pysr_session_run_float", "pysr_session_send_float", "pysr_session_receive_float"):
            getattr(c, name).argtypes = [vp, vp, vp][: 3 if name.endswith("run_float") else 2]
        module = next(folder.glob("_native*.so"))
        spec = importlib.util.spec_from_file_location("_native", module)
        self.native = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.native)

    def check(self, status: int, what: str) -> int:
        if status not in (0, AGAIN):
            raise RuntimeError(f"{self.folder}: {what}: status {status}: {self.c.pysr_last_error().decode()}")
        return status

    def session(self, data: bytes, w: int, h: int) -> ctypes.c_void_p:
        m, s = ctypes.c_void_p(), ctypes.c_void_p()
        self.check(self.c.pysr_model_load_memory(data, len(data), ctypes.byref(m)), "model load")
        params = (ctypes.c_int32 * 4)(THREADS, 1, -1, 0)  # num_threads, batch (and device: the CPU, precision)
        self.check(self.c.pysr_session_create(m, w, h, ctypes.byref(params), ctypes.byref(s)), "session create")
        return s

    def runner(self, data: bytes, x: np.ndarray, out_shape, window: int = 0):
        """fn() -> output: one network run on x (a single-frame model: run_float; a window model: send x as the next
        frame, receive one output, after `window` frames sent ahead)."""
        s = self.session(data, x.shape[3], x.shape[2])
        y = np.empty(out_shape, np.float32)
        if not window:
            return lambda: (self.check(self.c.pysr_session_run_float(s, x.ctypes.data, y.ctypes.data), "run"), y)[1]
        for _ in range(window):
            self.check(self.c.pysr_session_send_float(s, x.ctypes.data), "send")

        def step():
            self.check(self.c.pysr_session_send_float(s, x.ctypes.data), "send")
            assert self.check(self.c.pysr_session_receive_float(s, y.ctypes.data), "receive") == 0
            return y
        return step


def model_bytes(model: pysr.Model) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pysr"
        model.save(path)
        return path.read_bytes()


def models(sofvsr_size: tuple[int, int]) -> list[tuple[str, bytes, tuple, tuple, int]]:
    """(name, file bytes, planned input shape, timed input shape (one frame), window) per model."""
    fcfg = fedsr.FedsrConfig()
    scfg = sofvsr.SofvsrConfig()
    sw, sh = sofvsr_size
    return [
        ("ESPCN ×4, 480×270", (ROOT / "weights" / "espcn_x4.pysr").read_bytes(), (1, 1, 270, 480), (1, 1, 270, 480), 0),
        ("F-EDSR ×4 (32 ch, 8 blocks), 320×180",
         model_bytes(pysr.Model(fedsr.build(fcfg, fedsr.init_params(fcfg, 0)), facts_for("fedsr", fcfg, {}, "MIT"))),
         (1, 1, 180, 320), (1, 1, 180, 320), 0),
        (f"SOF-VSR ×2 (320 ch), 3 × 320×180 (run at {sw}×{sh})",
         model_bytes(pysr.Model(sofvsr.build(scfg, sofvsr.init_params(scfg, 0)),
                                facts_for("sofvsr", scfg, {}, "unknown"))),
         (1, 3, 180, 320), (1, 1, sh, sw), scfg.radius),
    ]


def worker(folder: Path, sofvsr_size: tuple[int, int]) -> None:
    """One build in its own process (two builds' modules, or their libpysr.so of one soname, do not load side by side
    in one process): answers lines of stdin, `info K`, `check K` (a digest of the output), `time K` (ms of one run,
    after one untimed), with one JSON line each."""
    import hashlib
    import json

    build = Build(folder)
    table = models(sofvsr_size)
    runners: dict[int, object] = {}
    for line in sys.stdin:
        what, k = line.split()
        name, data, planned, timed, window = table[int(k)]
        if what == "info":
            info = build.native.plan_info(data, [planned])
            print(json.dumps({"slot_bytes": info["slot_bytes"], "steps": [op for _, op in info["steps"]],
                              "nodes": len(info["nodes"])}), flush=True)
            continue
        if int(k) not in runners:
            x = np.random.default_rng(0).random(timed, dtype=np.float32)
            scale = 4 if "×4" in name else 2
            runners[int(k)] = build.runner(data, x, (1, 1, timed[2] * scale, timed[3] * scale), window)
        fn = runners[int(k)]
        if what == "check":
            print(json.dumps(hashlib.sha256(fn().tobytes()).hexdigest()), flush=True)
        else:
            fn()
            t0 = time.perf_counter()
            fn()
            print(json.dumps((time.perf_counter() - t0) * 1e3), flush=True)


def main() -> None:
    import json
    import statistics
    import subprocess

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", type=Path, required=True, help="a build folder (repeat to compare)")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--sofvsr-size", default="160x90", help="W×H of the timed SOF-VSR run")
    ap.add_argument("--no-time", action="store_true", help="slot bytes and steps only")
    ap.add_argument("--models", nargs="+", choices=KEYS, default=list(KEYS))
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    sw, sh = (int(v) for v in args.sofvsr_size.split("x"))
    if args.worker:
        return worker(args.worker, (sw, sh))
    workers = {}
    for b in args.build:
        cmd = [sys.executable, __file__, "--worker", str(b), "--sofvsr-size", args.sofvsr_size, "--build", str(b)]
        workers[str(b)] = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(b: str, line: str):
        p = workers[b]
        p.stdin.write(line + "\n")
        p.stdin.flush()
        out = p.stdout.readline()
        if not out:
            raise SystemExit(f"{b}: the worker died on {line!r}")
        return json.loads(out)

    print(f"load average {os.getloadavg()[0]:.1f}; builds: " + ", ".join(workers))
    for k, (name, *_rest) in enumerate(models((sw, sh))):
        if KEYS[k] not in args.models:
            continue
        print(f"\n{name}")
        for b in workers:
            info = ask(b, f"info {k}")
            ops, mib = info["steps"], sum(info["slot_bytes"]) / 2**20
            print(f"  {b}: slots {len(info['slot_bytes'])}, {mib:.1f} MiB; {len(ops)} steps "
                  f"({ops.count('concat')} concat, {ops.count('split')} split) of {info['nodes']} nodes")
        if args.no_time:
            continue
        digests = {b: ask(b, f"check {k}") for b in workers}
        if len(set(digests.values())) != 1:
            raise SystemExit(f"the builds' outputs differ: {digests}")
        t0 = time.perf_counter()
        times: dict[str, list[float]] = {b: [] for b in workers}
        for _ in range(args.repeat):
            for b in workers:
                time.sleep(0.3)  # the other process's spinning threads park
                times[b].append(ask(b, f"time {k}"))
        for b, t in times.items():
            print(f"  {b}: {statistics.median(t):.1f} ms (median of {len(t)}; min {min(t):.1f})")
        print(f"  outputs identical; {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.1f}")
    for p in workers.values():
        p.stdin.close()
        p.wait()


if __name__ == "__main__":
    main()
