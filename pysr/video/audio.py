"""Audio re-encoded for a live stream (`pysr push`): the source's first audio stream → AAC at a chosen bitrate.

    packets of the source's audio stream ─▶ decoder ─▶ resampler (fltp, mono or stereo, the source's rate)
        ─▶ FIFO ─▶ frames of the encoder's frame size (1024), pts in 1/rate ─▶ AvSink.write_audio (AAC)

A live uplink has no room for the source's audio as it is (Big Buck Bunny carries 5.1 at 384 kbit/s), and FLV
holds AAC but not Opus or most others, so push always re-encodes: more than two channels are downmixed to stereo,
the rate is kept where AAC takes it (else 48 kHz). Timestamps come from the source's: the first frame's time less
`origin_s` (the media time the video's pts count from), then one sample after another, so audio and video stay
in step; audio before the origin is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av

from pysr.errors import MediaError

AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


@dataclass(frozen=True)
class AudioEncode:
    """What AvSink's AAC stream is opened with."""
    rate: int
    layout: str                 # "mono" | "stereo"
    bitrate: int                # bits per second


class AudioTranscoder:
    """One audio stream of the source, decoded and cut into frames for AudioEncode's encoder."""

    FRAME = 1024                # samples per AAC frame

    def __init__(self, stream, bitrate: int, origin_s: float = 0.0):
        cc = stream.codec_context
        if cc is None or not stream.rate:
            raise MediaError(f"audio stream {stream.index} cannot be decoded here (no decoder or no sample rate)")
        self.stream, self.origin_s = stream, origin_s
        rate = stream.rate if stream.rate in AAC_RATES else 48000
        layout = "mono" if cc.channels == 1 else "stereo"
        self.spec = AudioEncode(rate, layout, bitrate)
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._fifo = av.AudioFifo()
        self._next: int | None = None       # pts (1/rate) of the next frame out
        self.dropped = 0                     # source frames before the origin

    def frames(self, packet) -> list:
        """The encoder-sized frames that this packet (None: the end) completes."""
        try:
            decoded = self.stream.codec_context.decode(packet)
        except av.FFmpegError:               # one bad audio packet never stops the video
            return []
        out = []
        for frame in decoded:
            if self._next is None and not self._starts(frame):
                continue
            out += self._cut(self._resampler.resample(frame))
        if packet is None and self._next is not None:       # the end: the resampler's tail, then the FIFO's
            out += self._cut(self._resampler.resample(None), final=True)
        return out

    def _starts(self, frame) -> bool:
        """Whether the first frame at or after the origin is this one (its pts then starts the clock)."""
        if frame.pts is None or frame.time_base is None:
            return False
        start = float(frame.pts * frame.time_base) - self.origin_s
        if start < 0:
            self.dropped += 1
            return False
        self._next = round(start * self.spec.rate)
        return True

    def _cut(self, resampled, final: bool = False) -> list:
        """Resampled frames into the FIFO; out of it, frames of FRAME samples (the last, at the end, shorter)."""
        for r in resampled:
            r.pts = None                 # the FIFO counts samples; pts are given on the way out
            self._fifo.write(r)
        out = []
        while self._fifo.samples >= self.FRAME or (final and self._fifo.samples):
            f = self._fifo.read(min(self.FRAME, self._fifo.samples))
            f.pts, f.time_base = self._next, Fraction(1, self.spec.rate)
            self._next += f.samples
            out.append(f)
        return out


def first_audio(streams, codecs: tuple[str, ...] | None = None) -> object | None:
    """The first audio stream among a source's streams (of one of `codecs`, with a known rate, if given), or None."""
    return next((s for s in streams if s.type == "audio" and (codecs is None or (
        s.codec_context is not None and s.codec_context.name in codecs and s.rate))), None)
