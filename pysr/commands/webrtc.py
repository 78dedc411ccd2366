"""`pysr webrtc`: a WebRTC peer that upscales the video it receives and sends it back (docs/live.md, "WebRTC
receiver")."""

from __future__ import annotations

import os
from pathlib import Path

from pysr.errors import MediaError


def register(sub) -> None:
    p = sub.add_parser("webrtc", help="a WebRTC peer: receive a low-resolution track, send it back upscaled",
                       description="Serve a page on --listen that sends the camera (or a test pattern) to this "
                       "process over WebRTC and shows it beside what comes back: every frame's Y plane upscaled "
                       "by --model, its chroma by bicubic. When inference is slower than the incoming frames, the "
                       "newest frame is taken and the others are dropped (counted in /status). Needs the webrtc "
                       "extra (aiortc, aiohttp).")
    p.add_argument("--listen", default="127.0.0.1:8090", help="loopback HOST:PORT of the page, /offer and /status "
                   "(default 127.0.0.1:8090)")
    p.add_argument("-m", "--model", default="espcn_x2", help="a single-frame Y model: .pysr file or shipped name "
                   "(default espcn_x2)")
    p.add_argument("--backend", default="auto", help="backend of the model and the chroma op (default auto: native "
                   "when this build has it, else cpu)")
    p.add_argument("--max-peers", type=int, default=4, help="peer connections at once (default 4)")
    p.add_argument("--record", metavar="DIR", help="also write each peer's upscaled video (H.264, its own "
                   "timestamps) into DIR/PEER-DATE-TIME.mkv, finished when the peer leaves")
    p.set_defaults(func=cmd_webrtc)


def cmd_webrtc(args) -> None:
    import asyncio

    import pysr

    try:
        from pysr.live import webrtc
    except ModuleNotFoundError as err:
        if err.name not in ("aiortc", "aiohttp"):
            raise
        raise MediaError(f"pysr webrtc needs {err.name}, which is not installed",
                         'pip install "pysr[webrtc]"') from None
    if args.max_peers < 1:
        raise MediaError(f"--max-peers {args.max_peers}: must be at least 1")
    record = None
    if args.record is not None:
        record = Path(args.record)
        if not record.is_dir():
            raise MediaError(f"--record {args.record}: no such folder", "create it first")
        if not os.access(record, os.W_OK):
            raise MediaError(f"--record {args.record}: not writable")
    config = webrtc.WebrtcConfig(pysr.load(args.model), args.listen, args.backend, args.max_peers, record=record)
    if asyncio.run(webrtc.serve(config)) == "SIGINT":
        raise KeyboardInterrupt             # the CLI's exit 130, after the peers were closed
