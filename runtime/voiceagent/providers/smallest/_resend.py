"""The audio a streaming STT must resend after a reconnect: everything since the last final.

Used by :class:`voiceagent.providers.smallest.stt.PulseStream`. Bounded (oldest audio dropped past
``cap_bytes``). A client ``finalize`` marks a boundary: when its final arrives only the audio sent
before the mark is forgotten, because audio pushed meanwhile belongs to the next utterance.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

FINALIZE = object()
"""Placeholder yielded by :meth:`ResendBuffer.replay` where a pending finalize must be re-sent."""


class ResendBuffer:
    """PCM chunks sent since the last final, in order, with a pending-finalize mark."""

    def __init__(self, cap_bytes: int) -> None:
        self.cap_bytes = cap_bytes
        self._chunks: deque[tuple[int, bytes]] = deque()  # (end offset in the stream, chunk)
        self._bytes = 0
        self._total = 0
        self._mark: int | None = None

    def __len__(self) -> int:
        """Bytes held."""
        return self._bytes

    @property
    def finalize_pending(self) -> bool:
        """Whether a finalize was sent and its final has not arrived."""
        return self._mark is not None

    def append(self, chunk: bytes) -> None:
        """Record a chunk that was (or is about to be) sent."""
        self._total += len(chunk)
        self._chunks.append((self._total, chunk))
        self._bytes += len(chunk)
        while self._bytes > self.cap_bytes and len(self._chunks) > 1:
            self._bytes -= len(self._chunks.popleft()[1])

    def mark_finalize(self) -> None:
        """A finalize is being sent after everything appended so far."""
        self._mark = self._total

    def final_received(self) -> None:
        """A final arrived: drop the audio it covers (up to the finalize mark, else all)."""
        mark, self._mark = self._mark, None
        while self._chunks and (mark is None or self._chunks[0][0] <= mark):
            self._bytes -= len(self._chunks.popleft()[1])

    def replay(self) -> Iterator[bytes | object]:
        """What to send on a fresh connection: the chunks, with :data:`FINALIZE` where a pending
        finalize belongs.
        """
        mark = self._mark
        for end, chunk in list(self._chunks):
            if mark is not None and end > mark:
                yield FINALIZE
                mark = None
            yield chunk
        if mark is not None:
            yield FINALIZE
