"""Audio frames as they cross every interface: PCM16 mono little-endian with an explicit rate.

Resampling uses ``soxr`` (libsoxr, https://github.com/dofuuz/python-soxr); nothing here is
hand-written DSP.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

BYTES_PER_SAMPLE = 2


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A chunk of PCM16 mono little-endian audio.

    Attributes:
        pcm: raw samples, 2 bytes each, little-endian signed 16-bit, one channel.
        sample_rate: samples per second (Hz), e.g. 16000 or 24000.
    """

    pcm: bytes
    sample_rate: int

    @property
    def samples(self) -> int:
        """Number of samples in the frame."""
        return len(self.pcm) // BYTES_PER_SAMPLE

    @property
    def duration_ms(self) -> float:
        """Duration of the frame in milliseconds."""
        return 1000.0 * self.samples / self.sample_rate

    def to_numpy(self) -> np.ndarray:
        """The samples as a read-only ``<i2`` (int16 LE) view of shape ``(samples,)``.

        Raises:
            ValueError: ``pcm`` has an odd number of bytes.
        """
        return np.frombuffer(self.pcm, dtype="<i2")

    def resampled(self, sample_rate: int) -> AudioFrame:
        """This frame at ``sample_rate`` Hz (unchanged when already at it).

        Stateless one-shot conversion; for a continuous stream use :class:`Resampler`, which
        keeps filter state across frames so chunk edges do not click.
        """
        if sample_rate == self.sample_rate or not self.pcm:
            return AudioFrame(self.pcm, sample_rate)
        out = soxr.resample(self.to_numpy(), self.sample_rate, sample_rate)
        return AudioFrame(np.asarray(out, dtype="<i2").tobytes(), sample_rate)


class Resampler:
    """Streaming PCM16 mono LE resampler (soxr ``ResampleStream``) from ``in_rate`` to
    ``out_rate`` Hz. Output frames are not sample-aligned with the input (the filter delays a
    few ms and may return an empty frame); the ``last=True`` call returns the rest.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = None if in_rate == out_rate else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16")

    def process(self, frame: AudioFrame, *, last: bool = False) -> AudioFrame:
        """Resample one frame of a continuous stream; pass ``last=True`` on the final frame to flush.

        Raises:
            ValueError: when the frame's rate is not ``in_rate``.
        """
        if frame.sample_rate != self.in_rate:
            raise ValueError(f"expected {self.in_rate} Hz audio, got {frame.sample_rate} Hz")
        if self._stream is None:
            return frame
        out = self._stream.resample_chunk(frame.to_numpy(), last=last)
        return AudioFrame(np.asarray(out, dtype="<i2").tobytes(), self.out_rate)


def silence(duration_ms: float, sample_rate: int) -> AudioFrame:
    """A frame of digital silence lasting ``duration_ms`` milliseconds at ``sample_rate`` Hz."""
    n = round(sample_rate * duration_ms / 1000.0)
    return AudioFrame(b"\x00\x00" * n, sample_rate)


def rms_dbfs(frame: AudioFrame) -> float:
    """Root-mean-square level of the frame in dBFS, full scale 32768 (a full-scale square wave is
    0 dBFS; digital silence and an empty frame give ``-inf``).
    """
    x = frame.to_numpy().astype(np.float64)
    if x.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(x * x)))
    return float("-inf") if rms == 0 else 20.0 * np.log10(rms / 32768.0)
