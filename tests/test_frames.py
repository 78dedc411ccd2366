"""Frame boundary kernels (kernels/cpu/frames.py) against the numpy expressions they replace, bit for bit:
uint8 -> float32 is frame/255 in float32; float32 -> uint8 is clip(rint(x·255), 0, 255) (half to even)."""

from __future__ import annotations

import numpy as np
import pytest

from pysr.errors import InputError
from pysr.kernels.cpu import frames

SIZES = [(1, 1), (7, 13), (13, 3), (2, 64), (31, 17)]


def ref_to_planar(frame):
    return frame.transpose(2, 0, 1)[None].astype(np.float32) / 255


def ref_to_rgb(x):
    return np.clip(np.rint(x[0].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)


def half_way_values() -> np.ndarray:
    """float32 values whose float32 product with 255 is exactly k + 0.5 (the half-to-even ties), found by searching
    a few ulps around (k + 0.5)/255 for every k; plus 0.5 (127.5)."""
    found = [np.float32(0.5)]
    for k in range(255):
        x = np.float32((k + 0.5) / 255)
        for _ in range(4):
            x = np.nextafter(x, np.float32(0), dtype=np.float32)
        for _ in range(9):
            if np.float32(x) * np.float32(255) == np.float32(k + 0.5):
                found.append(x)
            x = np.nextafter(x, np.float32(1), dtype=np.float32)
    return np.array(found, np.float32)


def tricky_floats(rng, n: int) -> np.ndarray:
    """Values in and out of [0, 1], exact levels k/255, ties, ±0, and large magnitudes."""
    pool = np.concatenate([
        half_way_values(),
        np.arange(256, dtype=np.float32) / 255,
        np.array([-0.0, 0.0, 1.0, -1e-8, 1 + 1e-7, -3.5, 7.25, 1e30, -1e30, np.inf, -np.inf], np.float32),
        rng.uniform(-0.5, 1.5, 512).astype(np.float32),
    ])
    return rng.choice(pool, n)


@pytest.mark.parametrize("h,w", SIZES)
def test_rgb_u8_to_planar_exact(h, w):
    rng = np.random.default_rng(h * 100 + w)
    frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    frame.flat[: min(frame.size, 256)] = np.arange(256, dtype=np.uint8)[: min(frame.size, 256)]  # every level
    out = frames.rgb_u8_to_planar(frame)
    ref = ref_to_planar(frame)
    assert out.dtype == np.float32 and out.shape == (1, 3, h, w) and out.flags.c_contiguous
    np.testing.assert_array_equal(out.view(np.uint32), ref.view(np.uint32))


def test_u8_to_float_every_level_matches_division():
    levels = np.arange(256, dtype=np.uint8)
    frame = np.stack([levels, levels[::-1], levels], axis=-1)[None]          # 1×256×3
    np.testing.assert_array_equal(frames.rgb_u8_to_planar(frame), ref_to_planar(frame))
    np.testing.assert_array_equal(frames.y_u8_to_plane(levels[None])[0, 0], levels[None].astype(np.float32) / 255)


@pytest.mark.parametrize("h,w", SIZES)
def test_planar_to_rgb_u8_exact(h, w):
    rng = np.random.default_rng(h * 1000 + w)
    x = tricky_floats(rng, 3 * h * w).reshape(1, 3, h, w)
    out = frames.planar_to_rgb_u8(x)
    with np.errstate(invalid="ignore"):
        ref = ref_to_rgb(x)
    assert out.dtype == np.uint8 and out.shape == (h, w, 3)
    np.testing.assert_array_equal(out, ref)


def test_ties_round_half_to_even():
    ties = half_way_values()
    assert len(ties) > 50, "the search should find many exact k + 0.5 products"
    x = np.broadcast_to(ties[None, None, None], (1, 3, 1, len(ties))).copy()
    out = frames.planar_to_rgb_u8(x)
    np.testing.assert_array_equal(out, ref_to_rgb(x))
    assert (out[0, :, 0].astype(int) % 2 == 0).all()                         # ties went to even
    np.testing.assert_array_equal(frames.plane_to_y_u8(x[:, :1])[0], out[0, :, 0])


def test_out_of_range_clamps_and_nan_gives_zero():
    x = np.array([-1e30, -np.inf, -0.0, 2.0, np.inf, 1e30, np.nan], np.float32).reshape(1, 1, 1, -1)
    y = frames.plane_to_y_u8(x)
    np.testing.assert_array_equal(y[0], [0, 0, 0, 255, 255, 255, 0])


@pytest.mark.parametrize("h,w", SIZES)
def test_plane_round_trips(h, w):
    rng = np.random.default_rng(h + w)
    y = rng.integers(0, 256, (h, w), dtype=np.uint8)
    p = frames.y_u8_to_plane(y)
    np.testing.assert_array_equal(p, y[None, None].astype(np.float32) / 255)
    np.testing.assert_array_equal(frames.plane_to_y_u8(p), y)                # every level survives the trip
    x = tricky_floats(rng, h * w).reshape(1, 1, h, w)
    with np.errstate(invalid="ignore"):
        ref = np.clip(np.rint(x[0, 0] * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(frames.plane_to_y_u8(x), ref)


def test_non_contiguous_frame():
    rng = np.random.default_rng(5)
    big = rng.integers(0, 256, (9, 20, 3), dtype=np.uint8)
    frame = big[1::2, ::3]
    np.testing.assert_array_equal(frames.rgb_u8_to_planar(frame), ref_to_planar(frame))


@pytest.mark.parametrize(
    "fn, bad",
    [
        (frames.rgb_u8_to_planar, np.zeros((4, 4, 3), np.float32)),
        (frames.rgb_u8_to_planar, np.zeros((4, 4), np.uint8)),
        (frames.planar_to_rgb_u8, np.zeros((1, 3, 4, 4), np.float64)),
        (frames.planar_to_rgb_u8, np.zeros((2, 3, 4, 4), np.float32)),
        (frames.y_u8_to_plane, np.zeros((4, 4, 1), np.uint8)),
        (frames.plane_to_y_u8, np.zeros((1, 3, 4, 4), np.float32)),
    ],
)
def test_rejects_wrong_dtype_or_shape(fn, bad):
    with pytest.raises(InputError, match="expected"):
        fn(bad)
