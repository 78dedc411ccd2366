"""`pysr push`: publish a file or a y4m pipe, downscaled, as low-latency H.264 over RTMP (docs/live.md)."""

from __future__ import annotations

import argparse
import warnings


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
                       "the connection drops (--retries attempts in a row). Audio is not sent.")
    p.add_argument("-i", "--input", required=True, help="video file, or - (y4m on stdin)")
    p.add_argument("--url", required=True, help="rtmp://HOST:PORT/APP/KEY")
    p.add_argument("--lr", required=True, help="size sent, WIDTHxHEIGHT (e.g. 640x360)")
    p.add_argument("--bitrate", default="500k", help="video bitrate (default 500k)")
    p.add_argument("--fps", type=_positive, default=None, help="send at this frame rate (frames dropped to fit; "
                   "default: the input's rate and timestamps)")
    p.add_argument("--realtime", action="store_true", help="send each frame when its timestamp is due")
    p.add_argument("--retries", type=int, default=5, help="reconnect attempts in a row before giving up (default 5)")
    p.add_argument("--frames", type=int, default=None, help="send only the first N frames")
    p.set_defaults(func=cmd_push)


def cmd_push(args) -> None:
    from pysr.live.push import PushConfig, parse_size, push, say

    cfg = PushConfig(args.input, args.url, parse_size(args.lr), args.bitrate, args.fps, args.realtime,
                     max(0, args.retries), args.frames)
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
