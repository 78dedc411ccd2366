"""`pysr eval`: PSNR/SSIM of bicubic and a model on an image set or a video sequence (docs/eval.md).

    pysr eval --hr DIR_OR_VIDEO [--lr DIR] --scale N [-m MODEL.pysr] [--bicubic-only] [--json OUT.json|-]
              [--backend cpu] [--shave K]

--hr a folder: an image set (pysr/eval/images.py, shave = scale by default); a video file: a sequence
(pysr/eval/video.py, shave = 4 by default, Vid4's convention). Without -m (or with --bicubic-only) only the
bicubic columns are computed. `--json -` prints the JSON instead of the table.
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
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> None:
    from pysr.eval.images import evaluate_images, model_upscaler
    from pysr.eval.video import VID4_SHAVE, evaluate_video, session_model

    hr = Path(args.hr)
    if not hr.exists():
        raise DataError(f"--hr: no such folder or video file: {hr}")
    if args.lr is not None and not Path(args.lr).is_dir():
        raise DataError(f"--lr: not a folder: {args.lr}")
    if args.shave is not None and args.shave < 0:
        raise DataError(f"--shave must be >= 0, got {args.shave}")
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
        report = evaluate_video(hr, args.scale, args.lr, sequence, shave, name)
    data = report.to_json()
    if args.json == "-":
        json.dump(data, sys.stdout, indent=1)
        print()
        return
    print(table(report))
    if args.json is not None:
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote {args.json}")


def table(report) -> str:
    has_model = report.rows[0].model is not None
    head = f"{'image':14s} {'bicubic PSNR':>12s} {'SSIM':>7s}"
    if has_model:
        head += f" {'model PSNR':>11s} {'SSIM':>7s} {'gain dB':>8s}"
    lines = [f"{report.source}  ×{report.scale}, Y, shave {report.shave}" +
             (f", model {report.model}" if has_model else ""), head]

    def line(name, b, m):
        s = f"{name:14s} {b[0]:12.2f} {b[1]:7.4f}"
        if m is not None:
            s += f" {m[0]:11.2f} {m[1]:7.4f} {m[0] - b[0]:+8.2f}"
        return s

    lines += [line(r.name, r.bicubic, r.model) for r in report.rows]
    lines.append(line("mean", report.mean("bicubic"), report.mean("model")))
    return "\n".join(lines)
