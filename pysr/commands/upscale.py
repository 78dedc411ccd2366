"""`pysr upscale`: images, image folders and videos (files or y4m pipes) through a super-resolution model."""

from __future__ import annotations

import argparse
import sys
import warnings

from pysr.commands import key_value
from pysr.errors import MediaError


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _tile(text: str):
    return "auto" if text == "auto" else _positive(text)


def register(sub) -> None:
    p = sub.add_parser("upscale", help="upscale an image, an image folder or a video with a model",
                       description="Upscale images (png/jpg/webp; a folder → a folder of the same names) or a "
                       "video (any container FFmpeg reads; `-` = y4m on stdin/stdout). Audio and subtitles are "
                       "copied, timestamps and colour tags kept. Ctrl-C keeps a playable partial output; "
                       "--resume finishes it.")
    p.add_argument("-i", "--input", required=True, help="image, folder, video file, or - (y4m on stdin)")
    p.add_argument("-o", "--output", help="image, folder, video file, or - (y4m on stdout); "
                   "not needed with --benchmark")
    p.add_argument("-m", "--model", required=True, help="a .pysr file or a shipped model name (`pysr models`)")
    p.add_argument("--tcsr", default=None, metavar="TCSR.pysr",
                   help="videos: the live server's cascade, this TCSR refining the model's (a Y F-EDSR) frames")
    p.add_argument("--tcsr-policy", default="all", metavar="POLICY",
                   help="with --tcsr: the frames TCSR refines: all (default), every:N, budget:MS or none")
    p.add_argument("--backend", default="cpu")
    p.add_argument("--tile", type=_tile, default=None, help="auto or a tile size in LR pixels (default: no tiling)")
    p.add_argument("--codec", default="libx264", help="video encoder (default libx264)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=float, default=None, help="constant quality (default 18 where the encoder has it)")
    rate.add_argument("--bitrate", default=None, help="target bitrate, e.g. 4M")
    p.add_argument("--pix-fmt", default="yuv420p", help="output pixel format (default yuv420p)")
    p.add_argument("--encoder-opt", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="encoder option, repeatable (e.g. preset=veryfast)")
    p.add_argument("--progress", choices=("line", "json", "none"), default="line",
                   help="progress on stderr: a line, JSON lines, or nothing")
    p.add_argument("--benchmark", action="store_true",
                   help="decode, upscale and encode but write nothing; print per-stage timings and fps")
    p.add_argument("--frames", type=_positive, default=None, help="process only the first N frames")
    p.add_argument("--resume", action="store_true", help="continue an interrupted job from its partial output")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=cmd_upscale)


def cmd_upscale(args) -> None:
    import pysr
    from pysr.video.colour import ColourWarning
    from pysr.video.job import Job, run_job
    from pysr.video.writer import EncodeOptions

    if args.output is None and not args.benchmark:
        raise MediaError("no output given", "pass -o OUT (or --benchmark to measure without writing)")
    enc = EncodeOptions(args.codec, args.crf, args.bitrate, args.pix_fmt, dict(args.encoder_opt))
    model = pysr.load(args.model)                      # a .pysr path or a shipped model's name
    tcsr = None if args.tcsr is None else pysr.load(args.tcsr)      # the pair and policy: checked by make_stage
    job = Job(args.input, args.output, model, args.backend, args.tile, enc, args.progress, args.benchmark,
              args.resume, args.overwrite, args.frames, tcsr, args.tcsr_policy)

    def show(message, category, *rest, **kw):
        if issubclass(category, ColourWarning):
            print(f"pysr upscale: warning: {message}", file=sys.stderr, flush=True)
        else:
            shown(message, category, *rest, **kw)

    shown = warnings.showwarning
    warnings.showwarning = show
    try:
        run_job(job)
    finally:
        warnings.showwarning = shown
