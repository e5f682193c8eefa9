"""An in-memory transport: a program (``voiceagent test``, a test) plays the caller.

The program pushes caller input with :meth:`MemoryTransport.send_text` (a text call: each line is
a final transcript) or :meth:`MemoryTransport.send_audio` (an audio call: PCM16 frames for the
STT) and ends the call with :meth:`MemoryTransport.hang_up`. Agent output is kept: ``shown``
holds every ``(role, text)`` shown, ``played_frames`` the audio played. Playback is instant
(audio counts as played when handed over), so a scripted call runs as fast as the machine allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

from voiceagent.audio import AudioFrame

_END = object()


class MemoryTransport:
    """One call whose caller is a program.

    Args:
        kind: ``"text"`` (caller lines, no STT) or ``"audio"`` (caller frames through the STT).
        caller: transport metadata for templates (``phone``, ``id``, ``metadata``).
        plays_audio: whether agent speech is synthesised (kept in ``played_frames``).

    Attributes:
        shown: every ``(role, text)`` the session showed, in order.
        played_frames: number of agent audio frames played; ``played_ms()`` their total length.
    """

    def __init__(
        self,
        kind: Literal["audio", "text"] = "text",
        *,
        caller: dict[str, Any] | None = None,
        plays_audio: bool = False,
    ) -> None:
        self.kind: Literal["audio", "text"] = kind
        self.caller: dict[str, Any] = dict(caller or {"phone": None, "id": None, "metadata": {}})
        self.plays_audio = plays_audio
        self.shown: list[tuple[str, str]] = []
        self.played_frames = 0
        self._played_ms = 0.0
        self._text: asyncio.Queue[object] = asyncio.Queue()
        self._audio: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False

    # ------------------------------------------------------------------ the caller's side

    def send_text(self, text: str) -> None:
        """Say ``text`` (a text call): the session receives it as a final transcript."""
        self._text.put_nowait(text)

    async def send_audio(self, frames: list[AudioFrame]) -> None:
        """Speak ``frames`` (an audio call); returns once the session has taken them all."""
        for frame in frames:
            self._audio.put_nowait(frame)
        await self._audio.join()

    def hang_up(self) -> None:
        """The caller hangs up: caller input ends (the session finishes its turn, then the call)."""
        self._text.put_nowait(_END)
        self._audio.put_nowait(_END)

    # ------------------------------------------------------------------ Transport

    async def caller_text(self) -> AsyncIterator[str]:
        """Caller lines as sent, until :meth:`hang_up` or :meth:`aclose`."""
        while True:
            item = await self._text.get()
            if item is _END:
                return
            yield str(item)

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """Caller frames as sent, until :meth:`hang_up` or :meth:`aclose`."""
        while True:
            item = await self._audio.get()
            self._audio.task_done()
            if item is _END or not isinstance(item, AudioFrame):
                return
            yield item
            await asyncio.sleep(0)  # let the STT pump and reader run between frames

    async def play(self, frame: AudioFrame) -> None:
        """Count agent audio as played at once."""
        if frame.pcm:
            self.played_frames += 1
            self._played_ms += frame.duration_ms

    async def clear(self) -> None:
        """Nothing queued to drop: audio is played when handed over."""

    async def wait_played(self) -> None:
        """Returns at once (played when handed over)."""

    def played_ms(self) -> float:
        """Milliseconds of agent audio played so far."""
        return self._played_ms

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Keep ``(role, text)`` in :attr:`shown`."""
        self.shown.append((role, text))

    async def aclose(self) -> None:
        """End caller input (idempotent)."""
        if not self._closed:
            self._closed = True
            self.hang_up()
