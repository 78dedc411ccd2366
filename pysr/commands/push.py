"""`pysr push`: publish a file or a y4m pipe, downscaled, as low-latency H.264 over RTMP (docs/live.md)."""

from __future__ import annotations

import argparse
import warnings

from pysr.commands import key_value


def _positive(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return x


def register(sub) -> None:
    p = sub.add_parser("push", help="publish a video, downscaled, as low-latency H.264 over RTMP",
                       description="Read a video file (anything FFmpeg reads) or y4m on stdin (-i -), downscale it "
                       "to --lr, encode H.264 (libx264, zerolatency, a keyframe every 2 s, --bitrate) and publish it "
                       "to an RTMP URL whose last path element is the stream key. Reconnects to the same key when "
                       "the connection drops (--retries attempts in a row). The input's first audio stream is sent "
                       "as AAC (--audio-bitrate; 0: none).")
    p.add_argument("-i", "--input", required=True, help="video file, - (y4m on stdin), or with --input-format a "
                   "device or source (/dev/video0, :0.0, a lavfi graph)")
    p.add_argument("-f", "--input-format", default=None, metavar="FMT", help="FFmpeg's input format: a capture "
                   "device (v4l2, x11grab, avfoundation, dshow) or lavfi; default: found from the file")
    p.add_argument("--input-option", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="an option of the input format, e.g. video_size=1280x720 or framerate=30 (repeatable)")
    p.add_argument("--url", required=True, help="rtmp://HOST:PORT/APP/KEY")
    p.add_argument("--lr", required=True, help="size sent, WIDTHxHEIGHT (e.g. 640x360)")
    p.add_argument("--bitrate", default="500k", help="video bitrate (default 500k)")
    p.add_argument("--audio-bitrate", default="64k", help="AAC bitrate of the input's first audio stream, "
                   "downmixed to stereo at most (default 64k; 0: no audio)")
    p.add_argument("--fps", type=_positive, default=None, help="send at this frame rate (frames dropped to fit; "
                   "default: the input's rate and timestamps)")
    p.add_argument("--realtime", action="store_true", help="send each frame when its timestamp is due")
    p.add_argument("--retries", type=int, default=5, help="reconnect attempts in a row before giving up (default 5)")
    p.add_argument("--frames", type=int, default=None, help="send only the first N frames")
    p.add_argument("--keyframe-s", type=_positive, default=2.0, help="seconds between keyframes (default 2)")
    t = p.add_argument_group("online training (--train; needs PyTorch, the train extra)")
    t.add_argument("--train", action="store_true", help="fine-tune the server's model on the sent keyframes and "
                   "send it signed model updates within --uplink (docs/live.md, 'Streamer and online trainer')")
    t.add_argument("--model", help="the .pysr (or shipped name) the server runs this stream with (`pysr serve -m`)")
    t.add_argument("--control", help="the server's control API, http://HOST:PORT")
    t.add_argument("--uplink", help="uplink bitrate, e.g. 1M: video (--bitrate) + audio + updates stay within it")
    t.add_argument("--key", default=None, help="the stream key that signs updates (default: the URL's last element)")
    t.add_argument("--stream", default=None, help="the stream's NAME in the server's keys file (default: the key)")
    t.add_argument("--th-s", type=float, default=2.5, help="THs: stop training at this smoothed gain over bicubic, "
                   "dB (default 2.5)")
    t.add_argument("--train-steps", type=int, default=3000, help="step budget of one training run (default 3000)")
    t.add_argument("--train-eval", type=int, default=100, help="evaluate the candidate (and send it if better) every "
                   "N steps, or every 10 s (default 100)")
    t.add_argument("--probe", type=float, default=10.0, metavar="S", help="after S seconds of stream without "
                   "training, train a probe of 100 steps and go on while fresh training beats the deployed model "
                   "(docs/live.md, 'Probe runs'; default 10; 0: no probes, the patent's triggers only)")
    t.add_argument("--train-recent", type=int, default=8, metavar="N", help="a run for a scene change or a probe "
                   "learns from the newest N keyframes and those that come during it; 0: the whole buffer of 32 "
                   "(default 8)")
    t.add_argument("--keep-models", type=int, default=4, metavar="N", help="keep the model of the last N scenes and "
                   "send one back when its scene returns (docs/live.md, 'Kept models'; default 4; 0: none)")
    t.add_argument("--train-threads", type=int, default=1, help="torch threads (default 1)")
    t.add_argument("--backend", default="cpu", help="pysr backend of the monitor's gains (default cpu)")
    p.set_defaults(func=cmd_push)


def cmd_push(args) -> None:
    from pysr.errors import InputError
    from pysr.live.push import PushConfig, TrainOptions, audio_bitrate, parse_size, push, say

    audio_bitrate(args.audio_bitrate)           # a bad value is refused before anything opens

    train = None
    if args.train:
        missing = [f"--{n}" for n in ("model", "control", "uplink") if not getattr(args, n)]
        if missing:
            raise InputError(f"--train needs {', '.join(missing)}", "e.g. --model m.pysr --control "
                             "http://127.0.0.1:8081 --uplink 1M (the server's model and control API, your uplink)")
        if min(args.train_steps, args.train_threads, args.train_eval) < 1:
            raise InputError("--train-steps, --train-eval and --train-threads must be >= 1")
        if not args.probe >= 0:
            raise InputError(f"--probe must be >= 0 seconds (0: no probes), got {args.probe}")
        if args.train_recent < 0:
            raise InputError(f"--train-recent must be >= 0 (0: the whole buffer), got {args.train_recent}")
        if args.keep_models < 0:
            raise InputError(f"--keep-models must be >= 0 (0: none), got {args.keep_models}")
        train = TrainOptions(args.model, args.control, args.uplink, args.key, args.stream, args.th_s, args.train_steps,
                             args.train_eval, args.train_threads, backend=args.backend, probe_s=args.probe or None,
                             recent=args.train_recent if args.train_recent > 0 else None, keep=args.keep_models)
    cfg = PushConfig(args.input, args.url, parse_size(args.lr), args.bitrate, args.fps, args.realtime,
                     max(0, args.retries), args.frames, args.keyframe_s, train, args.audio_bitrate,
                     args.input_format, dict(args.input_option))
    from pysr.video.colour import ColourWarning

    def show(message, category, *rest, **kw):
        if issubclass(category, ColourWarning):
            say(f"warning: {message}")
        else:
            shown(message, category, *rest, **kw)

    shown = warnings.showwarning
    warnings.showwarning = show
    try:
        stats = push(cfg)
    finally:
        warnings.showwarning = shown
    late = f", at most {stats.late_s * 1000:.0f} ms late" if args.realtime else ""
    say(f"sent {stats.frames} frames in {stats.wall_s:.1f} s ({stats.reconnects} reconnects{late})")
