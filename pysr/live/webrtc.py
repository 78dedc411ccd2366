"""`pysr webrtc`: an aiortc peer that upscales a browser's video track and sends it back (docs/live.md,
"WebRTC receiver").

    GET  /        the page (webrtc.html): camera or test pattern → RTCPeerConnection → local | upscaled, side by side
    POST /offer   {"sdp", "type": "offer"} → {"sdp", "type": "answer", "id"}; the peer's video comes back upscaled
    GET  /status  JSON: the server and, per peer, frames in/out, dropped, fps, mean inference and server ms

Per frame (`upscale_video_frame`, on one inference thread): the decoded frame's 8-bit 4:2:0 planes, read in place;
Y·(1/255) in float32 through the network (the same plan and numbers as `pysr.run_y`), rint to 8 bits straight into
the new frame's Y plane; U and V through the package's `resize_bicubic_torch` op at chroma resolution, likewise; the
new frame keeps the input's pts and time_base. Planes keep the stream's own matrix and range: nothing converts them
(the shipped Y models are BT.601 limited, which is what WebRTC's VP8/H.264 carry). Backend `auto` (the default):
native where this build has it, else cpu (`pick_backend`).

Falling behind: a pump task drains the incoming track as fast as frames arrive into a one-frame slot; the outgoing
track's `recv` (called by aiortc's encoder when it wants the next frame) takes whatever is in the slot — the newest
frame — and upscales it. A frame replaced in the slot before it was taken is counted as dropped, so nothing queues
(aiortc's own receive queue is unbounded: it must be drained whether we keep up or not).

With `WebrtcConfig.record` (`--record DIR`), every upscaled frame sent back is also handed to that peer's `Recorder`
(pysr/live/recorder.py), which encodes it on its own thread and never makes the track wait.

Everything a network peer sends is untrusted: the offer (size-limited, JSON, type, SDP parsed by aiortc) is
answered 400 with one line when it is malformed, and a frame larger than `max_lr_pixels` is refused and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import sys
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import av
import numpy as np
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from pysr import backends
from pysr.errors import BackendError, MediaError, PysrError, UnsupportedError
from pysr.graph.graph import Graph, Node
from pysr.live.recorder import Recorder
from pysr.model import Model
from pysr.runtime.plan import Plan, compile_graph
from pysr.video.reader import plane_array

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_OFFER_BYTES = 64 << 10          # an SDP offer is a few kB
KEEP_CLOSED = 8                     # closed peers still listed in /status
FPS_WINDOW = 30                     # frames out over which fps is measured


def say(text: str) -> None:
    print(f"pysr webrtc: {text}", file=sys.stderr, flush=True)


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if host not in LOOPBACK or not port.isdigit() or int(port) > 65535:
        raise MediaError(f"--listen {text!r}: expected a loopback HOST:PORT",
                         "e.g. 127.0.0.1:8090; browsers give the camera to http:// pages on localhost only")
    return host, int(port)


def check_model(model: Model) -> None:
    """A single-frame Y model with one input channel, or MediaError (the CLI's exit 2)."""
    name = model.facts.get("name", model.facts["architecture"])
    if model.facts.get("temporal", "single") != "single":
        raise MediaError(f"model {name} is temporal ({model.facts['temporal']}); pysr webrtc runs single-frame models",
                         "e.g. -m espcn_x2 (pysr models lists the shipped ones)")
    if model.colour_mode != "y" or model.in_channels != 1:
        raise MediaError(f"model {name} works on {model.colour_mode.upper()} ({model.in_channels} input channels); "
                         "pysr webrtc upscales the Y plane with the model and the chroma with bicubic",
                         "give a Y model (colour mode y), e.g. -m espcn_x2")


# -- per frame ---------------------------------------------------------------------------------------------------

def pick_backend(name: str, model: Model) -> tuple[str, list[str]]:
    """The backend to run on, and lines to log about the choice. `auto`: native (libpysr's kernels: espcn_x2 at
    160×96 in a third of numba's time here, whose many small parallel regions each wait for a busy core;
    bench/NOTES.md, "pysr webrtc per frame") when this build has it and it runs the model and the chroma op, else
    cpu. Any other name is taken as given (BackendError, the CLI's exit 2, when it cannot run here)."""
    if name != "auto":
        backends.get(name)
        return name, []
    # NOTE: importing the native backend from a source tree whose csrc/ is newer than the built module warns; the
    # warning is logged as a line after the address (which stays the first line), not printed before it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            backends.get("native")
            y_plan(model, "native", 16, 16)
            chroma_plan(model.scale, "native", 8, 8)
            why = ""
        except (BackendError, UnsupportedError) as err:
            why = str(err)
    notes = [f"native backend: {w.message}" for w in caught]
    if why:
        return "cpu", [*notes, f"backend cpu: native cannot run this model here ({why})"]
    return "native", notes


@lru_cache(maxsize=4)
def y_plan(model: Model, backend: str, h: int, w: int) -> Plan:
    """The network on one 1×1×H×W plane: the graph and compilation of `model.plan` (so the same numbers as
    `pysr.run_y`), but in a small cache of its own: a peer's encoder changes resolution as bandwidth and CPU allow,
    and each plan keeps its intermediate buffers (espcn_x2: 84 MiB at 640×360, 765 MiB at 1920×1088), so only the
    last few sizes stay compiled."""
    return compile_graph(model.graph, backend, {next(iter(model.graph.inputs)): (1, 1, h, w)})


@lru_cache(maxsize=16)
def chroma_plan(scale: int, backend: str, hc: int, wc: int) -> Plan:
    """U and V (1×2×Hc×Wc) → ×scale with the op a Y model's own RGB wrapper uses (PyTorch's bicubic). Plans are
    immutable and re-entrant, so one cached plan per size serves every peer."""
    node = Node("resize_bicubic_torch", "chroma_up", ["cbcr"], ["cbcr_hr"], {}, {"scale": scale})
    return compile_graph(Graph({"cbcr": 2}, ["cbcr_hr"], [node], {}), backend, {"cbcr": (1, 2, hc, wc)})


def to_u8(x: np.ndarray, out: np.ndarray) -> None:
    """`out` (uint8) = clip(rint(x·255), 0, 255), computed in x's own float32 memory (x is overwritten) and cast
    straight into out: no temporaries. The same numbers as `np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)`."""
    np.multiply(x, np.float32(255), out=x)
    np.rint(x, out=x)
    np.clip(x, 0, 255, out=x)
    np.copyto(out, x, casting="unsafe")


def upscale_video_frame(frame: av.VideoFrame, model: Model, backend: str = "cpu",
                        timings: list | None = None) -> av.VideoFrame:
    """A decoded frame (any format; 4:2:0 is what WebRTC decoders give) → yuv420p at ×scale, same pts and
    time_base, colour tags copied: Y by the model on Y·(1/255) in float32, U and V by bicubic, each rint to 8 bits.
    With `timings` (a list), appends (stage, seconds) per stage (bench/webrtc_frame.py)."""
    laps = [time.perf_counter()] if timings is not None else None

    def lap(stage: str) -> None:
        if laps is not None:
            laps.append(time.perf_counter())
            timings.append((stage, laps[-1] - laps[-2]))

    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    y, u, v = (plane_array(p) for p in frame.planes)
    s, (h, w), (hc, wc) = model.scale, y.shape, u.shape
    out = av.VideoFrame(w * s, h * s, "yuv420p")
    oy, ou, ov = (plane_array(p) for p in out.planes)
    lap("planes")
    x = np.empty((1, 1, h, w), np.float32)
    np.multiply(y, np.float32(1 / 255), out=x[0, 0])        # = y.astype(float32) · float32(1/255), one pass
    lap("y to float")
    y_hr = y_plan(model, backend, h, w).run(x)[0]            # a fresh array: ours to overwrite
    lap("network")
    to_u8(y_hr[0, 0], oy)
    lap("y to u8")
    c = np.empty((1, 2, hc, wc), np.float32)
    np.multiply(u, np.float32(1 / 255), out=c[0, 0])
    np.multiply(v, np.float32(1 / 255), out=c[0, 1])
    lap("uv to float")
    c_hr = chroma_plan(s, backend, hc, wc).run(c)[0]
    lap("chroma bicubic")
    # an odd LR side rounds its chroma up: the extra output sample is cropped (ou is ⌈H·s/2⌉ × ⌈W·s/2⌉)
    to_u8(c_hr[0, 0, :ou.shape[0], :ou.shape[1]], ou)
    to_u8(c_hr[0, 1, :ov.shape[0], :ov.shape[1]], ov)
    lap("uv to u8")
    out.pts = frame.pts
    if frame.time_base is not None:
        out.time_base = frame.time_base
    out.colorspace, out.color_range = frame.colorspace, frame.color_range
    lap("frame out")
    return out


# -- per peer ----------------------------------------------------------------------------------------------------

@dataclass
class PeerStats:
    """Counters of one peer. frames_in = frames_out + dropped + refused + at most 2 in flight (slot and thread)."""

    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0            # replaced in the slot by a newer frame before inference took it
    refused: int = 0            # above max_lr_pixels, or the model or conversion refused them (logged once a kind)
    infer_s: float = 0.0        # sum over frames out: upscale_video_frame
    server_s: float = 0.0       # sum over frames out: arrival from the decoder → upscaled frame handed to the encoder
    lr: tuple[int, int] | None = None
    hr: tuple[int, int] | None = None
    out_times: deque[float] = field(default_factory=lambda: deque(maxlen=FPS_WINDOW))

    def fps(self, now: float) -> float:
        t = self.out_times
        if len(t) < 2 or now - t[-1] > 2.0:         # stalled: no frame for 2 s reads as 0
            return 0.0
        return (len(t) - 1) / (t[-1] - t[0]) if t[-1] > t[0] else 0.0


class UpscaledTrack(MediaStreamTrack):
    """The outgoing video: the newest incoming frame, upscaled, each time the encoder asks for one."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack, model: Model, backend: str, executor: ThreadPoolExecutor,
                 stats: PeerStats, max_lr_pixels: int, log, recorder: Recorder | None = None):
        super().__init__()
        self.source, self.model, self.backend, self.executor = source, model, backend, executor
        self.recorder = recorder
        self.stats, self.max_lr_pixels, self.log = stats, max_lr_pixels, log
        self._slot: tuple[av.VideoFrame, float] | None = None
        self._ready = asyncio.Event()
        self._ended = False
        self._warned: set[str] = set()
        self._pump = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            while True:
                frame = await self.source.recv()
                self.stats.frames_in += 1
                if self._slot is not None:
                    self.stats.dropped += 1
                self._slot = (frame, time.monotonic())
                self._ready.set()
        except MediaStreamError:                    # the remote track ended
            pass
        finally:
            self._ended = True
            self._ready.set()

    def _refuse(self, key: str, text: str) -> None:
        self.stats.refused += 1
        if key not in self._warned:
            self._warned.add(key)
            self.log(f"{text} (frames like it are refused and counted, not logged again)")

    async def recv(self) -> av.VideoFrame:
        loop = asyncio.get_running_loop()
        while True:
            if self._slot is None:
                if self._ended:
                    self.stop()
                    raise MediaStreamError
                self._ready.clear()
                await self._ready.wait()
                continue
            (frame, arrived), self._slot = self._slot, None
            if frame.width * frame.height > self.max_lr_pixels:
                self._refuse("size", f"a {frame.width}×{frame.height} frame is above the limit of "
                             f"{self.max_lr_pixels} pixels")
                continue
            t0 = time.monotonic()
            try:
                out = await loop.run_in_executor(self.executor, upscale_video_frame, frame, self.model, self.backend)
            except (PysrError, ValueError, av.FFmpegError) as err:    # the model or the conversion refused it: the
                self._refuse(type(err).__name__, f"a {frame.width}×{frame.height} {frame.format.name} frame: {err}")
                continue                                                # sender task would log a traceback and end
            now = time.monotonic()
            st = self.stats
            st.frames_out += 1
            st.infer_s += now - t0
            st.server_s += now - arrived
            st.out_times.append(now)
            st.lr, st.hr = (frame.width, frame.height), (out.width, out.height)
            if self.recorder is not None:
                self.recorder.put(out)
            return out

    def stop(self) -> None:
        self._pump.cancel()
        super().stop()


async def _discard(track: MediaStreamTrack) -> None:
    with contextlib.suppress(MediaStreamError):
        while True:
            await track.recv()


@dataclass
class Peer:
    id: str
    pc: RTCPeerConnection
    stats: PeerStats
    started: float
    track: UpscaledTrack | None = None
    discards: list[asyncio.Task] = field(default_factory=list)
    recorded: bool = False                  # its recording was closed

    def as_dict(self, now: float) -> dict:
        st, n = self.stats, max(self.stats.frames_out, 1)
        out = {"state": self.pc.connectionState, "age_s": round(now - self.started, 1),
               "lr": list(st.lr) if st.lr else None, "hr": list(st.hr) if st.hr else None,
               "frames_in": st.frames_in, "frames_out": st.frames_out, "dropped": st.dropped, "refused": st.refused,
               "fps": round(st.fps(now), 2), "infer_ms": round(1000 * st.infer_s / n, 2),
               "server_ms": round(1000 * st.server_s / n, 2)}
        rec = self.track.recorder if self.track is not None else None
        if rec is not None:
            out["recording"] = {"file": rec.path.name, "frames": rec.frames, "dropped": rec.dropped,
                                "error": rec.error}
        return out


# -- the server --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WebrtcConfig:
    model: Model
    listen: str = "127.0.0.1:8090"          # HOST:PORT, loopback; port 0 takes a free one
    backend: str = "auto"                   # auto: native when this build has it, else cpu (pick_backend)
    max_peers: int = 4                      # live peer connections at once; more get 503
    max_lr_pixels: int = 1920 * 1088        # larger incoming frames are refused (counted), not upscaled
    record: Path | None = None              # a folder: each peer's upscaled video into PEER-DATE-TIME.mkv there


class OfferError(Exception):
    """A malformed offer: answered 400 with this message."""


def parse_offer(body: bytes) -> RTCSessionDescription:
    try:
        data = json.loads(body)
    except ValueError as err:               # JSONDecodeError and UnicodeDecodeError
        raise OfferError(f"body is not JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sdp"), str) or not isinstance(data.get("type"), str):
        raise OfferError('expected a JSON object {"sdp": string, "type": "offer"}')
    if data["type"] != "offer":
        raise OfferError(f'type is {data["type"][:40]!r}; this endpoint takes "offer"')
    if not data["sdp"].startswith("v=0"):
        raise OfferError("sdp is not a session description (it must start with v=0)")
    check_sdp(data["sdp"])
    return RTCSessionDescription(sdp=data["sdp"], type="offer")


def check_sdp(sdp: str) -> None:
    """What aiortc needs of an offer and would otherwise fail on later, inside its own tasks (where a failure is an
    unretrieved-exception traceback, not an answer): every media section with ICE credentials, a DTLS fingerprint
    and role; and a video section to upscale."""
    from aiortc.sdp import SessionDescription

    try:
        desc = SessionDescription.parse(sdp)
    except Exception as err:        # aiortc's parser on untrusted text: ValueError, KeyError, AssertionError …
        raise OfferError(f"the SDP does not parse ({type(err).__name__} {str(err)[:200]})".replace(" )", ")")) from None
    for i, m in enumerate(desc.media):
        what = f"media section {i} ({m.kind})"
        if m.kind not in ("audio", "video", "application"):
            raise OfferError(f"{what}: unknown media kind")
        if not (m.ice.usernameFragment and m.ice.password):
            raise OfferError(f"{what}: no ICE credentials (a=ice-ufrag, a=ice-pwd)")
        if m.dtls is None or not m.dtls.fingerprints:        # aiortc's parser drops dtls without a role
            raise OfferError(f"{what}: no DTLS fingerprint or role (a=fingerprint, a=setup)")
    if not any(m.kind == "video" for m in desc.media):
        raise OfferError("the offer has no video section (m=video)")


class WebrtcServer:
    """The HTTP server and its peers. `await start()` binds (and returns the address), `await stop()` closes every
    peer connection and the server; `serve` runs both around a wait for Ctrl-C or SIGTERM."""

    def __init__(self, config: WebrtcConfig, log=say):
        check_model(config.model)
        self.config, self.log = config, log
        self.backend, self._backend_notes = pick_backend(config.backend, config.model)
        self.host, self.port = parse_listen(config.listen)
        self.peers: dict[str, Peer] = {}
        self._ids = itertools.count(1)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="pysr-webrtc")  # kernels are parallel inside
        self._runner: web.AppRunner | None = None
        self._page = resources.files("pysr.live").joinpath("webrtc.html").read_text("utf-8")
        self.started = time.monotonic()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_OFFER_BYTES)
        app.add_routes([web.get("/", self.index), web.post("/offer", self.offer), web.get("/status", self.status)])
        return app

    async def start(self) -> tuple[str, int]:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            raise MediaError(f"cannot listen on {self.host}:{self.port}: {err.strerror}",
                             "pick another port with --listen") from None
        self.port = self._runner.addresses[0][1]                # the port taken when --listen asked for 0
        # load the kernels before the first peer arrives, not while its frames pile up
        blank = av.VideoFrame(32, 32, "yuv420p")
        await asyncio.get_running_loop().run_in_executor(self._executor, upscale_video_frame, blank,
                                                         self.config.model, self.backend)
        self.log(f"{self.url} (model {self.config.model!r}, backend {self.backend})")
        for note in self._backend_notes:
            self.log(note)
        return self.host, self.port

    async def stop(self) -> None:
        await asyncio.gather(*(self._close(p) for p in list(self.peers.values())))
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._executor.shutdown(wait=True)

    async def _close(self, peer: Peer) -> None:
        if peer.track is not None:
            peer.track.stop()
        for task in peer.discards:
            task.cancel()
        await peer.pc.close()
        rec = peer.track.recorder if peer.track is not None else None
        if rec is not None and not peer.recorded:
            peer.recorded = True
            path = await asyncio.get_running_loop().run_in_executor(None, rec.close)     # flushes the encoder
            if path is not None:
                self.log(f"peer {peer.id}: recorded {rec.frames} frames into {path}"
                         + (f" ({rec.dropped} dropped: the encoder was behind)" if rec.dropped else ""))

    @property
    def url(self) -> str:
        return f"http://{f'[{self.host}]' if ':' in self.host else self.host}:{self.port}/"

    def live_peers(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.pc.connectionState not in ("closed", "failed")]

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=self._page, content_type="text/html")

    async def status(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        m = self.config.model
        body = {"server": {"uptime_s": round(now - self.started, 1), "model": m.facts.get("name", repr(m)),
                           "scale": m.scale, "backend": self.backend, "live_peers": len(self.live_peers())},
                "peers": {pid: p.as_dict(now) for pid, p in self.peers.items()}}
        return web.json_response(body)

    async def offer(self, request: web.Request) -> web.Response:
        if request.content_length is None or request.content_length > MAX_OFFER_BYTES:
            return self._error(413 if request.content_length else 411,
                               f"an offer needs a Content-Length of at most {MAX_OFFER_BYTES} bytes")
        try:
            desc = parse_offer(await request.read())
        except OfferError as err:
            return self._error(400, str(err))
        if len(self.live_peers()) >= self.config.max_peers:
            return self._error(503, f"{self.config.max_peers} peers are connected already")
        peer = Peer(f"p{next(self._ids)}", RTCPeerConnection(RTCConfiguration(iceServers=[])), PeerStats(),
                    time.monotonic())
        self._watch(peer)
        try:
            await peer.pc.setRemoteDescription(desc)
            if peer.track is None:
                raise OfferError("the offer sends no video (its video section is recvonly or inactive)")
            await peer.pc.setLocalDescription(await peer.pc.createAnswer())
        except Exception as err:    # aiortc on an offer that passed check_sdp: ValueError, RuntimeError …; every
            # failure here is the offer's (untrusted text), answered 400 and never a traceback. A peer connection a
            # bad offer left half made can fail to close (aiortc 1.16: a transport never made); nothing of it is kept.
            with contextlib.suppress(Exception):
                await self._close(peer)
            why = str(err) if isinstance(err, OfferError) else \
                f"aiortc cannot answer this offer: {type(err).__name__} {str(err)[:200]}".rstrip()
            return self._error(400, why)
        self.peers[peer.id] = peer
        closed = [k for k, p in self.peers.items() if p.pc.connectionState in ("closed", "failed")]
        for k in closed[:-KEEP_CLOSED]:             # /status keeps the last few closed peers, not all of them
            del self.peers[k]
        self.log(f"peer {peer.id}: offer accepted ({len(self.live_peers())} live)")
        local = peer.pc.localDescription
        return web.json_response({"sdp": local.sdp, "type": local.type, "id": peer.id})

    def _watch(self, peer: Peer) -> None:
        pc, cfg = peer.pc, self.config

        @pc.on("track")
        def on_track(track):
            if track.kind == "video" and peer.track is None:
                def log(text: str) -> None:
                    self.log(f"peer {peer.id}: {text}")

                rec = None
                if cfg.record is not None:
                    name = f"{peer.id}-{time.strftime('%Y%m%d-%H%M%S')}.mkv"
                    rec = Recorder(cfg.record / name, log=log)
                peer.track = UpscaledTrack(track, cfg.model, self.backend, self._executor, peer.stats,
                                           cfg.max_lr_pixels, log, rec)
                pc.addTrack(peer.track)
            else:       # audio, a second video: read and dropped, or aiortc's unbounded queue would grow with them
                peer.discards.append(asyncio.ensure_future(_discard(track)))

        @pc.on("connectionstatechange")
        async def on_state():
            state = pc.connectionState
            if state in ("failed", "closed") and peer.id in self.peers:
                st = peer.stats
                self.log(f"peer {peer.id}: {state} (frames in {st.frames_in}, out {st.frames_out}, dropped "
                         f"{st.dropped}, refused {st.refused})")
                await self._close(peer)
            elif state == "connected":
                self.log(f"peer {peer.id}: connected")

    def _error(self, status: int, message: str) -> web.Response:
        self.log(f"POST /offer: {status}: {message}")
        return web.json_response({"error": message}, status=status)


async def serve(config: WebrtcConfig) -> str:
    """Run until Ctrl-C or SIGTERM; returns which ("SIGINT" / "SIGTERM"). Peers are closed before returning."""
    server = WebrtcServer(config)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    got: list[str] = []

    def on_signal(sig: signal.Signals) -> None:
        got.append(sig.name)
        stopping.set()
        loop.remove_signal_handler(sig)         # a second Ctrl-C aborts at once

    def on_task_error(loop, context: dict) -> None:
        # aiortc runs each connection in its own tasks; what a remote peer makes fail there ends as one line
        err = context.get("exception")
        say(f"{context.get('message', 'error')}: {type(err).__name__ + ' ' if err else ''}{err or ''}".strip())

    loop.set_exception_handler(on_task_error)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):          # not on Windows' event loop
            loop.add_signal_handler(sig, on_signal, sig)
    try:
        await server.start()
        await stopping.wait()
        say(f"stopping: closing {len(server.live_peers())} peer connection(s)")
    finally:
        await server.stop()
    return got[0]
