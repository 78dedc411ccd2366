"""`pysr push` → `pysr serve --no-nginx` → HLS, on loopback (docs/live.md, "Server").

One server runs in a thread of this process for the module; publishers run as `pysr push` subprocesses (an RTMP
client in the server's process could deadlock its accept: pysr/live/server.py). The clip is 3 s of 128×72 grey
texture at 25 fps, pushed at 64×36 and upscaled ×2 by a tiny random ESPCN. Grey matters for the model-update
check: the update is a zero-weight model, whose output luma is 0, and with neutral chroma every frame after the
swap is uniformly black (Y = 16) while every frame before it is textured.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import math
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from fractions import Fraction
from types import SimpleNamespace

import av
import numpy as np
import pytest
from test_runtime import tiny

import pysr
from pysr.live.updates import UpdateHeader, make_update, model_bytes, pack_update, param_digest
from pysr.video.y4m import Y4mHeader, Y4mWriter


def _have_rtmp() -> bool:
    try:
        av.open("rtmp://127.0.0.1:1/live/x", "r", format="flv", options={"rw_timeout": "1000000"}).close()
    except av.ProtocolNotFoundError:
        return False
    except (av.FFmpegError, OSError):
        pass
    return True


pytestmark = [
    pytest.mark.skipif("libx264" not in av.codecs_available, reason="PyAV's FFmpeg has no libx264"),
    pytest.mark.skipif(not {"flv", "hls"} <= av.formats_available, reason="PyAV's FFmpeg lacks flv or hls"),
    pytest.mark.skipif(not _have_rtmp(), reason="PyAV's FFmpeg has no rtmp protocol"),
]

FRAMES = 75
LIMIT = 1 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clip_frames(start: int, stop: int) -> bytes:
    yy, xx = np.mgrid[0:72, 0:128]
    chroma = np.full((36, 64), 128, np.uint8)
    out = io.BytesIO()
    w = Y4mWriter(out, Y4mHeader(128, 72, Fraction(25), "420jpeg"))
    for i in range(start, stop):
        y = 128 + 100 * np.sin((xx + 3 * i) / 6.0) * np.cos(yy / 5.0)
        w.write([y.astype(np.uint8), chroma, chroma])
    w.flush()
    data = out.getvalue()
    return data if start == 0 else data[data.index(b"\n") + 1:]     # the header once, at the start


def _clip(path) -> None:
    path.write_bytes(_clip_frames(0, FRAMES))


@contextlib.contextmanager
def _serving(d, model, **config):
    """`pysr serve --no-nginx` in a thread, with a clip, a keys file and an HLS folder in d."""
    from pysr.live.server import ServeConfig, Server

    _clip(d / "clip.y4m")
    (d / "hls").mkdir()
    (d / "keys").write_text("# key name\ngoodkey cam\nkey2 cam2\nkey3 cam3\n")
    url = f"rtmp://127.0.0.1:{_free_port()}/live"
    logs: list[str] = []
    server = Server(ServeConfig(url, d / "hls", model, d / "keys", "127.0.0.1:0", LIMIT, **config), log=logs.append)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    yield SimpleNamespace(dir=d, url=url, model=model, server=server, control=f"http://{server.control.address}",
                          logs=logs)
    server.stop()
    thread.join(15)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with _serving(tmp_path_factory.mktemp("live"), tiny(2)) as live:
        yield live


def _push(live, key: str, *extra: str, stdin: bool = False) -> subprocess.Popen:
    src = "-" if stdin else str(live.dir / "clip.y4m")
    cmd = [sys.executable, "-m", "pysr.cli", "push", "-i", src, "--url", f"{live.url}/{key}",
           "--lr", "64x36", "--bitrate", "200k", *extra]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin else None, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=not stdin)


def _status(live) -> dict:
    with urllib.request.urlopen(f"{live.control}/status", timeout=10) as r:
        return json.load(r)


def _wait(live, cond, timeout: float = 180.0) -> dict:
    # generous: in a fresh clone the first push and the first stream compile their numba kernels (a minute or more
    # on a loaded 2-core machine); a passing wait returns as soon as its condition holds
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        st = _status(live)
        if cond(st):
            return st
        time.sleep(0.05)
    raise AssertionError(f"timed out; status: {json.dumps(st, indent=1)}\nserver log: {live.logs}")


def _post(live, key: str, blob: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(f"{live.control}/streams/{key}/model", data=blob, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _hls(folder):
    """(playlist lines, frames as decoded VideoFrames)."""
    lines = (folder / "index.m3u8").read_text().splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    for name in (x for x in lines if x and not x.startswith("#")):
        assert (folder / name).is_file(), name
    with av.open(str(folder / "index.m3u8")) as c:
        frames = list(c.decode(video=0))
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in zip(pts, pts[1:])), pts
    return lines, frames


def _luma(frame) -> np.ndarray:
    return np.frombuffer(frame.planes[0], np.uint8).reshape(-1, frame.planes[0].line_size)[:72, :128]


def _zero(model):
    g = model.graph.copy()
    g.params = {k: np.zeros_like(v) for k, v in model.graph.params.items()}
    return pysr.Model(g, model.facts)


def _nan_update(model, key: str, stream: str) -> bytes:
    g = model.graph.copy()
    g.params = {k: np.full_like(v, np.nan) for k, v in model.graph.params.items()}
    payload = model_bytes(pysr.Model(g, model.facts))
    import hashlib

    header = UpdateHeader(stream, 1, "model", None, None, param_digest(g.params), hashlib.sha256(payload).hexdigest(),
                          len(payload))
    return pack_update(header, payload, key)


def _feed(p: subprocess.Popen, accepted: threading.Event, frames: int = FRAMES, interval: float = 0.1) -> None:
    """y4m into the publisher: 20 frames at once, then one every `interval` s until the update is accepted (the
    stream never goes silent while the test works, and frames remain after the update however slow the machine
    is: the last 10 wait for it), then the rest of the clip."""
    held = frames - 10
    with contextlib.suppress(BrokenPipeError, ValueError):
        p.stdin.write(_clip_frames(0, 20))
        p.stdin.flush()
        i = 20
        while i < frames:
            if accepted.wait(interval) or i < held:
                p.stdin.write(_clip_frames(i, i + 1))
                p.stdin.flush()
                i += 1
        p.stdin.close()


def test_stream_to_hls_with_model_update(live):
    p = _push(live, "goodkey", stdin=True)
    accepted = threading.Event()
    feeder = threading.Thread(target=_feed, args=(p, accepted), daemon=True)
    feeder.start()
    try:
        st = _wait(live, lambda s: s["streams"].get("cam", {}).get("frames_out", 0) >= 20)
        cam = st["streams"]["cam"]
        assert cam["state"] == "live" and cam["sessions"] == 1
        assert cam["lr"] == [64, 36] and cam["hr"] == [128, 72]
        assert cam["fps"] > 0 and math.isfinite(cam["fps"])    # a rate over bursts of tiny frames: no upper bound
        assert 0 <= cam["queue_depth"] <= 12 and cam["dropped_frames"] == 0
        assert cam["model_version"] == 0 and cam["frames_in"] >= cam["frames_out"]

        good = make_update(_zero(live.model), "goodkey", "cam", 1)
        bad = {
            "truncated": (good[: len(good) // 2], 403),
            "nan weights": (_nan_update(live.model, "goodkey", "cam"), 422),
            "wrong scale": (make_update(tiny(3), "goodkey", "cam", 1), 422),
            "wrong key": (make_update(_zero(live.model), "otherkey", "cam", 1), 403),
        }
        for what, (blob, code) in bad.items():
            status, body = _post(live, "goodkey", blob)
            assert status == code, (what, status, body)
            assert body["error"], what
        status, body = _post(live, "nokey", good)
        assert status == 404, body
        # oversized: refused from Content-Length alone, before any of the body is sent
        conn = http.client.HTTPConnection(live.control.removeprefix("http://"), timeout=10)
        conn.putrequest("POST", "/streams/goodkey/model")
        conn.putheader("Content-Length", str(LIMIT + 1))
        conn.endheaders()
        r = conn.getresponse()
        assert r.status == 413 and json.load(r)["reason"] == "size"
        conn.close()

        st = _status(live)["streams"]["cam"]
        assert st["state"] == "live" and st["model_version"] == 0 and st["swaps"] == []
        status, body = _post(live, "goodkey", good)
        assert status == 202 and body["version"] == 1, body
        accepted.set()
        feeder.join(30)
        p.wait(timeout=30)
        err = p.stderr.read().decode()
        assert p.returncode == 0, err
    finally:
        accepted.set()
        p.kill()
    st = _wait(live, lambda s: s["streams"]["cam"]["state"] == "waiting")["streams"]["cam"]
    assert st["frames_in"] == st["frames_out"] == FRAMES and st["dropped_frames"] == 0
    assert st["model_version"] == 1 and len(st["swaps"]) == 1
    k = st["swaps"][0]["frame"]
    assert 20 <= k < FRAMES
    lat = st["latency_ms"]
    assert 0 < lat["mean"] <= lat["max"] < 5000 and st["segments"] >= 2
    print(f"\nlive: {FRAMES} frames, swap at frame {k}, fps {cam['fps']}, latency decode→segment mean "
          f"{lat['mean']} ms, max {lat['max']} ms, {st['segments']} segments")

    lines, frames = _hls(live.dir / "hls" / "cam")
    assert len(frames) == FRAMES
    assert {(f.width, f.height) for f in frames} == {(128, 72)}
    y = np.stack([_luma(f) for f in frames]).astype(np.float64)
    std = y.std(axis=(1, 2))
    assert std[:k].min() > 3, std                           # the random model: texture (std ≈ 5.6)
    assert std[k:].max() < 0.5 and abs(y[k:].mean() - 16) < 1, std     # zero weights: black from frame k on


def test_unknown_key_is_refused(live):
    before = _status(live)["server"]["refused_publishes"]
    p = _push(live, "badkey", "--retries", "1", "--realtime")    # in real time: docs/live.md, "Stream key"
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "gave up after 1 reconnect" in err, err
    st = _status(live)
    assert st["server"]["refused_publishes"] >= before + 2     # the first publish and the one retry
    assert "unknown stream key" in st["server"]["last_refusal"]
    assert "badkey" not in st["streams"] and not (live.dir / "hls" / "badkey").exists()


def test_reconnect_continues_the_playlist(live):
    for session in (1, 2):
        p = _push(live, "key2", "--frames", "30")
        _, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        _wait(live, lambda s, n=session: s["streams"].get("cam2", {}).get("sessions") == n
              and s["streams"]["cam2"]["state"] == "waiting")
    st = _status(live)["streams"]["cam2"]
    assert st["frames_out"] == 60 and st["dropped_frames"] == 0
    lines, frames = _hls(live.dir / "hls" / "cam2")      # one ENDLIST at the end, pts increasing across sessions
    assert lines.count("#EXT-X-DISCONTINUITY") == 1 and lines.count("#EXT-X-ENDLIST") == 1
    assert len(frames) == 60 and st["segments"] == sum(1 for x in lines if x and not x.startswith("#"))
    step = frames[1].pts - frames[0].pts
    assert frames[30].pts - frames[29].pts == step          # the second session follows the first on one timeline


class _Cutter:
    """A TCP relay in front of the server that cuts its first connection after `cut_after` bytes from the client
    (a dropped uplink); later connections pass untouched."""

    def __init__(self, upstream: int, cut_after: int):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port, self.upstream, self.cut_after, self.cuts = self.listener.getsockname()[1], upstream, cut_after, 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        first = True
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                down.close()
                continue
            limit, first = (self.cut_after if first else None), False
            threading.Thread(target=self._pump, args=(down, up, limit), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, None), daemon=True).start()

    def _pump(self, src, dst, limit) -> None:
        n = 0
        with contextlib.suppress(OSError):
            while data := src.recv(4096):
                dst.sendall(data)
                n += len(data)
                if limit is not None and n > limit:
                    self.cuts += 1
                    break
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.listener.close()


def test_dropped_uplink_reconnects_to_the_same_stream(live):
    port = int(live.url.rsplit(":", 1)[1].split("/")[0])
    cutter = _Cutter(port, cut_after=10000)
    try:
        via = SimpleNamespace(dir=live.dir, url=f"rtmp://127.0.0.1:{cutter.port}/live")
        p = _push(via, "key3", "--realtime")
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0 and cutter.cuts == 1 and "reconnecting in" in err, err
    finally:
        cutter.close()
    st = _wait(live, lambda s: s["streams"].get("cam3", {}).get("sessions") == 2
               and s["streams"]["cam3"]["state"] == "waiting")["streams"]["cam3"]
    lines, frames = _hls(live.dir / "hls" / "cam3")
    assert lines.count("#EXT-X-DISCONTINUITY") == 1 and lines.count("#EXT-X-ENDLIST") == 1
    assert st["frames_out"] == len(frames) and st["dropped_frames"] == 0
    lost = FRAMES - len(frames)                 # frames in the socket buffers when the link dropped
    print(f"\ndropped uplink: {lost} of {FRAMES} frames lost, the stream went on after a discontinuity")
    assert 0 <= lost < FRAMES // 2


def test_push_gives_up_after_bounded_retries(tmp_path):
    _clip(tmp_path / "clip.y4m")
    live = SimpleNamespace(dir=tmp_path, url=f"rtmp://127.0.0.1:{_free_port()}/live")
    t0 = time.monotonic()
    p = _push(live, "anykey", "--retries", "2")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "gave up after 2 reconnect" in err and err.count("reconnecting in") == 2, err
    assert time.monotonic() - t0 < 20


def test_serve_without_nginx_says_what_to_do(tmp_path, capsys):
    from pysr.cli import main

    tiny(2).save(tmp_path / "m.pysr")
    assert main(["serve", "--hls-dir", str(tmp_path), "-m", str(tmp_path / "m.pysr"), "--nginx", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "nginx was not found" in err and "apt-get install nginx libnginx-mod-rtmp" in err and "--no-nginx" in err
    assert main(["push", "-i", "x.y4m", "--url", "rtmp://127.0.0.1:1/live/k", "--lr", "63x36"]) == 2
    assert "even width" in capsys.readouterr().err


def test_cascade_refines_the_frames_its_policy_picks(tmp_path):
    """`pysr serve --tcsr`: F-EDSR on every frame, TCSR on every third (frames 0, 3, …, 72 of 75), one frame late."""
    from test_cascade import fedsr_model, tcsr_model

    with _serving(tmp_path, fedsr_model(), tcsr=tcsr_model(1), tcsr_policy="every:3") as live:
        p = _push(live, "goodkey")
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        st = _wait(live, lambda s: s["streams"].get("cam", {}).get("frames_out", 0) == FRAMES
                   and s["streams"]["cam"]["state"] == "waiting")["streams"]["cam"]
        assert st["frames_in"] == FRAMES and st["dropped_frames"] == 0
        assert st["tcsr"] == {"policy": "every:3", "refined_frames": 25}, st
        _, frames = _hls(live.dir / "hls" / "cam")
        assert len(frames) == FRAMES and {(f.width, f.height) for f in frames} == {(128, 72)}


def test_cascade_pair_is_checked_at_start(tmp_path):
    from test_cascade import fedsr_model, tcsr_model

    from pysr.errors import InputError, ModelFileError
    from pysr.live.server import ServeConfig, Server

    (tmp_path / "hls").mkdir()
    url = f"rtmp://127.0.0.1:{_free_port()}/live"
    with pytest.raises(ModelFileError, match="RGB model"):
        Server(ServeConfig(url, tmp_path / "hls", fedsr_model(in_channels=3), tcsr=tcsr_model(1)))
    with pytest.raises(InputError, match="unknown TCSR policy"):
        Server(ServeConfig(url, tmp_path / "hls", fedsr_model(), tcsr=tcsr_model(1), tcsr_policy="sometimes"))
