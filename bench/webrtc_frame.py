"""The per-frame cost of `pysr webrtc` (pysr/live/webrtc.py): where one frame's time goes, stage by stage.

    python3 bench/webrtc_frame.py                          # stages, track, codecs, floor at 160×96 and 640×360
    python3 bench/webrtc_frame.py --loop 20                # + the whole aiortc loop, 20 s per size
    python3 bench/webrtc_frame.py --loop 20 --py-spy       # + a py-spy profile of the server process
    python3 bench/webrtc_frame.py --only loop --loop 20 --backend cpu,auto

1. Stages: a yuv420p av.VideoFrame (what aiortc's VP8 and H.264 decoders hand over) through the per-frame path to
   the av.VideoFrame given to the encoder, each stage timed. Variants, interleaved round by round (median of
   --repeat rounds):
     v0  the per-frame code before this change (kept below as it was, with laps added): Y → float, `pysr.run_y`
         (finite check, copy, plan), rint → uint8, U and V stacked → float → bicubic plan → uint8, a new frame and
         three plane copies; on the cpu backend (its default then) and on native.
     v1  `webrtc.upscale_video_frame(timings=…)`: the code the server runs, its own laps.
2. Track: `UpscaledTrack.recv` over a source that always has a frame ready — the per-frame path plus the hop to the
   inference thread and back, the slot and the counters — against the bare call.
3. Codecs (aiortc's, not ours to optimise, but in every frame's total): VP8 and H.264 encode and decode of the LR
   frame (the sender and the server's decoder) and of the HR frame (the server's encoder and the receiver).
4. Floor: the network's FLOPs ÷ the FP32 peak measured in this run (bench/espcn_cpu.py `peak_gflops`, 2 threads).
5. --loop S: `pysr webrtc` as its own process, an aiortc client in this one sending a panning 30 fps VP8 stream at
   each size for S seconds and receiving the upscaled track; the server's /status at the end (fps out, mean
   inference and server ms, dropped). --py-spy samples the server for the whole run (`py-spy record --format raw`
   --native --nonblocking) and prints the share of samples per thread and the top frames.

The machine is shared and loaded: compare figures within one run (ratios), not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from espcn_cpu import peak_gflops  # noqa: E402

import pysr  # noqa: E402
from pysr import backends as pysr_backends  # noqa: E402
from pysr.live import webrtc  # noqa: E402
from pysr.video.reader import plane_array  # noqa: E402

SIZES = [(160, 96), (640, 360)]
SERVER_CODE = ("import sys, aioice.ice; aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ['127.0.0.1']; "
               "from pysr.cli import main; sys.exit(main(sys.argv[1:]))")


# -- v0: the per-frame path before this change, verbatim but for the laps ------------------------------------------

def _u8_v0(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * np.float32(255)), 0, 255).astype(np.uint8)


def frame_v0(frame: av.VideoFrame, model, backend: str, timings: list) -> av.VideoFrame:
    t = [time.perf_counter()]

    def lap(name):
        t.append(time.perf_counter())
        timings.append((name, t[-1] - t[-2]))

    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    y, u, v = (plane_array(p) for p in frame.planes)
    lap("planes")
    s = model.scale
    h, w = y.shape
    yf = y.astype(np.float32) * np.float32(1 / 255)
    lap("y to float")
    y_hr = pysr.run_y(yf, model, backend)
    lap("network")
    y_hr = _u8_v0(y_hr)
    lap("y to u8")
    cbcr = np.stack([u, v])[None].astype(np.float32) * np.float32(1 / 255)
    lap("uv to float")
    c_hr = webrtc.chroma_plan(s, backend, u.shape[0], u.shape[1]).run(cbcr)[0][0]
    lap("chroma bicubic")
    hc, wc = -(-h * s // 2), -(-w * s // 2)
    planes = y_hr, _u8_v0(c_hr[0, :hc, :wc]), _u8_v0(c_hr[1, :hc, :wc])
    lap("uv to u8")
    out = av.VideoFrame(frame.width * s, frame.height * s, "yuv420p")
    for plane, data in zip(out.planes, planes, strict=True):
        plane_array(plane)[:] = data
    out.pts = frame.pts
    if frame.time_base is not None:
        out.time_base = frame.time_base
    out.colorspace, out.color_range = frame.colorspace, frame.color_range
    lap("frame out")
    return out


def frame_v1(frame, model, backend, timings):
    return webrtc.upscale_video_frame(frame, model, backend, timings=timings)


# -- inputs -------------------------------------------------------------------------------------------------------

def scene(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Textured Y, smooth chroma (tests/test_webrtc.py's scene, without its checkerboard)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    y = 120 + 45 * np.sin(2 * np.pi * xx / 23 + yy / 9) + 25 * np.cos(2 * np.pi * (xx + 2 * yy) / 37)
    u = 128 + 40 * np.sin(xx[::2, ::2] / 30)
    v = 128 + 40 * np.cos(yy[::2, ::2] / 20 + xx[::2, ::2] / 50)
    return tuple(np.clip(np.rint(p), 16, 235).astype(np.uint8) for p in (y, u, v))


def yuv_frame(planes, pts=0) -> av.VideoFrame:
    y = planes[0]
    f = av.VideoFrame(y.shape[1], y.shape[0], "yuv420p")
    for plane, data in zip(f.planes, planes):
        plane_array(plane)[:] = data
    f.pts, f.time_base = pts, Fraction(1, 90000)
    return f


def decoded_frame(w: int, h: int) -> av.VideoFrame:
    """A frame as aiortc's VP8 decoder gives it: the scene through one VP8 encode and decode."""
    from aiortc.codecs import get_decoder, get_encoder
    from aiortc.jitterbuffer import JitterFrame

    codec = codec_params("VP8")
    enc, dec = get_encoder(codec), get_decoder(codec)
    payloads, ts = enc.encode(yuv_frame(scene(h, w)), True)
    return dec.decode(JitterFrame(b"".join(depayload(codec, p) for p in payloads), ts))[0]


def codec_params(name: str):
    from aiortc.codecs import CODECS
    return next(c for c in CODECS["video"] if c.name == name)


def depayload(codec, payload):
    from aiortc.codecs import depayload
    return depayload(codec, payload)


def median_ms(values) -> float:
    return statistics.median(values) * 1e3


# -- 1. stages ----------------------------------------------------------------------------------------------------

def stages(model, backends: list[str], repeat: int) -> None:
    variants = [("v0", "cpu", frame_v0)] + [("v0", b, frame_v0) for b in backends if b != "cpu"]
    variants += [("v1", b, frame_v1) for b in backends]
    for w, h in SIZES:
        frame = decoded_frame(w, h)
        print(f"\n### stages, {w}×{h} → {2 * w}×{2 * h} ({frame.format.name}, line sizes "
              f"{[p.line_size for p in frame.planes]}); median ms of {repeat} interleaved rounds")
        laps = {v: collections.defaultdict(list) for v in variants}
        totals = {v: [] for v in variants}
        for v in variants:                          # compile the plans, warm the caches
            for _ in range(2):
                v[2](frame, model, v[1], [])
        for _ in range(repeat):
            for v in variants:
                timings = []
                t0 = time.perf_counter()
                v[2](frame, model, v[1], timings)
                totals[v].append(time.perf_counter() - t0)
                for name, s in timings:
                    laps[v][name].append(s)
        names = list(dict.fromkeys(n for v in variants for n in laps[v]))
        print("| stage | " + " | ".join(f"{n} {b}" for n, b, _ in variants) + " |")
        print("| --- |" + " ---: |" * len(variants))
        for name in names:
            print(f"| {name} | " + " | ".join(f"{median_ms(laps[v][name]):.3f}" if laps[v][name] else "—"
                                              for v in variants) + " |")
        print("| **total** | " + " | ".join(f"**{median_ms(totals[v]):.2f}**" for v in variants) + " |")


# -- 2. the track -------------------------------------------------------------------------------------------------

class OnDemand(webrtc.MediaStreamTrack):
    """A source that hands over a frame each time `give()` is called, as a decoder would when the next one is
    decoded (one always ready would keep the pump task spinning on the event loop)."""

    kind = "video"

    def __init__(self, frame):
        super().__init__()
        self.frame, self.pts, self.queue = frame, 0, asyncio.Queue()

    def give(self) -> None:
        self.queue.put_nowait(None)

    async def recv(self):
        await self.queue.get()
        self.pts += 3000
        self.frame.pts = self.pts
        return self.frame


def track(model, backend: str, repeat: int) -> None:
    print(f"\n### UpscaledTrack.recv vs the bare call ({backend}), median ms of {repeat}; the event loop's longest "
          "stall during recv (a task ticking every 1 ms: the gap it saw, median of the per-frame maxima)")
    print("| size | bare upscale_video_frame | track.recv | difference (hop, slot, counters) | loop stall |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for w, h in SIZES:
        bare, rec, stall = asyncio.run(track_rounds(decoded_frame(w, h), model, backend, repeat))
        print(f"| {w}×{h} | {median_ms(bare):.2f} | {median_ms(rec):.2f} | {median_ms(rec) - median_ms(bare):+.2f} "
              f"| {median_ms(stall):.2f} |")


async def track_rounds(frame, model, backend: str, repeat: int):
    """Alternately the bare call and one `recv` of a track (on its own inference thread), `repeat` of each."""
    last, gaps = [time.perf_counter()], []

    async def tick():
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

    ticker = asyncio.ensure_future(tick())
    with ThreadPoolExecutor(1) as ex:
        source = OnDemand(frame)
        tr = webrtc.UpscaledTrack(source, model, backend, ex, webrtc.PeerStats(), 1 << 22, print)
        bare, rec, stall = [], [], []
        for i in range(repeat + 3):
            t0 = time.perf_counter()
            webrtc.upscale_video_frame(frame, model, backend)
            t_bare = time.perf_counter() - t0
            source.give()
            await asyncio.sleep(0.002)                  # the pump takes it into the slot
            gaps.clear()
            t1 = time.perf_counter()
            last[0] = t1
            await tr.recv()
            t2 = time.perf_counter()
            if i >= 3:
                bare.append(t_bare)
                rec.append(t2 - t1)
                stall.append(max(gaps + [t2 - last[0]]))
        tr.stop()
    ticker.cancel()
    return bare, rec, stall


# -- 3. codecs ----------------------------------------------------------------------------------------------------

def codecs(repeat: int) -> None:
    from aiortc.codecs import get_decoder, get_encoder
    from aiortc.jitterbuffer import JitterFrame

    print(f"\n### aiortc's codecs (its settings, one thread per codec below 640×480), median ms of {repeat} frames "
          "of a panning scene")
    print("| codec | size | encode | decode |")
    print("| --- | --- | ---: | ---: |")
    for name in ("VP8", "H264"):
        codec = codec_params(name)
        for w, h in [s for ws, hs in SIZES for s in ((ws, hs), (2 * ws, 2 * hs))]:
            big = scene(h, w + 2 * (repeat + 10))
            enc, dec = get_encoder(codec), get_decoder(codec)
            te, td = [], []
            for i in range(repeat + 10):
                x = 2 * i
                f = yuv_frame((big[0][:, x:x + w], big[1][:, x // 2:x // 2 + w // 2],
                               big[2][:, x // 2:x // 2 + w // 2]), 3000 * i)
                t0 = time.perf_counter()
                payloads, ts = enc.encode(f, i == 0)
                t1 = time.perf_counter()
                dec.decode(JitterFrame(b"".join(depayload(codec, p) for p in payloads), ts))
                t2 = time.perf_counter()
                if i >= 10:
                    te.append(t1 - t0)
                    td.append(t2 - t1)
            print(f"| {name} | {w}×{h} | {median_ms(te):.2f} | {median_ms(td):.2f} |")


# -- 4. floor -----------------------------------------------------------------------------------------------------

def network_flops(model, w: int, h: int) -> float:
    """2 · MACs of the convs at the LR size (ESPCN's convs all run at LR; the pixel shuffle is free)."""
    return sum(2.0 * h * w * model.graph.params[n.params["weight"]].size for n in model.graph.nodes if n.op == "conv2d")


def floor(model, backends: list[str], repeat: int) -> None:
    peak = peak_gflops()
    print(f"\n### floor: measured FP32 peak {peak:.0f} GFLOP/s (2048² sgemm, 2 threads, this run)")
    print("| size | GFLOP | floor ms | " + " | ".join(f"network {b} ms (GFLOP/s)" for b in backends) + " |")
    print("| --- | ---: | ---: |" + " ---: |" * len(backends))
    for w, h in SIZES:
        x = np.zeros((1, 1, h, w), np.float32)
        x[0, 0] = scene(h, w)[0] / np.float32(255)
        plans = {b: model.plan(b, x.shape) for b in backends}
        for p in plans.values():
            p.run(x)
        times = {b: [] for b in backends}
        for _ in range(repeat):
            for b, p in plans.items():
                t0 = time.perf_counter()
                p.run(x)
                times[b].append(time.perf_counter() - t0)
        g = network_flops(model, w, h) / 1e9
        cells = [f"{median_ms(times[b]):.2f} ({g / (median_ms(times[b]) / 1e3):.0f})" for b in backends]
        print(f"| {w}×{h} | {g:.2f} | {g / peak * 1e3:.2f} | " + " | ".join(cells) + " |")
        steps = collections.defaultdict(list)
        for b, p in plans.items():
            for _ in range(repeat // 2):
                timings = []
                p.run(x, timings=timings)
                for name, _, s in timings:
                    steps[(b, name)].append(s)
        print("  per step: " + "; ".join(f"{b} " + ", ".join(f"{n} {median_ms(steps[(b, n)]):.2f}"
                                                            for bb, n in steps if bb == b) for b in backends))


# -- 5. the whole loop --------------------------------------------------------------------------------------------

def loop(model_name: str, backend: str, seconds: float, py_spy: bool) -> None:
    print(f"\n### the whole loop: `pysr webrtc --backend {backend}` as a process, an aiortc client here sending a "
          f"30 fps VP8 pan, {seconds:.0f} s per size")
    print("| size | frames back | fps out | infer_ms | server_ms | frames in | dropped | server CPU s / s | "
          "server CPU ms / frame out |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    details = []
    for w, h in SIZES:
        n, dt, threads, names, peer, profile = asyncio.run(one_loop(model_name, backend, w, h, seconds, py_spy))
        cpu = sum(threads.values())
        print(f"| {w}×{h} | {n} in {dt:.1f} s | {peer['fps']:.1f} | {peer['infer_ms']:.1f} | {peer['server_ms']:.1f} |"
              f" {peer['frames_in']} | {peer['dropped']} | {cpu / dt:.2f} | {1e3 * cpu / max(n, 1):.1f} |")
        details.append((f"{w}×{h}", n, threads, names, profile))
    for size, n, threads, names, profile in details:
        print(f"\n#### server threads at {size}: CPU ms per frame out (utime + stime from /proc, names from py-spy)")
        for tid, s in sorted(threads.items(), key=lambda kv: -kv[1]):
            if s * 1e3 / max(n, 1) >= 0.05:
                print(f"  {1e3 * s / max(n, 1):7.2f}  {tid} {names.get(tid, '(not a Python thread)')}")
        if profile is not None:
            summarise_profile(size, profile)


async def one_loop(model_name: str, backend: str, w: int, h: int, seconds: float, py_spy: bool):
    import aiohttp
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
    from aiortc.mediastreams import MediaStreamError

    class Pan(VideoStreamTrack):
        def __init__(self):
            super().__init__()
            self.planes, self.n = scene(h, w + 2 * 3000), 0

        async def recv(self):
            pts, time_base = await self.next_timestamp()
            x = 2 * (self.n % 3000)
            self.n += 1
            y, u, v = self.planes
            f = yuv_frame((y[:, x:x + w], u[:, x // 2:x // 2 + w // 2], v[:, x // 2:x // 2 + w // 2]), pts)
            f.time_base = time_base
            return f

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER_CODE, "webrtc", "--listen", "127.0.0.1:0", "-m", model_name, "--backend",
        backend, stderr=asyncio.subprocess.PIPE)
    spy, profile = None, None
    try:
        line = ""
        while not (m := re.search(r"http://127\.0\.0\.1:\d+", line)):
            line = (await asyncio.wait_for(proc.stderr.readline(), 120)).decode()
            if not line:
                raise RuntimeError("pysr webrtc ended before it listened")
        base = m.group(0)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        back = []

        @pc.on("track")
        def on_track(tr):
            async def pull():
                try:
                    while True:
                        back.append(await tr.recv())
                except MediaStreamError:
                    pass
            asyncio.ensure_future(pull())

        pc.addTrack(Pan())
        await pc.setLocalDescription(await pc.createOffer())
        async with aiohttp.ClientSession() as http:
            desc = pc.localDescription
            async with http.post(base + "/offer", json={"sdp": desc.sdp, "type": desc.type}) as r:
                answer = await r.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
            while len(back) < 3:
                await asyncio.sleep(0.05)
            cpu0, t0, n0 = thread_cpu(proc.pid), time.monotonic(), len(back)
            if py_spy:          # --native needs the blocking mode: each sample pauses the server briefly
                profile = Path(tempfile.mkdtemp()) / f"webrtc_{w}x{h}.txt"
                spy = await asyncio.create_subprocess_exec(
                    "py-spy", "record", "--pid", str(proc.pid), "--duration", str(int(seconds)), "--rate", "100",
                    "--format", "raw", "--native", "--threads", "-o", str(profile),
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            await asyncio.sleep(seconds)
            cpu1, t1, n1 = thread_cpu(proc.pid), time.monotonic(), len(back)
            async with http.get(base + "/status") as r:
                status = await r.json()
            if spy is not None and (await spy.wait()) != 0:
                print("py-spy: " + (await spy.stderr.read()).decode()[-300:])
                profile = None
            names = thread_names(proc.pid)              # after the recording: one tracer at a time
        await pc.close()
        threads = {tid: cpu1[tid] - cpu0.get(tid, 0.0) for tid in cpu1}
        return n1 - n0, t1 - t0, threads, names, next(iter(status["peers"].values())), profile
    finally:
        proc.terminate()
        await proc.wait()


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of a process, from /proc: unlike wall time, not inflated by the
    other jobs on the machine."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:                                         # ended meanwhile
            continue
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by native id (`py-spy dump`); other threads (the kernels' pools, the codecs') are not
    listed."""
    try:
        text = subprocess.run(["py-spy", "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names = {}
    for m in re.finditer(r"^Thread (0x[0-9A-Fa-f]+|\d+) \(([^)]*)\): \"([^\"]*)\"", text, re.M):
        names[int(m.group(1), 0)] = f"{m.group(3)} ({m.group(2)})"
    return names


def summarise_profile(size: str, path: Path, top: int = 14) -> None:
    """py-spy's raw format: one line per distinct stack, `thread (…);frame;frame … count`, root first."""
    threads, leaves, ours = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        n = int(count)
        total += n
        threads[frames[0]] += n
        leaves[frames[-1]] += n
        named = [f for f in frames[1:] if any(k in f for k in ("webrtc.py", "plan.py", "vpx.py", "h264.py"))]
        if named:
            ours[named[-1]] += n
    print(f"\n#### py-spy --native, server at {size}: {total} samples of active threads (100 Hz)")
    print("by thread: " + "; ".join(f"{t} {100 * n / total:.0f} %" for t, n in threads.most_common(8)))
    print("innermost frames:")
    for f, n in leaves.most_common(top):
        print(f"  {100 * n / total:5.1f} %  {f[:150]}")
    print("innermost frame of webrtc.py / plan.py / aiortc's codecs on the stack:")
    for f, n in ours.most_common(top):
        print(f"  {100 * n / total:5.1f} %  {f[:150]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", default="espcn_x2")
    ap.add_argument("--repeat", type=int, default=41)
    ap.add_argument("--only", choices=["stages", "track", "codecs", "floor", "loop"], action="append")
    ap.add_argument("--backend", default=None, help="the track's backend (default native where it runs), and the "
                    "loop's: one or more, comma-separated, a loop run each (default auto: what the server picks)")
    ap.add_argument("--loop", type=float, default=0.0, help="seconds of the whole loop per size (0: not run)")
    ap.add_argument("--py-spy", action="store_true", help="profile the server during the loop")
    args = ap.parse_args()
    warnings.simplefilter("ignore")             # the native module's stale-build warning in a source tree
    model = pysr.load(args.model)
    backends = ["cpu"] + (["native"] if pysr_backends.available().get("native") == "ok" else [])
    only = set(args.only or ["stages", "track", "codecs", "floor"] + (["loop"] if args.loop else []))
    print(f"# bench/webrtc_frame.py: {args.model}, backends {backends}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    picked = (args.backend or backends[-1]).split(",")[-1].replace("auto", backends[-1])
    if "stages" in only:
        stages(model, backends, args.repeat)
    if "track" in only:
        track(model, picked, args.repeat)
    if "codecs" in only:
        codecs(args.repeat)
    if "floor" in only:
        floor(model, backends, args.repeat)
    if "loop" in only:
        for backend in (args.backend or "auto").split(","):
            loop(args.model, backend, args.loop or 15.0, args.py_spy)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
