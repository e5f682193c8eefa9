"""The agent's side of a WAV call: agent audio placed on the caller's timeline, written to the
output file as soon as it can no longer change.

Used by :class:`voiceagent.transports.wav.WavTransport`. Positions are absolute samples at the
output rate. Audio before the caller position has been "heard" (no barge-in can drop it any
more), so the timeline writes it to the file and keeps only what lies beyond: memory is bounded
however long the call is, and a long silent stretch before a reply goes straight to the file.
"""

from __future__ import annotations

import wave
from pathlib import Path

__all__ = ["AgentTimeline"]

_FLUSH_S = 10
"""Seconds of final audio collected before one write to the file."""


class AgentTimeline:
    """PCM16 mono agent audio on the caller's timeline, streamed to ``path``.

    Args:
        path: the output WAV file (written from the first flush on, finished by :meth:`finish`).
        rate: output rate (Hz); None until the transport knows it (the first agent frame's rate).

    Attributes:
        rate: the output rate (Hz) once known.
        spans: ``[start, end)`` absolute sample spans holding agent audio (silence elsewhere).
    """

    def __init__(self, path: Path, rate: int | None = None) -> None:
        self.path = path
        self.rate = rate
        self.spans: list[list[int]] = []
        self._buf = bytearray()  # samples [_base, end) not yet in the file
        self._base = 0
        self._writer: wave.Wave_write | None = None

    @property
    def end(self) -> int:
        """End of the agent timeline (absolute samples)."""
        return self._base + len(self._buf) // 2

    def place(self, pcm: bytes, position: int) -> None:
        """Put ``pcm`` (PCM16 at :attr:`rate`) at ``max(position, end)``; ``position`` is the
        caller position (absolute samples). What lies before it is written out.
        """
        end = self.end
        start = max(position, end)
        if start > end:  # the gap lies before the caller position: final, written at once
            self._flush(end, min_samples=0)
            self._silence(start - end)
        self._buf.extend(pcm)
        new_end = start + len(pcm) // 2
        if self.spans and self.spans[-1][1] == start:
            self.spans[-1][1] = new_end
        else:
            self.spans.append([start, new_end])
        self._flush(min(position, self.end))

    def clear(self, position: int) -> None:
        """Barge-in: drop agent audio placed beyond ``position`` (not yet heard)."""
        if not self.spans:
            return
        cut = max(min(position, self.end), self._base)
        self.spans = [[s, min(e, cut)] for s, e in self.spans if s < cut]
        keep = max(self.spans[-1][1], self._base) if self.spans else self._base
        del self._buf[2 * (keep - self._base) :]

    def played_samples(self, position: int) -> int:
        """Samples of agent audio lying before ``position``."""
        return sum(max(0, min(e, position) - s) for s, e in self.spans)

    def finish(self, length: int, rate: int) -> None:
        """Write the rest, pad with silence to ``length`` samples (the caller's timeline) and
        close the file (an empty, valid WAV at ``rate`` when nothing was said).
        """
        self.rate = self.rate or rate
        self._flush(self.end, min_samples=0)
        writer = self._open_writer()
        self._silence(length - self._base)
        writer.close()
        self._writer = None

    def _silence(self, samples: int) -> None:
        """Append silence: straight to the file (a second at a time) when nothing is buffered."""
        if self._buf or samples <= 0:
            self._buf.extend(b"\x00\x00" * max(samples, 0))
            return
        rate = self.rate or 16000
        writer = self._open_writer()
        second = b"\x00\x00" * rate
        for done in range(0, samples, rate):
            writer.writeframes(second[: 2 * min(rate, samples - done)])
        self._base += samples

    def _open_writer(self) -> wave.Wave_write:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = wave.open(str(self.path), "wb")  # noqa: SIM115 - open for the whole call
            self._writer.setnchannels(1)
            self._writer.setsampwidth(2)
            self._writer.setframerate(self.rate or 16000)
        return self._writer

    def _flush(self, upto: int, *, min_samples: int | None = None) -> None:
        """Write the buffered timeline before ``upto`` once at least ``min_samples`` (default
        10 s) are waiting, and forget it.
        """
        rate = self.rate or 16000
        count = upto - self._base
        if count <= 0 or count < (_FLUSH_S * rate if min_samples is None else min_samples):
            return
        self._open_writer().writeframes(bytes(self._buf[: 2 * count]))
        del self._buf[: 2 * count]
        self._base = upto
