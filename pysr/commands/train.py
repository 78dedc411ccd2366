"""`pysr train`: train a model with PyTorch (the `train` extra) and export it as a `.pysr` file."""

from __future__ import annotations

import shlex

from pysr.errors import InputError
from pysr.train.torch_models import TCSR_ALPHA, TCSR_BETA


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model with PyTorch (pip install \"pysr[train]\") and export a .pysr",
                       description="Train on folders of images and/or video files; evaluation sets (Set5, Set14, "
                                   "Vid4) are refused as training data. See docs/training.md.")
    p.add_argument("--arch", default="espcn", help="architecture (espcn, fedsr, tcsr)")
    p.add_argument("--scale", type=int, required=True, help="upscaling factor")
    p.add_argument("--channels", type=int, nargs="+", default=None,
                   help="hidden widths (ESPCN default: 64 32); F-EDSR: WIDTH [BLOCKS] (default 32 8); TCSR: "
                        "C [OFR_C [OFR_BLOCKS [E]]] (default 32 32 2 1)")
    p.add_argument("--fedsr", default=None, metavar="MODEL.pysr",
                   help="tcsr: the frozen F-EDSR whose HR outputs TCSR learns to refine (its scale is --scale)")
    p.add_argument("--radius", type=int, default=1, help="tcsr: window radius k, 2k+1 frames (default 1)")
    p.add_argument("--stills", nargs="+", default=[], metavar="DIR_OR_IMAGE",
                   help="tcsr: still images panned into windows of exact sub-pixel motion, half of every batch")
    p.add_argument("--pan-speed", type=int, default=8, metavar="V",
                   help="tcsr: the panned windows' top speed, whole HR pixels per frame on each axis (default 8)")
    p.add_argument("--flow-scale", type=float, default=1.0, metavar="F",
                   help="tcsr: pixels per unit of OFRnet's output (default 1; 15.5 is SOF-VSR's unit)")
    p.add_argument("--warp-weights", type=float, nargs=2, default=[TCSR_ALPHA, TCSR_BETA], metavar=("ALPHA", "BETA"),
                   help=f"tcsr: weights of the warp losses of flow levels 1 and 2, 0 <= ALPHA < BETA < 1 "
                        f"(default {TCSR_ALPHA} {TCSR_BETA})")
    p.add_argument("--init", default=None, metavar="MODEL.pysr",
                   help="start from this model's weights (fine-tuning; same architecture, scale and channels)")
    p.add_argument("--colour", choices=("y", "rgb"), default="y", help="train on the Y plane (default) or RGB")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR_OR_VIDEO",
                   help="folders of images (not searched recursively) and/or video files")
    p.add_argument("--every", type=int, default=None,
                   help="videos: use every k-th frame (default 10; tcsr: 1, its windows are consecutive frames)")
    p.add_argument("--degradation", choices=("bicubic", "blur", "h264"), default="bicubic",
                   help="how LR is made: MATLAB bicubic (default, the benchmark convention), Gaussian blur + "
                        "subsample, or bicubic + libx264 at --bitrate")
    p.add_argument("--sigma", type=float, default=1.2, help="blur: Gaussian sigma in HR pixels (default 1.2)")
    p.add_argument("--rescale", type=float, nargs="+", default=[1.0], metavar="F",
                   help="also train on every HR image downscaled by these factors (MATLAB bicubic), e.g. 1 0.9 0.8 "
                        "0.7 0.6: more scales of the same content (default 1: as given)")
    p.add_argument("--bitrate", default="300k", help="h264: bitrate, e.g. 300k or 1.5M (default 300k)")
    p.add_argument("--patch", type=int, default=24, help="LR patch side (default 24)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--loss", choices=("l1", "mse"), default="l1")
    p.add_argument("--schedule", choices=("cosine", "step"), default="cosine",
                   help="cosine to zero, or step (x0.1 at 50%% and at 75%% of the steps)")
    p.add_argument("--clip", type=float, default=0.0, help="clip the gradient norm to this (0 = off)")
    p.add_argument("--val", default=None, metavar="DIR", help="folder of HR images for periodic Y-PSNR")
    p.add_argument("--val-every", type=int, default=1000)
    p.add_argument("--checkpoint", default=None, metavar="CKPT", help="checkpoint file, written periodically")
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint (same options)")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: run the forward under bfloat16 autocast, 1.6-3× faster on CPUs with AMX "
                        "(weights, Adam and the loss stay float32; default fp32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--licence", default="MIT", help="licence recorded in the model (default MIT)")
    p.add_argument("--name", default=None, help="model name (default ARCH_xSCALE)")
    p.add_argument("-o", "--output", required=True, help="the .pysr file to write")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> None:
    from pysr.train.data import DataConfig, parse_bitrate, refuse_eval_sets
    from pysr.train.torch_models import require_torch

    refuse_eval_sets(args.data + args.stills)    # before anything slow, and before asking for torch
    if args.scale < 1:
        raise InputError(f"--scale must be >= 1, got {args.scale}")
    if args.channels is not None and any(c < 1 for c in args.channels):
        raise InputError(f"--channels must be positive, got {args.channels}")
    require_torch()
    from pysr.train.loop import TrainConfig, train

    every = args.every if args.every is not None else 1 if args.arch == "tcsr" else 10
    data = DataConfig(sources=tuple(args.data), scale=args.scale, degradation=args.degradation, colour=args.colour,
                      every=every, sigma=args.sigma, bitrate=parse_bitrate(args.bitrate),
                      rescales=tuple(args.rescale))
    cfg = TrainConfig(
        data=data, arch=args.arch, channels=tuple(args.channels) if args.channels else None, patch=args.patch,
        batch=args.batch, steps=args.steps, lr=args.lr, loss=args.loss, schedule=args.schedule, clip=args.clip,
        seed=args.seed, threads=args.threads, val=args.val, val_every=args.val_every, checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every, output=args.output, licence=args.licence,
        name=args.name, command=command_line(args), fedsr=args.fedsr, radius=args.radius, init=args.init,
        precision=args.precision, stills=tuple(args.stills), pan_speed=args.pan_speed,
        flow_scale=args.flow_scale, warp_weights=tuple(args.warp_weights),
    )
    train(cfg, resume=args.resume, log=lambda line: print(line, flush=True))


TCSR_ONLY = ("radius", "pan_speed", "flow_scale", "warp_weights")


def command_line(args) -> str:
    """The command as a user could type it again, rebuilt from the parsed options (all of them, defaults too)."""
    words = ["pysr", "train"]
    for key, value in vars(args).items():
        if key in ("func", "command") or value is None or value is False or value == []:
            continue
        if key in TCSR_ONLY and args.arch != "tcsr":            # defaults that mean nothing to this run
            continue
        flag = "-o" if key == "output" else "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
        elif isinstance(value, (list, tuple)):
            words += [flag, *map(str, value)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)
