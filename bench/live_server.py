"""The live server's throughput and latency on this machine: how many streams it holds at 25 fps.

    python3 bench/live_server.py                          # espcn_x2, backends native, prints the tables
    python3 bench/live_server.py --write                  # + bench/RESULTS.md

Two measurements, both with the server's own code (pysr/live/worker.py StreamWorker: decode → model → H.264 →
HLS segments), on Big Buck Bunny from ../shared (or a synthetic clip without it), pre-encoded once as H.264 at
the LR size:
1. Capacity: N workers in this process, each reading its own pre-encoded FLV file as fast as it goes (no pacing,
   no network); every stream's frames per second and their sum. N streams hold 25 fps when each of them runs at
   ≥ 25 fps side by side; the per-stage seconds (decode, model, encode) say where the time goes.
2. Latency: one stream in real time through `pysr serve --no-nginx` (RTMP on loopback, published by a remuxing
   subprocess that paces the pre-encoded packets at 25 fps: no encoder beside the server), `/status` read at the
   end: fps, decode → segment latency (mean, max; a segment is `--hls-time` long, so about that plus the work),
   dropped frames.
Floor: the model's FLOPs per frame ÷ the FP32 peak measured in the same run (a 2048² sgemm, bench/espcn_cpu.py),
printed beside each size.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pysr  # noqa: E402

SHARED = ROOT.parent / "shared"
FPS = 25

PUBLISHER = r"""
import sys, time, av
src, url = sys.argv[1], sys.argv[2]
with av.open(src) as i, av.open(url, "w", format="flv") as o:
    vi = i.streams.video[0]
    vo = o.add_stream_from_template(vi)
    start = time.monotonic()
    for p in i.demux(vi):
        if p.dts is None:
            continue
        due = start + float(p.pts * vi.time_base)
        time.sleep(max(0.0, due - time.monotonic()))
        p.stream = vo
        o.mux(p)
"""


def source_frames(width: int, height: int, n: int) -> list[np.ndarray]:
    path = SHARED / "data" / "video" / "bigbuckbunny.mp4"
    if path.is_file():
        with av.open(str(path)) as c:
            frames = [f.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
                      for f in c.decode(video=0)]
        cycle = frames + frames[-2:0:-1]
    else:
        yy, xx = np.mgrid[0:height, 0:width]
        cycle = [np.repeat((128 + 100 * np.sin((xx + 3 * i) / 9.0) * np.cos(yy / 7.0)).astype(np.uint8)[..., None],
                           3, axis=2) for i in range(50)]
    return [cycle[i % len(cycle)] for i in range(n)]


def encode_flv(path: Path, frames: list[np.ndarray], bitrate: int) -> None:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="flv") as o:
        s = o.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt, s.bit_rate = w, h, "yuv420p", bitrate
        s.options = {"preset": "veryfast", "tune": "zerolatency", "x264-params": f"keyint={2 * FPS}:scenecut=0"}
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            o.mux(s.encode(f))
        o.mux(s.encode(None))


def model_gflop(model: pysr.Model, w: int, h: int) -> float:
    """2 × the convolutions' multiply-adds of one frame, every conv at the LR size (true of ESPCN and F-EDSR's
    body; the rest of the graph is small)."""
    convs = [model.graph.params[n.params["weight"]].size for n in model.graph.nodes if n.op == "conv2d"]
    return 2.0 * w * h * sum(convs) / 1e9


def capacity(model: pysr.Model, files: list[Path], backend: str, hls: Path) -> list[dict]:
    from pysr.live.worker import LiveOptions, StreamWorker

    results: list[dict] = [{} for _ in files]

    def one(i: int, path: Path) -> None:
        worker = StreamWorker(f"s{i}", f"s{i}", model, hls, LiveOptions(backend=backend))
        container = av.open(str(path))
        t0 = time.perf_counter()
        stats = worker.run_session(container, str(path))
        wall = time.perf_counter() - t0
        results[i] = {"frames": stats.frames, "fps": stats.frames / wall, "decode_s": stats.decode_s,
                      "infer_s": stats.infer_s, "encode_s": stats.encode_s, "wall_s": wall}

    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(files)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def latency(model: pysr.Model, flv: Path, backend: str, run: Path) -> dict:
    """One real-time stream through the server (embedded ingest); its /status entry at the end."""
    from pysr.live.server import ServeConfig, Server
    from pysr.live.worker import LiveOptions

    hls = run / "hls"
    hls.mkdir(parents=True, exist_ok=True)
    url = f"rtmp://127.0.0.1:{_free_port()}/live"
    server = Server(ServeConfig(url, hls, model, None, "127.0.0.1:0", options=LiveOptions(backend=backend)),
                    log=lambda text: None)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    status_url = f"http://{server.control.address}/status"
    try:
        pub = subprocess.run([sys.executable, "-c", PUBLISHER, str(flv), f"{url}/bench"], capture_output=True,
                             text=True, timeout=600)
        if pub.returncode:
            raise SystemExit(f"publisher failed: {pub.stderr[-2000:]}")
        end = time.monotonic() + 120
        while time.monotonic() < end:
            with urllib.request.urlopen(status_url, timeout=10) as r:
                st = json.load(r)["streams"].get("bench")
            if st and st["state"] == "waiting" and st["frames_out"] > 0:
                return st
            time.sleep(0.2)
        raise SystemExit("the server did not finish the stream within 2 minutes")
    finally:
        server.stop()
        thread.join(15)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="espcn_x2")
    ap.add_argument("--backend", default="native", help="engine backend of the workers (default native)")
    ap.add_argument("--sizes", nargs="+", default=["640x360", "320x180"], help="LR sizes W×H")
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 2, 4], help="N of the capacity runs")
    ap.add_argument("--seconds", type=float, default=8.0, help="clip length")
    ap.add_argument("--write", action="store_true", help="append the tables to bench/RESULTS.md")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "bench"))
    from espcn_cpu import peak_gflops

    model = pysr.load(args.model)
    s = model.scale
    peak = peak_gflops()
    n = round(args.seconds * FPS)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in args.sizes:
            w, h = (int(v) for v in size.split("x"))
            flv = tmp / f"lr_{w}x{h}.flv"
            encode_flv(flv, source_frames(w, h, n), bitrate=int(w * h * FPS * 0.1))
            gflop = model_gflop(model, w, h)
            floor = gflop / peak * 1000
            lines += [f"#### {w}×{h} → {w * s}×{h * s}, {model!r}, backend {args.backend}, {n} frames; model "
                      f"{gflop:.1f} GFLOP/frame, floor {floor:.1f} ms/frame at the measured {peak:.0f} GFLOP/s", "",
                      "| streams | fps of each (min … max) | total fps | per frame: decode / model / encode ms "
                      "| holds 25 fps |", "| --- | --- | --- | --- | --- |"]
            for k in args.streams:
                files = []
                for i in range(k):
                    files.append(tmp / f"lr_{w}x{h}_{i}.flv")
                    if not files[-1].exists():
                        os.link(flv, files[-1])
                res = capacity(model, files, args.backend, tmp / f"hls_{size}_{k}")
                fps = [r["fps"] for r in res]
                per = [sum(r[key] for r in res) / sum(r["frames"] for r in res) * 1000
                       for key in ("decode_s", "infer_s", "encode_s")]
                row = (f"| {k} | {min(fps):.1f} … {max(fps):.1f} | {sum(fps):.1f} | {per[0]:.1f} / {per[1]:.1f} / "
                       f"{per[2]:.1f} | {'yes' if min(fps) >= FPS else 'no'} |")
                print(row, flush=True)
                lines.append(row)
            st = latency(model, flv, args.backend, tmp / f"rt_{size}")
            lat = st["latency_ms"]
            row = (f"\nReal time, one stream through `pysr serve --no-nginx` (RTMP on loopback, 2 s segments): "
                   f"{st['frames_out']} of {n} frames out, {st['dropped_frames']} dropped, latency decode → "
                   f"segment mean {lat['mean']} ms, max {lat['max']} ms.\n")
            print(row, flush=True)
            lines.append(row)
    text = "\n".join(lines)
    print(text)
    if args.write:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), "?")
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write(f"\n### Live server throughput and latency — {time.strftime('%Y-%m-%d %H:%M')}\n\n"
                    f"`python3 bench/live_server.py --write` on {os.cpu_count()} cores ({cpu}).\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
