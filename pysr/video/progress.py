"""Progress on stderr: a line redrawn with \\r on a terminal (once per second otherwise), JSON lines for
programs, or nothing. Fed from the inference thread with the count of frames done."""

from __future__ import annotations

import json
import sys
import time


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """mode: "line" | "json" | "none". `total` may be None (unknown: printed as "?")."""

    def __init__(self, mode: str, total: int | None, done_before: int = 0, stream=None):
        self.mode, self.total, self.before = mode, total, done_before
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.perf_counter()
        self.last = -1.0
        self.frames = 0
        self.dirty = False

    def snapshot(self) -> dict:
        elapsed = time.perf_counter() - self.t0
        fps = self.frames / elapsed if elapsed > 0 else 0.0
        n = self.before + self.frames
        remaining = (self.total - n) / fps if self.total is not None and fps > 0 else None
        return {"frame": n, "total": self.total, "fps": round(fps, 3), "elapsed": round(elapsed, 3),
                "remaining": None if remaining is None else round(max(remaining, 0.0), 3)}

    def update(self, frames: int) -> None:
        self.frames = frames
        now = time.perf_counter()
        period = 0.1 if self.mode == "line" and self.tty else 1.0
        if self.mode == "none" or now - self.last < period:
            return
        self.last = now
        self._emit("progress")

    def _emit(self, event: str, **extra) -> None:
        s = self.snapshot()
        if self.mode == "json":
            print(json.dumps({"event": event, **s, **extra}), file=self.stream, flush=True)
            return
        total = "?" if s["total"] is None else s["total"]
        line = (f"frame {s['frame']}/{total}  {s['fps']:.2f} fps  elapsed {_clock(s['elapsed'])}  "
                f"remaining {_clock(s['remaining'])}")
        if self.tty:
            print("\r" + line + "\x1b[K", end="", file=self.stream, flush=True)
            self.dirty = True
        else:
            print(line, file=self.stream, flush=True)

    def finish(self, event: str = "done", **extra) -> None:
        """Final state (always printed in json mode; in line mode the last redraw is completed)."""
        if self.mode == "json":
            self._emit(event, **extra)
        elif self.mode == "line":
            if self.tty:
                self._emit(event)
                print(file=self.stream, flush=True)
            elif self.frames:
                self._emit(event)
