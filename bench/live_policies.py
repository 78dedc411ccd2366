"""The patent's experiment: when should the streamer train? Adaptive (monitor + stop rule) against training once
and training continuously, on a clip with scene changes (docs/live.md, "Streamer and online trainer").

    python3 bench/live_policies.py                       # 4 scenes × 40 s, prints the table
    python3 bench/live_policies.py --write               # + the table into bench/RESULTS.md, the plot beside it

The stream is simulated frame by frame, in one process, so every policy sees the same frames and the same
compute, whatever else the machine is doing:
- the clip: scenes cut from ../shared (Big Buck Bunny, Vid4 calendar, Vid4 city, Big Buck Bunny again), each
  played forwards and backwards to `--scene-seconds`, cropped to the HR size (no resampling of the HR frames);
- the sender: HR → LR with `pysr push`'s downscale, H.264 at `--bitrate` with a keyframe every `--keyframe`
  seconds (libx264, zerolatency, scene cuts off: as `pysr push` sends), decoded as the server decodes it;
- the trainer: pysr/live/trainer.py unchanged (OnlineTrainer, TrainingControl), fed each keyframe pair (HR frame,
  decoded LR keyframe) in stream order; while a run is open it takes `--rate` Adam steps per second of video
  (a trainer that keeps pace with the stream on a fixed compute share), counted in steps and in thread CPU seconds;
- the server: every frame upscaled by the model deployed at that frame (an exported candidate takes effect at the
  next frame: uplink time is not modelled), Y-PSNR against the HR frame, `scale` pixels shaved.

Policies: `never` (the shipped model, no training), `once` (the cold start only: the monitor never calls a scene
change), `adaptive` (the monitor and the stop rule as `pysr push --train` runs them: a scene change is a fall of
the smoothed gain), `adaptive-both` (the same, the monitor also calling a rise a scene change: MonitorConfig
direction "both"), `adaptive-probe` (what `pysr push --train` runs by default: adaptive, plus a probe run of 100
steps after 10 s without training that goes on while fresh training beats the deployed model on the newest
keyframes (ProbeConfig), and kept models — one per scene — recalled at a scene change or a probe when one beats the
deployed model: ControlConfig.keep), `continuous` (a run open from the first keyframe to the end, every candidate
that beats the deployed one exported).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pysr  # noqa: E402
from pysr.live.monitor import MonitorConfig  # noqa: E402
from pysr.live.push import downscale  # noqa: E402
from pysr.live.stop_rule import StopRule  # noqa: E402
from pysr.live.trainer import (  # noqa: E402
    ControlConfig,
    EnginePlanes,
    OnlineTrainer,
    ProbeConfig,
    TrainerConfig,
    TrainingControl,
)

SHARED = ROOT.parent / "shared"
POLICIES = ("never", "once", "adaptive", "adaptive-both", "adaptive-probe", "continuous")
FPS = 25


# -- the clip ---------------------------------------------------------------------------------------------------

def _decode(source, limit: int | None = None) -> list[np.ndarray]:
    with av.open(source if isinstance(source, io.BytesIO) else str(source), format="h264" if isinstance(
            source, io.BytesIO) else None) as c:
        out = []
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24"))
            if limit is not None and len(out) >= limit:
                break
    return out


def _crop(frames: list[np.ndarray], w: int, h: int) -> list[np.ndarray]:
    fh, fw = frames[0].shape[:2]
    if fh < h or fw < w:
        raise SystemExit(f"a source of {fw}×{fh} is smaller than the HR size {w}×{h}")
    y0, x0 = (fh - h) // 2, (fw - w) // 2
    return [np.ascontiguousarray(f[y0 : y0 + h, x0 : x0 + w]) for f in frames]


def _ping_pong(frames: list[np.ndarray], n: int) -> list[np.ndarray]:
    cycle = frames + frames[-2:0:-1]
    return [cycle[i % len(cycle)] for i in range(n)]


def scenes(hr_w: int, hr_h: int, seconds: float) -> list[tuple[str, list[np.ndarray]]]:
    n = round(seconds * FPS)
    video, vid4 = SHARED / "data" / "video", SHARED / "data" / "Vid4" / "GT"
    bbb = _crop(_decode(video / "bigbuckbunny.mp4"), hr_w, hr_h)
    found = {p.stem: p for p in vid4.rglob("*.mkv")}
    out = [("bigbuckbunny", _ping_pong(bbb, n))]
    for name in ("calendar", "city"):
        if name not in found:
            raise SystemExit(f"{vid4} has no {name}.mkv")
        out.append((name, _ping_pong(_crop(_decode(found[name]), hr_w, hr_h), n)))
    out.append(("bigbuckbunny again", _ping_pong(bbb[::-1], n)))
    return out


def send(hr: list[np.ndarray], lr_w: int, lr_h: int, bitrate: int, keyint: int) -> list[np.ndarray]:
    """HR frames → LR (push's downscale) → H.264 → the decoded LR frames, RGB uint8."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="h264") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = lr_w, lr_h, "yuv420p"
        s.bit_rate = bitrate
        s.options = {"preset": "veryfast", "tune": "zerolatency", "g": str(keyint), "keyint_min": str(keyint),
                     "sc_threshold": "0", "x264-params": f"scenecut=0:vbv-maxrate={bitrate // 1000}:"
                                                          f"vbv-bufsize={bitrate // 1000}"}
        for i, img in enumerate(hr):
            f = av.VideoFrame.from_ndarray(downscale(img, lr_w, lr_h), format="rgb24").reformat(format="yuv420p")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    buf.seek(0)
    decoded = _decode(buf)
    if len(decoded) != len(hr):
        raise SystemExit(f"H.264 round trip gave {len(decoded)} frames for {len(hr)}")
    return decoded


# -- one policy -------------------------------------------------------------------------------------------------

@dataclass
class Run:
    policy: str
    psnr: list[float] = field(default_factory=list)         # per frame, server side
    steps: int = 0
    cpu_s: float = 0.0          # trainer thread CPU seconds (Adam steps + its evaluations)
    monitor_s: float = 0.0      # the monitor's engine gains (keyframes); 0 for never / continuous
    updates: list[int] = field(default_factory=list)        # frame index at which each exported model took effect
    training: list[tuple[int, int]] = field(default_factory=list)   # [start, stop) frame spans of the runs
    events: list = field(default_factory=list)     # (stream seconds, "start" | "stop", why)


def _psnr(ref: np.ndarray, out: np.ndarray, shave: int) -> float:
    d = (ref[shave:-shave, shave:-shave] - np.clip(out[shave:-shave, shave:-shave], 0, 1)) * 255.0
    return 10 * math.log10(255.0**2 / max(float(np.mean(d * d)), 1e-12))


def run_policy(policy: str, model: pysr.Model, hr_y: list, lr_y: list, keyint: int, rate: float,
               th_s: float, budget: int, seed: int, probe: ProbeConfig | None = None, recent: int | None = None,
               keep: int = 0) -> Run:
    run = Run(policy)
    s = model.scale
    state = {"model": model, "version": 0, "frame": 0}
    planes = EnginePlanes(model)
    trainer = control = None
    if policy != "never":
        def publish(m, gain):
            state["model"], state["version"] = m, state["version"] + 1
            run.updates.append(state["frame"] + 1)
            if control is not None:
                control.accepted(state["version"], m)

        trainer = OnlineTrainer(model, TrainerConfig(seed=seed, budget_steps=10**9 if policy == "continuous"
                                                     else budget), publish=publish,
                                log=lambda text: None, clock=lambda: 0.0)
        if policy != "continuous":
            monitor = {"once": MonitorConfig(min_drop_db=1e9), "adaptive": MonitorConfig(),
                       "adaptive-both": MonitorConfig(direction="both"), "adaptive-probe": MonitorConfig()}[policy]
            extras = policy == "adaptive-probe"        # the other adaptive policies are the patent's alone
            control = TrainingControl(model, trainer, ControlConfig(
                monitor=monitor, stop=StopRule(th_s=th_s), probe=(probe or ProbeConfig()) if extras else None,
                recent=recent, keep=keep if extras else 0), log=lambda text: None)
    steps_per_frame, owed = rate / FPS, 0.0
    span_start = None
    for i, (hy, ly) in enumerate(zip(hr_y, lr_y)):
        state["frame"] = i
        if trainer is not None and i % keyint == 0:
            if control is not None:
                t0, seen = time.thread_time(), len(control.events)
                control.keyframe(i / FPS, hy, ly)
                run.monitor_s += time.thread_time() - t0
                run.events += [(i / FPS, *e) for e in control.events[seen:]]
            else:
                trainer.add_pair(hy, ly)
                trainer.start()
        if trainer is not None and trainer.training:
            span_start = i if span_start is None else span_start
            owed += steps_per_frame
            n = int(owed)
            owed -= n
            t0 = time.thread_time()
            run.steps += trainer.train_steps(n)
            run.cpu_s += time.thread_time() - t0
        elif span_start is not None:
            run.training.append((span_start, i))
            span_start, owed = None, 0.0
        x = ly[None, None]
        sr = state["model"].plan("cpu", x.shape).run(x)[0][0, 0]
        run.psnr.append(_psnr(hy, sr, s))
    if span_start is not None:
        run.training.append((span_start, len(hr_y)))
    if trainer is not None:
        run.cpu_s += trainer.recall_seconds         # kept models measured (forward passes)
    if control is not None:
        control.close()
    elif trainer is not None:
        trainer.close()
    del planes
    return run


# -- report -----------------------------------------------------------------------------------------------------

def table(runs: dict[str, Run], bicubic: list[float], bounds: list[tuple[str, int, int]], settle: int) -> str:
    head = ["policy", "mean Y-PSNR", *[f"{name}" for name, _, _ in bounds], "first 8 s after a cut",
            "steps", "trainer CPU s", "updates"]
    rows = [head, ["---"] * len(head)]

    def cells(name, psnr, steps, cpu, updates):
        p = np.asarray(psnr)
        after = np.concatenate([p[a : a + settle] for _, a, _ in bounds[1:]]) if len(bounds) > 1 else p[:0]
        return [name, f"{p.mean():.2f}", *[f"{p[a:b].mean():.2f}" for _, a, b in bounds],
                f"{after.mean():.2f}" if after.size else "", steps, cpu, updates]

    rows.append(cells("bicubic", bicubic, "", "", ""))
    for r in runs.values():
        rows.append(cells(r.policy, r.psnr, str(r.steps), f"{r.cpu_s:.1f}", str(len(r.updates))))
    return "\n".join("| " + " | ".join(str(c) for c in row) + " |" for row in rows)


def cuts_table(runs: dict[str, Run], bicubic: list[float], bounds: list[tuple[str, int, int]], settle: int) -> str:
    """Per cut: mean Y-PSNR over the first `settle` frames of the scene and over the rest of it."""
    head = ["policy", *[f"{name}: {part}" for name, _, _ in bounds[1:] for part in ("first 8 s", "after")]]
    rows = [head, ["---"] * len(head)]
    for name, psnr in [("bicubic", bicubic), *((r.policy, r.psnr) for r in runs.values())]:
        p = np.asarray(psnr)
        rows.append([name, *[f"{v:.2f}" for _, a, b in bounds[1:] for v in (p[a : a + settle].mean(),
                                                                            p[a + settle : b].mean())]])
    return "\n".join("| " + " | ".join(str(c) for c in row) + " |" for row in rows)


def plot(path: Path, runs: dict[str, Run], bicubic: list[float], bounds, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 5), dpi=110)
    t = np.arange(len(bicubic)) / FPS

    def smooth(y):      # one-second moving mean, for legibility only (the table uses every frame)
        k = np.ones(FPS) / FPS
        return np.convolve(np.pad(y, (FPS // 2, FPS - 1 - FPS // 2), mode="edge"), k, mode="valid")

    ax.plot(t, smooth(np.asarray(bicubic)), color="0.6", lw=1, label="bicubic")
    colours = {"never": "tab:gray", "once": "tab:orange", "adaptive": "tab:blue", "adaptive-both": "tab:purple",
               "adaptive-probe": "tab:red", "continuous": "tab:green"}
    for r in runs.values():
        ax.plot(t, smooth(np.asarray(r.psnr)), color=colours[r.policy], lw=1.3,
                label=f"{r.policy} ({r.steps} steps, {r.cpu_s:.0f} s CPU)")
    if "adaptive" in runs:
        for a, b in runs["adaptive"].training:
            ax.axvspan(a / FPS, b / FPS, color="tab:blue", alpha=0.08)
    for name, a, _ in bounds:
        ax.axvline(a / FPS, color="k", lw=0.8, ls=":")
        ax.text(a / FPS + 0.3, ax.get_ylim()[1], name, va="top", fontsize=8)
    ax.set_xlabel("stream time (s)")
    ax.set_ylabel("server Y-PSNR (dB, 1 s mean)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="espcn_x2", help="a shipped name or .pysr file: a single-frame Y model")
    ap.add_argument("--hr", default="320x192", help="HR size W×H (each scene's centre crop)")
    ap.add_argument("--scene-seconds", type=float, default=40.0)
    ap.add_argument("--keyframe", type=float, default=0.48, help="seconds between keyframes (12 frames at 25 fps)")
    ap.add_argument("--bitrate", default="150k", help="H.264 bitrate of the LR stream")
    ap.add_argument("--rate", type=float, default=50.0, help="Adam steps per second of video while a run is open")
    ap.add_argument("--th-s", type=float, default=2.5, help="THs of the stop rule, dB over bicubic")
    ap.add_argument("--budget", type=int, default=1000, help="step budget of one training run (once, adaptive)")
    ap.add_argument("--probe-every", type=float, default=ProbeConfig.every_s, help="adaptive-probe: every_s")
    ap.add_argument("--probe-margin", type=float, default=ProbeConfig.margin_db, help="adaptive-probe: margin_db")
    ap.add_argument("--recent", type=int, default=ControlConfig.recent,
                    help="adaptive policies: ControlConfig.recent (keyframes a scene change's or probe's run learns)")
    ap.add_argument("--keep", type=int, default=ControlConfig.keep,
                    help="adaptive-probe: ControlConfig.keep (scenes whose model is kept for recall; 0: none)")
    ap.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    ap.add_argument("--threads", type=int, default=1, help="numba threads of the engine (the trainer uses one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="append the table to bench/RESULTS.md, plot beside it")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"{SHARED} is missing: this experiment needs its clips", file=sys.stderr)
        return 2
    import numba

    numba.set_num_threads(args.threads)
    model = pysr.load(args.model)
    s = model.scale
    hr_w, hr_h = (int(v) for v in args.hr.split("x"))
    lr_w, lr_h = hr_w // s, hr_h // s
    bitrate = int(float(args.bitrate.rstrip("kK")) * 1000) if args.bitrate[-1] in "kK" else int(args.bitrate)
    keyint = max(1, round(args.keyframe * FPS))

    t0 = time.monotonic()
    clip, bounds = [], []
    for name, frames in scenes(hr_w, hr_h, args.scene_seconds):
        bounds.append((name, len(clip), len(clip) + len(frames)))
        clip += frames
    lr = send(clip, lr_w, lr_h, bitrate, keyint)
    planes = EnginePlanes(model)
    hr_y = [planes.y(f) for f in clip]
    lr_y = [planes.y(f) for f in lr]
    bicubic = [_psnr(h, planes.bicubic(l), s) for h, l in zip(hr_y, lr_y)]
    print(f"clip: {len(clip)} frames {hr_w}×{hr_h} → {lr_w}×{lr_h} at {args.bitrate}, keyframe every {keyint} "
          f"frames; prepared in {time.monotonic() - t0:.0f} s", flush=True)

    runs = {}
    for p in args.policies:
        t0 = time.monotonic()
        runs[p] = r = run_policy(p, model, hr_y, lr_y, keyint, args.rate, args.th_s, args.budget, args.seed,
                                 ProbeConfig(every_s=args.probe_every, margin_db=args.probe_margin), args.recent,
                                 args.keep)
        print(f"{p}: mean {np.mean(r.psnr):.2f} dB, {r.steps} steps, {r.cpu_s:.1f} s trainer CPU, "
              f"{len(r.updates)} updates, events {r.events}; {time.monotonic() - t0:.0f} s", flush=True)

    settle = 8 * FPS
    text = table(runs, bicubic, bounds, settle)
    cuts = cuts_table(runs, bicubic, bounds, settle)
    print(f"{text}\n\nPer cut:\n\n{cuts}")
    if args.write:
        png = ROOT / "bench" / "live_policies.png"
        title = (f"{model.facts.get('name', args.model)} fine-tuned online, {hr_w}×{hr_h} from {lr_w}×{lr_h} "
                 f"H.264 {args.bitrate}, keyframe {args.keyframe} s, {args.rate:g} steps/s while training")
        plot(png, runs, bicubic, bounds, title)
        shown = "adaptive-probe" if "adaptive-probe" in runs else "adaptive"
        events = "; ".join(f"{t:.1f} s {kind} ({why})" for t, kind, why in runs[shown].events) \
            if shown in runs else ""
        command = " ".join(sys.argv[1:] if argv is None else argv)
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write(f"\n## When to train: adaptive vs once vs continuous — {time.strftime('%Y-%m-%d')}\n\n"
                    f"`python3 bench/live_policies.py {command}` ({title}; THs {args.th_s} dB; scenes of "
                    f"{args.scene_seconds:g} s; step budget of a run {args.budget}; plot: bench/live_policies.png). "
                    f"Server-side Y-PSNR per frame, "
                    f"mean over each scene and over the first 8 s after each cut; trainer compute in Adam steps and "
                    f"thread CPU seconds.\n\n{text}\n\nPer cut:\n\n{cuts}\n\n{shown}'s decisions: {events}\n")
        print(f"wrote bench/RESULTS.md and {png.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
