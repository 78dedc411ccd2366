"""`pysr push` → nginx-rtmp → `pysr serve` (nginx ingest) → HLS served by nginx, on loopback (docs/live.md, "nginx
ingest"). Real peers: nginx and its RTMP module as Debian ships them, `pysr push` subprocesses, HTTP GETs.

The clip is ../shared/data/video/bigbuckbunny.mp4 (1280×720, 25 fps) pushed at 640×360 and 500 kbit/s, upscaled
×2 by a tiny random ESPCN into 1280×720 HLS with 1 s segments. A worker on two busy CPU cores runs about 8 fps at
this size, below the 25 fps pushed, so its latency grows through the clip; clips are cut to 1–2 s to keep the
module short. The stated latency here: every pushed frame is in the served playlist (closed with ENDLIST) at most
LATENCY_S after the publisher finished, and no frame took longer than that from decode to segment.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import av
import pytest
from conftest import SHARED
from test_live_stream import _free_port, _have_rtmp
from test_runtime import tiny

from pysr.errors import MediaError

CLIP = SHARED / "data" / "video" / "bigbuckbunny.mp4"
LATENCY_S = 30.0
LR, HR = (640, 360), (1280, 720)


def _nginx_missing() -> str | None:
    from pysr.live.nginx import find_nginx

    try:
        find_nginx()
    except MediaError as err:
        return str(err).splitlines()[0] + " (apt-get install nginx libnginx-mod-rtmp)"
    return None


pytestmark = [
    pytest.mark.skipif("libx264" not in av.codecs_available, reason="PyAV's FFmpeg has no libx264"),
    pytest.mark.skipif(not {"flv", "hls"} <= av.formats_available, reason="PyAV's FFmpeg lacks flv or hls"),
    pytest.mark.skipif(not _have_rtmp(), reason="PyAV's FFmpeg has no rtmp protocol"),
    pytest.mark.skipif(not CLIP.is_file(), reason=f"{CLIP} not found (../shared holds the test video)"),
    pytest.mark.skipif(_nginx_missing() is not None, reason=str(_nginx_missing())),
]

_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with _LOCAL.open(url, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as err:
        return err.code, {}, err.read()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from pysr.live.nginx import NginxConfig
    from pysr.live.server import ServeConfig, Server
    from pysr.live.worker import LiveOptions

    d = tmp_path_factory.mktemp("nginx")
    (d / "hls").mkdir()
    (d / "keys").write_text("key1 cam1\nkey2 cam2\nkey3 cam3\n")
    url = f"rtmp://127.0.0.1:{_free_port()}/live"
    http = f"127.0.0.1:{_free_port()}"
    logs: list[str] = []
    config = ServeConfig(url, d / "hls", tiny(2), d / "keys", options=LiveOptions(hls_time=1.0),
                         nginx=NginxConfig(http, d / "run"))
    server = Server(config, log=logs.append)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    end = time.monotonic() + 180        # serve() first compiles the model's kernels (cold numba cache in a fresh clone)
    while server.state != "serving":
        assert thread.is_alive() and time.monotonic() < end, logs
        time.sleep(0.05)
    yield SimpleNamespace(dir=d, url=url, base=f"http://{http}", server=server, logs=logs)
    server.stop()
    thread.join(20)
    assert not thread.is_alive()
    assert server.ingest.nginx.proc is None             # nginx was stopped, not left behind


def _push(live, key: str, frames: int, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pysr.cli", "push", "-i", str(CLIP), "--url", f"{live.url}/{key}",
           "--lr", f"{LR[0]}x{LR[1]}", "--bitrate", "500k", "--frames", str(frames), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _status(live) -> dict:
    status, _, body = _get(f"{live.base}/status")          # through nginx's proxy to the control API
    assert status == 200, body
    return json.loads(body)


def _wait_ended(live, name: str, frames: int, since: float) -> dict:
    """Poll the served playlist until it is closed; returns the stream's status. Fails past LATENCY_S."""
    while True:
        status, _, body = _get(f"{live.base}/hls/{name}/index.m3u8")
        if status == 200 and b"#EXT-X-ENDLIST" in body:
            break
        assert time.monotonic() - since < LATENCY_S, (f"{name}: playlist not closed {LATENCY_S} s after the push "
                                                      f"ended; status {_status(live)}\nlog {live.logs}")
        time.sleep(0.1)
    st = _status(live)["streams"][name]
    assert st["frames_out"] == frames, st
    return st


def _served_frames(live, name: str, audio: list | None = None) -> list:
    """Every segment of the served playlist fetched over HTTP and decoded on its own; their frames in order (and,
    into `audio`, each segment's audio as (codec, rate, channels, samples))."""
    status, headers, body = _get(f"{live.base}/hls/{name}/index.m3u8")
    assert status == 200 and headers["content-type"] == "application/vnd.apple.mpegurl", headers
    assert headers["cache-control"] == "no-cache" and headers["access-control-allow-origin"] == "*", headers
    lines = body.decode().splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST", lines
    frames = []
    for seg in (x for x in lines if x and not x.startswith("#")):
        status, headers, data = _get(f"{live.base}/hls/{name}/{seg}")
        assert status == 200 and headers["content-type"] == "video/mp2t", (seg, headers)
        with av.open(io.BytesIO(data), format="mpegts") as c:
            got = list(c.decode(video=0))
        if audio is not None:
            with av.open(io.BytesIO(data), format="mpegts") as c:
                for s in c.streams.audio:
                    cc = s.codec_context
                    audio.append((cc.name, cc.sample_rate, cc.channels, sum(f.samples for f in c.decode(s))))
        assert got and got[0].key_frame, seg                # each segment decodes on its own
        frames += got
    return frames


def test_push_through_nginx_to_served_hls(live):
    frames = 50
    p = _push(live, "key1", frames, "--realtime")
    seen_live = None
    while p.poll() is None:
        cam = _status(live)["streams"].get("cam1")
        if cam and cam["state"] == "live" and cam["frames_out"] > 0:
            seen_live = cam
        time.sleep(0.1)
    pushed = time.monotonic()
    _, err = p.communicate()
    assert p.returncode == 0, err
    st = _wait_ended(live, "cam1", frames, pushed)
    waited = time.monotonic() - pushed
    assert st["state"] == "waiting" and st["sessions"] == 1 and st["frames_in"] == frames
    assert st["dropped_frames"] == 0 and st["ingest_gaps"] == 0 and st["queue_depth"] == 0
    assert st["lr"] == list(LR) and st["hr"] == list(HR) and st["model_version"] == 0
    lat = st["latency_ms"]
    assert 0 < lat["mean"] <= lat["max"] < 1000 * LATENCY_S and st["segments"] >= 2
    if seen_live is not None:                               # (a fast server may finish between two polls)
        assert seen_live["fps"] > 0 and 0 <= seen_live["queue_depth"] <= 12
    audio: list = []
    got = _served_frames(live, "cam1", audio)
    assert len(got) == frames and {(f.width, f.height) for f in got} == {HR}
    # the clip's 5.1 AAC went out as stereo AAC at 64 kbit/s and is served beside the video, as long as it
    assert {a[:3] for a in audio} == {("aac", 48000, 2)}, audio
    seconds = sum(a[3] for a in audio) / 48000
    assert abs(seconds - frames / 25) < 0.25, (seconds, audio)
    print(f"\nnginx: {frames} frames {LR[0]}×{LR[1]} → {HR[0]}×{HR[1]}, served {waited:.1f} s after the push "
          f"ended; decode→segment mean {lat['mean']} ms, max {lat['max']} ms, {st['segments']} segments; audio "
          f"{seconds:.2f} s")
    run = live.dir / "run"
    conf = (run / "nginx.conf").read_text()
    assert "load_module" in conf and f'pid "{run.resolve()}/nginx.pid"' in conf
    assert (run / "nginx.pid").is_file() and (run / "error.log").is_file()


def test_unknown_key_is_refused_by_on_publish(live):
    before = _status(live)["server"]["refused_publishes"]
    p = _push(live, "badkey", 10, "--retries", "0")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "gave up" in err, err
    st = _status(live)
    assert st["server"]["refused_publishes"] == before + 1
    assert "unknown stream key" in st["server"]["last_refusal"]
    assert "badkey" not in st["streams"] and not (live.dir / "hls" / "badkey").exists()
    _, _, stat = _get(f"{live.base}/rtmp_stat")             # nginx never let it publish
    assert b"<name>badkey</name>" not in stat


def test_two_streams_at_once(live):
    frames = 25
    pushes = {name: _push(live, key, frames, "--realtime") for key, name in (("key2", "cam2"), ("key3", "cam3"))}
    both_live, busy = False, True
    while not both_live and busy:
        streams = _status(live)["streams"]
        both_live = all(streams.get(n, {}).get("state") == "live" for n in pushes)
        busy = any(p.poll() is None for p in pushes.values()) or any(
            streams.get(n, {}).get("state") == "live" for n in pushes)
        time.sleep(0.05)
    for p in pushes.values():
        p.wait(60)
    pushed = time.monotonic()
    for p in pushes.values():
        _, err = p.communicate()
        assert p.returncode == 0, err
    for name in pushes:
        st = _wait_ended(live, name, frames, pushed)
        assert st["sessions"] == 1 and st["dropped_frames"] == 0
        got = _served_frames(live, name)
        assert len(got) == frames and {(f.width, f.height) for f in got} == {HR}
    assert both_live, "the two streams were never live at the same time"


def test_nginx_start_failure_shows_its_log(tmp_path):
    from pysr.live.nginx import NginxConfig
    from pysr.live.server import ServeConfig, Server

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        config = ServeConfig(f"rtmp://127.0.0.1:{port}/live", tmp_path, tiny(2),
                             nginx=NginxConfig(f"127.0.0.1:{_free_port()}", tmp_path / "run"))
        with pytest.raises(MediaError) as err:
            Server(config, log=lambda text: None).serve()
    text = str(err.value)
    assert "nginx did not start" in text and "Address already in use" in text, text
    assert str(Path(tmp_path / "run")) in text
