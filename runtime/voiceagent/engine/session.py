"""The session loop: one call from greeting to hang-up.

Usage (a session is assembled by :func:`voiceagent.engine.call.build_call`)::

    async with build_call(load_agent("agents/support.yaml", env=os.environ), providers, transport) as call:
        reason = await call.run()    # "caller_ended", "end_call", "transfer", "final_state", ...

Input: an audio transport's frames go to ``stt`` and its ``speech_started`` / ``final`` events
drive the turns; a text transport's lines are final transcripts. Each final transcript starts a
turn (``engine.turn``): the LLM streams, sentences go to TTS as they complete, tool rounds run
with a filler (``engine.dispatch``); where the conversation is and how it moves is the flow's
(``engine.flow``). Caller speech during a turn (barge-in) cancels it at once; the history keeps only
what the caller heard. The session does not close the transport or the providers: their owner does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

from voiceagent import templating
from voiceagent.engine.compiler import CompiledAgent
from voiceagent.engine.dispatch import Dispatcher
from voiceagent.engine.events import EventLog
from voiceagent.engine.farewell import say_last_words
from voiceagent.engine.flow import Ending, Flow
from voiceagent.engine.history import History
from voiceagent.engine.inputs import CallerInput, InputItem
from voiceagent.engine.language import CallerLanguage, speech_language
from voiceagent.engine.metrics import TurnMetrics
from voiceagent.engine.ports import Guard, ToolRunnerPort
from voiceagent.engine.prompt import Prompt
from voiceagent.engine.speaker import Speaker
from voiceagent.engine.state import SessionState, caller_facts, template_context
from voiceagent.engine.tools import ToolContext
from voiceagent.engine.turn import Turn, TurnRunner
from voiceagent.engine.warmup import WarmUp
from voiceagent.providers.base import LLM, STT, TTS
from voiceagent.transports.base import Transport

__all__ = ["Session"]


class Session:
    """Drives one call.

    Build it with :func:`voiceagent.engine.call.build_call`, which wires the redactor, event log,
    tool runner and guard; construct it directly only to inject stand-ins (tests).

    Args:
        compiled: the :class:`~voiceagent.engine.compiler.CompiledAgent`.
        llm: the call's LLM.
        transport: the call's transport (``kind`` "audio" needs ``stt``).
        events: the call's :class:`~voiceagent.engine.events.EventLog`.
        stt: the STT (audio transports only).
        tts: the TTS; None (or ``transport.plays_audio`` False) means text only.
        tools: runs the agent's tools (``await run(name, args, ctx) -> ToolResult``); without
            one, only builtins work and other tools answer the LLM with an error.
        guard: caller verification; without one ``requires_level`` is still enforced (level
            stays 0) and ``verify_caller`` answers with an error.
        variables: template variables that override the agent's defaults for this call.
        caller: overrides ``transport.caller`` (``phone``, ``id``, ``metadata``).
        max_tool_rounds: tool rounds per turn before the LLM must answer in words.
    """

    def __init__(
        self,
        compiled: CompiledAgent,
        *,
        llm: LLM,
        transport: Transport,
        events: EventLog,
        stt: STT | None = None,
        tts: TTS | None = None,
        tools: ToolRunnerPort | None = None,
        guard: Guard | None = None,
        variables: Mapping[str, object] | None = None,
        caller: Mapping[str, object] | None = None,
        max_tool_rounds: int = 4,
    ) -> None:
        self.compiled = compiled
        self.agent = compiled.agent
        self.llm = llm
        self.transport = transport
        self.events = events
        self.stt = stt
        self.tts = tts
        self.tools = tools
        self.guard = guard
        self.max_tool_rounds = max_tool_rounds
        self.variables: dict[str, Any] = {**self.agent.variables, **(variables or {})}
        self.caller = caller_facts(caller if caller is not None else transport.caller)
        self.flow = Flow(compiled, events, language=self.agent.language, context=self._guard_context)
        self.language = CallerLanguage(self.agent.languages or (), self.agent.language)
        """Follows the caller's language when the agent lists several (``engine.language``)."""
        self.history = History()
        self.prompt = Prompt(
            compiled, self.flow, self.history, variables=self.variables, caller=self.caller, started=datetime.now(UTC)
        )
        self.speaker = Speaker(
            transport,
            tts,
            clock_ms=events.now_ms,
            on_error=self._tts_error,
            language=self._speech_language if self.language.multilingual else None,
            fallback=self.agent.behaviour.fallback,
        )
        self.dispatcher = Dispatcher(
            compiled,
            self.flow,
            events,
            say=self._say_filler,
            tool_context=self.tool_context,
            tools=tools,
            guard=guard,
        )
        self.runner = TurnRunner(
            llm,
            self.flow,
            self.history,
            self.speaker,
            self.dispatcher,
            events,
            self.prompt.request,
            utterance_timeout_ms=self.agent.behaviour.utterance_timeout_ms,
            max_tool_rounds=max_tool_rounds,
        )
        self.end_reason: str | None = None
        self.end_error: str | None = None  # what failed, when a failure ended the call (session.end "error")
        self._input = CallerInput(
            transport,
            stt,
            language=self.agent.language,
            clock_ms=events.now_ms,
            on_error=self._input_error,
            one_at_a_time=not self.speaker.audio,
        )
        self._task: asyncio.Task[None] | None = None
        self._prefetch: asyncio.Task[Any] | None = None  # guard.prefetch: redacted values before the first transcript
        self._turn: Turn | None = None
        self._item: InputItem | None = None
        self.warm = WarmUp(llm, events, lambda: self.prompt.request("auto"))

    # ------------------------------------------------------------------ public helpers

    @property
    def state(self) -> SessionState:
        """The call's session state (written by the flow and, for ``turns``, by the session)."""
        return self.flow.state

    @property
    def ending(self) -> Ending | None:
        """How the call will end (a final state, ``end_call``, a transfer), or None while it goes on."""
        return self.flow.ending

    def tool_context(self) -> ToolContext:
        """The ``ctx`` handed to tools and the guard (live session state, variables, caller, now)."""
        return ToolContext(caller=self.caller, session=self.state.as_template(), variables=self.variables)

    def _speech_language(self, text: str) -> str:
        """The language a sentence is spoken in (its own script, else the caller's language)."""
        return speech_language(text, self.language.languages, self.state.language)

    def _guard_context(self) -> dict[str, Any]:
        return template_context(self.state, self.variables, self.caller)

    # ------------------------------------------------------------------ the call

    async def run(self) -> str:
        """Run the call to its end; returns the end reason. Never raises for provider or tool
        failures (they become ``error`` events and fallback phrases).

        Raises:
            ValueError: an audio transport without an STT.
            providers.base.ProviderError: the STT stream could not be opened (logged as ``error``
                and ``session.end`` first).
        """
        if self.transport.kind == "audio" and self.stt is None:
            raise ValueError("an audio transport needs an STT provider")
        if not self.events.events:
            self.events.restart_clock()
        self.events.emit(
            "session.start",
            agent=self.agent.name,
            language=self.agent.language,
            **({"languages": list(self.language.languages)} if self.language.multilingual else {}),
            transport=self.transport.kind,
            llm=self.llm.name,
            stt=self.stt.name if self.stt is not None else None,
            tts=self.tts.name if self.tts is not None and self.speaker.audio else None,
        )
        self.events.emit("state.enter", state=self.flow.name, previous=None, via="initial")
        try:
            try:
                await self._input.start()
            except Exception as exc:
                self.events.emit("error", where="stt", message=f"{type(exc).__name__}: {exc}")
                self.events.emit("session.end", reason="stt_error", turns=0, state=self.flow.name)
                raise
            if self.guard is not None:
                self._prefetch = asyncio.create_task(self.guard.prefetch(self.tool_context()), name="lookup-prefetch")
            self._start_greeting()
            await self._loop()
            if self._input.failure is not None and self.flow.ending is None:  # nobody can hear the caller
                words = (self.speaker, self.events, self.history, self.agent.language, self.state.turns + 1)
                await say_last_words(*words, reason=self.end_reason or "input_error")
        finally:
            await self._shutdown()
        ending, failed = self.flow.ending, {"error": self.end_error} if self.end_error else {}
        if ending is not None:
            transfer = ending.kind == "transfer"
            self.end_reason = "transfer" if transfer else str(ending.info.get("reason") or "end_call")
            self.events.emit("call.transfer" if transfer else "call.end", **ending.info)
        else:
            self.end_reason = self.end_reason or "caller_ended"
            self.events.emit("call.end", reason=self.end_reason, **failed)
        self.events.emit("session.end", reason=self.end_reason, turns=self.state.turns, state=self.flow.name, **failed)
        return self.end_reason

    async def _loop(self) -> None:
        getter: asyncio.Task[InputItem] | None = None
        barge_in = self.agent.behaviour.barge_in
        try:
            while True:
                if self.flow.ending is not None and self._task is None:
                    return
                if getter is None:
                    getter = asyncio.create_task(self._input.get())
                waiting: set[asyncio.Task[Any]] = {getter}
                if self._task is not None:
                    waiting.add(self._task)
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if self._task is not None and self._task in done:
                    self._reap()
                    continue
                item, getter = getter.result(), None
                if item.kind == "end":
                    if self._task is not None:
                        await asyncio.wait({self._task})
                        self._reap()
                    return
                if item.kind == "speech_started":
                    if barge_in and self._task is not None and not self._task.done():
                        await self._interrupt("speech_started")
                    continue
                if self._task is not None:
                    if barge_in:
                        await self._interrupt("new_input")
                    else:
                        await asyncio.wait({self._task})
                        self._reap()
                    if self.flow.ending is not None:
                        if item.done is not None:
                            item.done.set()
                        return
                if self._prefetch is not None:  # the record's values must be known before the transcript is logged
                    await asyncio.wait({self._prefetch})
                    self._prefetch = None
                self._start_turn(item)
        finally:
            if getter is not None:
                getter.cancel()

    # ------------------------------------------------------------------ turns

    def _start_greeting(self) -> None:
        ctx = self.prompt.context()
        try:
            text = self.compiled.greeting(ctx)
        except templating.TemplateError as exc:
            self.events.emit("error", where="greeting", message=str(exc))
            text = None
        if not text:
            self.warm.start()
            return
        turn = Turn(0, None, TurnMetrics(turn=0))
        self._begin(turn, None, self._greet(turn, text))

    async def _greet(self, turn: Turn, text: str) -> None:
        group = turn.new_group()
        await self.speaker.say(text, group)
        group.message = self.history.add_assistant(group.said()) if group.segments else None
        self.warm.start()  # while the greeting plays (engine.warmup)
        turn.finishing = True
        await self.speaker.finish()
        self._emit_turn_end(turn, interrupted=False)

    def _start_turn(self, item: InputItem) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.agent.behaviour.utterance_timeout_ms / 1000.0
        if self.language.multilingual:  # session.language follows the caller (templates, guards, prompt, voice)
            self.state.language = self.language.follow(item.text, item.language)
        metrics = TurnMetrics(turn=self.state.turns + 1, eou_ms=item.t_ms, language=self.state.language)
        turn = Turn(self.state.turns + 1, item.text, metrics, deadline)
        self.warm.start()  # the greeting was cut before it began: the first turn waits for it instead
        self._begin(turn, item, self._run_turn(turn))

    def _begin(self, turn: Turn, item: InputItem | None, coro: Coroutine[Any, Any, None]) -> None:
        self._turn, self._item = turn, item
        self.speaker.listener = turn
        self._task = asyncio.create_task(coro, name=f"turn-{turn.index}")

    async def _run_turn(self, turn: Turn) -> None:
        self.state.turns += 1
        self.history.add_user(turn.user_text or "")
        self.events.emit("user.transcript", text=turn.user_text, turn=turn.index, language=turn.metrics.language)
        # A cold LLM still warming up cannot answer sooner: wait, then start the utterance timeout.
        turn.metrics.warmup_wait_ms = waited = await self.warm.wait()
        if turn.deadline is not None:
            turn.deadline += waited / 1000.0
        await self._respond(turn)
        if self.flow.ending is None:
            if self.flow.apply_guards() and self.flow.is_final:
                await self._respond(turn)  # entered a final state: the agent says its last words there
            self.flow.end_if_final()
        turn.finishing = True
        await self.speaker.finish()
        self._emit_turn_end(turn, interrupted=False)

    async def _respond(self, turn: Turn) -> None:
        """One reply with the utterance timeout (EOU -> first reply audio) and the fallback phrase."""
        timeout_cm = asyncio.timeout_at(turn.deadline if not turn.first_audio.is_set() else None)
        try:
            async with timeout_cm:
                turn.timeout = timeout_cm
                try:
                    await self.runner.respond(turn)
                finally:
                    turn.timeout = None  # before the timeout context closes: fallbacks must not touch it
        except TimeoutError:
            if not timeout_cm.expired():
                raise
            turn.timed_out = True
            self.events.emit("turn.timeout", turn=turn.index, timeout_ms=self.agent.behaviour.utterance_timeout_ms)
            played = await self.speaker.stop()
            turn.commit(self.history, played)
            await self._say_fallback(turn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - LLM/provider failures: say the fallback, go on
            turn.failed = True
            self.events.emit("error", where="llm", message=f"{type(exc).__name__}: {exc}", turn=turn.index)
            turn.commit(self.history, float("inf"))
            await self._say_fallback(turn)

    async def _say_filler(self, text: str) -> object:
        """A tool round's filler: a fixed line, synthesised once per call (``Speaker.say(keep=True)``)."""
        return await self.speaker.say(text, keep=True)

    async def _say_fallback(self, turn: Turn) -> None:
        group = turn.new_group()
        await self.speaker.say(self.agent.behaviour.fallback, group)  # a fixed line: the speaker keeps it
        if group.segments:
            group.message = self.history.add_assistant(group.said())

    def _emit_turn_end(self, turn: Turn, *, interrupted: bool, played_ms: float = float("inf")) -> None:
        """``agent.text`` (+ ``turn.metrics`` for caller turns), once per turn."""
        if turn.ended:
            return
        turn.ended = True
        if not interrupted:  # a TTS fault may have replaced or cut a sentence: keep what was heard
            turn.commit(self.history, played_ms)
        text = turn.spoken_text(played_ms)
        if text or interrupted:
            self.events.emit("agent.text", text=text, interrupted=interrupted, turn=turn.index)
        if turn.user_text is not None:
            self.events.emit("turn.metrics", **turn.metrics.as_event(interrupted=interrupted, timed_out=turn.timed_out))

    def _reap(self) -> None:
        task, item = self._task, self._item
        self._task = self._turn = self._item = None
        if task is not None and not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            self.events.emit("error", where="turn", message=f"{type(exc).__name__}: {exc}")
        if item is not None and item.done is not None:
            item.done.set()

    async def _interrupt(self, cause: str) -> None:
        """Barge-in: cancel the turn (LLM stream, tools, TTS), clear queued audio, cut the history
        to what the caller heard, and emit ``agent.interrupted`` + ``agent.text(interrupted=True)``.

        A turn that ended on its own before the cancellation landed, or that was only waiting for
        playback the caller had already heard in full, is not interrupted: it keeps its one
        ``agent.text(interrupted=False)``.
        """
        task, turn = self._task, self._turn
        if task is None or turn is None:
            return
        if task.done():
            self._reap()
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        played = await self.speaker.stop()
        if turn.ended or (turn.finishing and turn.fully_heard(played)):
            self._emit_turn_end(turn, interrupted=False)
            self._reap()
            return
        turn.commit(self.history, played)
        self.events.emit("agent.interrupted", turn=turn.index, cause=cause, played_ms=round(played, 1))
        self._emit_turn_end(turn, interrupted=True, played_ms=played)
        self._reap()

    # ------------------------------------------------------------------ shutdown

    def _tts_error(self, exc: BaseException) -> None:
        self.events.emit("error", where="tts", message=f"{type(exc).__name__}: {exc}")

    def _input_error(self, where: str, exc: BaseException, fatal: bool) -> None:
        self.events.emit("error", where=where, message=f"{type(exc).__name__}: {exc}")
        if fatal:
            self.end_reason = f"{where}_error"
            self.end_error = f"{type(exc).__name__}: {exc}"

    async def _shutdown(self) -> None:
        if self._prefetch is not None and not self._prefetch.done():
            self._prefetch.cancel()
            await asyncio.gather(self._prefetch, return_exceptions=True)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        await self._input.aclose()
        await self.warm.aclose()
        await self.speaker.stop()
