"""YUV ⇄ RGB kernels (kernels/cpu/yuv.py, through pysr/video/colour.py) against the numpy implementation they
replaced, bit for bit. The one change to that numpy: the block mean is stated — each block row summed left to
right, rows added top to bottom, ÷ n in float64 — where it used to be `reshape(...).mean(axis=(1, 3))`, whose
order is numpy's iterator's (the same except for 1-sample-wide chroma planes)."""

from __future__ import annotations

import numpy as np
import pytest

from pysr.errors import InputError, ShapeError
from pysr.video.colour import KR_KB, Colour, _scales, rgb_to_yuv, yuv_to_rgb

SIZES = [(1, 1), (3, 5), (37, 29), (64, 48), (2, 1), (1, 2), (4, 2), (6, 3)]
SUBS = [(1, 1), (1, 2), (2, 2)]
COLOURS = [Colour(m, r) for m in KR_KB for r in ("limited", "full")]


def _up(p: np.ndarray, h: int, w: int) -> np.ndarray:
    fy, fx = -(-h // p.shape[0]), -(-w // p.shape[1])
    if fy > 1:
        p = np.repeat(p, fy, axis=0)
    if fx > 1:
        p = np.repeat(p, fx, axis=1)
    return p[:h, :w]


def ref_yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, colour: Colour) -> np.ndarray:
    kr, kb = KR_KB[colour.matrix]
    off, ys, cs = _scales(colour.range)
    h, w = y.shape
    yf = (y.astype(np.float32) - off) * np.float32(255.0 / ys)
    pb = (_up(u, h, w).astype(np.float32) - 128.0) * np.float32(255.0 / cs)
    pr = (_up(v, h, w).astype(np.float32) - 128.0) * np.float32(255.0 / cs)
    out = np.empty((h, w, 3), np.uint8)
    r = yf + np.float32(2 * (1 - kr)) * pr
    b = yf + np.float32(2 * (1 - kb)) * pb
    g = yf - np.float32(2 * (1 - kr) * kr / (1 - kr - kb)) * pr - np.float32(2 * (1 - kb) * kb / (1 - kr - kb)) * pb
    for i, c in enumerate((r, g, b)):
        np.clip(np.rint(c, out=c), 0, 255, out=c)
        out[..., i] = c
    return out


def _down(p: np.ndarray, fy: int, fx: int) -> np.ndarray:
    h, w = p.shape
    hh, ww = -(-h // fy), -(-w // fx)
    if (hh * fy, ww * fx) != (h, w):
        p = np.pad(p, ((0, hh * fy - h), (0, ww * fx - w)), mode="edge")
    blocks = p.reshape(hh, fy, ww, fx)
    total = None
    for r in range(fy):                                   # stated order: rows left to right, then top to bottom
        row = blocks[:, r, :, 0]
        for c in range(1, fx):
            row = row + blocks[:, r, :, c]
        total = row if total is None else total + row
    return (total.astype(np.float64) / (fy * fx)).astype(np.float32)    # numpy's mean: float32 sum ÷ intp count


def ref_rgb_to_yuv(rgb: np.ndarray, colour: Colour, sub: tuple[int, int] = (2, 2)):
    kr, kb = KR_KB[colour.matrix]
    kg = 1 - kr - kb
    off, ys, cs = _scales(colour.range)
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    yl = np.float32(kr) * r + np.float32(kg) * g + np.float32(kb) * b          # 0..255
    pb = (b - yl) * np.float32(cs / 255.0 / (2 * (1 - kb)))
    pr = (r - yl) * np.float32(cs / 255.0 / (2 * (1 - kr)))
    y = np.clip(np.rint(yl * np.float32(ys / 255.0) + np.float32(off)), 0, 255).astype(np.uint8)
    if sub != (1, 1):
        pb, pr = _down(pb, *sub), _down(pr, *sub)
    u = np.clip(np.rint(pb + np.float32(128.0)), 0, 255).astype(np.uint8)
    v = np.clip(np.rint(pr + np.float32(128.0)), 0, 255).astype(np.uint8)
    return y, u, v


def _same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, f"{what}: {got.dtype} {got.shape} vs {want.shape}"
    bad = np.argwhere(got != want)
    if len(bad):
        i = tuple(bad[0])
        d = np.abs(got.astype(int) - want.astype(int)).max()
        raise AssertionError(f"{what}: {len(bad)} of {got.size} differ (max {d}); first at {i}: "
                             f"got {got[i]}, numpy {want[i]}")


def _frames(rng, h: int, w: int) -> list[np.ndarray]:
    """Random RGB, then the extremes: all 0, all 255, and saturated primaries (chroma at its limits)."""
    prim = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]], np.uint8)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8), np.zeros((h, w, 3), np.uint8),
            np.full((h, w, 3), 255, np.uint8), prim[rng.integers(0, len(prim), (h, w))]]


@pytest.mark.parametrize("h,w", SIZES)
@pytest.mark.parametrize("sub", SUBS)
@pytest.mark.parametrize("colour", COLOURS, ids=str)
def test_rgb_to_yuv_exact(h, w, sub, colour):
    rng = np.random.default_rng(h * 1000 + w)
    for k, rgb in enumerate(_frames(rng, h, w)):
        for name, got, want in zip("YUV", rgb_to_yuv(rgb, colour, sub), ref_rgb_to_yuv(rgb, colour, sub)):
            _same(got, want, f"rgb_to_yuv {colour} sub={sub} {h}×{w} frame {k} plane {name}")


@pytest.mark.parametrize("h,w", SIZES)
@pytest.mark.parametrize("sub", SUBS + [(2, 1), (1, 4), (4, 4)])     # 4:4:0, 4:1:1, 4:1:0 are decoded too
@pytest.mark.parametrize("colour", COLOURS, ids=str)
def test_yuv_to_rgb_exact(h, w, sub, colour):
    rng = np.random.default_rng(h * 1000 + w + 7)
    hc, wc = -(-h // sub[0]), -(-w // sub[1])
    y = rng.integers(0, 256, (h, w), dtype=np.uint8)
    u, v = (rng.integers(0, 256, (hc, wc), dtype=np.uint8) for _ in "uv")
    cases = [(y, u, v)] + [(np.full_like(y, a), np.full_like(u, b), np.full_like(v, c))
                           for a in (0, 255) for b in (0, 255) for c in (0, 255)]
    for k, planes in enumerate(cases):
        _same(yuv_to_rgb(*planes, colour), ref_yuv_to_rgb(*planes, colour),
              f"yuv_to_rgb {colour} sub={sub} {h}×{w} case {k}")


def test_every_code_value():
    """All 256³ Y, U, V triples once (4:4:4, a 4096×4096 frame) and every RGB triple back; two colours cover both
    matrices and both ranges (all four take 12 s)."""
    a = np.arange(1 << 24, dtype=np.uint32)
    y, u, v = (((a >> s) & 255).astype(np.uint8).reshape(4096, 4096) for s in (16, 8, 0))
    rgb = np.stack([y, u, v], axis=-1)
    for colour in (Colour("bt601", "limited"), Colour("bt709", "full")):
        _same(yuv_to_rgb(y, u, v, colour), ref_yuv_to_rgb(y, u, v, colour), f"yuv_to_rgb {colour} all triples")
        for name, got, want in zip("YUV", rgb_to_yuv(rgb, colour, (1, 1)), ref_rgb_to_yuv(rgb, colour, (1, 1))):
            _same(got, want, f"rgb_to_yuv {colour} all triples plane {name}")


def test_strided_planes():
    """Planes as PyAV hands them (rows padded to the line size, read-only) and a non-contiguous RGB frame."""
    rng = np.random.default_rng(3)
    h, w, line = 37, 29, 64
    buf = rng.integers(0, 256, (h + 2 * ((h + 1) // 2), line), dtype=np.uint8)
    buf.flags.writeable = False
    y = buf[:h, :w]
    u, v = buf[h:h + 19, :15], buf[h + 19:, 1:16]
    c = Colour("bt709", "limited")
    _same(yuv_to_rgb(y, u, v, c), ref_yuv_to_rgb(y, u, v, c), "yuv_to_rgb strided")
    big = rng.integers(0, 256, (h, 2 * w, 3), dtype=np.uint8)
    for got, want in zip(rgb_to_yuv(big[:, ::2], c), ref_rgb_to_yuv(big[:, ::2], c)):
        _same(got, want, "rgb_to_yuv strided")
    rev = big[:, ::-1]
    _same(yuv_to_rgb(*rgb_to_yuv(rev, c, (1, 1)), c), ref_yuv_to_rgb(*ref_rgb_to_yuv(rev, c, (1, 1)), c), "reversed")


def test_bad_inputs_raise():
    c = Colour("bt601", "limited")
    y = np.zeros((4, 4), np.uint8)
    with pytest.raises(InputError):
        yuv_to_rgb(y.astype(np.float32), y, y, c)
    with pytest.raises(ShapeError):
        yuv_to_rgb(y, y[:2, :2], y[:2, :3], c)
    with pytest.raises(InputError):
        rgb_to_yuv(np.zeros((4, 4), np.uint8), c)
    with pytest.raises(InputError):
        rgb_to_yuv(np.zeros((4, 4, 3), np.uint8), c, (0, 2))
