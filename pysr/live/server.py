"""`pysr serve --no-nginx`: the embedded RTMP ingest — FFmpeg's RTMP listen mode through PyAV, one stream at a time.

    publisher ──RTMP──▶ accept (listen, key check) ──▶ StreamWorker.run_session ──▶ HLS in DIR/<name>/
                          ▲                                   │ input ends or is lost: ENDLIST
                          └───────────── listen again ◀───────┘

FFmpeg's listener accepts one connection per `avformat_open_input` and any stream name; it does not hand the name
to the caller. It does log it: asked to expect a sentinel name, it warns "Unexpected stream KEY, expecting
SENTINEL" during the handshake. The server captures that warning (PyAV log capture, for this thread, only while
accepting) to learn the key, checks it against the keys file (read again on every publish, so keys can be added or
revoked without a restart) and closes the connection at once when it is unknown or the application name is wrong.
The publisher has been told "publish started" by then — RTMP listen mode answers before the caller sees anything —
so a refused publisher sees its connection closed. With nginx (the next stage) the `on_publish` hook refuses
before that.

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
from urllib.parse import urlsplit

import av
import av.logging

from pysr.errors import MediaError, PysrError
from pysr.live.worker import LiveOptions, StreamWorker, warm
from pysr.model import Model

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
    control: str | None = None              # HOST:PORT of the control API
    max_upload: int = 16 << 20
    options: LiveOptions = field(default_factory=LiveOptions)


def say(text: str) -> None:
    print(f"pysr serve: {text}", file=sys.stderr, flush=True)


class Server:
    """The listen loop and the stream workers. `serve()` blocks until `stop()` (or Ctrl-C)."""

    def __init__(self, config: ServeConfig, log=say):
        self.config, self.log = config, log
        self.listen = parse_listen(config.listen)
        self.hls_dir = Path(config.hls_dir)
        if not self.hls_dir.is_dir():
            raise MediaError(f"--hls-dir {self.hls_dir}: no such folder")
        if config.model.facts.get("temporal", "single") != "single":
            raise MediaError(f"model {config.model!r} is temporal ({config.model.facts['temporal']}); "
                             "this server stage runs single-frame models")
        load_keys(config.keys)                  # a bad keys file fails at start, not at the first publish
        self.workers: dict[str, StreamWorker] = {}
        self.refused = 0
        self.last_refusal: str | None = None
        self.state = "starting"
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.control = None
        if config.control:
            from pysr.live.control import ControlServer

            self.control = ControlServer(config.control, self, config.max_upload)

    # -- used by the control API ---------------------------------------------------------------------------------

    def worker_by_key(self, key: str) -> StreamWorker | None:
        with self._lock:
            return self.workers.get(key)

    def status(self) -> dict:
        with self._lock:
            workers = list(self.workers.values())
        return {"server": {"listen": self.listen.url, "state": self.state, "uptime_s": round(time.monotonic() -
                           self.started, 1), "refused_publishes": self.refused, "last_refusal": self.last_refusal},
                "streams": {w.name: w.status() for w in workers}}

    # -- the loop ------------------------------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for w in self.workers.values():
                w.stop()

    def serve(self) -> None:
        # NOTE: the first run of a model loads its kernels (about a second); do it now, not while a publisher waits.
        warm(self.config.model, self.config.options.backend, False, 16, 16)
        if self.control is not None:
            self.control.start()
            self.log(f"control API on http://{self.control.address}")
        self.log(f"listening on {self.listen.url}/<key>, HLS into {self.hls_dir}/<stream>/")
        # NOTE: a KeyboardInterrupt raised while PyAV builds its error for a timed-out accept is lost (the error
        # replaces it), so Ctrl-C is taken as a stop request: the session ends cleanly (ENDLIST), then we raise.
        interrupted = threading.Event()

        def on_sigint(signum, frame):
            interrupted.set()
            signal.signal(signal.SIGINT, signal.default_int_handler)     # a second Ctrl-C interrupts at once
            self.log("stopping: the stream's playlist is being closed (Ctrl-C again to abort)")
            self.stop()

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, on_sigint) if main else None
        try:
            while not self._stop.is_set():
                self.state = "listening"
                accepted = self.accept()
                if accepted is None:
                    continue
                container, key = accepted
                worker = self._admit(container, key)
                if worker is None:
                    continue
                self.state = "streaming"
                try:
                    stats = worker.run_session(container, f"{self.listen.url}/{worker.name}")
                except PysrError as err:
                    self.log(f"stream {worker.name}: session failed: {err}")
                    continue
                if stats.interrupted:
                    raise KeyboardInterrupt
        finally:
            self.state = "stopped"
            if main:
                signal.signal(signal.SIGINT, previous)
            if self.control is not None:
                self.control.stop()
        if interrupted.is_set():
            raise KeyboardInterrupt

    def accept(self):
        """Wait up to ACCEPT_TIMEOUT_S for a publisher; returns (container, key) or None."""
        url = f"{self.listen.url}/{SENTINEL}"
        options = {"listen": "1", "timeout": str(ACCEPT_TIMEOUT_S),
                   "rw_timeout": str(int(self.config.options.rw_timeout_s * 1e6)), **PROBE}
        level, skip = av.logging.get_level(), av.logging.get_skip_repeated()
        av.logging.set_level(av.logging.WARNING)
        av.logging.set_skip_repeated(False)     # the same key twice in a row is logged twice
        try:
            with av.logging.Capture() as logs:
                container = av.open(url, "r", format="flv", options=options)
        except (av.TimeoutError, InterruptedError):
            return None
        except (av.FFmpegError, OSError) as err:
            self.log(f"a publish failed before its first frame: {err}")
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
            self._refuse(container, f"application {app!r} (this server serves {self.listen.app!r})")
            return None
        if not key:
            self._refuse(container, "no stream key")
            return None
        return container, key

    def _admit(self, container, key: str) -> StreamWorker | None:
        try:
            keys = load_keys(self.config.keys)
        except MediaError as err:
            self._refuse(container, f"keys file unreadable ({err})")
            return None
        if keys is not None and key not in keys:
            self._refuse(container, f"unknown stream key {key[:2]}…")
            return None
        name = key if keys is None else keys[key]
        with self._lock:
            worker = self.workers.get(key)
            if worker is None:
                worker = StreamWorker(name, key, self.config.model, self.hls_dir, self.config.options, log=self.log)
                self.workers[key] = worker
        self.log(f"stream {name}: publish accepted (session {worker.sessions + 1})")
        return worker

    def _refuse(self, container, why: str) -> None:
        with contextlib.suppress(av.FFmpegError, OSError):
            container.close()
        with self._lock:
            self.refused += 1
            self.last_refusal = why
        self.log(f"refused a publish: {why}")


def serve(config: ServeConfig) -> None:
    Server(config).serve()
