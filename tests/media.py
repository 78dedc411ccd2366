"""Synthetic test media shared by the tests: textures, camera pans, lossless RGB videos."""

from __future__ import annotations

import numpy as np


def textured(h, w, seed=0):
    """Smooth multi-scale texture (something for a flow estimator to lock onto), h×w×3 uint8."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3))
    for cell in (4, 9, 23):
        small = rng.uniform(0, 255, (h // cell + 2, w // cell + 2, 3)).astype(np.uint8)
        img += np.asarray(Image.fromarray(small).resize((w + 2 * cell, h + 2 * cell), Image.BICUBIC))[:h, :w] / 3
    return np.clip(img, 0, 255).astype(np.uint8)


def panning(n, speed, h=64, w=96, seed=0):
    """n frames of a camera panning right by `speed` pixels per frame (the content moves left)."""
    big = textured(h, w + speed * n + 1, seed)
    return [np.ascontiguousarray(big[:, t * speed : t * speed + w]) for t in range(n)]


def lossless_rgb_video(path, frames: list[np.ndarray]):
    """RGB frames -> an FFV1 (bgr0, lossless) video at 25 fps; returns `path`."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        v = c.add_stream("ffv1", rate=25)
        v.width, v.height, v.pix_fmt = w, h, "bgr0"
        for f in frames:
            for pk in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="bgr0")):
                c.mux(pk)
        for pk in v.encode(None):
            c.mux(pk)
    return path
