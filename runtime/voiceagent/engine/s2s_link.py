"""The speech-to-speech call's line to its realtime model: one session at a time, audio always flowing.

:class:`RealtimeLink` opens the model's session (retrying a refused connect such as
``server_full`` with backoff), tags every event with the session's *generation* so events of a
replaced session are recognisably stale, and streams the caller's audio continuously: every
transport frame goes to the model (and to a :class:`~voiceagent.engine.s2s_transcripts.TeeTransport`
for a parallel STT); after the caller hung up, silence keeps flowing, because a realtime model's
turn detection needs the end of the utterance and its idle timer (~30 s on Hydra) closes a
silent socket. Audio that arrives while no session is open (reconnecting) is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from voiceagent.audio import AudioFrame, silence
from voiceagent.engine.events import EventLog
from voiceagent.engine.s2s_transcripts import TeeTransport
from voiceagent.providers import realtime as rt
from voiceagent.providers.base import ProviderError
from voiceagent.transports.base import Transport

__all__ = ["CONNECT_BACKOFF_S", "RealtimeLink"]

CONNECT_BACKOFF_S = (0.25, 1.0, 2.0)
"""Waits (s) before the retries of a refused or failed connect (``server_full``: try again later)."""


class RealtimeLink:
    """Holds the call's current realtime session.

    Args:
        realtime: opens sessions.
        events: the call's event log (``error`` events for failed sends and retried connects).
        deliver: called with ``(generation, event)`` for every event of every session, in order.
    """

    def __init__(
        self,
        realtime: rt.RealtimeS2S,
        events: EventLog,
        deliver: Callable[[int, rt.RealtimeEvent], None],
    ) -> None:
        self.realtime = realtime
        self.events = events
        self.session: rt.RealtimeSession | None = None
        self.gen = 0
        """Generation of the current session (1 for the first; +1 per new session)."""
        self.caller_gone_ms: float | None = None
        """When the transport's caller audio ended (session clock), or None."""
        self._deliver = deliver
        self._tasks: list[asyncio.Task[Any]] = []

    async def open(self, config: rt.RealtimeConfig) -> None:
        """Open a session with ``config``, retrying retryable refusals after :data:`CONNECT_BACKOFF_S`.

        Raises:
            ProviderError: refused for good (not retryable, or still refused after the retries).
        """
        for attempt, wait_s in enumerate((*CONNECT_BACKOFF_S, None), start=1):
            try:
                session = await self.realtime.connect(config)
                break
            except ProviderError as exc:
                if not exc.retryable or wait_s is None:
                    raise
                self.events.emit(
                    "error", where="s2s", message=str(exc), retry_in_ms=round(wait_s * 1000), attempt=attempt
                )
                await asyncio.sleep(wait_s)
        self.gen += 1
        self.session = session
        self._tasks.append(asyncio.create_task(self._forward(session, self.gen), name=f"s2s-events-{self.gen}"))

    def drop(self) -> None:
        """Forget the current session (it closed); audio is dropped until :meth:`open` succeeds."""
        self.session = None

    async def _forward(self, session: rt.RealtimeSession, gen: int) -> None:
        async for event in session.events():
            self._deliver(gen, event)

    def start_audio(self, transport: Transport, tee: TeeTransport | None) -> None:
        """Start streaming ``transport``'s caller audio to the model (and to ``tee``)."""
        self._tasks.append(asyncio.create_task(self._pump(transport, tee), name="s2s-pump"))

    async def _pump(self, transport: Transport, tee: TeeTransport | None) -> None:
        quiet = silence(20, 16000)
        try:
            async for frame in transport.caller_audio():
                quiet = AudioFrame(bytes(len(frame.pcm)), frame.sample_rate)
                if tee is not None:
                    tee.feed(frame)
                await self.send_audio(frame)
        except Exception as exc:  # noqa: BLE001 - a broken transport is a hang-up, never a crash
            self.events.emit("error", where="transport", message=f"{type(exc).__name__}: {exc}")
        finally:
            if tee is not None:
                tee.feed(None)
            self.caller_gone_ms = self.events.now_ms()
        while True:  # continuous stream: the model's turn detection and idle timer need it
            await asyncio.sleep(quiet.duration_ms / 1000.0)
            await self.send_audio(quiet)

    async def send_audio(self, frame: AudioFrame) -> None:
        """One caller frame to the current session (dropped while there is none)."""
        session = self.session
        if session is None:
            return
        try:
            await session.send_audio(frame)
        except Exception as exc:  # noqa: BLE001 - the reader sees the closed socket and reconnects
            self.events.emit("error", where="s2s", message=f"sending audio failed: {type(exc).__name__}")

    async def aclose(self) -> None:
        """Stop streaming and forwarding; close the current session."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.aclose()
            self.session = None
