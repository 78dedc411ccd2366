"""`pysr serve`: ingest RTMP, upscale every frame, write HLS (docs/live.md, "Server (first stage)")."""

from __future__ import annotations

from pathlib import Path

from pysr.errors import MediaError


def register(sub) -> None:
    p = sub.add_parser("serve", help="ingest RTMP streams, upscale every frame, serve HLS",
                       description="Listen for RTMP publishers on rtmp://HOST:PORT/APP/<key>, check the key against "
                       "--keys, upscale every frame with --model and write HLS (a playlist and mpegts segments) into "
                       "HLS_DIR/<stream>/. A control API on --control serves /status and takes signed model updates. "
                       "This stage is the embedded fall-back (--no-nginx): one stream at a time.")
    p.add_argument("--no-nginx", action="store_true", help="use the embedded RTMP listener (FFmpeg), not nginx")
    p.add_argument("--listen", default="rtmp://127.0.0.1:1935/live", help="rtmp://HOST:PORT/APP "
                   "(default rtmp://127.0.0.1:1935/live)")
    p.add_argument("--hls-dir", required=True, help="output folder; each stream writes HLS_DIR/<stream>/index.m3u8")
    p.add_argument("-m", "--model", required=True, help="a .pysr file or a shipped model name (single-frame)")
    p.add_argument("--keys", default=None, help="stream keys, one `KEY [NAME]` a line (default: any key, NAME = key)")
    p.add_argument("--control", default=None, help="control API address, loopback HOST:PORT (e.g. 127.0.0.1:8081)")
    p.add_argument("--max-upload", default="16M", help="largest model update accepted (default 16M)")
    p.add_argument("--hls-time", type=float, default=2.0, help="segment length in seconds (default 2)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=float, default=20.0, help="output quality (default 20)")
    rate.add_argument("--bitrate", default=None, help="output bitrate instead of --crf, e.g. 4M")
    p.add_argument("--backend", default="cpu")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> None:
    import pysr
    from pysr.live.server import ServeConfig, Server, say
    from pysr.live.worker import LiveOptions
    from pysr.video.writer import parse_bitrate

    if not args.no_nginx:
        raise MediaError("the nginx ingest is not built yet", "pass --no-nginx for the embedded RTMP listener")
    if args.hls_time <= 0:
        raise MediaError(f"--hls-time {args.hls_time}: must be positive")
    if args.keys is None:
        say("warning: no --keys file: any stream key is accepted")
    config = ServeConfig(args.listen, Path(args.hls_dir), pysr.load(args.model), Path(args.keys) if args.keys else None,
                         args.control, parse_bitrate(args.max_upload),
                         LiveOptions(args.hls_time, args.crf, args.bitrate, args.backend))
    server = Server(config)
    try:
        server.serve()
    finally:
        server.stop()
