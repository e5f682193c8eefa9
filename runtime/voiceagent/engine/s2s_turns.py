"""The agent turns of a speech-to-speech call: which turn a response belongs to, barge-in, turn ends.

A *turn* (:class:`~voiceagent.engine.s2s_parts.S2STurn`) is everything the model says in answer
to one caller utterance (or the greeting): possibly several responses, with tool calls between
them. :class:`TurnKeeper` owns the current turn and the agent-audio bookkeeping:

* barge-in: :meth:`TurnKeeper.interrupt` clears the transport's queued audio at once, marks the
  response's remaining audio stale and logs ``agent.interrupted`` + ``agent.text(interrupted)``
  with ``heard_ms`` (what the caller heard);
* a turn ends once its last response is done *and its audio was played* (so a barge-in during
  playback still cuts it), or when the model gives up on it; then ``agent.text`` (the model's
  item text when it sent any, else ``text_source: audio_only`` with the audio's length),
  ``turn.metrics`` for caller turns, and the flow's ``when`` guards and final states;
* the conversation entries a reconnect summary is made of.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from voiceagent.engine.events import EventLog
from voiceagent.engine.flow import Flow
from voiceagent.engine.s2s_parts import (
    NARRATION_WAIT_MS,
    PLAYED_SLACK_MS,
    PLAYOUT_GRACE_MS,
    Entry,
    S2STurn,
)
from voiceagent.transports.base import Transport

__all__ = ["TurnKeeper"]


class TurnKeeper:
    """The turns of one call (see the module docstring).

    Args:
        events: the call's event log.
        transport: the call's transport (``clear``, ``played_ms``).
        flow: the call's flow (turn count, guards, final states).
        sync_tools: sends the current state's tools to the model after a guard moved the flow.
    """

    def __init__(
        self, events: EventLog, transport: Transport, flow: Flow, *, sync_tools: Callable[[], Awaitable[None]]
    ) -> None:
        self.events = events
        self.transport = transport
        self.flow = flow
        self.sync_tools = sync_tools
        self.current: S2STurn | None = None
        self.eou_ms: float | None = None
        """The model's end of the caller's utterance not yet answered (session clock, ms)."""
        self.live: str | None = None
        """The response whose audio is still arriving."""
        self.stale: set[str] = set()
        """Responses whose further audio is dropped (barge-in)."""
        self.entries: list[Entry] = []
        """What was said so far (for a reconnect summary)."""
        self.greeting_text: str | None = None

    @property
    def busy(self) -> bool:
        """Whether a turn is in progress (answering, running tools, or still playing)."""
        return self.current is not None and not self.current.ended

    def open_turn(self) -> S2STurn | None:
        """The turn in progress, or None."""
        return self.current if self.busy else None

    def greet(self, text: str) -> None:
        """The model was told to open the call with ``text``: turn 0."""
        self.current, self.greeting_text = S2STurn(0), text

    async def for_response(self) -> S2STurn:
        """The turn a new response (or tool call) belongs to: the open one, else a new caller turn
        (or an unprompted one when the model spoke without a caller utterance).
        """
        turn = self.open_turn()
        if turn is not None:
            if turn.finished_ms is None or self.eou_ms is None:
                return turn
            await self.end(turn, status=turn.status or "completed")  # still playing, but the caller spoke again
        if self.eou_ms is not None:
            self.flow.state.turns += 1
        self.current = S2STurn(self.flow.state.turns, eou_ms=self.eou_ms)
        self.eou_ms = None
        return self.current

    async def interrupt(self, turn: S2STurn, cause: str) -> None:
        """Barge-in: drop queued agent audio now; log what the caller heard."""
        await self.transport.clear()
        if self.live is not None:
            self.stale.add(self.live)
            self.live = None
        heard = turn.heard_ms(self.transport.played_ms())
        due = turn.first_audio_ms + turn.audio_ms + PLAYED_SLACK_MS if turn.first_audio_ms is not None else None
        if turn.finished_ms is not None and due is not None and self.events.now_ms() >= due:
            # all of it was due to be heard by now: a transport whose count lags (telephony marks)
            # must not turn a finished answer into an interrupted one
            await self.end(turn, status=turn.status or "completed")
            return
        if turn.first_audio_ms is None and turn.pending == 0 and not turn.texts:
            turn.ended = True  # nothing was said yet: not an interruption of speech
            if turn.is_caller_turn:
                self.events.emit("turn.metrics", **turn.metrics(interrupted=True))
            return
        self.events.emit("agent.interrupted", turn=turn.index, cause=cause, played_ms=round(heard, 1))
        await self.end(turn, status="interrupted", interrupted=True, heard_ms=heard)

    async def end(
        self, turn: S2STurn, *, status: str, interrupted: bool = False, heard_ms: float | None = None
    ) -> None:
        """End ``turn``: ``agent.text``, ``turn.metrics`` (caller turns), guards, final state."""
        if turn.ended:
            return
        turn.ended = True
        text = " ".join(turn.texts) or None
        source = "model" if text else "audio_only"
        if text is None and turn.index == 0 and self.greeting_text:
            text, source = self.greeting_text, "greeting_instruction"
        fields: dict[str, Any] = {"text_source": source, "audio_ms": round(turn.audio_ms, 1)}
        if heard_ms is not None:
            fields["heard_ms"] = round(heard_ms, 1)
        self.events.emit("agent.text", text=text, interrupted=interrupted, turn=turn.index, **fields)
        spoken = text or f"(answered in audio, {turn.audio_ms / 1000:.1f} s)"
        self.entries.append(("agent", spoken + (" (interrupted)" if interrupted else "")))
        if turn.is_caller_turn:
            self.events.emit("turn.metrics", **turn.metrics(interrupted=interrupted, status=status))
        if self.flow.ending is None and self.flow.apply_guards():
            await self.sync_tools()
        if self.flow.ending is None:
            self.flow.end_if_final()

    async def check_timers(self, now_ms: float) -> None:
        """End the open turn when its audio has been played, or when no narration came in time."""
        turn = self.open_turn()
        if turn is None:
            return
        if turn.awaiting_since_ms is not None and now_ms - turn.awaiting_since_ms > NARRATION_WAIT_MS:
            await self.end(turn, status="no_narration")
        elif turn.finished_ms is not None:
            played_out = turn.heard_ms(self.transport.played_ms()) >= turn.audio_ms - PLAYED_SLACK_MS
            if played_out or now_ms - turn.finished_ms > turn.audio_ms + PLAYOUT_GRACE_MS:
                await self.end(turn, status=turn.status or "completed")
