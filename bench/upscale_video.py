"""`pysr upscale` end to end on the 720p clip vs the same network in OpenCV's dnn, CPU, 2 threads, ONE run.

    python bench/upscale_video.py [--frames 24] [--scales 2 4] [--write]

For each scale with a shipped model (weights/espcn_x{s}.pysr), on the first N frames of
../shared/data/video/bigbuckbunny.mp4 (1280×720):
- pysr: the `pysr upscale` job (PyAV decode → pysr cpu → libx264 encode, overlapped through queues), writing a
  real file;
- OpenCV: the loop an OpenCV user writes: cv2.VideoCapture decode → YCrCb → the same ESPCN weights through
  cv2.dnn (readNetFromONNX: OpenCV's dnn_superres needs its own .pb files, which this project cannot ship) on Y,
  bicubic chroma (cv2.resize) → BGR → the same libx264 encoder settings through PyAV, one frame at a time.
Both encode with libx264 preset ultrafast, crf 23 (the encoder at 5120×2880 would otherwise dominate both).
Also timed, interleaved on the same decoded frames: the super-resolution step alone (RGB frame in, RGB frame out).
--write appends the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

THREADS = 2
os.environ.setdefault("NUMBA_NUM_THREADS", str(THREADS))

import numpy as np  # noqa: E402

import pysr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT.parent / "shared" / "data" / "video" / "bigbuckbunny.mp4"
ENCODER = {"preset": "ultrafast"}
CRF = 23

sys.path.insert(0, str(Path(__file__).resolve().parent))
from espcn_cpu import cpu_name, onnx_bytes  # noqa: E402


def pysr_job(model, frames: int, out: Path) -> float:
    from pysr.video.job import Job, run_job
    from pysr.video.writer import EncodeOptions

    job = Job(str(CLIP), str(out), model, encode=EncodeOptions(crf=CRF, options=dict(ENCODER)), progress="none",
              overwrite=True, frames=frames)
    t0 = time.perf_counter()
    run_job(job)
    return time.perf_counter() - t0


class OpenCvSr:
    """ESPCN on Y through cv2.dnn, chroma by cv2.resize bicubic, as an OpenCV application does it."""

    def __init__(self, model, h: int, w: int):
        import cv2

        cv2.setNumThreads(THREADS)
        self.cv2, self.s = cv2, model.scale
        self.net = cv2.dnn.readNetFromONNX(np.frombuffer(onnx_bytes(model, h, w), np.uint8))

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        cv2, s = self.cv2, self.s
        ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)
        self.net.setInput(ycc[None, None, :, :, 0].astype(np.float32) * np.float32(1 / 255))
        y = np.clip(np.rint(self.net.forward()[0, 0] * 255), 0, 255).astype(np.uint8)
        crcb = cv2.resize(ycc[:, :, 1:], (bgr.shape[1] * s, bgr.shape[0] * s), interpolation=cv2.INTER_CUBIC)
        return cv2.cvtColor(np.dstack([y, crcb]), cv2.COLOR_YCrCb2BGR)


def opencv_job(sr: OpenCvSr, frames: int, out: Path) -> float:
    import av
    import cv2

    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(CLIP))
    container = av.open(str(out), "w")
    stream = None
    for _ in range(frames):
        ok, bgr = cap.read()
        if not ok:
            break
        hr = sr(bgr)
        if stream is None:
            stream = container.add_stream("libx264", rate=24)
            stream.width, stream.height, stream.pix_fmt = hr.shape[1], hr.shape[0], "yuv420p"
            stream.options = {"crf": str(CRF), **ENCODER}
        for packet in stream.encode(av.VideoFrame.from_ndarray(hr, format="bgr24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    cap.release()
    return time.perf_counter() - t0


def first_frames(n: int) -> list[np.ndarray]:
    import av

    with av.open(str(CLIP)) as c:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(n), c.decode(video=0))]


def sr_only_ms(model, sr: OpenCvSr, frames: list[np.ndarray], rounds: int) -> tuple[float, float]:
    """Median ms per frame of the SR step alone, pysr and OpenCV interleaved frame by frame."""
    t_pysr, t_cv = [], []
    for _ in range(rounds):
        for rgb in frames:
            t0 = time.perf_counter()
            pysr.run(rgb, model=model)
            t1 = time.perf_counter()
            sr(np.ascontiguousarray(rgb[:, :, ::-1]))
            t2 = time.perf_counter()
            t_pysr.append(t1 - t0)
            t_cv.append(t2 - t1)
    return statistics.median(t_pysr) * 1e3, statistics.median(t_cv) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--scales", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not CLIP.is_file():
        print(f"needs {CLIP} (../shared beside the repository)", file=sys.stderr)
        return 2
    import cv2

    frames = first_frames(4)
    h, w = frames[0].shape[:2]
    lines = [f"### `pysr upscale` vs OpenCV dnn, {w}×{h} clip, {THREADS} threads — {time.strftime('%Y-%m-%d')}", "",
             f"Machine: {os.cpu_count()} cores, {cpu_name()}; OpenCV {cv2.__version__}; first {args.frames} frames of "
             f"bigbuckbunny.mp4; both encode libx264 ultrafast crf {CRF}.",
             f"Command: `python3 bench/upscale_video.py --frames {args.frames} --scales "
             f"{' '.join(map(str, args.scales))} --write`.", "",
             "| model | output | pysr upscale fps | OpenCV loop fps | pysr speed-up | SR step pysr ms | "
             "SR step OpenCV ms | SR speed-up |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        for s in args.scales:
            path = ROOT / "weights" / f"espcn_x{s}.pysr"
            if not path.is_file():
                print(f"(×{s} skipped: {path} not found)")
                continue
            model = pysr.load(path)
            sr = OpenCvSr(model, h, w)
            pysr_job(model, 2, Path(tmp) / "warm.mp4")                 # compile plans, open codecs
            opencv_job(sr, 2, Path(tmp) / "warm_cv.mp4")
            t_p = pysr_job(model, args.frames, Path(tmp) / f"pysr_x{s}.mp4")
            t_c = opencv_job(sr, args.frames, Path(tmp) / f"cv_x{s}.mp4")
            ms_p, ms_c = sr_only_ms(model, sr, frames, 2)
            fps_p, fps_c = args.frames / t_p, args.frames / t_c
            lines.append(f"| {path.name} | {w * s}×{h * s} | {fps_p:.2f} | {fps_c:.2f} | {fps_p / fps_c:.2f}× | "
                         f"{ms_p:.0f} | {ms_c:.0f} | {ms_c / ms_p:.2f}× |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        out = Path(__file__).resolve().parent / "RESULTS.md"
        out.write_text(out.read_text() + "\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
