"""The streamer's side of model updates: version, sign, pace and POST them to the server's control API.

    trainer ─submit(model)─▶ [latest only] ─▶ make_update (whole or delta, the smaller; version + 1, stream key)
        ─▶ TokenBucket(r = uplink·(1 − margin) − video) ─▶ POST /streams/KEY/model, chunk by chunk ─▶ 202 / 4xx

One thread sends, one update at a time; a model submitted while another is on the wire replaces any older one
still waiting (only the newest model is worth the uplink). The bucket lives as long as the publisher, so the
bound below holds across consecutive updates, not only within one.

Chunk size: at most the margin's bytes in one second (and 16 KiB, and one second at rate r). Then in any
one-second window the update bytes sent are at most chunk + r <= (uplink - video) / 8: video + updates stay
within the uplink second by second, the margin absorbing the burst of one chunk. One second at rate r also keeps
the gap between two chunks of one request under a second, far inside the server's 10 s read timeout.

Answers: 202 → the new version is the base of the next delta, and `on_accepted(version, model)` tells the
streamer (the monitor measures that model from then on). 409 `base` (the server runs other parameters than the
delta assumed) → the same version again as a whole model; 409 `version` (the server is ahead, e.g. it kept a
version from an earlier push) → the server's version is read from /status and a whole model sent above it;
404 (the stream is not published yet) and connection errors → retried after 1 s, 2 s, 4 s. Anything else is
logged with its reason and the model dropped (the next better model is sent when the trainer has one).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from pysr.errors import MediaError
from pysr.live.updates import Running, UpdateError, make_update
from pysr.live.uplink import TokenBucket, UplinkBudget
from pysr.model import Model

MAX_CHUNK = 16 << 10
MIN_CHUNK = 256
RETRIES = 3
HINTS = {"stream": "--stream must be the stream's NAME in the server's keys file (default: the key)",
         "signature": "--key must be the stream key the video is published with",
         "mismatch": "--model must be the model the server was started with (same architecture, scale, colour)"}


def pace_chunk(budget: UplinkBudget, rate: float) -> int:
    """Bytes per chunk: the margin's bytes in one second, at most MAX_CHUNK and one second at `rate` (bytes/s)."""
    return max(MIN_CHUNK, int(min(MAX_CHUNK, budget.margin * budget.uplink_bps / 8.0, rate)))


class HttpTransport:
    """POST a body in paced pieces and GET /status, over http.client (keep the streamer free of extra packages)."""

    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise MediaError(f"--control {url!r}: expected http://HOST:PORT of the server's control API")
        self.host, self.port, self.prefix = parts.hostname, parts.port or 80, parts.path.rstrip("/")
        self.timeout = timeout

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def get_json(self, path: str) -> dict:
        conn = self._connection()
        try:
            conn.request("GET", self.prefix + path)
            r = conn.getresponse()
            return json.loads(r.read() or b"{}")
        finally:
            conn.close()

    def post(self, path: str, length: int) -> _Post:
        conn = self._connection()
        conn.putrequest("POST", self.prefix + path)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        return _Post(conn)


class _Post:
    def __init__(self, conn: http.client.HTTPConnection):
        self.conn = conn

    def send(self, chunk: bytes) -> None:
        self.conn.send(chunk)

    def finish(self) -> tuple[int, dict]:
        try:
            r = self.conn.getresponse()
            data = r.read()
            try:
                body = json.loads(data) if data else {}
            except ValueError:
                body = {"error": data[:200].decode("utf-8", "replace")}
            return r.status, body
        finally:
            self.conn.close()

    def abort(self) -> None:
        self.conn.close()


class UpdatePublisher:
    """Sends the trainer's models to one stream. `submit` is thread-safe; `start` runs the sender thread (tests may
    call `send` directly). `clock`/`sleep` are injectable so pacing can be tested on a fake clock."""

    def __init__(self, transport, key: str, stream: str, model: Model, budget: UplinkBudget, video_bps: float,
                 on_accepted: Callable[[int, Model], None] | None = None, log: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.transport, self.key, self.stream, self.log = transport, key, stream, log
        self.on_accepted = on_accepted or (lambda version, model: None)
        self.clock, self.sleep = clock, sleep
        self.rate = budget.update_rate(video_bps)       # bytes/s; UplinkError when the uplink leaves no room
        self.chunk = pace_chunk(budget, self.rate)
        self.bucket = TokenBucket(self.rate, self.chunk, clock())
        self.base = Running.initial(model, stream, 0)   # what the server runs, as far as we know
        self.synced = False                             # the server's version read from /status
        self.sent = self.accepted = 0
        self.bytes = 0
        self._pending: Model | None = None
        self._cond = threading.Condition()
        self._busy = self._closed = False
        self._thread: threading.Thread | None = None

    # -- the trainer's side --------------------------------------------------------------------------------------

    def submit(self, model: Model) -> None:
        with self._cond:
            self._pending = model
            self._cond.notify_all()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pysr-updates", daemon=True)
        self._thread.start()

    def close(self, wait: float | None = 60.0) -> None:
        """Stop after the update on the wire and any waiting one (at most `wait` seconds; 0: at once)."""
        with self._cond:
            if not wait:
                self._pending = None
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(wait or 0.1)

    def idle(self) -> bool:
        with self._cond:
            return self._pending is None and not self._busy

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._pending is None:
                    return
                model, self._pending, self._busy = self._pending, None, True
            try:
                self.send(model)
            except Exception as err:     # the stream must go on whatever an update does
                self.log(f"update failed: {type(err).__name__}: {err}")
            finally:
                with self._cond:
                    self._busy = False

    # -- sending -------------------------------------------------------------------------------------------------

    def _sync(self) -> None:
        """The stream's version on the server (an earlier push may have left it above 0): /status."""
        try:
            st = self.transport.get_json("/status").get("streams", {}).get(self.stream)
        except (OSError, ValueError, http.client.HTTPException) as err:
            self.log(f"updates: cannot read the server's /status ({err}); assuming model version {self.base.version}")
            return
        if st is None:
            return
        version = max(st.get("model_version") or 0, st.get("pending_update") or 0)
        if version != self.base.version:
            self.log(f"updates: the server runs stream {self.stream} at model version {version}; "
                     f"sending whole models above it")
            self.base = Running(self.base.model, self.stream, version, "")     # unknown parameters: no delta
        self.synced = True

    def make(self, model: Model, whole: bool = False) -> tuple[bytes, str]:
        """The signed update for the next version: the delta against the server's version, or the whole model,
        whichever is smaller."""
        version = self.base.version + 1
        blob, kind = make_update(model, self.key, self.stream, version), "model"
        if not whole and self.base.digest:
            try:
                delta = make_update(model, self.key, self.stream, version, self.base)
            except UpdateError as err:
                if err.reason != "empty":
                    raise
                return b"", "empty"
            if len(delta) < len(blob):
                blob, kind = delta, "delta"
        return blob, kind

    def send(self, model: Model) -> tuple[int, dict]:
        """Send one model (retrying as the module docstring says); returns the server's last answer."""
        if not self.synced:
            self._sync()
        whole, status, body = False, 0, {}
        for attempt in range(RETRIES + 1):
            blob, kind = self.make(model, whole)
            if kind == "empty":
                self.log(f"update skipped: the model equals v{self.base.version}")
                return 0, {}
            version = self.base.version + 1
            t0 = self.clock()
            try:
                status, body = self.post(blob)
            except (OSError, http.client.HTTPException) as err:
                status, body = 0, {"error": f"{type(err).__name__}: {err}"}
            seconds = self.clock() - t0
            self.sent += 1
            self.bytes += len(blob)
            reason = body.get("reason")
            answer = f"{status} {body.get('error') or body.get('applies') or ''}".strip() if status else body["error"]
            self.log(f"update v{version} ({kind}, {len(blob)} bytes) sent in {seconds:.2f} s "
                     f"({self.rate * 8 / 1000:.0f} kbit/s for updates); server: {answer}")
            if status == 202:
                self.base = Running.initial(model, self.stream, version)
                self.accepted += 1
                self.on_accepted(version, model)
                return status, body
            if status == 409 and reason == "base":
                whole = True
                continue
            if status == 409 and reason == "version":
                self.synced, whole = False, True
                self._sync()
                if self.base.version < version:         # /status did not explain it: step over the refused one
                    self.base = Running(self.base.model, self.stream, version, "")
                continue
            if status in (0, 404) and attempt < RETRIES:
                self.sleep(2.0**attempt)
                continue
            if reason in HINTS:
                self.log(f"update v{version} refused ({reason}): {HINTS[reason]}")
            return status, body
        return status, body

    def post(self, blob: bytes) -> tuple[int, dict]:
        """POST the blob in chunks, each sent when the token bucket allows it."""
        post = self.transport.post(f"/streams/{quote(self.key, safe='')}/model", len(blob))
        try:
            for i in range(0, len(blob), self.chunk):
                chunk = blob[i : i + self.chunk]
                wait = self.bucket.reserve(len(chunk), self.clock()) - self.clock()
                if wait > 0:
                    self.sleep(wait)
                post.send(chunk)
        except BaseException:
            post.abort()
            raise
        return post.finish()
