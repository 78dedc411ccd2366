"""`pysr eval`: PSNR/SSIM of bicubic and a model on an image set or a video sequence (docs/eval.md).

    pysr eval --hr DIR_OR_VIDEO [--lr DIR] --scale N [-m MODEL.pysr] [--bicubic-only] [--json OUT.json|-]
              [--backend cpu] [--shave K] [--tof [egvsr|tecogan]] [--tcsr TCSR.pysr [--tcsr-policy all]]

--hr a folder: an image set (pysr/eval/images.py, shave = scale by default); a video file: a sequence
(pysr/eval/video.py, shave = 4 by default, Vid4's convention). Without -m (or with --bicubic-only) only the
bicubic columns are computed. `--json -` prints the JSON instead of the table. `--tof` (video only, needs OpenCV:
pip install "pysr[eval]") adds the temporal metric tOF (pysr/eval/temporal.py): per frame t the pair (t−1, t), and
the sequence's mean. `--tcsr` (video only) scores the live server's cascade: the -m model (a Y F-EDSR) on every
frame and TCSR on the frames `--tcsr-policy` picks (default all).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pysr.errors import DataError


def register(sub) -> None:
    p = sub.add_parser("eval", help="PSNR/SSIM (MATLAB Y, shaved borders) of bicubic and a model")
    p.add_argument("--hr", required=True, help="HR image folder, or a ground-truth video file")
    p.add_argument("--lr", default=None, help="LR folder (same file names as HR; default: MATLAB bicubic of HR)")
    p.add_argument("--scale", type=int, required=True)
    p.add_argument("-m", "--model", default=None, help="a .pysr model (image sets: single-image; videos: any)")
    p.add_argument("--bicubic-only", action="store_true", help="skip the model even if one is given")
    p.add_argument("--json", default=None, metavar="OUT.json|-", help="write the results as JSON ('-': stdout)")
    p.add_argument("--backend", default="cpu")
    p.add_argument("--shave", type=int, default=None, help="border pixels left out (default: scale; video: 4)")
    p.add_argument("--tof", nargs="?", const="egvsr", default=None, choices=("egvsr", "tecogan"),
                   help="video only: add tOF (TecoGAN's temporal optical-flow metric; needs pip install "
                        "\"pysr[eval]\"); the convention egvsr (default: every pair) or tecogan (2 frames cut "
                        "at each end, flows centre-cropped)")
    p.add_argument("--tcsr", default=None, metavar="TCSR.pysr",
                   help="video only: the cascade, this TCSR refining the -m model's (a Y F-EDSR) outputs")
    p.add_argument("--tcsr-policy", default="all", metavar="POLICY",
                   help="with --tcsr: the frames TCSR refines: all (default), every:N, budget:MS or none")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> None:
    from pysr.eval.images import evaluate_images, model_upscaler
    from pysr.eval.video import VID4_SHAVE, evaluate_video, session_model

    hr, tof = Path(args.hr), None
    if not hr.exists():
        raise DataError(f"--hr: no such folder or video file: {hr}")
    if args.lr is not None and not Path(args.lr).is_dir():
        raise DataError(f"--lr: not a folder: {args.lr}")
    if args.shave is not None and args.shave < 0:
        raise DataError(f"--shave must be >= 0, got {args.shave}")
    if args.tof is not None:
        from pysr.eval.temporal import require_cv2

        if hr.is_dir():
            raise DataError("--tof is a video metric; --hr is a folder of images",
                            "pass the ground truth as a video file (e.g. Vid4/GT/calendar.mkv)")
        require_cv2()                            # before any slow work
    if args.tcsr is not None and (hr.is_dir() or args.model is None):
        raise DataError("--tcsr runs the cascade on a video: it needs a video --hr and the F-EDSR as -m",
                        "e.g. --hr Vid4/GT/calendar.mkv -m fedsr_x4.pysr --tcsr tcsr_x4.pysr")
    model, name = None, None
    if args.model is not None and not args.bicubic_only:
        import pysr

        model, name = pysr.load(args.model), str(args.model)
    if hr.is_dir():
        upscale = None if model is None else model_upscaler(model, args.scale, args.backend)
        report = evaluate_images(hr, args.scale, args.lr, upscale, args.shave, name)
    else:
        shave = VID4_SHAVE if args.shave is None else args.shave
        sequence = None if model is None else session_model(model, args.scale, args.backend)
        if model is not None and args.tcsr is not None:
            from pysr.eval.video import cascade_model

            sequence = cascade_model(model, pysr.load(args.tcsr), args.scale, args.tcsr_policy, args.backend)
            name = f"{name} + TCSR {args.tcsr} ({args.tcsr_policy})"
        sr_frames = []
        if args.tof is not None and sequence is not None:
            from pysr.eval.temporal import capture

            sequence = capture(sequence, sr_frames)
        report = evaluate_video(hr, args.scale, args.lr, sequence, shave, name)
        if args.tof is not None:
            tof = temporal_columns(hr, args.scale, args.lr, sr_frames if sequence is not None else None, args.tof)
    data = report.to_json()
    if tof is not None:
        add_tof_json(data, tof)
    if args.json == "-":
        json.dump(data, sys.stdout, indent=1)
        print()
        return
    print(table(report, tof))
    if args.json is not None:
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {args.json}")


def temporal_columns(gt, scale: int, lr_dir, sr_frames, convention: str) -> dict:
    """tOF per frame (pair t−1, t) for bicubic and the model, their means, and the convention."""
    import numpy as np

    from pysr.eval.temporal import sequence_frames, video_tof

    gt_frames, lr_frames = sequence_frames(gt, scale, lr_dir)
    pairs = video_tof(gt_frames, lr_frames, scale, sr_frames, convention)
    mean = {k: None if v is None else float(np.mean(list(v.values()))) for k, v in pairs.items()}
    return {"convention": convention, "pairs": pairs, "mean": mean}


def add_tof_json(data: dict, tof: dict) -> None:
    data["tof_convention"] = tof["convention"]
    for k, row in enumerate(data["rows"]):
        row["tof"] = {which: None if p is None else p.get(k) for which, p in tof["pairs"].items()}
    data["mean"]["tof"] = tof["mean"]


def table(report, tof: dict | None = None) -> str:
    has_model = report.rows[0].model is not None
    head = f"{'image':14s} {'bicubic PSNR':>12s} {'SSIM':>7s}"
    if tof is not None:
        head += f" {'tOF':>7s}"
    if has_model:
        head += f" {'model PSNR':>11s} {'SSIM':>7s} {'gain dB':>8s}"
        if tof is not None:
            head += f" {'tOF':>7s}"
    title = f"{report.source}  ×{report.scale}, Y, shave {report.shave}" + (f", model {report.model}" if has_model
                                                                           else "")
    if tof is not None:
        title += f"; tOF ({tof['convention']}) of frames (t−1, t), lower is better"
    lines = [title, head]

    def cell(v):
        return f" {'':>7s}" if v is None else f" {v:7.4f}"

    def line(name, b, m, tb=None, tm=None):
        s = f"{name:14s} {b[0]:12.2f} {b[1]:7.4f}"
        if tof is not None:
            s += cell(tb)
        if m is not None:
            s += f" {m[0]:11.2f} {m[1]:7.4f} {m[0] - b[0]:+8.2f}"
            if tof is not None:
                s += cell(tm)
        return s

    def pair(which, k):
        p = None if tof is None else tof["pairs"][which]
        return None if p is None else p.get(k)

    lines += [line(r.name, r.bicubic, r.model, pair("bicubic", k), pair("model", k)) for k, r in enumerate(report.rows)]
    means = tof["mean"] if tof is not None else {}
    lines.append(line("mean", report.mean("bicubic"), report.mean("model"), means.get("bicubic"), means.get("model")))
    return "\n".join(lines)
