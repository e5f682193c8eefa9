"""Caller transcripts of a speech-to-speech call (``transcripts: stt``): the agent's STT hears the
same audio as the realtime model, which sends no transcripts of its own.

:class:`ParallelTranscripts` runs :class:`~voiceagent.engine.inputs.CallerInput` (the cascaded
loop's STT reader, with its stream replacement after failures) on a :class:`TeeTransport`: the
session reads the real transport's caller audio once and feeds every frame to both. Final
transcripts are delivered to the session; the STT's own turn events are not used (the model's
turn detection drives the call). A failing STT costs the transcripts, never the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from voiceagent.audio import AudioFrame
from voiceagent.engine.events import EventLog
from voiceagent.engine.inputs import CallerInput
from voiceagent.providers.base import STT
from voiceagent.transports.base import Transport

__all__ = ["ParallelTranscripts", "TeeTransport"]


class ParallelTranscripts:
    """The agent's STT on the call's caller audio.

    Args:
        transport: the call's transport (its caller audio is fed through :attr:`tee`).
        stt: the agent's STT.
        events: the call's event log (``error`` events; its clock).
        language: BCP-47 language of the STT stream.
        deliver: called with each final transcript's text.
    """

    def __init__(
        self, transport: Transport, stt: STT, events: EventLog, *, language: str, deliver: Callable[[str], None]
    ) -> None:
        self.tee = TeeTransport(transport)
        self.events = events
        self._deliver = deliver
        self._input = CallerInput(self.tee, stt, language=language, clock_ms=events.now_ms, on_error=self._error)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Open the STT stream; False (and an ``error`` event) when it cannot be opened."""
        try:
            await self._input.start()
        except Exception as exc:  # noqa: BLE001 - transcripts are optional: the call goes on without them
            self.events.emit("error", where="stt", message=f"{type(exc).__name__}: {exc}; no caller transcripts")
            return False
        self._task = asyncio.create_task(self._read(), name="s2s-stt")
        return True

    def _error(self, where: str, exc: BaseException, fatal: bool) -> None:
        self.events.emit("error", where=where, message=f"{type(exc).__name__}: {exc}", fatal=fatal)

    async def _read(self) -> None:
        while (item := await self._input.get()).kind != "end":
            if item.kind == "final":
                self._deliver(item.text)

    async def aclose(self) -> None:
        """Stop reading and close the STT stream. Idempotent."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._input.aclose()


class TeeTransport:
    """``transport`` with its caller audio replaced by the frames :meth:`feed` receives.

    The speech-to-speech loop reads the real transport's caller audio once and feeds every
    frame here too, so :class:`~voiceagent.engine.inputs.CallerInput` can run the agent's STT
    on the same audio. Everything else is the wrapped transport's.
    """

    kind: Literal["audio"] = "audio"

    def __init__(self, transport: Transport) -> None:
        self._inner = transport
        self._frames: asyncio.Queue[AudioFrame | None] = asyncio.Queue()

    def feed(self, frame: AudioFrame | None) -> None:
        """One caller frame; None: the caller hung up (the STT stream is finished)."""
        self._frames.put_nowait(frame)

    @property
    def caller(self) -> dict[str, Any]:
        """The wrapped transport's caller facts."""
        return self._inner.caller

    @property
    def plays_audio(self) -> bool:
        """Whether the wrapped transport plays audio."""
        return self._inner.plays_audio

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """The frames fed, until None."""
        while (frame := await self._frames.get()) is not None:
            yield frame

    def caller_text(self) -> AsyncIterator[str]:
        """Not available (an audio call).

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("a speech-to-speech call carries audio")

    async def play(self, frame: AudioFrame) -> None:
        """Delegated."""
        await self._inner.play(frame)

    async def clear(self) -> None:
        """Delegated."""
        await self._inner.clear()

    async def wait_played(self) -> None:
        """Delegated."""
        await self._inner.wait_played()

    def played_ms(self) -> float:
        """Delegated."""
        return self._inner.played_ms()

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Delegated (a terminal shows the caller's transcript)."""
        await self._inner.show(role, text)

    async def aclose(self) -> None:
        """Ends the fed audio; the wrapped transport belongs to its owner."""
        self.feed(None)
