"""`pysr serve`: the server — keys, stream workers, /status, the control API — and its embedded RTMP ingest.

`Server` is everything but the ingest; the ingest is `EmbeddedIngest` here (`--no-nginx`) or `NginxIngest`
(pysr/live/nginx.py). Both admit a publish with `check_key` and hand it to the key's `StreamWorker`.

The embedded ingest is FFmpeg's RTMP listen mode through PyAV, one stream at a time:

    publisher ──RTMP──▶ accept (listen, key check) ──▶ StreamWorker.run_session ──▶ HLS in DIR/<name>/
                          ▲                                   │ input ends or is lost: ENDLIST
                          └───────────── listen again ◀───────┘

FFmpeg's listener accepts one connection per `avformat_open_input` and any stream name; it does not hand the name
to the caller. It does log it: asked to expect a sentinel name, it warns "Unexpected stream KEY, expecting
SENTINEL" during the handshake. The server captures that warning (PyAV log capture, for this thread, only while
accepting) to learn the key, checks it against the keys file (read again on every publish, so keys can be added or
revoked without a restart) and closes the connection at once when it is unknown or the application name is wrong.
The publisher has been told "publish started" by then — RTMP listen mode answers before the caller sees anything —
so a refused publisher sees its connection closed. With nginx the `on_publish` hook refuses before that.

NOTE: PyAV routes FFmpeg's log through Python (it needs the GIL) while the log level is set. A thread that holds
the GIL while it waits on this server — an RTMP *client* in the same process — would deadlock the accept, so
publishers run in their own process (`pysr push`, tests included).
"""

from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import av
import av.logging

from pysr.errors import MediaError, PysrError
from pysr.live.state import StreamStates
from pysr.live.worker import LiveOptions, StreamWorker, cascade_steps, warm
from pysr.model import Model

if TYPE_CHECKING:
    from pysr.live.nginx import NginxConfig

SENTINEL = "__pysr_any_stream__"
ACCEPT_TIMEOUT_S = 1            # the listener is re-armed this often, so stop() is seen within about a second
PROBE = {"analyzeduration": "200000", "probesize": "32768", "fpsprobesize": "0"}    # start decoding after ~0.2 s


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    app: str

    @property
    def url(self) -> str:
        return f"rtmp://{self.host}:{self.port}/{self.app}"


def parse_listen(url: str) -> Listen:
    parts = urlsplit(url)
    app = parts.path.strip("/")
    if parts.scheme != "rtmp" or not parts.hostname or parts.port is None or not app or "/" in app:
        raise MediaError(f"--listen {url!r}: expected rtmp://HOST:PORT/APP", "e.g. rtmp://127.0.0.1:1935/live")
    return Listen(parts.hostname, parts.port, app)


def split_host_port(text: str, flag: str, example: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise MediaError(f"{flag} {text!r}: expected HOST:PORT", example)
    return host, int(port)


def load_keys(path: Path | None) -> dict[str, str] | None:
    """Keys file: one stream per line, `KEY [NAME]`; NAME (default: the key) names the HLS folder and the stream
    in /status. Blank lines and lines starting with # are skipped. None (no file): any key is accepted."""
    if path is None:
        return None
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise MediaError(f"--keys {path}: cannot read ({err.strerror or err})") from None
    keys: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) > 2 or not re.fullmatch(r"[A-Za-z0-9._~-]+", words[-1]) or words[-1].startswith("."):
            raise MediaError(f"--keys {path}, line {n}: expected `KEY [NAME]`, NAME of letters, digits and ._~-")
        if words[-1] in keys.values():
            raise MediaError(f"--keys {path}, line {n}: stream name {words[-1]!r} is used twice")
        keys[words[0]] = words[-1]
    return keys


@dataclass
class ServeConfig:
    listen: str
    hls_dir: Path
    model: Model
    keys: Path | None = None
    control: str | None = None              # HOST:PORT of the control API (nginx: a free loopback port if None)
    max_upload: int = 16 << 20
    options: LiveOptions = field(default_factory=LiveOptions)
    nginx: NginxConfig | None = None        # None: the embedded ingest
    tcsr: Model | None = None               # given: the cascade, TCSR on the frames `tcsr_policy` picks
    tcsr_policy: str = "budget:20"
    state_dir: Path | None = None           # given: each stream's model and update version survive restarts


def say(text: str) -> None:
    print(f"pysr serve: {text}", file=sys.stderr, flush=True)


class Server:
    """The stream workers, the keys, /status, the control API and the stop signals: all but the ingest.
    `serve()` runs the ingest until `stop()`, Ctrl-C or SIGTERM."""

    def __init__(self, config: ServeConfig, log=say):
        self.config, self.log = config, log
        self.listen = parse_listen(config.listen)
        self.hls_dir = Path(config.hls_dir)
        if not self.hls_dir.is_dir():
            raise MediaError(f"--hls-dir {self.hls_dir}: no such folder")
        if config.model.facts.get("temporal", "single") != "single":
            raise MediaError(f"model {config.model!r} is temporal ({config.model.facts['temporal']}); "
                             "this server stage runs single-frame models")
        self._make_step = None                  # None: FrameStep, the model on every frame
        if config.tcsr is not None:
            from pysr.stream.cascade import Cascade

            Cascade(config.model, config.tcsr)  # the pair must fit (scale 1 window model on Y planes): fail now
            self._make_step = cascade_steps(config.tcsr, config.tcsr_policy, config.options.backend)
        load_keys(config.keys)                  # a bad keys file fails at start, not at the first publish
        self.states = StreamStates(config.state_dir) if config.state_dir is not None else None
        self.workers: dict[str, StreamWorker] = {}
        self.refused = 0
        self.last_refusal: str | None = None
        self.state = "starting"
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        if config.nginx is None:
            self.ingest = EmbeddedIngest(self)
        else:
            from pysr.live.nginx import NginxIngest

            self.ingest = NginxIngest(self, config.nginx)     # finds nginx first: a missing one fails here
        self.control = None
        address = config.control or ("127.0.0.1:0" if config.nginx is not None else None)    # nginx calls it
        if address:
            from pysr.live.control import ControlServer

            self.control = ControlServer(address, self, config.max_upload)

    # -- used by the ingests and the control API -----------------------------------------------------------------

    def check_key(self, key: str) -> tuple[str | None, str | None]:
        """(stream name, None) when KEY may publish, else (None, why). The keys file is read again each time."""
        if not key:
            return None, "no stream key"
        try:
            keys = load_keys(self.config.keys)
        except MediaError as err:
            return None, f"keys file unreadable ({err})"
        if keys is not None and key not in keys:
            return None, f"unknown stream key {key[:2]}…"
        return (key if keys is None else keys[key]), None

    def worker_for(self, key: str, name: str) -> StreamWorker:
        """The key's worker, made at its first publish and kept (model, version, timeline) across sessions."""
        with self._lock:
            worker = self.workers.get(key)
            if worker is None:
                running = self.states.load(name, self.config.model, self.log) if self.states else None
                worker = StreamWorker(name, key, self.config.model, self.hls_dir, self.config.options,
                                      make_step=self._make_step, log=self.log, running=running)
                self.workers[key] = worker
            return worker

    def keep(self, running) -> None:
        """Store an accepted update before it is acknowledged (`--state-dir`); MediaError if it cannot be."""
        if self.states is not None:
            self.states.save(running)

    def refuse(self, why: str) -> None:
        with self._lock:
            self.refused += 1
            self.last_refusal = why
        self.log(f"refused a publish: {why}")

    def worker_by_key(self, key: str) -> StreamWorker | None:
        with self._lock:
            return self.workers.get(key)

    def status(self) -> dict:
        with self._lock:
            workers = list(self.workers.values())
        server = {"ingest": self.ingest.name, "listen": self.listen.url, "state": self.state,
                  "uptime_s": round(time.monotonic() - self.started, 1), "refused_publishes": self.refused,
                  "last_refusal": self.last_refusal, **self.ingest.status()}
        return {"server": server, "streams": {w.name: w.status() for w in workers}}

    # -- running -------------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            for w in self.workers.values():
                w.stop()

    def serve(self) -> None:
        # NOTE: the first run of a model loads its kernels (about a second); do it now, not while a publisher waits.
        warm(self.config.model, self.config.options.backend, False, 16, 16)
        if self.control is not None:
            self.control.start()
            self.log(f"control API on http://{self.control.address}")
        # NOTE: a KeyboardInterrupt raised while PyAV builds its error for a timed-out accept is lost (the error
        # replaces it), so Ctrl-C is taken as a stop request: the sessions end cleanly (ENDLIST), then we raise.
        # SIGTERM is the same request, and the server then returns normally.
        interrupted = threading.Event()

        def on_signal(signum, frame):
            if signum == signal.SIGINT:
                interrupted.set()
                signal.signal(signal.SIGINT, signal.default_int_handler)     # a second Ctrl-C interrupts at once
            self.log("stopping: the streams' playlists are being closed" +
                     (" (Ctrl-C again to abort)" if signum == signal.SIGINT else ""))
            self.stop()

        main = threading.current_thread() is threading.main_thread()
        previous = {n: signal.signal(n, on_signal) for n in (signal.SIGINT, signal.SIGTERM)} if main else {}
        try:
            self.ingest.run()
        finally:
            self.state = "stopped"
            for n, handler in previous.items():
                signal.signal(n, handler)
            if self.control is not None:
                self.control.stop()
        if interrupted.is_set():
            raise KeyboardInterrupt


class EmbeddedIngest:
    """`--no-nginx`: FFmpeg's RTMP listener in the serving thread, one publish at a time."""

    name = "embedded"

    def __init__(self, server: Server):
        self.server = server

    def status(self) -> dict:
        return {}

    def run(self) -> None:
        s = self.server
        s.log(f"listening on {s.listen.url}/<key>, HLS into {s.hls_dir}/<stream>/")
        while not s.stopping.is_set():
            s.state = "listening"
            accepted = self.accept()
            if accepted is None:
                continue
            container, key = accepted
            name, why = s.check_key(key)
            if why:
                self._refuse(container, why)
                continue
            try:
                worker = s.worker_for(key, name)
            except MediaError as err:           # its stored state is unreadable (--state-dir)
                self._refuse(container, str(err))
                continue
            s.log(f"stream {name}: publish accepted (session {worker.sessions + 1})")
            s.state = "streaming"
            try:
                stats = worker.run_session(container, f"{s.listen.url}/{worker.name}")
            except PysrError as err:
                s.log(f"stream {worker.name}: session failed: {err}")
                continue
            if stats.interrupted:
                raise KeyboardInterrupt

    def accept(self):
        """Wait up to ACCEPT_TIMEOUT_S for a publisher; returns (container, key) or None."""
        s = self.server
        url = f"{s.listen.url}/{SENTINEL}"
        options = {"listen": "1", "timeout": str(ACCEPT_TIMEOUT_S),
                   "rw_timeout": str(int(s.config.options.rw_timeout_s * 1e6)), **PROBE}
        level, skip = av.logging.get_level(), av.logging.get_skip_repeated()
        av.logging.set_level(av.logging.WARNING)
        av.logging.set_skip_repeated(False)     # the same key twice in a row is logged twice
        try:
            with av.logging.Capture() as logs:
                container = av.open(url, "r", format="flv", options=options)
        except (av.TimeoutError, InterruptedError):
            return None
        except (av.FFmpegError, OSError) as err:
            s.log(f"a publish failed before its first frame: {err}")
            return None
        finally:
            av.logging.set_level(level)
            av.logging.set_skip_repeated(skip)
        key, app = None, None
        for _level, _name, message in logs:
            m = re.match(rf"Unexpected stream (.*), expecting {SENTINEL}\s*$", message)
            if m:
                key = m.group(1)
            m = re.match(r"App field don't match up: (.*) <-> ", message)
            if m:
                app = m.group(1)
        if app is not None:
            self._refuse(container, f"application {app!r} (this server serves {s.listen.app!r})")
            return None
        return container, key or ""

    def _refuse(self, container, why: str) -> None:
        with contextlib.suppress(av.FFmpegError, OSError):
            container.close()
        self.server.refuse(why)


def serve(config: ServeConfig) -> None:
    Server(config).serve()
