"""The uplink budget: video bitrate + model-update bitrate <= uplink (DESIGN §5), as a token bucket.

Updates get rate r = uplink × (1 - margin) - video bitrate, in bytes per second, and a bucket of
`chunk_bytes` tokens (full at the start). A chunk of n bytes is sent once the bucket holds n tokens. Hence,
for every time window [a, b]: update bytes sent in it <= chunk_bytes + r (b - a), and a whole update of
N bytes has been handed to the network by N / r seconds (its first chunk goes at once on the full
bucket; it is delivered when the link has carried it at rate r, which is the same N / r).

The margin is a share of the whole uplink (not of what is left) because what it absorbs — variable-bitrate
overshoot of the encoder, TCP/HTTP framing, cross traffic — scales with the link, and because with little
room left for updates a share of the remainder would shrink to nothing exactly when the link is tight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pysr.errors import PysrError


class UplinkError(PysrError, ValueError):
    """No room for updates under the uplink budget, or a pacing parameter is out of range."""


@dataclass(frozen=True)
class UplinkBudget:
    uplink_bps: float              # measured or configured uplink, bits per second
    margin: float = 0.1            # share of the uplink kept free
    chunk_bytes: int = 16 << 10    # largest burst (and chunk) of update bytes
    min_update_bps: float = 8000   # below this the updates would take too long: refuse rather than trickle

    def __post_init__(self):
        if not (self.uplink_bps > 0 and math.isfinite(self.uplink_bps)):
            raise UplinkError(f"uplink must be a positive number of bits per second, got {self.uplink_bps}")
        if not 0 <= self.margin < 1 or self.chunk_bytes < 1 or self.min_update_bps <= 0:
            raise UplinkError("uplink budget: need 0 <= margin < 1, chunk_bytes >= 1, min_update_bps > 0")

    def update_rate(self, video_bps: float) -> float:
        """Bytes per second left for updates next to `video_bps` of video."""
        if not (video_bps >= 0 and math.isfinite(video_bps)):
            raise UplinkError(f"video bitrate must be >= 0 bits per second, got {video_bps}")
        bps = self.uplink_bps * (1.0 - self.margin) - video_bps
        if bps < self.min_update_bps:
            raise UplinkError(f"no room for model updates: uplink {self.uplink_bps:.0f} b/s × (1 - {self.margin}) - "
                              f"video {video_bps:.0f} b/s = {bps:.0f} b/s, below the minimum {self.min_update_bps:.0f}",
                              "lower the video bitrate, or send updates as deltas less often")
        return bps / 8.0

    def delivery_time(self, nbytes: int, video_bps: float) -> float:
        """Seconds until an update of `nbytes` has been carried at the update rate."""
        return nbytes / self.update_rate(video_bps)

    def chunks(self, update_bytes: bytes, video_bps: float) -> list[tuple[float, bytes]]:
        """The pacing plan: [(delay, chunk)], delay = seconds to wait after sending the previous chunk (0 for
        the first, on the full bucket). The last chunk goes at max(0, N - chunk_bytes) / r and, carried at
        rate r behind the others, the whole update has arrived by N / r = `delivery_time`."""
        r = self.update_rate(video_bps)
        bucket = TokenBucket(r, self.chunk_bytes)
        plan, now, last = [], 0.0, 0.0
        data = memoryview(bytes(update_bytes))
        for i in range(0, len(data), self.chunk_bytes):
            chunk = bytes(data[i : i + self.chunk_bytes])
            now = bucket.reserve(len(chunk), now)
            plan.append((now - last, chunk))
            last = now
        return plan


class TokenBucket:
    """rate tokens (bytes) per second, at most `capacity`; full at time 0. Time is passed in (no clock inside),
    so the same object paces a live sender (time.monotonic()) and a plan."""

    def __init__(self, rate: float, capacity: float, now: float = 0.0):
        if not (rate > 0 and capacity > 0):
            raise UplinkError(f"token bucket: rate and capacity must be > 0, got {rate}, {capacity}")
        self.rate, self.capacity = float(rate), float(capacity)
        self._tokens, self._time = float(capacity), float(now)

    def set_rate(self, rate: float, now: float) -> None:
        """The video bitrate moved: tokens earned so far at the old rate are kept."""
        if rate <= 0:
            raise UplinkError(f"token bucket: rate must be > 0, got {rate}")
        self._advance(now)
        self.rate = float(rate)

    def _advance(self, now: float) -> None:
        if now > self._time:
            self._tokens = min(self.capacity, self._tokens + (now - self._time) * self.rate)
            self._time = now

    def reserve(self, n: int, now: float) -> float:
        """Take n tokens; returns the time (>= now) at which the n bytes may be sent."""
        if n > self.capacity:
            raise UplinkError(f"token bucket: a send of {n} bytes exceeds the bucket capacity {self.capacity:.0f}")
        self._advance(now)
        start = max(now, self._time)
        if self._tokens < n:
            start += (n - self._tokens) / self.rate
            self._tokens = float(n)
            self._time = start
        self._tokens -= n
        return start
