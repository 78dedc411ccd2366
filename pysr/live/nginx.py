"""`pysr serve` with nginx: nginx-rtmp ingests, the control API authorises, one StreamWorker per stream pulls.

    publisher ──RTMP──▶ nginx (rtmp, application APP) ──on_publish──▶ control API ─▶ NginxIngest.on_publish
                          │      ▲ (2xx once the worker has subscribed)               │ keys file, start puller
                          │      └────────────── rtmp://127.0.0.1:PORT/APP/KEY ◀── StreamWorker.run_session
                          └─ http: /hls/NAME/index.m3u8 + segments (HLS_DIR), /status → control API

The worker must see the publisher's first keyframe, and nginx-rtmp keeps no GOP cache: a subscriber gets what
arrives after it joined. So `on_publish` starts the worker's pull first — an idle stream (`idle_streams on`)
lets it join before the publisher does — and answers 2xx only when nginx's own statistics (`rtmp_stat`) list
the puller in that stream (found by a token in its flashVer). When the publisher leaves, nginx tells its
subscribers (`publish_notify`, `play_restart`): the worker's input ends after the last frame, it drains and the
playlist gets its ENDLIST; `on_publish_done` marks the stream unpublished.

nginx runs as a child (`daemon off`, its own session so a terminal's Ctrl-C reaches only pysr), configured by a
file written into a run directory that also holds its pid, logs and temp folders, so it needs no root. It is
stopped (SIGTERM, then SIGKILL) when the server stops, at interpreter exit (atexit) and, on Linux, when this
process dies (PR_SET_PDEATHSIG), so no nginx outlives the server.

NOTE: nginx-rtmp drops inter frames for a subscriber whose send queue is more than half full (a worker slower
than the stream for many seconds); the worker counts the gaps in the timestamps (`ingest_gaps` in /status).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import grp
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from string import Template

import av

from pysr.errors import MediaError, PysrError
from pysr.live.server import PROBE, Listen, split_host_port

MODULE = "ngx_rtmp_module.so"
MODULE_DIRS = ("/usr/lib/nginx/modules", "/usr/lib64/nginx/modules", "/usr/local/lib/nginx/modules",
               "/usr/share/nginx/modules", "/etc/nginx/modules", "/usr/local/nginx/modules")
SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin")      # not on a normal user's PATH
INSTALL_HINT = ("install nginx and its RTMP module (Debian/Ubuntu: apt-get install nginx libnginx-mod-rtmp), "
                "or pass --no-nginx for the embedded RTMP listener")
START_TIMEOUT_S = 10            # nginx retries a busy port for 2.5 s before it gives up
SUBSCRIBE_TIMEOUT_S = 3         # on_publish waits this long for the worker to join (nginx-rtmp: 10 s)
DRAIN_WAIT_S = 2                # a new publish of a key waits this long for its previous session to drain
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))     # nginx is local: never via http_proxy


@dataclass
class NginxConfig:
    http: str = "127.0.0.1:8080"        # HOST:PORT nginx serves HLS_DIR (under /hls/) and /status on
    run_dir: Path | None = None         # config, pid, logs, temp files; None: a temporary folder, removed after
    binary: str | None = None           # the nginx executable; None: found on PATH or in the sbin folders


@dataclass(frozen=True)
class NginxInstall:
    binary: str
    module: str | None                  # the rtmp module's .so to load; None: built into the binary


def find_nginx(binary: str | None = None) -> NginxInstall:
    """The nginx binary and its RTMP module, or a MediaError that says what is missing and how to get it."""
    path = binary or shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), *SBIN]))
    if not path or not os.access(path, os.X_OK):
        raise MediaError(f"nginx was not found ({binary or 'nginx'}: no such executable)", INSTALL_HINT)
    try:
        info = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=10).stderr
    except (OSError, subprocess.TimeoutExpired) as err:
        raise MediaError(f"{path} -V failed ({err})", INSTALL_HINT) from None
    if "nginx version" not in info:
        raise MediaError(f"{path} does not look like nginx (`-V` said {info.strip()[:200]!r})", INSTALL_HINT)
    if re.search(r"--add-module=\S*rtmp", info):
        return NginxInstall(path, None)
    m = re.search(r"--modules-path=(\S+)", info)
    for folder in ([m.group(1)] if m else []) + list(MODULE_DIRS):
        so = Path(folder) / MODULE
        if so.is_file():
            return NginxInstall(path, str(so))
    raise MediaError(f"nginx is at {path} but its RTMP module ({MODULE}) is not", INSTALL_HINT)


CONF = Template("""\
# Written by `pysr serve` (pysr/live/nginx.py) for one run; it is rewritten at every start.
$load_module
$user
daemon off;
worker_processes 1;         # nginx-rtmp's live streams are per worker process
pid "$run/nginx.pid";
error_log "$run/error.log" notice;
events { worker_connections 1024; }

rtmp {
    server {
        listen $rtmp_listen;
        chunk_size 4096;
        application $app {
            live on;
            record off;
            idle_streams on;            # the worker subscribes before the publisher's first frame
            wait_key on;
            publish_notify on;          # subscribers hear when the publisher leaves:
            play_restart on;            #   the worker's input ends after the last frame
            drop_idle_publisher ${idle_s}s;
            allow play $rtmp_local;     # only the workers pull
            deny play all;
            on_publish http://127.0.0.1:$control_port/rtmp/publish;
            on_publish_done http://127.0.0.1:$control_port/rtmp/publish_done;
        }
    }
}

http {
    access_log "$run/access.log";
    client_body_temp_path "$run/tmp/body";
    proxy_temp_path "$run/tmp/proxy";
    fastcgi_temp_path "$run/tmp/fastcgi";
    uwsgi_temp_path "$run/tmp/uwsgi";
    scgi_temp_path "$run/tmp/scgi";
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
        text/html html;
        application/javascript js;
    }
    default_type application/octet-stream;
    server {
        listen $http_listen;
        location /hls/ {
            alias "$hls/";
            add_header Access-Control-Allow-Origin *;
            location ~ \\.m3u8$$ {      # a playlist changes with every segment
                add_header Cache-Control no-cache;
                add_header Access-Control-Allow-Origin *;
            }
        }
        location = /status { proxy_pass http://127.0.0.1:$control_port; }
        location /streams/ {            # signed model updates (docs/live.md, "Model updates")
            client_max_body_size $max_upload;
            proxy_pass http://127.0.0.1:$control_port;
        }
        location = /rtmp_stat {
            rtmp_stat all;
            allow $http_local;
            deny all;
        }
    }
}
""")


def _quoted(path: Path) -> str:
    text = str(Path(path).resolve())
    if any(c in text for c in '"\\$\n'):
        raise MediaError(f"{text}: nginx's config cannot name a path with a quote, backslash, $ or newline")
    return text


def local_host(host: str, flag: str) -> str:
    """The address this machine reaches a listener on HOST at (and connects from): HOST itself unless wildcard."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        raise MediaError(f"{flag}: {host!r} is not an IPv4 address", "e.g. 127.0.0.1, or 0.0.0.0 for every "
                         "interface") from None
    return "127.0.0.1" if ip.is_unspecified else host


def write_config(install: NginxInstall, run: Path, listen: Listen, http: tuple[str, int], control_port: int,
                 hls_dir: Path, max_upload: int, idle_s: float) -> Path:
    """nginx.conf in `run`, everything it writes kept inside `run`."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    # NOTE: a master started as root switches its workers to `nobody`, who may not read HLS_DIR; keep our user.
    user = ""
    if os.geteuid() == 0:
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    text = CONF.substitute(
        load_module=f'load_module "{_quoted(Path(install.module))}";' if install.module else "", user=user,
        run=_quoted(run), rtmp_listen=f"{listen.host}:{listen.port}", app=listen.app, control_port=control_port,
        rtmp_local=local_host(listen.host, "--listen"), http_local=local_host(http[0], "--http"),
        http_listen=f"{http[0]}:{http[1]}", hls=_quoted(hls_dir), max_upload=max_upload, idle_s=max(1, round(idle_s)))
    conf = run / "nginx.conf"
    conf.write_text(text)
    return conf


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: SIGTERM when the thread that started nginx dies (even by SIGKILL).
    with contextlib.suppress(OSError, AttributeError):
        _PRCTL(1, signal.SIGTERM)           # PR_SET_PDEATHSIG


_PRCTL = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform.startswith("linux") else None


class Nginx:
    """One nginx child process."""

    def __init__(self, install: NginxInstall, conf: Path, run: Path, probe_url: str):
        self.install, self.conf, self.run, self.probe_url = install, conf, run, probe_url
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = self.run / "error.log"
        log_start = log.stat().st_size if log.exists() else 0
        cmd = [self.install.binary, "-p", f"{self.run}/", "-c", str(self.conf), "-e", str(log)]
        with open(self.run / "nginx.out", "wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=_die_with_parent if _PRCTL else None)
        atexit.register(self.stop)
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise MediaError(f"nginx did not start (exit status {self.proc.returncode}):\n"
                                 f"{self.log_tail(log_start)}", f"its config and logs are in {self.run}; is a "
                                 "port in use? (--listen, --http, --control)")
            with contextlib.suppress(OSError), _LOCAL.open(self.probe_url, timeout=1) as r:
                if b"<rtmp>" in r.read():
                    return
            time.sleep(0.05)
        self.stop()
        raise MediaError(f"nginx did not answer on {self.probe_url} within {START_TIMEOUT_S} s:\n"
                         f"{self.log_tail(log_start)}", f"its config and logs are in {self.run}")

    def log_tail(self, start: int = 0, lines: int = 8) -> str:
        """nginx's errors since `start` (a byte offset in error.log), each message once; else its raw output."""
        picked: list[str] = []
        raw = ""
        for name, offset in (("error.log", start), ("nginx.out", 0)):
            with contextlib.suppress(OSError), open(self.run / name, "rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
                if name == "nginx.out":
                    raw = text
                for line in text.splitlines():
                    m = re.search(r"\[(emerg|alert|crit|error)\] (?:\d+#\d+: )?(.*)", line)
                    if m and f"[{m[1]}] {m[2]}" not in picked:
                        picked.append(f"[{m[1]}] {m[2]}")
            if picked:
                break
        return "\n".join("  " + x for x in (picked or raw.splitlines())[-lines:]) or "  (nginx logged nothing)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        atexit.unregister(self.stop)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()                    # fast shutdown: connections are closed, the workers' inputs end
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class _Session:
    key: str
    name: str
    token: str
    thread: threading.Thread | None = None
    publishing: bool = True
    cancelled: bool = False


class NginxIngest:
    """nginx as the ingest of a `Server`: start/stop, the on_publish hooks and one pull thread per publish."""

    name = "nginx"

    def __init__(self, server, config: NginxConfig):
        self.server, self.config = server, config
        self.install = find_nginx(config.binary)
        host, port = split_host_port(config.http, "--http", "e.g. 127.0.0.1:8080")
        self.http = (host, port)
        self.local = local_host(host, "--http")
        self.rtmp_local = local_host(server.listen.host, "--listen")
        self.sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self.nginx: Nginx | None = None
        self.run_dir: Path | None = None

    @property
    def hls_url(self) -> str:
        return f"http://{self.local}:{self.http[1]}/hls/"

    def status(self) -> dict:
        return {"hls": self.hls_url, "run_dir": str(self.run_dir), "nginx": self.install.binary}

    def run(self) -> None:
        """Start nginx, serve until the server stops, stop nginx and wait for the sessions to end."""
        s = self.server
        made = self.config.run_dir is None
        self.run_dir = Path(tempfile.mkdtemp(prefix="pysr-nginx-")) if made else Path(self.config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        listen, probe = s.listen, f"http://{self.local}:{self.http[1]}/rtmp_stat"
        conf = write_config(self.install, self.run_dir, listen, self.http, s.control.port, s.hls_dir,
                            s.config.max_upload, s.config.options.rw_timeout_s)
        self.nginx = Nginx(self.install, conf, self.run_dir, probe)
        self.nginx.start()
        s.state = "serving"
        s.log(f"nginx ({self.run_dir}): RTMP in on {listen.url}/<key>, HLS out on {self.hls_url}<stream>/index.m3u8")
        failed = False
        try:
            while not s.stopping.wait(0.2):
                if not self.nginx.alive():
                    failed = True
                    raise MediaError(f"nginx exited (status {self.nginx.proc.returncode}):\n{self.nginx.log_tail()}",
                                     f"its config and logs are in {self.run_dir}")
        finally:
            s.stop()                        # the workers' inputs end at their next frame …
            self.nginx.stop()               # … or when nginx closes their connections
            with self._lock:
                threads = [x.thread for x in self.sessions.values() if x.thread is not None]
            for t in threads:
                t.join(s.config.options.rw_timeout_s + 5)
            if made and not failed:
                shutil.rmtree(self.run_dir, ignore_errors=True)

    # -- nginx-rtmp's callbacks (control API threads) ------------------------------------------------------------

    def on_publish(self, fields: dict[str, str]) -> tuple[int, dict]:
        """2xx lets the publisher in, anything else turns it away (before it is told "publish started")."""
        s = self.server
        app, key = fields.get("app", ""), fields.get("name", "")
        if s.stopping.is_set():
            return self._refuse(503, "the server is stopping")
        if app != s.listen.app:
            return self._refuse(403, f"application {app!r} (this server serves {s.listen.app!r})")
        name, why = s.check_key(key)
        if why:
            return self._refuse(403, why)
        with self._lock:
            old = self.sessions.get(key)
        if old is not None and old.publishing:
            return self._refuse(409, f"stream {name} is already being published")
        if old is not None and old.thread is not None:
            old.thread.join(DRAIN_WAIT_S)    # the previous session of this key is still draining
            if old.thread.is_alive():
                return self._refuse(409, f"stream {name}: the previous session is still being processed")
        try:
            worker = s.worker_for(key, name)
        except MediaError as err:               # its stored state is unreadable (--state-dir)
            return self._refuse(403, str(err))
        session = _Session(key, name, secrets.token_hex(6))
        session.thread = threading.Thread(target=self._pull, args=(session, worker), name=f"pysr-pull-{name}",
                                          daemon=True)
        with self._lock:
            self.sessions[key] = session
        session.thread.start()
        if not self._subscribed(key, session.token):
            session.cancelled = session.publishing = False
            return self._refuse(503, f"stream {name}: the worker could not subscribe within {SUBSCRIBE_TIMEOUT_S} s")
        s.log(f"stream {name}: publish accepted (session {worker.sessions + 1}) from {fields.get('addr', '?')}")
        return 200, {"stream": name}

    def on_publish_done(self, fields: dict[str, str]) -> tuple[int, dict]:
        with self._lock:
            session = self.sessions.get(fields.get("name", ""))
        if session is not None and session.publishing:
            session.publishing = False
            self.server.log(f"stream {session.name}: publisher left")
        return 200, {}

    def _refuse(self, status: int, why: str) -> tuple[int, dict]:
        self.server.refuse(why)
        return status, {"error": why}

    def _subscribed(self, key: str, token: str) -> bool:
        """Whether nginx lists a client of stream KEY whose flashVer carries `token` (the worker's pull)."""
        url = f"http://{self.local}:{self.http[1]}/rtmp_stat"
        end = time.monotonic() + SUBSCRIBE_TIMEOUT_S
        while time.monotonic() < end:
            with contextlib.suppress(OSError, ET.ParseError):
                with _LOCAL.open(url, timeout=1) as r:
                    root = ET.fromstring(r.read())
                for app in root.iter("application"):
                    if app.findtext("name") != self.server.listen.app:
                        continue
                    for stream in app.iter("stream"):
                        if stream.findtext("name") == key and any(token in (c.findtext("flashver") or "")
                                                                  for c in stream.iter("client")):
                            return True
            time.sleep(0.02)
        return False

    def _pull(self, session: _Session, worker) -> None:
        s = self.server
        url = f"rtmp://{self.rtmp_local}:{s.listen.port}/{s.listen.app}/{session.key}"
        # NOTE: nginx drops a silent publisher after rw_timeout_s and then ends this input; the longer read
        # timeout here is only a backstop.
        options = {"rw_timeout": str(int((s.config.options.rw_timeout_s + 5) * 1e6)),
                   "rtmp_flashver": f"pysr-pull {session.token}", **PROBE}     # nginx keeps 31 bytes of it
        try:
            container = av.open(url, "r", format="flv", options=options)
        except (av.FFmpegError, OSError) as err:
            if not session.cancelled:
                s.log(f"stream {worker.name}: the worker could not read the stream from nginx ({err})")
            return
        if session.cancelled or s.stopping.is_set():
            container.close()
            return
        try:
            worker.run_session(container, f"nginx {s.listen.url}/{worker.name}")
        except PysrError as err:
            s.log(f"stream {worker.name}: session failed: {err}")
