"""Control through nginx (docs/live.md, "nginx ingest"): a signed model update posted to nginx's proxied
/streams/ takes effect mid-stream with no frame lost, a second publisher on a live key is refused (409 from
on_publish), and a publisher that reconnects continues the same playlist on the updated model.

The clip is test_live_stream's grey texture (128×72, 150 frames) fed to `pysr push` through stdin and held back
until the update is accepted, so frames always follow the swap however slow the machine is.
"""

from __future__ import annotations

import threading
import time
import urllib.request

import numpy as np
from test_live_nginx import _get, _served_frames, _status, live, pytestmark  # noqa: F401  (fixture, skips)
from test_live_stream import _clip_frames, _feed, _luma, _zero

from pysr.live.updates import make_update

FRAMES = 150                # trickled at 5 fps after the first 20: 24 s before the feed waits for the update
RECONNECT_FRAMES = 30


def _push(srv, key: str, src: str, *extra: str):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "pysr.cli", "push", "-i", src, "--url", f"{srv.url}/{key}", "--lr", "64x36",
           "--bitrate", "200k", *extra]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE if src == "-" else None, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _wait(srv, cond, what: str, timeout: float = 60.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        st = _status(srv)
        if cond(st):
            return st
        assert time.monotonic() < end, f"timed out waiting for {what}; status {st}\nlog {srv.logs}"
        time.sleep(0.05)


def test_update_refusal_and_reconnect_through_nginx(live):  # noqa: F811  (the fixture imported above)
    short = live.dir / "short.y4m"
    short.write_bytes(_clip_frames(0, RECONNECT_FRAMES))
    model = live.server.config.model
    p = _push(live, "key1", "-")
    accepted = threading.Event()
    feeder = threading.Thread(target=_feed, args=(p, accepted, FRAMES, 0.2), daemon=True)
    feeder.start()
    try:
        _wait(live, lambda s: s["streams"].get("cam1", {}).get("frames_out", 0) >= 20, "20 frames out")

        refused = _status(live)["server"]["refused_publishes"]
        second = _push(live, "key1", str(short), "--retries", "0")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2 and b"gave up" in err, err
        st = _status(live)
        assert st["server"]["refused_publishes"] == refused + 1
        assert "already being published" in st["server"]["last_refusal"], st["server"]
        assert st["streams"]["cam1"]["state"] == "live" and st["streams"]["cam1"]["sessions"] == 1
        # the refused publisher never started publishing: its departure must not end the live one's session
        assert not any("cam1: publisher left" in line for line in live.logs), live.logs

        req = urllib.request.Request(f"{live.base}/streams/key1/model", method="POST",
                                     data=make_update(_zero(model), "key1", "cam1", 1))
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=30) as r:
            assert r.status == 202
        accepted.set()
        feeder.join(30)
        p.wait(timeout=60)
        assert p.returncode == 0, p.stderr.read().decode()
    finally:
        accepted.set()
        p.kill()

    st = _wait(live, lambda s: s["streams"]["cam1"]["state"] == "waiting"
               and s["streams"]["cam1"]["frames_out"] == FRAMES, "the first session's end")["streams"]["cam1"]
    assert st["dropped_frames"] == 0 and st["model_version"] == 1 and len(st["swaps"]) == 1
    k = st["swaps"][0]["frame"]
    assert 20 <= k < FRAMES

    again = _push(live, "key1", str(short))
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    total = FRAMES + RECONNECT_FRAMES
    st = _wait(live, lambda s: s["streams"]["cam1"]["sessions"] == 2 and s["streams"]["cam1"]["state"] == "waiting"
               and s["streams"]["cam1"]["frames_out"] == total, "the reconnected session's end")["streams"]["cam1"]
    assert st["frames_in"] == total and st["dropped_frames"] == 0 and st["model_version"] == 1

    _, _, playlist = _get(f"{live.base}/hls/cam1/index.m3u8")
    assert playlist.count(b"#EXT-X-DISCONTINUITY") == 1 and playlist.rstrip().endswith(b"#EXT-X-ENDLIST")
    frames = _served_frames(live, "cam1")
    assert len(frames) == total and {(f.width, f.height) for f in frames} == {(128, 72)}
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in zip(pts, pts[1:])), pts       # one timeline over both sessions
    std = np.stack([_luma(f) for f in frames]).astype(np.float64).std(axis=(1, 2))
    assert std[:k].min() > 3, std                   # the random model, before the update
    assert std[k:].max() < 0.5, std                 # the zero model from the swap on, the reconnect included
