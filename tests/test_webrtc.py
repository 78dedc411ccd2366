"""`pysr webrtc` (pysr/live/webrtc.py): the per-frame upscale, the drop-to-newest policy, a real aiortc peer talking
to the server in this process — HTTP on 127.0.0.1 and ICE limited to 127.0.0.1, so nothing leaves loopback — and
`--record` (pysr/live/recorder.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import sys
import time
from fractions import Fraction

import numpy as np
import pytest

pytest.importorskip("aiortc", reason="pysr webrtc needs aiortc (pip install 'pysr[webrtc]')")
pytest.importorskip("aiohttp", reason="pysr webrtc needs aiohttp (pip install 'pysr[webrtc]')")

import aiohttp  # noqa: E402
import av  # noqa: E402
from aiortc import (  # noqa: E402
    AudioStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack  # noqa: E402
from test_upscale_cli import tiny_model  # noqa: E402

import pysr  # noqa: E402
from pysr import backends  # noqa: E402
from pysr.cli import main  # noqa: E402
from pysr.errors import BackendError  # noqa: E402
from pysr.live import webrtc  # noqa: E402
from pysr.live.recorder import Recorder  # noqa: E402
from pysr.ops import separable  # noqa: E402
from pysr.ops.resize_bicubic_torch import tables  # noqa: E402
from pysr.video.reader import plane_array  # noqa: E402

W, H = 160, 96                  # the LR size the client sends
PAN = 2                         # pixels the synthetic scene moves per frame: every sent frame is distinct
SPAN = 1200                     # frames before the pan would run off the scene (40 s at 30 fps)
N_BACK = 12                     # upscaled frames the client waits for
# The frames cross VP8 twice (client → server, server → client, aiortc's 500 kbit/s), so the returned Y differs from
# the model run on the frame the client sent by coding noise. Measured on this scene at this size (80 frames, a
# loaded 2-core machine): 38.6–46 dB against the model, 35.8–37.2 dB against bicubic (the model is 2.2 dB or more
# nearer), ~19 dB against the next pan offset. The bounds leave about 2.5 dB and 1 dB of room and still fail for a
# wrong frame, bicubic luma, or a misplaced plane. (Exactness is checked without the network, below.)
MIN_PSNR_DB = 36.0
MIN_GAIN_OVER_BICUBIC_DB = 1.0


@pytest.fixture(scope="module")
def model():
    return pysr.load("espcn_x2")


@pytest.fixture
def loopback_ice(monkeypatch):
    """Host ICE candidates on 127.0.0.1 only (aioice leaves loopback out by default, and takes every interface)."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def u8(x):
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def scene(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Textured Y (incommensurate stripes and a ramp, so no two pan offsets look alike) and smooth chroma."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    y = 120 + 45 * np.sin(2 * np.pi * xx / 23 + yy / 9) + 25 * np.cos(2 * np.pi * (xx + 2 * yy) / 37) + 0.1 * xx % 20
    y += 50 * ((xx // 13 + yy // 11) % 2) - 25           # sharp edges, where the model and bicubic differ most
    u = 128 + 40 * np.sin(xx[::2, ::2] / 30)
    v = 128 + 40 * np.cos(yy[::2, ::2] / 20 + xx[::2, ::2] / 50)
    return tuple(np.clip(np.rint(p), 16, 235).astype(np.uint8) for p in (y, u, v))


def yuv_frame(y, u, v, pts=None, time_base=None) -> av.VideoFrame:
    f = av.VideoFrame(y.shape[1], y.shape[0], "yuv420p")
    for plane, data in zip(f.planes, (y, u, v)):
        plane_array(plane)[:] = data
    f.pts = pts
    if time_base is not None:
        f.time_base = time_base
    return f


# -- per frame, no network -----------------------------------------------------------------------------------------

def native_or_skip():
    why = backends.available().get("native")
    if why != "ok":
        pytest.skip(f"the native backend cannot run here: {why}")


@pytest.mark.parametrize("backend", ["cpu", "native"])
@pytest.mark.parametrize("h, w", [(96, 160), (97, 161)])
def test_frame_upscale_is_the_model_on_y_and_bicubic_on_chroma(model, h, w, backend):
    if backend == "native":
        native_or_skip()
    rng = np.random.default_rng(0)
    y = rng.integers(16, 236, (h, w), dtype=np.uint8)
    u, v = rng.integers(16, 236, (2, (h + 1) // 2, (w + 1) // 2), dtype=np.uint8)
    y[0, :4], u[0, :2], v[0, :2] = (0, 255, 0, 255), (0, 255), (255, 0)       # outputs clipped at both ends
    stages = []
    out = webrtc.upscale_video_frame(yuv_frame(y, u, v, 4321, Fraction(1, 90000)), model, backend, timings=stages)
    assert (out.width, out.height, out.format.name) == (2 * w, 2 * h, "yuv420p")
    assert (out.pts, out.time_base) == (4321, Fraction(1, 90000))
    assert [name for name, _ in stages] == ["planes", "y to float", "network", "y to u8", "uv to float",
                                            "chroma bicubic", "uv to u8", "frame out"]
    oy, ou, ov = (plane_array(p) for p in out.planes)
    # exactly the model on Y·(1/255) in float32 (the scaling of the video path, pysr/video/job.py) on the same
    # backend, rint, clipped: computed here the plain way, with temporaries
    np.testing.assert_array_equal(oy, u8(pysr.run_y(y.astype(np.float32) * np.float32(1 / 255), model, backend)))
    for got, src in ((ou, u), (ov, v)):
        x = src[None, None].astype(np.float64) / 255
        ref = u8(separable.apply(x, *tables({"scale": 2, "align_corners": False}, x.shape))[0, 0])
        ref = ref[:got.shape[0], :got.shape[1]]
        assert got.shape == (-(-2 * h // 2), -(-2 * w // 2))
        assert np.abs(got.astype(int) - ref).max() <= 1      # float32 kernel vs float64 reference, then rint


def test_auto_backend_is_native_where_it_runs_else_cpu(model):
    picked, notes = webrtc.pick_backend("auto", model)
    assert picked == ("native" if backends.available().get("native") == "ok" else "cpu"), notes
    assert webrtc.pick_backend("cpu", model) == ("cpu", [])
    with pytest.raises(BackendError, match="unknown backend"):
        webrtc.pick_backend("nonesuch", model)


def test_auto_backend_falls_back_to_cpu_without_native(model, monkeypatch):
    real = backends.get

    def get(name):
        if name == "native":
            raise BackendError("backend 'native' cannot run here: the module pysr._native is not importable")
        return real(name)

    monkeypatch.setattr(webrtc.backends, "get", get)
    picked, notes = webrtc.pick_backend("auto", model)
    assert picked == "cpu" and notes[-1].startswith("backend cpu: native cannot run this model here"), notes


class Burst(MediaStreamTrack):
    """A source that has `n` frames ready at once, then ends: what a decoder hands over after a stall."""

    kind = "video"

    def __init__(self, n):
        super().__init__()
        self.left = list(range(n))

    async def recv(self):
        if not self.left:
            raise MediaStreamError
        await asyncio.sleep(0)
        y = np.full((16, 16), 100, np.uint8)
        return yuv_frame(y, y[::2, ::2], y[::2, ::2], self.left.pop(0), Fraction(1, 30))


def test_slow_inference_drops_to_the_newest_frame(model):
    from concurrent.futures import ThreadPoolExecutor

    async def go():
        stats = webrtc.PeerStats()
        with ThreadPoolExecutor(1) as ex:
            track = webrtc.UpscaledTrack(Burst(10), model, "cpu", ex, stats, 1 << 20, print)
            for _ in range(20):
                await asyncio.sleep(0)      # the pump takes all ten while nobody asks for output
            first = await track.recv()
            with pytest.raises(MediaStreamError):
                await track.recv()          # the source ended and nothing is left
        return first, stats

    first, stats = asyncio.run(go())
    assert first.pts == 9 and (first.width, first.height) == (32, 32)
    assert (stats.frames_in, stats.frames_out, stats.dropped) == (10, 1, 9)


def test_frames_above_the_size_limit_are_refused_and_counted(model):
    from concurrent.futures import ThreadPoolExecutor

    lines = []

    async def go():
        stats = webrtc.PeerStats()
        with ThreadPoolExecutor(1) as ex:
            track = webrtc.UpscaledTrack(Burst(1), model, "cpu", ex, stats, 100, lines.append)
            with pytest.raises(MediaStreamError):
                await track.recv()
        return stats

    stats = asyncio.run(go())
    assert (stats.frames_in, stats.frames_out, stats.refused) == (1, 0, 1)
    assert lines == ["a 16×16 frame is above the limit of 100 pixels (frames like it are refused and counted, "
                     "not logged again)"]


# -- the server and a real peer -------------------------------------------------------------------------------------

class Pan(VideoStreamTrack):
    """160×96 frames panning over `scene` at 30 fps; remembers each frame's pts → pan offset."""

    def __init__(self):
        super().__init__()
        self.y, self.u, self.v = scene(H, W + PAN * SPAN)
        self.sent: list[tuple[int, int]] = []           # (pts, offset)

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        x = PAN * min(len(self.sent), SPAN - 1)
        self.sent.append((pts, x))
        return yuv_frame(self.y[:, x:x + W], self.u[:, x // 2:(x + W) // 2], self.v[:, x // 2:(x + W) // 2], pts,
                         time_base)

    def lr(self, x):
        return self.y[:, x:x + W], self.u[:, x // 2:(x + W) // 2], self.v[:, x // 2:(x + W) // 2]


async def start_server(model, log):
    server = webrtc.WebrtcServer(webrtc.WebrtcConfig(model, "127.0.0.1:0"), log=log)
    host, port = await server.start()
    return server, f"http://{host}:{port}"


async def connect(base: str, n: int, source: MediaStreamTrack, timeout: float = 25, extra=()):
    """A client peer: offer `source` (and the `extra` tracks) to BASE/offer, return (pc, peer id, the first n video
    frames that come back)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    back, done = [], asyncio.Event()

    @pc.on("track")
    def on_track(track):
        if track.kind != "video":
            return

        async def pull():
            while len(back) < n:
                back.append(await track.recv())
            done.set()
        asyncio.ensure_future(pull())

    for track in (source, *extra):
        pc.addTrack(track)
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http:
        desc = pc.localDescription
        async with http.post(base + "/offer", json={"sdp": desc.sdp, "type": desc.type}) as r:
            assert r.status == 200, await r.text()
            answer = await r.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    await asyncio.wait_for(done.wait(), timeout)
    return pc, answer["id"], back


def test_peer_gets_its_video_back_upscaled(model, loopback_ice):
    log = []

    async def go():
        server, base = await start_server(model, log.append)
        source, pc = Pan(), None
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(base + "/") as r:
                    page = await r.text()
                    assert r.status == 200 and "RTCPeerConnection" in page and "<script src" not in page
                pc, peer_id, frames = await connect(base, N_BACK, source, extra=[AudioStreamTrack()])  # discarded
                async with http.get(base + "/status") as r:
                    status = await r.json()
                assert len(server.peers[peer_id].discards) == 1         # the audio track, read and dropped
        finally:
            if pc is not None:
                await pc.close()
            await server.stop()
        back = [(f.pts, f.width, f.height, plane_array(f.reformat(format="yuv420p").planes[0]).copy())
                for f in frames]
        return source, back, peer_id, status, server.backend

    t0 = time.monotonic()
    source, back, peer_id, status, backend = asyncio.run(go())
    took = time.monotonic() - t0

    assert len(back) >= N_BACK
    assert all((w, h) == (2 * W, 2 * H) for _, w, h, _ in back)
    # Which sent frame is each one? The nearest in content (Y box-downscaled against every sent Y), then checked by
    # pts: the server keeps each frame's pts, so the gaps between returned pts are the gaps between sent pts
    offsets = {pts: x for pts, x in source.sent}
    matched = []
    for _, _, _, y in back:
        small = y.reshape(H, 2, W, 2).mean(axis=(1, 3))
        x = max(offsets.values(), key=lambda x: psnr(small, source.lr(x)[0]))
        matched.append(next(p for p, o in source.sent if o == x))
    # (to within 4 ticks of 90 kHz, a frame being 3000: aiortc's VP8 encoder takes pts through libvpx's own time
    # base and hands back a tick or two early, 1 000 000 → 999 999, on each of the two trips)
    rtp = [pts for pts, *_ in back]
    gaps = [((p - rtp[0]) % (1 << 32)) - (m - matched[0]) for p, m in zip(rtp, matched)]
    assert max(map(abs, gaps)) <= 4, (rtp, matched)
    # the returned Y is the model's output on the sent frame, up to two trips through VP8
    for (_, _, _, y), pts in zip(back, matched):
        lr = source.lr(offsets[pts])[0]
        want = u8(pysr.run_y(lr.astype(np.float32) * np.float32(1 / 255), model, backend))
        x = lr[None, None].astype(np.float64) / 255
        bicubic = u8(separable.apply(x, *tables({"scale": 2, "align_corners": False}, x.shape))[0, 0])
        got, base = psnr(y, want), psnr(y, bicubic)
        assert got >= MIN_PSNR_DB and got >= base + MIN_GAIN_OVER_BICUBIC_DB, \
            f"frame at pan {offsets[pts]}: {got:.1f} dB against the model, {base:.1f} dB against bicubic"

    peer = status["peers"][peer_id]
    assert peer["lr"] == [W, H] and peer["hr"] == [2 * W, 2 * H]
    assert peer["frames_out"] >= N_BACK and peer["fps"] > 0 and peer["infer_ms"] > 0
    assert 0 <= peer["frames_in"] - (peer["frames_out"] + peer["dropped"] + peer["refused"]) <= 2
    assert status["server"]["scale"] == 2 and status["server"]["backend"] == backend
    assert not [ln for ln in log if "Traceback" in ln]
    print(f"round trip: {len(back)} frames back in {took:.1f} s; server: {json.dumps(peer)}")


BAD_BODIES = [
    (b"{not json", "body is not JSON"),
    (b"\xff\xfe", "body is not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"sdp": 5, "type": "offer"}', "expected a JSON object"),
    (b'{"sdp": "v=0\\r\\n", "type": "answer"}', 'this endpoint takes "offer"'),
    (b'{"sdp": "hello", "type": "offer"}', "not a session description"),
    (b'{"sdp": "v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\ns=-\\r\\nt=0 0\\r\\n", "type": "offer"}', "no video section"),
]
# a real offer (aiortc's, as a browser's would be) spoilt in one place each
BAD_SDP = [
    (lambda sdp: re.sub(r"a=fingerprint:.*\r\n", "", sdp), "no DTLS fingerprint"),
    (lambda sdp: re.sub(r"a=setup:.*\r\n", "", sdp), "no DTLS fingerprint or role"),
    (lambda sdp: re.sub(r"a=ice-ufrag:.*\r\n", "", sdp), "no ICE credentials"),
    (lambda sdp: re.sub(r"a=candidate:.*\r\n", "a=candidate:1 1 udp x\r\n", sdp), "the SDP does not parse"),
    (lambda sdp: sdp[:len(sdp) // 2], "media section 0 (video): no "),
    (lambda sdp: sdp.replace("a=sendrecv", "a=recvonly"), "sends no video"),
    (lambda sdp: re.sub(r"a=rtpmap:(\d+) (VP8|H264|rtx)/", r"a=rtpmap:\1 H265/", sdp), "aiortc cannot answer"),
]


def test_malformed_offers_get_400_and_no_traceback(model, loopback_ice, caplog, capsys):
    log = []

    async def go():
        server, base = await start_server(model, log.append)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        bodies = [body for body, _ in BAD_BODIES]
        bodies += [json.dumps({"sdp": spoil(sdp), "type": "offer"}).encode() for spoil, _ in BAD_SDP]
        answers = []
        try:
            async with aiohttp.ClientSession() as http:
                for body in bodies:
                    async with http.post(base + "/offer", data=body,
                                         headers={"Content-Type": "application/json"}) as r:
                        answers.append((r.status, await r.json()))
                async with http.post(base + "/offer", data=b"x" * (webrtc.MAX_OFFER_BYTES + 1)) as r:
                    answers.append((r.status, await r.json()))
                async with http.get(base + "/status") as r:
                    status = await r.json()
        finally:
            await server.stop()
        return bodies, answers, status

    caplog.set_level(logging.WARNING)
    bodies, answers, status = asyncio.run(go())
    wants = [want for _, want in BAD_BODIES + BAD_SDP] + ["Content-Length"]
    assert len(answers) == len(wants)
    for (code, body), sent, want in zip(answers, bodies + [b"x..."], wants):
        assert code == (413 if want == "Content-Length" else 400), (sent, body)
        assert want in body["error"], (sent, body)
    assert status["peers"] == {} and status["server"]["live_peers"] == 0
    assert len([ln for ln in log if ln.startswith("POST /offer: 4")]) == len(wants)
    assert "Traceback" not in capsys.readouterr().err
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_command_serves_and_closes_its_peers_on_ctrl_c(loopback_ice):
    """`pysr webrtc` as a process: it says where it listens, upscales a peer, and on Ctrl-C closes the peer and exits
    130 without a traceback. (Its ICE is kept to 127.0.0.1 like this process's: the CLI's main behind that patch.)"""
    code = ("import sys, aioice.ice; aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ['127.0.0.1']; "
            "from pysr.cli import main; sys.exit(main(sys.argv[1:]))")

    async def go():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, "webrtc", "--listen", "127.0.0.1:0",
                                                    stderr=asyncio.subprocess.PIPE)
        try:
            line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
            base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
            pc, _, back = await connect(base, 3, Pan())
            proc.send_signal(signal.SIGINT)
            rest = (await asyncio.wait_for(proc.stderr.read(), 30)).decode()
            await pc.close()
            return line + rest, await proc.wait(), back
        finally:
            if proc.returncode is None:
                proc.kill()

    err, rc, back = asyncio.run(go())
    assert rc == 130, err
    assert [(f.width, f.height) for f in back] == [(2 * W, 2 * H)] * 3
    assert "stopping: closing 1 peer connection(s)" in err and "peer p1: closed" in err, err
    assert "Traceback" not in err, err


def test_cli_refuses_a_model_it_cannot_run(tmp_path, capsys):
    rgb = tiny_model(tmp_path, scale=2, in_channels=3)
    assert main(["webrtc", "-m", str(rgb)]) == 2
    err = capsys.readouterr().err
    assert "pysr webrtc: error: model" in err and "Y model" in err and "Traceback" not in err
    assert main(["webrtc", "--listen", "0.0.0.0:8090"]) == 2
    assert "expected a loopback HOST:PORT" in capsys.readouterr().err


# -- --record (pysr/live/recorder.py) -------------------------------------------------------------------------------

NEEDS_X264 = pytest.mark.skipif("libx264" not in av.codecs_available, reason="PyAV's FFmpeg has no libx264")


def _frame(value: int, pts: int, w: int = 64, h: int = 48) -> av.VideoFrame:
    y = np.full((h, w), value, np.uint8)
    y[:, : w // 2] = 255 - value                        # two halves: a wrong scale or crop shows
    c = np.full((h // 2, w // 2), 128, np.uint8)
    return yuv_frame(y, c, c, pts, Fraction(1, 90000))


def _decode(path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        return [(float(f.pts * f.time_base), plane_array(f.planes[0]).copy()) for f in c.decode(video=0)]


@NEEDS_X264
def test_recorder_keeps_timestamps_one_size_and_a_part_name_until_closed(tmp_path):
    logs: list[str] = []
    rec = Recorder(tmp_path / "p1.mkv", log=logs.append)
    for i, pts in enumerate((3000, 6000, 6000, 12000, 15000)):      # a repeated pts, and a gap (a dropped frame)
        rec.put(_frame(40 + 40 * i, pts, *((32, 24) if i == 3 else (64, 48))))   # one frame at half the size
    assert rec.close() == tmp_path / "p1.mkv" and not logs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p1.mkv"]         # the .part name is gone
    got = _decode(tmp_path / "p1.mkv")
    # its own clock, the gap kept (Matroska stores milliseconds)
    assert np.allclose([t for t, _ in got], np.array([3000, 6000, 12000, 15000]) / 90000, atol=0.001), got
    assert rec.frames == 4 and rec.dropped == 1 and rec.size == (64, 48)
    assert all(y.shape == (48, 64) for _, y in got)                          # the half-size frame scaled up
    for (_, y), value in zip(got, (40, 80, 160, 200)):      # 120 came with the repeated pts
        assert abs(float(np.median(y[:, 40:])) - value) <= 3 and abs(float(np.median(y[:, :24])) - (255 - value)) <= 3


@NEEDS_X264
def test_recorder_without_frames_or_with_a_bad_folder_leaves_no_file(tmp_path):
    assert Recorder(tmp_path / "none.mkv").close() is None and not list(tmp_path.iterdir())
    logs: list[str] = []
    rec = Recorder(tmp_path / "missing" / "p2.mkv", log=logs.append)
    for i in range(40):                 # more than the queue holds: the failed writer keeps draining
        rec.put(_frame(100, 3000 * (i + 1)))
    assert rec.close(timeout=10) is None and rec.error and "recording p2.mkv failed" in logs[0]


@NEEDS_X264
def test_peer_is_recorded_while_it_gets_its_video_back(model, loopback_ice, tmp_path):
    log: list[str] = []

    async def go():
        server = webrtc.WebrtcServer(webrtc.WebrtcConfig(model, "127.0.0.1:0", record=tmp_path), log=log.append)
        host, port = await server.start()
        pc = None
        try:
            pc, peer_id, frames = await connect(f"http://{host}:{port}", 10, Pan())
            for _ in range(100):            # the recorder's thread opens the file at its first frame
                parts = [p.name for p in tmp_path.iterdir()]
                if parts:
                    break
                await asyncio.sleep(0.1)
            status = server.peers[peer_id].as_dict(0.0)
        finally:
            if pc is not None:
                await pc.close()
            await server.stop()
        return peer_id, frames, status, parts

    peer_id, frames, status, parts = asyncio.run(go())
    assert len(parts) == 1 and parts[0].startswith(f"{peer_id}-") and parts[0].endswith(".mkv.part"), parts
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name == parts[0][: -len(".part")]
    got = _decode(files[0])
    rec = status["recording"]
    assert rec["file"] == files[0].name and rec["error"] is None
    assert len(got) >= len(frames) >= 10 and all(y.shape == (2 * H, 2 * W) for _, y in got)
    assert all(b[0] > a[0] for a, b in zip(got, got[1:]))
    assert any(f"recorded {len(got)} frames into" in x for x in log), log


@NEEDS_X264
def test_record_needs_an_existing_folder(tmp_path, capsys):
    assert main(["webrtc", "--record", str(tmp_path / "nope"), "--listen", "127.0.0.1:0"]) == 2
    assert "--record" in capsys.readouterr().err
