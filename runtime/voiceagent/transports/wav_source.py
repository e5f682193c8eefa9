"""A caller recording read piece by piece: WAV files of any length in bounded memory.

:class:`WavSource` checks the header when it opens the file (a header claiming more audio than the
file holds, e.g. 4 GB in a 10 KB file, is a :class:`WavFormatError` naming the file and the fix,
not a ``MemoryError``) and then yields the audio as PCM16 mono chunks of about one second at the
rate asked for: a two-hour recording is never in memory at once. Integer PCM (8-bit unsigned,
16, 24, 32 bits, any channel count) is read with the stdlib :mod:`wave`
(https://docs.python.org/3/library/wave.html), downmixed with numpy and resampled with soxr's
streaming resampler (:class:`voiceagent.audio.Resampler`). Files ``wave`` cannot read (float,
``WAVE_FORMAT_EXTENSIBLE``, compressed) are decoded whole with PyAV when it is installed, up to
:data:`MAX_DECODED_BYTES` of file.
"""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voiceagent.audio import AudioFrame, Resampler

__all__ = ["MAX_DECODED_BYTES", "WavFormatError", "WavSource", "to_int16"]

MAX_DECODED_BYTES = 256 * 1024 * 1024
"""Largest non-PCM file (bytes) decoded whole with PyAV; PCM WAV files stream at any size."""
_CHUNK_S = 1.0


class WavFormatError(ValueError):
    """The input file is not a PCM WAV the stdlib :mod:`wave` module can read."""


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def _convert_hint(path: Path) -> str:
    return f"convert it first, e.g. `ffmpeg -i {path.name} -ac 1 -ar 16000 -c:a pcm_s16le caller.wav`"


def to_int16(raw: bytes, width: int) -> np.ndarray:
    """Integer PCM bytes of ``width`` bytes per sample -> int16 samples (interleaved channels).

    Raises:
        WavFormatError: an unsupported sample width.
    """
    if width == 1:  # WAV 8-bit is unsigned
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype("<i2")
    if width == 2:
        return np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2")
    if width == 3:
        b = np.frombuffer(raw[: len(raw) - len(raw) % 3], dtype=np.uint8).reshape(-1, 3)
        # the top two bytes of a little-endian 24-bit sample are its 16-bit value
        return (b[:, 1].astype(np.uint16) | (b[:, 2].astype(np.uint16) << 8)).view("<i2")
    if width == 4:
        return (np.frombuffer(raw[: len(raw) - len(raw) % 4], dtype="<i4") >> 16).astype("<i2")
    raise WavFormatError(f"unsupported sample width: {width} bytes")


def _downmix(samples: np.ndarray, channels: int) -> np.ndarray:
    if channels <= 1:
        return samples
    usable = len(samples) - len(samples) % channels
    mixed = samples[:usable].reshape(-1, channels).astype(np.int32).mean(axis=1)
    out: np.ndarray = np.clip(np.round(mixed), -32768, 32767).astype("<i2")
    return out


class WavSource:
    """A caller recording, opened and checked now, read in chunks on demand (re-readable).

    Args:
        path: the recording.
        sample_rate: rate (Hz) of the chunks :meth:`chunks` yields; None keeps the file's rate.

    Attributes:
        file_rate: the file's own rate (Hz). channels, width: channel count, bytes per sample.
        frames: sample frames the header declares (PCM files) or decoded (PyAV).
        duration_ms: length of the recording (ms).

    Raises:
        FileNotFoundError: no such file.
        WavFormatError: a header that claims more audio than the file holds, zero channels or
            rate, a file neither reader can decode (each message names the file and the fix).
    """

    def __init__(self, path: str | Path, sample_rate: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such file")
        self._decoded: AudioFrame | None = None
        try:
            with self.path.open("rb") as f, wave.open(f, "rb") as w:
                self.channels, self.width, self.file_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
                self.frames = w.getnframes()
                data_start = f.tell()
        except (wave.Error, EOFError) as exc:
            self._decoded = _read_with_av(self.path, sample_rate, exc)
            self.channels, self.width, self.file_rate = 1, 2, self._decoded.sample_rate
            self.frames = self._decoded.samples
        else:
            self._check_header(data_start)
        self.sample_rate = sample_rate or self.file_rate
        self.duration_ms = 1000.0 * self.frames / self.file_rate

    def _check_header(self, data_start: int) -> None:
        if self.channels < 1 or self.file_rate < 1:
            raise WavFormatError(
                f"{self.path}: the WAV header says {self.channels} channels at {self.file_rate} Hz; "
                f"the file is damaged; {_convert_hint(self.path)}"
            )
        if self.width not in (1, 2, 3, 4):
            raise WavFormatError(
                f"{self.path}: unsupported sample width: {self.width} bytes; {_convert_hint(self.path)}"
            )
        claimed = self.frames * self.channels * self.width
        available = self.path.stat().st_size - data_start
        if claimed > available + self.channels * self.width:
            raise WavFormatError(
                f"{self.path}: the WAV header claims {_human(claimed)} of audio but the file holds "
                f"{_human(max(available, 0))}; the file is truncated or its header is wrong; "
                f"{_convert_hint(self.path)}"
            )

    @property
    def samples(self) -> int:
        """Samples :meth:`chunks` yields in all (at ``sample_rate``; resampling may add or drop one)."""
        return round(self.frames * self.sample_rate / self.file_rate)

    def chunks(self, rate: int | None = None) -> Iterator[np.ndarray]:
        """The recording as PCM16 mono int16 arrays of about one second each, at ``rate`` Hz
        (default ``sample_rate``). Each call reads the file again from the start.
        """
        rate = rate or self.sample_rate
        if self._decoded is not None:
            frame = self._decoded if self._decoded.sample_rate == rate else self._decoded.resampled(rate)
            x = frame.to_numpy()
            step = max(1, int(rate * _CHUNK_S))
            for i in range(0, len(x), step):
                yield x[i : i + step]
            return
        resampler = Resampler(self.file_rate, rate) if rate != self.file_rate else None
        per_read = max(1, int(self.file_rate * _CHUNK_S))
        with wave.open(str(self.path), "rb") as w:
            while True:
                raw = w.readframes(per_read)
                if not raw:
                    break
                mono = _downmix(to_int16(raw, self.width), self.channels)
                if resampler is None:
                    yield mono
                    continue
                out = resampler.process(AudioFrame(mono.astype("<i2").tobytes(), self.file_rate)).to_numpy()
                if out.size:
                    yield out
        if resampler is not None:
            tail = resampler.process(AudioFrame(b"", self.file_rate), last=True).to_numpy()
            if tail.size:
                yield tail

    def read_all(self) -> AudioFrame:
        """The whole recording as one frame at ``sample_rate`` (for short files)."""
        if self._decoded is not None and self._decoded.sample_rate == self.sample_rate:
            return self._decoded
        parts = list(self.chunks())
        pcm = np.concatenate(parts) if parts else np.zeros(0, "<i2")
        return AudioFrame(pcm.astype("<i2").tobytes(), self.sample_rate)


def _read_with_av(path: Path, sample_rate: int | None, cause: Exception) -> AudioFrame:
    """Decode any audio FFmpeg knows to PCM16 mono with PyAV (https://pyav.basswood-io.com)."""
    hint = f"{path}: not a PCM WAV file this runtime can read ({cause}); {_convert_hint(path)}"
    try:
        import av
    except ImportError:
        raise WavFormatError(hint) from cause
    if path.stat().st_size > MAX_DECODED_BYTES:
        raise WavFormatError(
            f"{path}: too large to decode whole ({_human(path.stat().st_size)}); {_convert_hint(path)}"
        )
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = sample_rate or stream.codec_context.sample_rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            chunks = []
            for decoded in container.decode(stream):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(decoded)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise WavFormatError(hint) from exc
    pcm = np.concatenate(chunks).astype("<i2") if chunks else np.zeros(0, "<i2")
    return AudioFrame(pcm.tobytes(), rate)
