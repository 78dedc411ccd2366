"""Inverse pairs: space_to_depth ∘ pixel_shuffle and pixel_shuffle ∘ space_to_depth are the identity in both
channel orders (references and cpu kernels, bit for bit); rgb_to_ycbcr and ycbcr_to_rgb undo each other;
bt601 limited is MATLAB's rgb2ycbcr; the tf order matches EGVSR's space_to_depth golden unit."""

from __future__ import annotations

import numpy as np
import pytest

from pysr import backends
from pysr.ops import spec

LAYOUT = [(r, order, n, c, h, w) for order in ("pytorch", "tf")
          for (r, n, c, h, w) in [(1, 1, 3, 5, 4), (2, 2, 5, 7, 3), (3, 1, 7, 13, 1), (4, 1, 3, 1, 1), (3, 2, 1, 5, 5)]]
COLOUR = [(m, rng) for m in ("bt601", "bt709") for rng in ("limited", "full")]


def reference(op, attrs, x):
    s = spec(op)
    return s.reference(s.merge_attrs(attrs), [x], {})


def cpu(op, attrs, x):
    s = spec(op)
    attrs = s.merge_attrs(attrs)
    shapes = s.shape(attrs, [x.shape], {})
    fn = backends.get("cpu").compile_node(op, attrs, {}, [x.shape], shapes)
    outs = [np.full(sh, np.nan, np.float32) for sh in shapes]
    fn([np.ascontiguousarray(x, np.float32)], outs)
    return outs


@pytest.mark.parametrize("run", [reference, cpu], ids=["reference", "cpu"])
@pytest.mark.parametrize("r,order,n,c,h,w", LAYOUT)
def test_space_to_depth_inverts_pixel_shuffle(run, r, order, n, c, h, w):
    rng = np.random.default_rng(r * 100 + c)
    attrs = {"scale": r, "order": order}
    deep = rng.uniform(-1, 1, (n, c * r * r, h, w)).astype(np.float32)
    wide = rng.uniform(-1, 1, (n, c, h * r, w * r)).astype(np.float32)
    np.testing.assert_array_equal(run("space_to_depth", attrs, run("pixel_shuffle", attrs, deep)[0])[0], deep)
    np.testing.assert_array_equal(run("pixel_shuffle", attrs, run("space_to_depth", attrs, wide)[0])[0], wide)


@pytest.mark.parametrize("run", [reference, cpu], ids=["reference", "cpu"])
def test_space_to_depth_tf_matches_egvsr(run, shared):
    refs = np.load(shared / "refs" / "egvsr.npz")
    x, expected = refs["unit_s2d_in"][None], refs["unit_s2d_out"][None]
    got = run("space_to_depth", {"scale": 4, "order": "tf"}, x)[0]
    np.testing.assert_array_equal(got, expected)
    pixel_unshuffle = run("space_to_depth", {"scale": 4, "order": "pytorch"}, x)[0]
    assert not np.array_equal(pixel_unshuffle, expected), "the pytorch order must differ from EGVSR's tf order"


@pytest.mark.parametrize("matrix,rng_", COLOUR)
def test_colour_round_trip(matrix, rng_):
    rng = np.random.default_rng(7)
    attrs = {"matrix": matrix, "range": rng_}
    rgb = rng.uniform(0, 1, (2, 3, 9, 7))
    ycc = rng.uniform(0, 1, (2, 3, 9, 7))  # includes out-of-gamut triples: the inverse must not clip
    for x, first, second in ((rgb, "rgb_to_ycbcr", "ycbcr_to_rgb"), (ycc, "ycbcr_to_rgb", "rgb_to_ycbcr")):
        np.testing.assert_allclose(reference(second, attrs, reference(first, attrs, x)[0])[0], x, rtol=0, atol=1e-12)
        x32 = x.astype(np.float32)
        np.testing.assert_allclose(cpu(second, attrs, cpu(first, attrs, x32)[0])[0], x32, rtol=0, atol=2e-6)


def test_bt601_limited_is_matlab_rgb2ycbcr():
    rgb = np.random.default_rng(3).uniform(0, 1, (1, 3, 11, 5))
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    attrs = {"matrix": "bt601", "range": "limited"}
    ycc = reference("rgb_to_ycbcr", attrs, rgb)[0]
    # MATLAB rgb2ycbcr: Y exactly (219·Kr = 65.481, …); Cb, Cr with its 3-decimal coefficients.
    np.testing.assert_allclose(ycc[:, 0], (16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ycc[:, 1], (128 - 37.797 * r - 74.203 * g + 112.0 * b) / 255, rtol=0, atol=2e-6)
    np.testing.assert_allclose(ycc[:, 2], (128 + 112.0 * r - 93.786 * g - 18.214 * b) / 255, rtol=0, atol=2e-6)
    y_only = reference("rgb_to_ycbcr", {**attrs, "y_only": True}, rgb)[0]
    np.testing.assert_array_equal(y_only, ycc[:, :1])
    np.testing.assert_allclose(cpu("rgb_to_ycbcr", {**attrs, "y_only": True}, rgb)[0], y_only, rtol=0, atol=1e-6)


@pytest.mark.parametrize("op,attrs,shapes,words", [
    ("space_to_depth", {"scale": 3}, [(1, 2, 9, 10)], "multiples of scale 3"),
    ("concat", {}, [(1, 2, 5, 5), (1, 1, 5, 5), (1, 3, 5, 4)], "input 2 has W=4"),
    ("split", {"sizes": [1, 1]}, [(1, 3, 2, 2)], "sum to 2"),
    ("channel_shuffle", {"groups": 2}, [(1, 5, 2, 2)], "not divisible by groups=2"),
    ("pad", {"pads": (0, 0, 3, 0), "mode": "reflect"}, [(1, 1, 4, 3)], "smaller than"),
    ("rgb_to_ycbcr", {"matrix": "bt601", "range": "full"}, [(1, 1, 2, 2)], "3 channels"),
])
def test_shape_errors_say_what_is_wrong(op, attrs, shapes, words):
    from pysr.errors import ShapeError

    s = spec(op)
    with pytest.raises(ShapeError, match=words):
        s.shape(s.merge_attrs(attrs), shapes, {})


@pytest.mark.parametrize("op,attrs", [
    ("space_to_depth", {}), ("space_to_depth", {"scale": 2, "order": "nchw"}), ("concat", {"axis": 2}),
    ("split", {"sizes": [2, 0]}), ("channel_shuffle", {"groups": 0}), ("pad", {"pads": (1, 1, 1)}),
    ("pad", {"pads": (1, 1, 1, 1), "mode": "reflect", "value": 1.0}),
    ("rgb_to_ycbcr", {"matrix": "bt2020", "range": "full"}),
])
def test_bad_attributes_are_refused(op, attrs):
    from pysr.errors import AttributeSpecError

    with pytest.raises(AttributeSpecError):
        spec(op).merge_attrs(attrs)
