"""`pysr webrtc` with a real browser: headless Chromium opens the page the server serves, sends its (fake) camera —
a 160×96 y4m file, the size the page offers for the smallest source — and shows what comes back; the upscaled
video must be 2× the camera (320×192, espcn_x2) and keep arriving (docs/live.md, "WebRTC receiver", "Tests").

The browser is driven over the Chrome DevTools Protocol from this process (tests/browser.py: a WebSocket with
aiohttp, which the server needs anyway), not with selenium or playwright: three commands — open a page, evaluate
JavaScript, read the console — need no driver package and no downloaded browser. The page is used as a person uses
it: pick the size, press start; its own globals (`pc`, `peerId`) are read to ask getStats and /status.

Nothing leaves this machine: the server's ICE is kept to 127.0.0.1 (aioice patched in its process, as in
tests/test_webrtc.py) and Chromium offers its own host addresses, with loopback allowed (Chromium leaves it out by
default; on a machine with no other interface it is all there is) and without mDNS names for them (no mDNS
resolver answers here). The pair found is printed: on this machine Chromium's eth0 address to the server's
127.0.0.1, both local.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import time
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("aiortc", reason="pysr webrtc needs aiortc (pip install 'pysr[webrtc]')")
pytest.importorskip("aiohttp", reason="pysr webrtc and the browser driver need aiohttp (pip install 'pysr[webrtc]')")

import aiohttp  # noqa: E402
from browser import Browser, chromium_missing  # noqa: E402

from pysr.video.y4m import Y4mHeader, Y4mWriter  # noqa: E402

pytestmark = [pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
              pytest.mark.timeout(180)]

W, H, SCALE = 160, 96, 2        # the camera's size (one the page offers) and espcn_x2's scale
N_FRAMES = 30                   # upscaled frames the browser must decode
ADVANCE_S = 1.0                 # and its <video> must play at least this long
SERVER_CODE = ("import sys, aioice.ice; aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ['127.0.0.1']; "
               "from pysr.cli import main; sys.exit(main(sys.argv[1:]))")
BROWSER_FLAGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                 "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns"]

# the page's state as one JSON value: its error line, the source kind, the connection, the remote video, getStats
STATE = """(async () => {
  const v = $("remote"), s = {error: $("error").textContent, kind: $("lcap").dataset.kind || null, peer: peerId,
    w: v.videoWidth, h: v.videoHeight, t: v.currentTime, state: pc ? pc.connectionState : null};
  const stats = pc ? [...(await pc.getStats()).values()] : [], by = (id) => stats.find((r) => r.id === id);
  for (const r of stats) {
    if (r.type === "inbound-rtp" && r.kind === "video") Object.assign(s, {decoded: r.framesDecoded,
      in_w: r.frameWidth, in_h: r.frameHeight});
    if (r.type === "outbound-rtp" && r.kind === "video") Object.assign(s, {sent: r.framesSent, out_w: r.frameWidth,
      out_h: r.frameHeight});
    if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded")
      s.pair = `${by(r.localCandidateId).address} → ${by(r.remoteCandidateId).address}`;
  }
  return s;
})()"""


def camera(path, frames: int = 60) -> None:
    """A 2 s y4m at 30 fps (Chromium loops it): a texture that pans, so every frame differs and VP8 has work."""
    yy, xx = np.mgrid[0:H, 0:W]
    with open(path, "wb") as f:
        w = Y4mWriter(f, Y4mHeader(W, H, Fraction(30), "420jpeg"))
        for i in range(frames):
            y = 128 + 90 * np.sin((xx + 2 * i) / 5.0) * np.cos(yy / 7.0)
            u = np.full((H // 2, W // 2), 100 + i, np.uint8)
            w.write([y.astype(np.uint8), u, 255 - u])
        w.flush()


def test_browser_camera_comes_back_upscaled(tmp_path):
    camera(tmp_path / "camera.y4m")
    server_log: list[str] = []

    async def drain(stream) -> None:
        async for line in stream:
            server_log.append(line.decode(errors="replace").rstrip())

    async def go():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", SERVER_CODE, "webrtc", "--listen",
                                                    "127.0.0.1:0", stderr=asyncio.subprocess.PIPE)
        reader = asyncio.ensure_future(drain(proc.stderr))
        try:
            flags = [*BROWSER_FLAGS, f"--use-file-for-fake-video-capture={tmp_path / 'camera.y4m'}"]
            async with Browser(tmp_path, *flags) as b:
                end = time.monotonic() + 90                 # the first start compiles the kernels
                while not server_log or not (m := re.search(r"http://127\.0\.0\.1:\d+/", server_log[0])):
                    assert proc.returncode is None and time.monotonic() < end, "pysr webrtc did not start"
                    await asyncio.sleep(0.05)
                base = m.group(0)
                await b.open(base)
                await b.evaluate(f'$("size").value = "{W}x{H}"; $("start").click()')
                first = await b.wait(f"(async () => {{ const s = await {STATE}; "
                                     f"return s.error || s.w > 0 ? s : null; }})()", 60, "the first frame back")
                assert not first["error"], first
                t0 = time.monotonic()
                last = await b.wait(f"(async () => {{ const s = await {STATE}; return s.error || "
                                    f"(s.decoded >= {N_FRAMES} && s.t >= {first['t'] + ADVANCE_S}) ? s : null; }})()",
                                    60, f"{N_FRAMES} frames decoded")
                took = time.monotonic() - t0
                async with aiohttp.ClientSession() as http, http.get(base + "status") as r:
                    status = await r.json()
                await b.evaluate("stop()")
                return first, last, status, took
        finally:
            if proc.returncode is None:
                proc.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), 30)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            reader.cancel()
            print("--- pysr webrtc's log ---\n" + "\n".join(server_log))

    first, last, status, took = asyncio.run(go())
    assert first["kind"] == "camera", first                     # the fake camera, not the page's test pattern
    assert not last["error"] and last["state"] == "connected", last
    assert (last["out_w"], last["out_h"]) == (W, H), last        # what the browser sent
    assert (first["w"], first["h"]) == (last["w"], last["h"]) == (SCALE * W, SCALE * H), (first, last)
    assert (last["in_w"], last["in_h"]) == (SCALE * W, SCALE * H), last
    peer = status["peers"][last["peer"]]
    assert peer["lr"] == [W, H] and peer["hr"] == [SCALE * W, SCALE * H], peer
    assert peer["frames_out"] >= N_FRAMES, peer
    assert last.get("pair", "").endswith("→ 127.0.0.1"), last
    print(f"browser: {last['decoded']} frames {SCALE * W}×{SCALE * H} decoded, video at {last['t']:.1f} s, "
          f"{took:.1f} s after the first; sent {last['sent']} at {W}×{H}; ICE {last['pair']}; server "
          f"{json.dumps(peer)}")
