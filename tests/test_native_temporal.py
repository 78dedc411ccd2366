"""libpysr with recurrent and window models: send / receive / flush / reset / resize and the recurrent run_*,
frame by frame against pysr.stream.session.Session (backend "cpu"), on the build of tests/test_native_lib.py.

Models: a tiny EGVSR (RGB, and a Y variant: recurrent, the flow pad rewritten per size), a tiny SOF-VSR (window(1),
frames stacked as one input), a tiny TCSR (window(2), stacked), hand-built window models with 2k+1 separate inputs
(RGB k = 1, Y k = 2). Float planes must agree to 1e-4; uint8 frames (RGB, Y, YUV 4:2:0) exactly on >= 99.9 % of
the values and within 1 elsewhere. With ../shared: EGVSR (random seed-0 checkpoint) and SOF-VSR (TIP ×2) against
../shared/refs, and the host example in its sequence mode on a real clip.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np
import pytest
from test_native_lib import AGAIN, OK, Params, _run, _y4m_from_video, sofvsr_model, yuv420, yuv420_planes, yuv_frame
from test_session import tiny_egvsr, window_model

import pysr
from pysr.models.colour import DEFAULT_Y_COLOUR
from pysr.stream.session import Session

INVALID, SHAPE = 1, 5
TOL, TOL_U8 = 1e-4, 0.999


# ---- models ---------------------------------------------------------------------------------------------------


def egvsr_y() -> pysr.Model:
    """tiny_egvsr on one channel with Y colour facts: the recurrent path with chroma carried beside the frame."""
    from pysr.models import egvsr

    cfg = egvsr.EgvsrConfig(scale=2, nf=8, nb=1, in_channels=1)
    m = tiny_egvsr()
    facts = {**m.facts, "colour": dict(DEFAULT_Y_COLOUR)}
    return pysr.Model(egvsr.build(cfg, egvsr.init_params(cfg, 3)), facts)


def egvsr_initial_frame() -> pysr.Model:
    """tiny_egvsr whose lr_prev starts as the first frame itself (initial "frame") instead of zeros."""
    m = tiny_egvsr(seed=1)
    m.facts["state"]["carry"][0]["initial"] = "frame"
    return m


def tcsr_model() -> pysr.Model:
    from pysr.models import tcsr
    from pysr.models.convert import facts_for

    cfg = tcsr.TcsrConfig(radius=2, channels=6, ofr_channels=4, ofr_blocks=1, attention_channels=2)
    return pysr.Model(tcsr.build(cfg, tcsr.init_params(cfg, 4)), facts_for("tcsr", cfg, {}, "unknown"))


MAKERS = {
    "egvsr": tiny_egvsr, "egvsr_y": egvsr_y, "egvsr_initial_frame": egvsr_initial_frame,
    "sofvsr": sofvsr_model, "tcsr": tcsr_model,
    "window_rgb": lambda: window_model(c=3, k=1)[0], "window_y_k2": lambda: window_model(c=1, k=2, seed=2)[0],
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("temporal")
    out = {}
    for name, make in MAKERS.items():
        model = make()
        model.save(d / f"{name}.pysr")
        out[name] = (pysr.load(d / f"{name}.pysr"), d / f"{name}.pysr")
    return out


@pytest.fixture
def handle(lib):
    """open(path) → model handle; every model and session opened in a test is freed after it."""
    opened = []

    def open_model(path):
        m = lib.load(path)
        opened.append(("model", m))
        return m

    def session(m, w, h, threads=2):
        s = lib.session(m, w, h, threads=threads)
        opened.append(("session", s))
        return s

    yield open_model, session
    for kind, h in reversed(opened):
        (lib.c.pysr_session_free if kind == "session" else lib.c.pysr_model_free)(h)


# ---- frames and the C calls -------------------------------------------------------------------------------------


def rgb_frames(n, h, w, seed=0) -> list[np.ndarray]:
    """Smooth moving content with noise: the values real frames have (not only extremes)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for t in range(n):
        base = 128 + 90 * np.sin(yy[..., None] / 4.0 + (xx[..., None] - 1.5 * t) / 7.0 + np.arange(3))
        out.append(np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8))
    return out


def planes(frames, c) -> list[np.ndarray]:
    """C×H×W float planes in [0, 1] from RGB frames (the first C channels)."""
    return [np.ascontiguousarray(f.transpose(2, 0, 1)[:c], np.float32) / np.float32(255) for f in frames]


class Calls:
    """send / receive of one format on one session: `fmt` is rgb_u8, y_u8, float or yuv420_u8 (frames and outputs
    (Y, U, V) planes in `colour`, out_shape the output's luma size)."""

    def __init__(self, lib, s, fmt, out_shape, colour=None):
        self.lib, self.s, self.fmt, self.out_shape, self.colour = lib, s, fmt, out_shape, colour

    def send(self, x) -> int:
        if self.fmt == "yuv420_u8":
            return self.lib.c.pysr_session_send_yuv420_u8(self.s, ctypes.byref(yuv420(x, self.colour)))
        x = np.ascontiguousarray(x)
        f = getattr(self.lib.c, f"pysr_session_send_{self.fmt}")
        return f(self.s, x.ctypes.data) if self.fmt == "float" else f(self.s, x.ctypes.data, x.strides[0])

    def receive(self):
        """(status, output or None); the output buffer is poisoned first."""
        if self.fmt == "yuv420_u8":
            y = yuv420_planes(*self.out_shape)
            st = self.lib.c.pysr_session_receive_yuv420_u8(self.s, ctypes.byref(yuv420(y, self.colour)))
            return st, (y if st == OK else None)
        fl = self.fmt == "float"
        y = np.full(self.out_shape, np.nan if fl else 7, np.float32 if fl else np.uint8)
        f = getattr(self.lib.c, f"pysr_session_receive_{self.fmt}")
        st = f(self.s, y.ctypes.data) if self.fmt == "float" else f(self.s, y.ctypes.data, y.strides[0])
        return st, (y if st == OK else None)

    def drain(self) -> list[np.ndarray]:
        outs = []
        while True:
            st, y = self.receive()
            if st == AGAIN:
                return outs
            assert st == OK, self.lib.error()
            outs.append(y)

    def sequence(self, frames) -> list[np.ndarray]:
        """Send every frame, receiving what is ready after each; flush; receive the rest."""
        self.ready = []  # outputs received after each send
        outs = []
        for f in frames:
            assert self.send(f) == OK, self.lib.error()
            outs += self.drain()
            self.ready.append(len(outs))
        assert self.lib.c.pysr_session_flush(self.s) == OK
        return outs + self.drain()


def out_shape(model, fmt, h, w, c_out):
    s = model.scale
    return {"float": (c_out, h * s, w * s), "rgb_u8": (h * s, w * s, 3), "y_u8": (h * s, w * s)}[fmt]


def python_outputs(model, fmt, frames) -> list[np.ndarray]:
    """The Session's outputs for the same frames: push (RGB frames) or push_planes (float planes)."""
    s = Session(model, backend="cpu")
    push = s.push if fmt == "rgb_u8" else s.push_planes
    return [o for x in frames for o in push(x)] + s.flush()


def y_u8_outputs(float_outputs) -> list[np.ndarray]:
    """Y u8 outputs from the float ones, clamped and rounded as the C API does (x·255, half to even)."""
    return [np.rint(np.clip(o[0] * np.float32(255), 0, 255)).astype(np.uint8) for o in float_outputs]


def compare(got, want, fmt, what):
    assert len(got) == len(want), f"{what}: {len(got)} outputs, Python gives {len(want)}"
    report = []
    for t, (g, r) in enumerate(zip(got, want)):
        if isinstance(g, tuple):    # YUV planes
            assert [p.shape for p in g] == [p.shape for p in r], f"{what} output {t}: planes {[p.shape for p in g]}"
            g, r = (np.concatenate([p.ravel() for p in x]) for x in (g, r))
        assert g.shape == r.shape, f"{what} output {t}: shape {g.shape}, Python {r.shape}"
        if fmt == "float":
            err = float(np.abs(g.astype(np.float64) - r).max())
            report.append(err)
            assert np.isfinite(g).all() and err <= TOL, f"{what} output {t}: max abs {err:.3g} ({report})"
        else:
            d = np.abs(g.astype(int) - r.astype(int))
            same = float((d == 0).mean())
            report.append(same)
            assert d.max() <= 1 and same >= TOL_U8, f"{what} output {t}: {same:.5%} equal, max diff {d.max()}"
    return report


# ---- facts --------------------------------------------------------------------------------------------------------


def test_facts_of_temporal_models(lib, models, handle):
    open_model, _ = handle
    want = {"egvsr": (3, 0, 0, 3, 3), "egvsr_y": (3, 0, 0, 1, 1), "sofvsr": (2, 1, 1, 1, 1), "tcsr": (2, 2, 2, 1, 1),
            "window_rgb": (2, 1, 1, 3, 3), "window_y_k2": (2, 2, 2, 1, 1)}
    for name, (kind, k, latency, cin, cout) in want.items():
        f = lib.facts(open_model(models[name][1]))
        got = (f["temporal_kind"], f["window"], f["latency"], f["input_channels"], f["output_channels"])
        assert got == (kind, k, latency, cin, cout), name


def test_state_checks_match_python(lib, models):
    """The reader checks a recurrent model's `state` as pysr/io/model_file.py check_state does: the same files
    are refused (with a message naming the state) and accepted."""
    import json

    from test_native_lib import _py_ok, _rewrite

    good, window = models["egvsr"][1].read_bytes(), models["sofvsr"][1].read_bytes()

    def facts_edit(edit):
        def apply(header):
            facts = json.loads(header["__metadata__"]["pysr.model"])
            edit(facts)
            header["__metadata__"]["pysr.model"] = json.dumps(facts)
        return apply

    def carry(i, **kw):
        return lambda f: f["state"]["carry"][i].update(kw)

    cases = {
        "no state": (good, lambda f: f.pop("state")),
        "one carry missing": (good, lambda f: f["state"]["carry"].pop()),
        "a carry twice": (good, lambda f: f["state"]["carry"].append(dict(f["state"]["carry"][0]))),
        "from unknown": (good, carry(0, **{"from": "nope"})),
        "carries the frame": (good, carry(0, input="lr")),
        "scale 0": (good, carry(1, scale=0)),
        "initial ones": (good, carry(0, initial="ones")),
        "extra key": (good, lambda f: f["state"].update(extra=1)),
        "frame output unknown": (good, lambda f: f["state"].update(frame_output="nope")),
        "state on a window model": (window, lambda f: f.update(state={"frame_input": "frames"})),
        "carries reordered": (good, lambda f: f["state"]["carry"].reverse()),
        "initial frame": (good, carry(0, initial="frame")),
    }
    for what, (data, edit) in cases.items():
        bad = _rewrite(data, facts_edit(edit))
        st, msg = lib.try_load(bad)
        assert (st == OK) == _py_ok(bad), f"{what}: native {'accepts' if st == OK else 'refuses: ' + msg}"
        assert st == OK or (st == 3 and "state" in msg), f"{what}: {st} {msg!r}"


# ---- recurrent -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["egvsr", "egvsr_y"])
def test_recurrent_matches_session(lib, models, handle, name):
    """run_* and send/receive, float and uint8, with a size change mid-stream (12×20 → 16×11, neither a multiple of
    8: the flow pad is rewritten per size) and a reset."""
    open_model, session = handle
    model, path = models[name]
    c = 3 if name == "egvsr" else 1
    m = open_model(path)
    a, b = rgb_frames(3, 12, 20, 1), rgb_frames(2, 16, 11, 2)
    report = {}
    for fmt in ("float", "rgb_u8"):
        xa, xb = (a, b) if fmt == "rgb_u8" else (planes(a, c), planes(b, c))
        want = python_outputs(model, fmt, xa + xb)   # the Session starts a new sequence at the new size
        s = session(m, 20, 12)
        run = lib.c.pysr_session_run_float if fmt == "float" else lib.c.pysr_session_run_rgb_u8
        got = []
        for i, x in enumerate(xa + xb):
            if i == len(xa):
                assert lib.c.pysr_session_resize(s, 11, 16) == OK, lib.error()
            shape = out_shape(model, fmt, *x.shape[-2:] if fmt == "float" else x.shape[:2], c)
            y = np.full(shape, np.nan, np.float32) if fmt == "float" else np.zeros(shape, np.uint8)
            st = run(s, x.ctypes.data, y.ctypes.data) if fmt == "float" else \
                run(s, x.ctypes.data, x.strides[0], y.ctypes.data, y.strides[0])
            assert st == OK, lib.error()
            got.append(y)
        report[f"run_{fmt}"] = compare(got, want, fmt, f"{name} run_{fmt}")
        # the same through send / receive, after a reset (the state of the run above is dropped)
        assert lib.c.pysr_session_reset(s) == OK and lib.c.pysr_session_resize(s, 20, 12) == OK
        calls = Calls(lib, s, fmt, out_shape(model, fmt, 12, 20, c))
        seq = calls.sequence(xa)
        assert all(np.array_equal(g, r) for g, r in zip(seq, got[: len(xa)])), "send/receive differs from run_*"
    assert not np.allclose(want[1], python_outputs(model, "rgb_u8", a[1:2])[0]), "the state is carried"
    print(name, "max abs error / share of equal bytes per frame:", report)


def test_recurrent_initial_frame(lib, models, handle):
    open_model, session = handle
    model, path = models["egvsr_initial_frame"]
    assert model.facts["state"]["carry"][0]["initial"] == "frame"
    frames = planes(rgb_frames(2, 8, 9, 3), 3)
    calls = Calls(lib, session(open_model(path), 9, 8), "float", (3, 16, 18))
    compare(calls.sequence(frames), python_outputs(model, "float", frames), "float", "initial frame")


# ---- window ------------------------------------------------------------------------------------------------------


WINDOW_CASES = [("sofvsr", 16, 20, (1, 4)), ("tcsr", 10, 18, (1, 2, 5)), ("window_rgb", 9, 7, (1, 3)),
                ("window_y_k2", 7, 10, (1, 2, 3, 6))]


@pytest.mark.parametrize("name, h, w, lengths", WINDOW_CASES)
def test_window_matches_session(lib, models, handle, name, h, w, lengths):
    """Sequences of several lengths (also shorter than k: reflected back and forth), one after another on one
    session (each flushed), in every format the model takes."""
    open_model, session = handle
    model, path = models[name]
    m = open_model(path)
    f = lib.facts(m)
    c, k = f["input_channels"], f["window"]
    fmts = ["float", "rgb_u8"] + (["y_u8"] if c == 1 else [])
    calls = {fmt: Calls(lib, session(m, w, h), fmt, out_shape(model, fmt, h, w, f["output_channels"])) for fmt in fmts}
    report = {}
    for n in lengths:
        rgb = rgb_frames(n, h, w, seed=n)
        frames = {"rgb_u8": rgb, "float": planes(rgb, c), "y_u8": [np.ascontiguousarray(x[..., 0]) for x in rgb]}
        want = {fmt: python_outputs(model, fmt, frames[fmt]) for fmt in ("rgb_u8", "float")}
        want["y_u8"] = y_u8_outputs(want["float"])     # the same planes: the Y bytes / 255
        for fmt in fmts:
            got = calls[fmt].sequence(frames[fmt])
            # output t leaves once frame t+k is in
            assert calls[fmt].ready == [max(0, i + 1 - k) for i in range(n)], f"{fmt} n={n}: got {calls[fmt].ready}"
            report[(fmt, n)] = compare(got, want[fmt], fmt, f"{name} {fmt} n={n}")
    print(name, f"k={k}", report)


# ---- YUV 4:2:0 frames --------------------------------------------------------------------------------------------


YUV_CASES = [("egvsr", 13, 19, "bt601", "limited"), ("egvsr_y", 11, 17, "bt709", "full"),
             ("egvsr_initial_frame", 9, 8, "bt709", "limited"), ("sofvsr", 16, 20, "bt709", "limited"),
             ("tcsr", 10, 18, "bt601", "full"), ("window_rgb", 9, 7, "bt709", "full"),
             ("window_y_k2", 7, 11, "bt601", "full")]


@pytest.mark.parametrize("name, h, w, matrix, rng", YUV_CASES)
def test_yuv420_sequence_matches_python_video_path(lib, models, handle, name, h, w, matrix, rng):
    """send / receive of 4:2:0 frames against what `pysr upscale` does with a temporal model (SessionStage): planes to
    RGB (pysr.video.colour), Session.push (backend cpu), RGB to planes — frame by frame, sequences of 1 and 4 frames
    on one session; recurrent models also through run_yuv420_u8."""
    from pysr.video.colour import Colour, rgb_to_yuv, yuv_to_rgb

    open_model, session = handle
    model, path = models[name]
    m = open_model(path)
    colour = Colour(matrix, rng)
    s = session(m, w, h)
    calls = Calls(lib, s, "yuv420_u8", (h * model.scale, w * model.scale), colour)
    report = {}
    for n in (4, 1):
        frames = [yuv_frame(h, w, colour, seed=10 * n + t) for t in range(n)]
        rgb_out = python_outputs(model, "rgb_u8", [yuv_to_rgb(*f, colour) for f in frames])
        want = [rgb_to_yuv(x, colour, (2, 2)) for x in rgb_out]
        got = calls.sequence(frames)
        report[n] = compare(got, want, "yuv420_u8", f"{name} n={n}")
        if lib.facts(m)["temporal_kind"] == 3:
            assert lib.c.pysr_session_reset(s) == OK
            run = []
            for f in frames:
                out = yuv420_planes(h * model.scale, w * model.scale)
                st = lib.c.pysr_session_run_yuv420_u8(s, ctypes.byref(yuv420(f, colour)),
                                                      ctypes.byref(yuv420(out, colour)))
                assert st == OK, lib.error()
                run.append(out)
            assert all(np.array_equal(a, b) for g, r in zip(got, run) for a, b in zip(g, r)), "run_* differs"
            assert lib.c.pysr_session_reset(s) == OK
    # one format per sequence: a YUV frame held is received as YUV
    assert calls.send(frames[0]) == OK and lib.c.pysr_session_flush(s) == OK
    rgb = np.zeros((h * model.scale, w * model.scale, 3), np.uint8)
    st = lib.c.pysr_session_receive_rgb_u8(s, rgb.ctypes.data, rgb.strides[0])
    assert st == INVALID and "pysr_session_receive_yuv420_u8" in lib.error(), lib.error()
    assert lib.c.pysr_session_send_rgb_u8(s, rgb.ctypes.data, rgb.strides[0]) == INVALID and "yuv420_u8" in lib.error()
    print(name, colour, "share of equal bytes per frame:", report)


# ---- the rules of a sequence ---------------------------------------------------------------------------------------


def test_flush_reset_resize_and_send_after_flush(lib, models, handle):
    open_model, session = handle
    model, path = models["window_rgb"]
    m = open_model(path)
    s = session(m, 7, 9)
    calls = Calls(lib, s, "float", (3, 18, 14))
    a, b = planes(rgb_frames(4, 9, 7, 5), 3), planes(rgb_frames(3, 5, 4, 6), 3)
    want_a = python_outputs(model, "float", a)
    # flush twice: the second changes nothing; the outputs come once, then AGAIN
    for x in a:
        assert calls.send(x) == OK
        calls.drain()
    assert lib.c.pysr_session_flush(s) == OK and lib.c.pysr_session_flush(s) == OK
    tail = calls.drain()
    assert len(tail) == 1 and np.abs(tail[0] - want_a[-1]).max() <= TOL
    assert calls.receive()[0] == AGAIN and lib.c.pysr_session_flush(s) == OK and calls.receive()[0] == AGAIN
    # send after flush: refused (nothing taken) while the flushed output waits, then a new sequence
    for x in a[:2]:
        assert calls.send(x) == OK
    assert lib.c.pysr_session_flush(s) == OK
    assert calls.send(a[2]) == AGAIN
    held = calls.drain()
    assert len(held) == 2
    compare(held, python_outputs(model, "float", a[:2]), "float", "flushed 2-frame sequence")
    compare(calls.sequence(a), want_a, "float", "sequence after a flushed one")
    # reset mid-sequence: the held frames are dropped without output
    assert calls.send(a[0]) == OK and calls.send(a[1]) == OK and calls.send(a[2]) == AGAIN
    assert lib.c.pysr_session_reset(s) == OK and calls.receive()[0] == AGAIN
    compare(calls.sequence(a), want_a, "float", "sequence after a reset")
    # a size change mid-stream: refused while outputs wait, then the new size is a new sequence, as the Session
    # does when the size changes (it finishes the old sequence first)
    got = []
    for x in a:
        assert calls.send(x) == OK
        got += calls.drain()
    assert lib.c.pysr_session_resize(s, 4, 5) == INVALID and "flush" in lib.error()
    w, h = ctypes.c_int32(), ctypes.c_int32()
    assert lib.c.pysr_session_output_size(s, ctypes.byref(w), ctypes.byref(h)) == OK and (w.value, h.value) == (14, 18)
    assert lib.c.pysr_session_flush(s) == OK
    got += calls.drain()
    assert lib.c.pysr_session_resize(s, 4, 5) == OK
    assert lib.c.pysr_session_output_size(s, ctypes.byref(w), ctypes.byref(h)) == OK and (w.value, h.value) == (8, 10)
    calls.out_shape = (3, 10, 8)
    got += calls.sequence(b)
    compare(got, python_outputs(model, "float", a + b), "float", "size change")


def test_errors_are_statuses_with_messages(lib, models, handle):
    open_model, session = handle
    eg, win, rgb_win = (open_model(models[n][1]) for n in ("egvsr", "sofvsr", "window_rgb"))
    c = lib.c
    x = np.zeros((3, 16, 16), np.float32)
    y = np.zeros((3, 32, 32), np.float32)
    u8 = np.zeros((16, 16, 3), np.uint8)

    def check(st, status, text):
        msg = lib.error()
        assert st == status and text in msg, f"status {st}, message {msg!r}"

    # sizes: EGVSR needs 8×8; a failed resize keeps the session as it was; batch is 1 for temporal models
    out = ctypes.c_void_p()
    check(c.pysr_session_create(eg, 7, 9, None, ctypes.byref(out)), SHAPE, "at least 8×8")
    assert not out.value
    check(c.pysr_session_create(eg, 16, 16, ctypes.byref(Params(1, 2)), ctypes.byref(out)), INVALID, "batch must be 1")
    s = session(eg, 16, 16)
    check(c.pysr_session_resize(s, 16, 7), SHAPE, "at least 8×8")
    check(c.pysr_session_resize(s, 0, 7), INVALID, "positive")
    assert c.pysr_session_run_float(s, x.ctypes.data, y.ctypes.data) == OK, lib.error()
    # NULL pointers and short strides
    check(c.pysr_session_send_float(None, x.ctypes.data), INVALID, "session is NULL")
    check(c.pysr_session_send_float(s, None), INVALID, "src is NULL")
    check(c.pysr_session_receive_float(s, None), INVALID, "dst is NULL")
    check(c.pysr_session_send_rgb_u8(s, None, 48), INVALID, "src is NULL")
    check(c.pysr_session_send_rgb_u8(s, u8.ctypes.data, 47), INVALID, "src_stride 47")
    check(c.pysr_session_receive_rgb_u8(s, None, 96), INVALID, "dst is NULL")
    check(c.pysr_session_run_float(s, x.ctypes.data, None), INVALID, "NULL")
    check(c.pysr_session_flush(None), INVALID, "session is NULL")
    check(c.pysr_session_reset(None), INVALID, "session is NULL")
    # a 3-channel model has no Y entry point
    check(c.pysr_session_send_y_u8(s, u8.ctypes.data, 16), INVALID, "Y entry point")
    # formats do not mix within a sequence; run_* does not run over held frames
    assert c.pysr_session_reset(s) == OK
    assert c.pysr_session_send_float(s, x.ctypes.data) == OK
    check(c.pysr_session_send_rgb_u8(s, u8.ctypes.data, 48), INVALID, "takes float frames")
    big = np.zeros((64, 64, 3), np.uint8)
    check(c.pysr_session_receive_rgb_u8(s, big.ctypes.data, 192), INVALID,
          "receive them with pysr_session_receive_float")
    check(c.pysr_session_run_float(s, x.ctypes.data, y.ctypes.data), INVALID, "still held")
    assert c.pysr_session_send_float(s, x.ctypes.data) == AGAIN       # the output waits
    assert c.pysr_session_receive_float(s, y.ctypes.data) == OK
    assert c.pysr_session_run_float(s, x.ctypes.data, y.ctypes.data) == OK
    # AGAIN is no failure: the last message stays
    check(c.pysr_session_send_float(None, x.ctypes.data), INVALID, "session is NULL")
    assert c.pysr_session_receive_float(s, y.ctypes.data) == AGAIN and lib.error() == "session is NULL"
    assert c.pysr_status_to_string(AGAIN).decode() == "no output ready"
    # window models give output t after frame t+k: run_* refuses them
    sw = session(win, 20, 16)
    plane, hr = np.zeros((16, 20), np.float32), np.zeros((32, 40), np.float32)
    check(c.pysr_session_run_float(sw, plane.ctypes.data, hr.ctypes.data), INVALID, "pysr_session_send_")
    rw = session(rgb_win, 7, 9)
    f = np.zeros((9, 7, 3), np.uint8)
    check(c.pysr_session_run_rgb_u8(rw, f.ctypes.data, 21, np.zeros((18, 14, 3), np.uint8).ctypes.data, 42), INVALID,
          "window(1)")


# ---- one model, sessions on several threads -------------------------------------------------------------------------


@pytest.mark.parametrize("name, h, w", [("egvsr", 12, 20), ("sofvsr", 16, 20)])
def test_sessions_on_threads_match_sequential(lib, models, handle, name, h, w):
    """4 threads, one session each on one shared model, each its own sequence at the same time (ctypes drops the
    GIL in the calls): every output equals the same sequence run alone."""
    open_model, session = handle
    model, path = models[name]
    m = open_model(path)
    f = lib.facts(m)
    seqs = [planes(rgb_frames(3, h, w, 10 + i), f["input_channels"]) for i in range(4)]
    shape = out_shape(model, "float", h, w, f["output_channels"])
    alone = [Calls(lib, session(m, w, h, threads=1), "float", shape).sequence(q) for q in seqs]
    sessions = [session(m, w, h, threads=1) for _ in seqs]
    results, errors, barrier = [None] * 4, [], threading.Barrier(4)

    def work(i):
        try:
            barrier.wait()
            results[i] = Calls(lib, sessions[i], "float", shape).sequence(seqs[i])
        except Exception as e:  # noqa: BLE001 — reported below
            errors.append(f"thread {i}: {e!r}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(4):
        assert len(results[i]) == 3 and all(np.array_equal(g, r) for g, r in zip(results[i], alone[i])), f"thread {i}"


# ---- ../shared: whole models against the upstream references, the host on a real clip -------------------------------


def test_egvsr_matches_upstream_refs(lib, handle, shared, tmp_path):
    """EGVSR ×4 (seed-0 checkpoint through pysr's importer), 3 frames of 48×48 from zero state: float and uint8."""
    from pysr.models.convert import import_checkpoint

    ref = np.load(shared / "refs" / "egvsr.npz")
    path = tmp_path / "egvsr.pysr"
    import_checkpoint(shared / "weights/egvsr_random_seed0/EGVSR_random_seed0.pth", "egvsr").save(path)
    open_model, session = handle
    m = open_model(path)
    s_float, s_u8 = session(m, 48, 48), session(m, 48, 48)
    errs, same = [], []
    for t in range(ref["lr_rgb"].shape[0]):
        lr = np.ascontiguousarray(ref["lr_rgb"][t])
        hr = np.full((3, 192, 192), np.nan, np.float32)
        assert lib.c.pysr_session_run_float(s_float, lr.ctypes.data, hr.ctypes.data) == OK, lib.error()
        errs.append(float(np.abs(hr - ref["hr_float"][t]).max()))
        u8 = np.ascontiguousarray(np.rint(lr * 255).astype(np.uint8).transpose(1, 2, 0))
        assert np.array_equal(u8.transpose(2, 0, 1) / np.float32(255), lr)    # the same network input
        out = lib.run_rgb(s_u8, u8, 4).transpose(2, 0, 1)
        d = np.abs(out.astype(int) - ref["hr_uint8"][t])
        same.append(float((d == 0).mean()))
        assert d.max() <= 1
    print("EGVSR vs refs: max abs per frame", errs, "uint8 equal", same)
    assert max(errs) <= TOL and min(same) >= TOL_U8, (errs, same)


def test_sofvsr_matches_upstream_refs(lib, handle, shared, tmp_path):
    """SOF-VSR ×2 (TIP weights): frames t−1, t, t+1 sent as a sequence; output 1 is the reference window."""
    from pysr.models.convert import import_checkpoint

    ref = np.load(shared / "refs" / "sofvsr_x2.npz")
    path = tmp_path / "sofvsr.pysr"
    import_checkpoint(shared / "weights/sofvsr_tip/BI_x2.pth", "sofvsr").save(path)
    open_model, session = handle
    s = session(open_model(path), 96, 96)
    outs = Calls(lib, s, "float", (1, 192, 192)).sequence([np.ascontiguousarray(f) for f in ref["lr_y"]])
    assert len(outs) == 3
    err = float(np.abs(outs[1][0] - ref["sr_y"][0]).max())
    print("SOF-VSR vs refs: max abs", err)
    assert err <= TOL


@pytest.mark.parametrize("name, frames", [("egvsr", 4), ("sofvsr", 4)])
def test_host_example_sequence_mode_matches_python(native, models, shared, tmp_path, name, frames):
    """pysr_host on a real clip (4:2:0, 40×24: EGVSR's flow pad is not zero there) with a recurrent and a window
    model: as many frames out as in, equal to the Python video path (Session over the RGB frames)."""
    pytest.importorskip("av")
    from pysr.video.colour import Colour, rgb_to_yuv, yuv_to_rgb
    from pysr.video.y4m import Y4mReader

    model, path = models[name]
    src, dst = tmp_path / "in.y4m", tmp_path / "out.y4m"
    _y4m_from_video(shared / "data" / "video" / "bigbuckbunny.mp4", src, frames, (40, 24), "yuv420p")
    res = _run([native["host"], "-m", path, "-i", src, "-o", dst, "--threads", "2"])
    assert f"{frames} frame(s)" in res.stderr
    colour = Colour("bt601", "limited")
    with src.open("rb") as f_in, dst.open("rb") as f_out:
        got = list(Y4mReader(f_out))
        session = Session(model, backend="cpu")
        hr = [o for y, u, v in Y4mReader(f_in) for o in session.push(yuv_to_rgb(y, u, v, colour))] + session.flush()
    want = [rgb_to_yuv(x, colour, (2, 2)) for x in hr]
    assert len(got) == len(want) == frames
    for i, (g, w) in enumerate(zip(got, want)):
        for plane, a, b in zip("YUV", g, w):
            d = np.abs(a.astype(int) - b.astype(int))
            assert d.max() <= 1 and (d > 0).mean() <= 2e-3, f"frame {i} {plane}: {(d > 0).sum()} of {d.size} differ"


def test_header_declares_what_the_library_exports(native):
    """Every pysr_* function of the installed header is exported by the installed library."""
    import re

    header = (native["prefix"] / "include" / "pysr.h").read_text()
    names = set(re.findall(r"PYSR_API [^;(]*?\b(pysr_\w+)\s*\(", header))
    assert {"pysr_session_send_float", "pysr_session_receive_rgb_u8", "pysr_session_flush", "pysr_session_reset",
            "pysr_session_resize", "pysr_session_run_yuv420_u8", "pysr_session_send_yuv420_u8",
            "pysr_session_receive_yuv420_u8"} <= names
    so = ctypes.CDLL(str(native["lib"]))
    missing = [n for n in sorted(names) if not hasattr(so, n)]
    assert not missing, missing
    assert "#define PYSR_API_VERSION 3" in header and "PYSR_STATUS_AGAIN = 8" in header
