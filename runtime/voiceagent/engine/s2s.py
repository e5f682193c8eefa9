"""The speech-to-speech session loop: one call on a realtime model instead of STT -> LLM -> TTS.

The model (a :class:`~voiceagent.providers.realtime.RealtimeS2S`, e.g. Smallest Hydra) hears the
caller, detects turns, answers with audio and cancels its own answer on barge-in; the runtime keeps
the rest of the agent (user docs: docs/speech-to-speech.md). The parts, one concept each:
:mod:`.s2s_link` (the session, reconnects, continuous caller audio), :mod:`.s2s_tools` (tool calls
through the cascaded :class:`~voiceagent.engine.dispatch.Dispatcher`, ``session.update`` after a
transition), :mod:`.s2s_transcripts` (the agent's STT in parallel), :mod:`.s2s_turns` (turns, barge-in,
``agent.text`` / ``turn.metrics``), :mod:`.s2s_parts` (turn data, instructions, reconnect
summary). This module: instructions (the compiler's system prompt; the greeting to open with),
what each model event means (barge-in on ``speech_started`` or on a new response before the
previous one's audio was done), errors and reconnects (``s2s.reconnect``), and the call's end
(after the last words of a transfer / end_call; after the caller hung up, once the model is quiet).
Model and internal events go through one queue handled in order, so the handlers never race.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from voiceagent import templating
from voiceagent.engine.compiler import CompiledAgent
from voiceagent.engine.events import EventLog
from voiceagent.engine.flow import Flow
from voiceagent.engine.ports import Guard, ToolRunnerPort
from voiceagent.engine.s2s_link import RealtimeLink
from voiceagent.engine.s2s_parts import (
    HANGUP_WAIT_MS,
    MAX_RECONNECTS,
    SETTLE_MS,
    SUMMARY_ENTRIES,
    TICK_S,
    opening_instructions,
    reconnect_summary,
    tool_entry,
)
from voiceagent.engine.s2s_tools import S2STools, ToolDone
from voiceagent.engine.s2s_transcripts import ParallelTranscripts
from voiceagent.engine.s2s_turns import TurnKeeper
from voiceagent.engine.state import SessionState, caller_facts, template_context
from voiceagent.engine.tools import ToolContext
from voiceagent.providers import realtime as rt
from voiceagent.providers.base import STT, ProviderError
from voiceagent.transports.base import Transport

__all__ = ["SpeechToSpeechSession"]


@dataclass(frozen=True, slots=True)
class _Model:
    gen: int
    event: rt.RealtimeEvent


@dataclass(frozen=True, slots=True)
class _Transcript:
    text: str


class _Tick:
    pass


class SpeechToSpeechSession:
    """Drives one call on a realtime speech-to-speech model (see the module docstring).

    Build it with :func:`voiceagent.engine.call.build_call`.

    Args:
        compiled: the compiled agent (with a ``speech_to_speech`` block for the voice).
        realtime: opens the model's sessions.
        transport: an audio transport.
        events: the call's event log.
        stt: transcribes the caller in parallel (``transcripts: stt``); None: no transcripts.
        tools, guard, variables, caller: as for :class:`voiceagent.engine.session.Session`.
    """

    def __init__(
        self,
        compiled: CompiledAgent,
        *,
        realtime: rt.RealtimeS2S,
        transport: Transport,
        events: EventLog,
        stt: STT | None = None,
        tools: ToolRunnerPort | None = None,
        guard: Guard | None = None,
        variables: Mapping[str, object] | None = None,
        caller: Mapping[str, object] | None = None,
    ) -> None:
        self.compiled = compiled
        self.agent = compiled.agent
        self.realtime = realtime
        self.transport = transport
        self.events = events
        self.stt = stt
        self.variables: dict[str, Any] = {**self.agent.variables, **(variables or {})}
        self.caller = caller_facts(caller if caller is not None else transport.caller)
        self.flow = Flow(compiled, events, language=self.agent.language, context=self._context)
        self.end_reason: str | None = None
        self.end_error: str | None = None  # what failed, when a failure ended the call
        self.reconnects = 0
        self._started = datetime.now(UTC)
        self._inbox: asyncio.Queue[_Model | ToolDone | _Transcript | _Tick] = asyncio.Queue()
        self.link = RealtimeLink(realtime, events, lambda gen, ev: self._inbox.put_nowait(_Model(gen, ev)))
        self.tools = S2STools(
            compiled,
            self.flow,
            events,
            self.link,
            tool_context=self.tool_context,
            tools=tools,
            guard=guard,
            deliver=self._inbox.put_nowait,
        )
        self.turns = TurnKeeper(events, transport, self.flow, sync_tools=self.tools.sync_tools)
        self._tasks: list[asyncio.Task[Any]] = []
        self._last_activity_ms = 0.0
        self._stop: str | None = None
        self._transcripts: ParallelTranscripts | None = None

    @property
    def state(self) -> SessionState:
        """The call's session state (held by the flow)."""
        return self.flow.state

    def tool_context(self) -> ToolContext:
        """The ``ctx`` handed to tools and the guard."""
        return ToolContext(caller=self.caller, session=self.state.as_template(), variables=self.variables)

    def _context(self) -> dict[str, Any]:
        return template_context(self.state, self.variables, self.caller, self._started)

    def _system_prompt(self) -> str:
        return self.compiled.system_prompt(self.flow.name, self._context())

    # ------------------------------------------------------------------ the call

    async def run(self) -> str:
        """Run the call to its end; returns the end reason (as the cascaded session's).

        Raises:
            ValueError: a text transport (speech-to-speech needs audio).
            providers.base.ProviderError: no session could be opened (logged first).
        """
        if self.transport.kind != "audio":
            raise ValueError("speech-to-speech needs an audio transport (run --text uses the llm block)")
        if not self.events.events:
            self.events.restart_clock()
        cfg = self.agent.speech_to_speech
        self.events.emit(
            "session.start",
            agent=self.agent.name,
            language=self.agent.language,
            transport=self.transport.kind,
            mode="speech_to_speech",
            s2s=self.realtime.name,
            model=self.realtime.model,
            voice=cfg.voice if cfg else None,
            stt=self.stt.name if self.stt is not None else None,
            transcripts="stt" if self.stt is not None else "none",
        )
        self.events.emit("state.enter", state=self.flow.name, previous=None, via="initial")
        try:
            greeting = self._greeting()
            try:
                await self._open(opening_instructions(self._system_prompt(), greeting), greet=bool(greeting))
            except (ProviderError, templating.TemplateError) as exc:
                self.events.emit("error", where="s2s", message=str(exc))
                self.events.emit("session.end", reason="s2s_error", turns=0, state=self.flow.name)
                raise
            if greeting:
                self.turns.greet(greeting)
            await self._start_inputs()
            self.link.start_audio(self.transport, self._transcripts.tee if self._transcripts is not None else None)
            self._tasks.append(asyncio.create_task(self._ticker(), name="s2s-tick"))
            while self._stop is None:
                await self._handle(await self._inbox.get())
            self.end_reason = self._stop if self._stop != "done" else None
        finally:
            await self._shutdown()
        ending = self.flow.ending
        if ending is not None and self.end_reason is None:
            transfer = ending.kind == "transfer"
            self.end_reason = "transfer" if transfer else str(ending.info.get("reason") or "end_call")
            self.events.emit("call.transfer" if transfer else "call.end", **ending.info)
        else:
            self.end_reason = self.end_reason or "caller_ended"
            self.events.emit("call.end", reason=self.end_reason)
        self.events.emit("session.end", reason=self.end_reason, turns=self.state.turns, state=self.flow.name)
        return self.end_reason

    def _greeting(self) -> str | None:
        try:
            return self.compiled.greeting(self._context())
        except templating.TemplateError as exc:
            self.events.emit("error", where="greeting", message=str(exc))
            return None

    async def _open(self, instructions: str, *, greet: bool) -> None:
        cfg = self.agent.speech_to_speech
        tools = self.flow.current.llm_tools()
        voice = cfg.voice if cfg else None
        await self.link.open(rt.RealtimeConfig(instructions, voice, tools, generate_initial_response=greet))
        self.tools.tools_state = self.flow.name

    async def _start_inputs(self) -> None:
        if self.stt is None:
            return
        deliver = self._inbox.put_nowait
        stt = ParallelTranscripts(
            self.transport,
            self.stt,
            self.events,
            language=self.agent.language,
            deliver=lambda t: deliver(_Transcript(t)),
        )
        if await stt.start():
            self._transcripts = stt

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self._inbox.put_nowait(_Tick())

    # ------------------------------------------------------------------ handling

    async def _handle(self, item: _Model | ToolDone | _Transcript | _Tick) -> None:
        if isinstance(item, _Tick):
            await self._on_tick()
        elif isinstance(item, _Transcript):
            self.events.emit("user.transcript", text=item.text, turn=self.state.turns, source="stt")
            self.turns.entries.append(("caller", item.text))
            if self.flow.apply_guards():
                await self.tools.sync_tools()
        elif isinstance(item, ToolDone):
            await self._tool_done(item)
        elif item.gen == self.link.gen:
            self._last_activity_ms = self.events.now_ms()
            await self._on_model(item.event)

    async def _on_model(self, ev: rt.RealtimeEvent) -> None:
        now, turns = self.events.now_ms(), self.turns
        turn = turns.open_turn()
        if isinstance(ev, rt.SpeechStarted):
            if turn is not None and self.agent.behaviour.barge_in:
                await turns.interrupt(turn, "speech_started")
        elif isinstance(ev, rt.SpeechStopped):
            turns.eou_ms = now
        elif isinstance(ev, rt.ItemDone):
            if ev.role == "user" and ev.status == "incomplete":
                turns.eou_ms = None
                self.events.emit("s2s.noise", note="the model rejected the caller audio as noise (no turn)")
            elif ev.role == "assistant" and ev.text and turns.current is not None:
                turns.current.texts.append(ev.text)
        elif isinstance(ev, rt.ResponseStarted):
            if turns.live is not None and turns.live != ev.response_id:
                turns.stale.add(turns.live)  # a new answer before the previous one's audio was done
                if turn is not None:
                    await turns.interrupt(turn, "new_response")
                else:
                    await self.transport.clear()
            turns.live = ev.response_id
            turn = await turns.for_response()
            turn.responses += 1
            turn.awaiting_since_ms = None
            turn.response_ms = turn.response_ms if turn.response_ms is not None else now
        elif isinstance(ev, rt.ResponseAudio):
            if ev.response_id in turns.stale or turn is None:
                return
            if turn.first_audio_ms is None:
                turn.first_audio_ms, turn.played_at_first_ms = now, self.transport.played_ms()
            turn.audio_ms += ev.frame.duration_ms
            await self.transport.play(ev.frame)
        elif isinstance(ev, rt.ResponseAudioDone):
            if turns.live == ev.response_id:
                turns.live = None
        elif isinstance(ev, rt.ToolCall):
            self.tools.start(ev, turn if turn is not None else await turns.for_response())
        elif isinstance(ev, rt.ResponseDone):
            if turns.live == ev.response_id:
                turns.live = None
            if turn is not None and turn.pending == 0 and turn.awaiting_since_ms is None:
                if ev.status == "cancelled" and ev.reason == "interrupted":
                    await turns.interrupt(turn, "model_cancelled")
                else:  # ends once its audio has been played (a barge-in until then still cuts it)
                    turn.finished_ms, turn.status = now, ev.status
        elif isinstance(ev, rt.RealtimeError):
            self.events.emit("error", where="s2s", code=ev.code, message=ev.message)
            if ev.code == "tool_response_timeout" and turn is not None:
                turn.pending = 0
                await turns.end(turn, status="abandoned")  # the model gave up on the tool result
        elif isinstance(ev, rt.RealtimeClosed):
            await self._on_closed(ev)

    # ------------------------------------------------------------------ tools

    async def _tool_done(self, done: ToolDone) -> None:
        self.turns.entries.append(tool_entry(done.name, done.content))
        turn = done.turn
        if turn.pending > 0 and not turn.ended:
            turn.pending -= 1
            if turn.pending == 0:
                turn.awaiting_since_ms = self.events.now_ms()
        await self.tools.answer(done)

    async def _on_tick(self) -> None:
        now = self.events.now_ms()
        await self.turns.check_timers(now)
        busy = self.turns.busy
        if self.flow.ending is not None and not busy:
            await self.transport.wait_played()  # the last words are heard before the call ends
            self._stop = "done"
        elif self.link.caller_gone_ms is not None:
            quiet = now - max(self._last_activity_ms, self.link.caller_gone_ms) >= SETTLE_MS
            if (not busy and quiet) or now - self.link.caller_gone_ms > HANGUP_WAIT_MS:
                await self.transport.wait_played()
                self._stop = "done"

    async def _on_closed(self, ev: rt.RealtimeClosed) -> None:
        if ev.by_client or self._stop is not None:
            return
        if self.link.caller_gone_ms is not None and not self.turns.busy:
            self._stop = "done"  # the caller hung up and nothing was pending
            return
        turn = self.turns.open_turn()
        if turn is not None:
            await self.turns.interrupt(turn, "connection_lost")
        self.link.drop()
        if self.reconnects >= MAX_RECONNECTS:
            self.end_error = f"the connection dropped {MAX_RECONNECTS + 1} times"
            self.events.emit("error", where="s2s", message=f"{self.end_error}; ending")
            self._stop = "s2s_error"
            return
        self.reconnects += 1
        prompt = self._system_prompt()
        instructions = reconnect_summary(
            prompt, self.turns.entries, state=self.flow.name, level=self.flow.verification_level
        )
        self.events.emit(
            "s2s.reconnect",
            code=ev.code,
            reason=ev.reason,
            attempt=self.reconnects,
            summary_entries=min(len(self.turns.entries), SUMMARY_ENTRIES),
            note="a new session (no resume): its instructions summarise the conversation so far",
        )
        try:
            await self._open(instructions, greet=False)
        except ProviderError as exc:
            self.end_error = f"could not reconnect: {exc}"
            self.events.emit("error", where="s2s", message=self.end_error)
            self._stop = "s2s_error"

    # ------------------------------------------------------------------ shutdown

    async def _shutdown(self) -> None:
        await self.tools.aclose()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._transcripts is not None:
            await self._transcripts.aclose()
        await self.link.aclose()
