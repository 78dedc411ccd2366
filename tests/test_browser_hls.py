"""A browser playing the served HLS: `pysr push` → nginx-rtmp → `pysr serve` → HLS served by nginx → hls.js in
headless Chromium (docs/live.md, "nginx ingest"). The server, the clip and the publisher are those of
tests/test_live_nginx.py (its `live` fixture and helpers, imported): 640×360 pushed at 25 fps, upscaled ×2 to
1280×720 in 1 s segments.

The page, served from another loopback origin (so nginx's CORS header is part of the test), loads hls.js from the
npm registry — fetched at test time into pytest's cache folder, never kept in the repository — and plays the
stream's playlist in a muted autoplaying <video> while the stream is still being pushed. It must go through hls.js
(Media Source Extensions: the video's src is a blob: URL), not a native HLS player. The video must advance past
1 s from where playback started, have the upscaled size, play to the end once the playlist is closed, and hls.js
must report no fatal error.

The browser is driven over the Chrome DevTools Protocol (tests/browser.py: a WebSocket with aiohttp, already in the
`test` extra), not selenium or playwright: open a page, evaluate JavaScript, read the console is all it needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import shutil
import threading
import time

import pytest

pytest.importorskip("aiohttp", reason="the browser driver needs aiohttp (pip install 'pysr[test]')")

import test_live_nginx as nginx  # noqa: E402
from browser import Browser, chromium_missing, npm_file  # noqa: E402

live = nginx.live               # the fixture: `pysr serve` with its nginx, for this module
pytestmark = [*nginx.pytestmark, pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
              pytest.mark.timeout(240)]

HLS_JS = ("hls.js", "1", "dist/hls.min.js")     # npm package, version range, file
FRAMES = 75                                     # 3 s at 25 fps
ADVANCE_S = 1.0

PAGE = """<!doctype html>
<meta charset="utf-8"><title>hls.js player</title>
<video id="v" muted autoplay playsinline></video>
<script src="hls.min.js"></script>
<script>
"use strict";
const v = document.getElementById("v");
const result = {supported: Hls.isSupported(), version: Hls.version, fatal: null, errors: [], levels: [], start: null};
v.addEventListener("playing", () => { if (result.start === null) result.start = v.currentTime; });
function play(url) {
  const hls = new Hls();
  hls.on(Hls.Events.ERROR, (event, d) => {
    const what = `${d.type} ${d.details}${d.fatal ? " (fatal)" : ""}${d.reason ? ": " + d.reason : ""}`;
    result.errors.push(what);
    console.warn("hls.js error:", what);
    if (d.fatal && result.fatal === null) result.fatal = what;
  });
  hls.on(Hls.Events.LEVEL_LOADED, (event, d) =>
    result.levels.push({live: d.details.live, fragments: d.details.fragments.length}));
  hls.loadSource(url);
  hls.attachMedia(v);
}
</script>
"""

# the player's state as one JSON value
STATE = ("({t: v.currentTime, start: result.start, w: v.videoWidth, h: v.videoHeight, src: v.src, ended: v.ended, "
         "paused: v.paused, ready: v.readyState, fatal: result.fatal, errors: result.errors.slice(-5), "
         "levels: result.levels.length, first_level: result.levels[0] || null})")


@pytest.fixture(scope="module")
def hls_js(request, tmp_path_factory):
    """hls.min.js from the npm registry, kept in pytest's cache folder (skips, saying why, without npm or registry).
    Module-scoped and first in the test's arguments, so that it comes before the server: a skip here starts nothing."""
    cache = getattr(request.config, "cache", None)             # (None under -p no:cacheprovider)
    return npm_file(cache.mkdir("npm") if cache else tmp_path_factory.mktemp("npm"), *HLS_JS)


@pytest.fixture
def page(hls_js, tmp_path):
    """http://127.0.0.1:PORT/ serving the player page and hls.js."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(hls_js, site / "hls.min.js")
    (site / "index.html").write_text(PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_hlsjs_plays_the_live_stream(hls_js, page, live, tmp_path):
    playlist = f"{live.base}/hls/cam1/index.m3u8"

    async def go():
        async with Browser(tmp_path) as b:
            await b.open(page)
            support = await b.evaluate("({hls: result.supported, version: result.version, "
                                       "h264: MediaSource.isTypeSupported('video/mp4; codecs=\"avc1.64001f\"')})")
            if not support["h264"]:
                pytest.skip("this Chromium's Media Source Extensions cannot play H.264")
            assert support["hls"], "Hls.isSupported() is false in this Chromium"
            p = nginx._push(live, "key1", FRAMES, "--realtime")
            try:
                end = time.monotonic() + 60                 # the first segment of the live stream
                while True:
                    status, _, body = nginx._get(playlist)
                    if status == 200 and b".ts" in body:
                        break
                    assert time.monotonic() < end, \
                        f"no segment in {playlist} after 60 s (push exit {p.poll()})\nserver log {live.logs}"
                    await asyncio.sleep(0.1)
                assert b"#EXT-X-ENDLIST" not in body, body      # still live when the player starts
                await b.evaluate(f"play({playlist!r})")
                played = await b.wait(f"(s => s.fatal || (s.start !== null && s.w > 0 && s.t >= s.start + "
                                      f"{ADVANCE_S}) ? s : null)({STATE})", 90, f"played {ADVANCE_S} s")
                _, err = await asyncio.get_running_loop().run_in_executor(None, functools.partial(p.communicate,
                                                                                                  timeout=120))
                assert p.returncode == 0, err
                nginx._wait_ended(live, "cam1", FRAMES, time.monotonic())     # the playlist closed
                ended = await b.wait(f"(s => s.fatal || s.ended ? s : null)({STATE})", 60, "played to the end")
                return support, played, ended
            finally:
                if p.poll() is None:
                    p.kill()
                    with contextlib.suppress(Exception):
                        p.communicate(timeout=10)
                print(f"--- server log ---\n{live.logs}")

    t0 = time.monotonic()
    support, played, ended = asyncio.run(go())
    took = time.monotonic() - t0
    assert played["fatal"] is None and ended["fatal"] is None, (played, ended)
    assert played["src"].startswith("blob:"), played            # Media Source Extensions: hls.js, not native HLS
    assert played["first_level"]["live"], played                 # the playlist had no ENDLIST when it was loaded
    assert (played["w"], played["h"]) == nginx.HR, played
    # the whole clip, give or take a frame (hls.js ends where the buffered media ends)
    assert ended["ended"] and abs(ended["t"] - FRAMES / 25) <= 0.1, ended
    print(f"\nhls.js {support['version']}: started at {played['start']:.2f} s, at {played['t']:.2f} s of "
          f"{played['w']}×{played['h']}; ended at {ended['t']:.2f} s; {took:.1f} s in all; "
          f"errors {ended['errors']}")
