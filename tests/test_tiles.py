"""Tiled inference (pysr/stream/tiles.py) must give the whole frame's output bit for bit."""

import numpy as np
import pytest
from test_runtime import tiny

import pysr
from pysr.api import upscale_frame
from pysr.errors import InputError
from pysr.stream import tiles

SHIPPED = "weights/espcn_x4.pysr"


def shipped():
    from pathlib import Path

    return pysr.load(Path(__file__).resolve().parent.parent / SHIPPED)


def frame(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_tiny_tiles_bit_identical(scale):
    m = tiny(scale)
    for shape in [(23, 17), (17, 23)]:
        f = frame(*shape, seed=scale)
        whole = upscale_frame(f, m)
        for tile in (1, 5, 7, 16):
            got = upscale_frame(f, m, tile=tile)
            diff = np.argwhere(got != whole)
            assert diff.size == 0, f"×{scale} {shape} tile {tile}: {len(diff)} values differ, first at {diff[0]}"


def test_shipped_tiles_bit_identical():
    m = shipped()
    f = frame(97, 61, seed=7)
    whole = upscale_frame(f, m)
    for tile in (7, 16, 40):
        got = upscale_frame(f, m, tile=tile)
        assert np.array_equal(got, whole), f"tile {tile}: {np.count_nonzero(got != whole)} values differ"
    # one plan per distinct window height (plus the whole frame's and the probe's)
    assert len({k for k in m._plans if k[2][2] not in (97, tiles.PROBE)}) <= 2 * 3


def test_halo_rule():
    # tiny: conv 5×5 1→12 (gemm, 2) + 3×3 12→7 (Winograd, 4) + 3×3 7→s² (gemm, 1) = 7; torch-bicubic chroma 2
    assert tiles.halo(tiny(3)) == 7
    # shipped ESPCN 64/32: 5×5 (gemm, 2) + 3×3 64→32 (Winograd, 4) + 3×3 32→16 (Winograd, 4) = 10
    m = shipped()
    assert m.facts["receptive_field"] == 4 and tiles.halo(m) == 10


@pytest.mark.parametrize("n,tile,h", [(97, 16, 10), (23, 1, 7), (17, 5, 7), (61, 7, 10), (8, 16, 3)])
def test_windows_cover_and_align(n, tile, h):
    wins = tiles.windows(n, tile, h)
    covered = np.zeros(n, int)
    lengths = set()
    for i0, i1, w0, w1 in wins:
        covered[i0:i1] += 1
        assert w0 % tiles.ALIGN == 0
        assert w0 <= i0 and i1 <= w1 <= n
        assert w0 == 0 or i0 - w0 >= h, "the halo is cut short inside the frame"
        assert w1 == n or w1 - i1 >= h
        lengths.add(w1 - w0)
    assert (covered == 1).all()
    assert len(lengths) <= 2


def test_auto_tile_and_run(monkeypatch):
    m = tiny(2)
    f = frame(40, 36, seed=3)
    whole = upscale_frame(f, m)
    assert tiles.auto_tile(m, "cpu", 40, 36) is None            # fits the default budget: whole frame
    monkeypatch.setattr(tiles, "AUTO_BUDGET", 100_000)
    n = tiles.auto_tile(m, "cpu", 40, 36)
    assert n is not None and n % tiles.ALIGN == 0 and n < 40
    assert np.array_equal(upscale_frame(f, m, tile="auto"), whole)
    frames = [f, frame(23, 17, seed=4)]
    for a, b in zip(pysr.run(frames, model=m, tile=5), pysr.run(frames, model=m)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "big", True, [4]])
def test_bad_tile(bad):
    m = tiny(2)
    with pytest.raises(InputError, match="tile"):
        upscale_frame(frame(8, 8, 0), m, tile=bad)
    with pytest.raises(InputError, match="tile"):
        pysr.run(frame(8, 8, 0), model=m, tile=bad)
