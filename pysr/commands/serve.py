"""`pysr serve`: ingest RTMP, upscale every frame, write HLS (docs/live.md, "Server")."""

from __future__ import annotations

from pathlib import Path

from pysr.errors import MediaError


def register(sub) -> None:
    p = sub.add_parser("serve", help="ingest RTMP streams, upscale every frame, serve HLS",
                       description="Ingest RTMP publishers on rtmp://HOST:PORT/APP/<key>, check the key against "
                       "--keys, upscale every frame with --model and write HLS (a playlist and mpegts segments) into "
                       "HLS_DIR/<stream>/. By default nginx with its RTMP module ingests (many streams at once, keys "
                       "checked by its on_publish hook) and serves HLS_DIR on --http; --no-nginx uses the embedded "
                       "listener instead (one stream at a time). A control API serves /status and takes signed "
                       "model updates.")
    p.add_argument("--no-nginx", action="store_true", help="use the embedded RTMP listener (FFmpeg), not nginx")
    p.add_argument("--listen", default="rtmp://127.0.0.1:1935/live", help="rtmp://HOST:PORT/APP "
                   "(default rtmp://127.0.0.1:1935/live)")
    p.add_argument("--hls-dir", required=True, help="output folder; each stream writes HLS_DIR/<stream>/index.m3u8")
    p.add_argument("-m", "--model", required=True, help="a .pysr file or a shipped model name (single-frame)")
    p.add_argument("--keys", default=None, help="stream keys, one `KEY [NAME]` a line (default: any key, NAME = key)")
    p.add_argument("--control", default=None, help="control API address, loopback HOST:PORT (e.g. 127.0.0.1:8081; "
                   "with nginx, default a free port: nginx calls it)")
    p.add_argument("--http", default="127.0.0.1:8080", help="nginx: HOST:PORT serving HLS_DIR under /hls/ and "
                   "/status (default 127.0.0.1:8080)")
    p.add_argument("--run-dir", default=None, help="nginx: folder for its config, pid, logs and temp files "
                   "(default: a temporary folder, removed at exit)")
    p.add_argument("--nginx", default=None, metavar="PATH", help="nginx: the executable (default: found on PATH "
                   "or in /usr/sbin)")
    p.add_argument("--max-upload", default="16M", help="largest model update accepted (default 16M)")
    p.add_argument("--hls-time", type=float, default=2.0, help="segment length in seconds (default 2)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=float, default=20.0, help="output quality (default 20)")
    rate.add_argument("--bitrate", default=None, help="output bitrate instead of --crf, e.g. 4M")
    p.add_argument("--tcsr", default=None, metavar="MODEL", help="a TCSR .pysr: the cascade, TCSR refining the "
                   "frames --tcsr-policy picks after the model (a Y F-EDSR) ran on every frame")
    p.add_argument("--tcsr-policy", default="budget:20", help="which frames TCSR refines: budget:MS (milliseconds "
                   "per frame on average, default budget:20), every:N, all or none")
    p.add_argument("--state-dir", default=None, help="folder where each stream's updated model and its version "
                   "are kept, so a restarted server goes on from them and refuses replayed old updates")
    p.add_argument("--backend", default="cpu")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> None:
    import pysr
    from pysr.live.nginx import NginxConfig, find_nginx
    from pysr.live.server import ServeConfig, Server, say
    from pysr.live.worker import LiveOptions
    from pysr.video.writer import parse_bitrate

    nginx = None
    if not args.no_nginx:
        find_nginx(args.nginx)          # before the model is loaded: a missing nginx is the likelier fault
        nginx = NginxConfig(args.http, Path(args.run_dir) if args.run_dir else None, args.nginx)
    if args.hls_time <= 0:
        raise MediaError(f"--hls-time {args.hls_time}: must be positive")
    if args.keys is None:
        say("warning: no --keys file: any stream key is accepted")
    if args.state_dir is None:
        say("warning: no --state-dir: after a restart every stream starts again on --model at version 0, and an "
            "old signed update of it would be accepted again")
    config = ServeConfig(args.listen, Path(args.hls_dir), pysr.load(args.model), Path(args.keys) if args.keys else None,
                         args.control, parse_bitrate(args.max_upload),
                         LiveOptions(args.hls_time, args.crf, args.bitrate, args.backend), nginx,
                         pysr.load(args.tcsr) if args.tcsr else None, args.tcsr_policy,
                         Path(args.state_dir) if args.state_dir else None)
    server = Server(config)
    try:
        server.serve()
    finally:
        server.stop()
