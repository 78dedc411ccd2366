"""The server's control API: stdlib HTTP on loopback.

    GET  /status                  → JSON: the server, and per stream: fps, latency, model version, queue depth …
    POST /streams/<key>/model     → a signed model update (pysr/live/updates.py: whole .pysr or delta)
    POST /rtmp/publish            → nginx-rtmp's on_publish (form fields app, name = the key, addr …): 2xx lets
    POST /rtmp/publish_done         the publisher in, any other status turns it away; on_publish_done (nginx only)

An upload is untrusted input. `upload_model` checks, in order: a stream with that key has been published (404);
Content-Length is present (411) and at most the limit (413) — before a byte of the body is read; then
`verify_and_load` (signature with the stream key, header, version above the running one, payload, the model
loaded by `pysr.load` with full validation, and a drop-in match of the running model: graph, scale, colour).
The new model is then run once on a blank frame of the stream's size, off the worker thread (its plan compiled,
so the swap costs the stream no time), stored with its version when the server keeps state (`--state-dir`,
pysr/live/state.py; 507 if it cannot be), and offered to the worker, which takes it before its next frame. Any
refusal answers 4xx with the reason and leaves the running model serving.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from pysr.errors import MediaError, PysrError
from pysr.live.updates import UpdateError, UpdateLimits, verify_and_load

LOOPBACK = ("127.0.0.1", "localhost")
# UpdateError.reason -> HTTP status
REASON_STATUS = {"size": 413, "signature": 403, "version": 409, "base": 409, "mismatch": 422, "model": 422}
READ_TIMEOUT_S = 10
MAX_FORM = 64 << 10             # an on_publish form is a few hundred bytes


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if host not in LOOPBACK or not port.isdigit() or int(port) > 65535:
        raise MediaError(f"--control {text!r}: expected a loopback HOST:PORT",
                         "e.g. 127.0.0.1:8081 (the control API is not meant to face the network)")
    return host, int(port)


def upload_model(server, key: str, length: str | None, read, limit: int) -> tuple[int, dict]:
    """The checks of a model upload; `read(n)` reads the body. Returns (HTTP status, JSON body)."""
    worker = server.worker_by_key(key)
    if worker is None:
        return 404, {"error": "no stream has been published with this key"}
    if length is None:
        return 411, {"error": "Content-Length is required"}
    if not length.isdigit():
        return 400, {"error": f"Content-Length {length!r} is not a byte count"}
    n = int(length)
    if n > limit:
        return 413, {"error": f"update is {n} bytes, above the limit of {limit}; not read", "reason": "size"}
    blob = read(n)
    if len(blob) != n:
        return 400, {"error": f"body ended after {len(blob)} of {n} bytes"}
    with worker.update_lock:                    # one update at a time per stream: versions stay ordered
        try:
            new = verify_and_load(blob, key, worker.latest(), UpdateLimits(max_bytes=limit))
        except UpdateError as err:
            return REASON_STATUS.get(err.reason, 400), {"error": str(err), "reason": err.reason}
        try:
            worker.warm(new.model)
        except PysrError as err:
            return 422, {"error": f"the update does not run on this stream: {err}", "reason": "model"}
        try:
            server.keep(new)                    # --state-dir: stored before it is acknowledged
        except MediaError as err:
            return 507, {"error": f"{err}; the update is not applied", "reason": "storage"}
        worker.offer(new)
    return 202, {"stream": worker.name, "version": new.version, "applies": "from the stream's next frame"}


class _Handler(BaseHTTPRequestHandler):
    server_version = "pysr-serve"
    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: dict, close: bool = False) -> None:
        data = json.dumps(body, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.split("?")[0] == "/status":
            self._reply(200, self.server.pysr.status())
        else:
            self._reply(404, {"error": f"no such resource {self.path!r}"})

    def do_POST(self) -> None:  # noqa: N802
        hook = re.fullmatch(r"/rtmp/(publish|publish_done)", self.path.split("?")[0])
        if hook is not None:
            self._rtmp_hook(hook.group(1))
            return
        m = re.fullmatch(r"/streams/([^/?]+)/model", self.path)
        if m is None:
            self._reply(404, {"error": f"no such resource {self.path!r}"}, close=True)
            return
        self.connection.settimeout(READ_TIMEOUT_S)
        status, body = upload_model(self.server.pysr, m.group(1), self.headers.get("Content-Length"),
                                    self.rfile.read, self.server.limit)
        # An unread body (refused before reading) must not be taken for the next request: close.
        self._reply(status, body, close=status >= 400)

    def _rtmp_hook(self, call: str) -> None:
        """nginx-rtmp's on_publish / on_publish_done: a form-encoded POST (body, and the query for its args)."""
        handle = getattr(self.server.pysr.ingest, f"on_{call}", None)
        length = self.headers.get("Content-Length", "0")
        if handle is None or not length.isdigit() or int(length) > MAX_FORM:
            self._reply(404 if handle is None else 400, {"error": f"no {call} hook here" if handle is None else
                                                          "bad form length"}, close=True)
            return
        self.connection.settimeout(READ_TIMEOUT_S)
        body = self.rfile.read(int(length)).decode("utf-8", "replace")
        fields = dict(parse_qsl(self.path.partition("?")[2]))
        fields.update(parse_qsl(body))
        status, reply = handle(fields)
        self._reply(status, reply, close=True)

    def log_message(self, format, *args) -> None:  # noqa: A002 (http.server's signature)
        self.server.log(f"control: {self.address_string()} {format % args}")


class ControlServer:
    def __init__(self, address: str, server, limit: int):
        host, port = parse_address(address)
        try:
            self.http = ThreadingHTTPServer((host, port), _Handler)
        except OSError as err:
            raise MediaError(f"--control {address}: cannot listen ({err.strerror or err})") from None
        self.http.daemon_threads = True
        self.http.pysr, self.http.limit = server, limit
        self.http.log = lambda text: None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.http.server_address[1]

    @property
    def address(self) -> str:
        host, port = self.http.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.http.serve_forever, name="pysr-control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.http.shutdown()
            self._thread.join()
        self.http.server_close()
