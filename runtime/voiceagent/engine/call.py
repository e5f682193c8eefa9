"""The one way to assemble a call: loaded agent + providers + transport -> a ready :class:`Call`.

``voiceagent run``, ``voiceagent serve``, ``voiceagent test``, the benchmarks and the tests all
build their calls here, so the wiring (redactor -> event log -> tool runner -> verification
guard -> session) exists once::

    loaded = load_agent("agents/support.yaml", env=os.environ)
    providers = resolve_providers(loaded.agent, env=os.environ, audio=True)
    async with build_call(loaded, providers, transport, events_path="call.jsonl") as call:
        reason = await call.run()          # "caller_ended", "end_call", "transfer", ...

Ownership: the :class:`Call` owns what it built (the tool runner's HTTP clients, the event log
file). The transport and the providers belong to whoever passed them in (a server shares
nothing between calls, but it may keep providers warm), so :meth:`Call.aclose` closes neither.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from voiceagent.engine.compiler import CompiledAgent, compile_agent
from voiceagent.engine.events import EventLog
from voiceagent.engine.guardrails import VerificationGuard
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.session import Session
from voiceagent.engine.tools import ToolRunner
from voiceagent.providers.base import LLM, STT, TTS
from voiceagent.providers.realtime import RealtimeS2S

if TYPE_CHECKING:
    from voiceagent.config.load import LoadedAgent
    from voiceagent.transports.base import Transport

__all__ = ["Call", "CallProviders", "CallSession", "Providers", "RealtimeProviders", "build_call", "realtime_of"]


class CallProviders(Protocol):
    """The providers of one call, as :func:`voiceagent.providers.registry.resolve_providers`
    returns them: ``stt`` is None for a text transport, ``tts`` None when nothing is spoken.
    Providers that may also carry a speech-to-speech model are :class:`RealtimeProviders`.
    """

    @property
    def stt(self) -> STT | None: ...  # noqa: D102 - see the class docstring

    @property
    def llm(self) -> LLM: ...  # noqa: D102

    @property
    def tts(self) -> TTS | None: ...  # noqa: D102


@runtime_checkable
class RealtimeProviders(CallProviders, Protocol):
    """:class:`CallProviders` that also say whether the call runs on a realtime speech-to-speech
    model (``realtime``: set for an agent with ``speech_to_speech`` on an audio call, else None),
    as ``ResolvedProviders`` and :class:`Providers` do.
    """

    @property
    def realtime(self) -> RealtimeS2S | None: ...  # noqa: D102


def realtime_of(providers: CallProviders) -> RealtimeS2S | None:
    """The speech-to-speech model ``providers`` carry (a :class:`RealtimeProviders`), else None."""
    return providers.realtime if isinstance(providers, RealtimeProviders) else None


class CallSession(Protocol):
    """The session loop of a call: :class:`~voiceagent.engine.session.Session` (STT -> LLM ->
    TTS) or :class:`~voiceagent.engine.s2s.SpeechToSpeechSession` (one realtime model).
    """

    async def run(self) -> str:
        """Run the call to its end; returns the end reason."""
        ...

    @property
    def end_error(self) -> str | None:
        """What failed, when a failure (not the caller or the agent) ended the call; else None."""
        ...


@dataclass(frozen=True, slots=True)
class Providers:
    """A plain :class:`CallProviders`: the providers an embedder, a test or a benchmark built.

    Example: ``build_call(loaded, Providers(llm=FakeLLM()), FakeTransport("text", lines=["hi"]))``.
    """

    llm: LLM
    stt: STT | None = None
    tts: TTS | None = None
    realtime: RealtimeS2S | None = None


@dataclass
class Call:
    """One assembled call, ready to :meth:`run`.

    Attributes:
        session: the session loop of this call (cascaded or speech-to-speech).
        events: its event log (``events.events`` in memory; also written to ``events_path``).
        redactor: masks the agent's ``guardrails.redact`` values and the environment's secrets.
        tools: runs the agent's python / http / builtin tools.
        guard: the verification guard (levels, factors, lockout).
        compiled: the compiled agent the session runs.
        transport: the transport passed in (not owned).
    """

    session: CallSession
    events: EventLog
    redactor: Redactor
    tools: ToolRunner
    guard: VerificationGuard
    compiled: CompiledAgent
    transport: Transport

    async def run(self) -> str:
        """Run the call to its end; returns the end reason (see :meth:`Session.run`)."""
        return await self.session.run()

    async def aclose(self) -> None:
        """Close what the call owns: the tool runner's clients and the event log file. Idempotent."""
        try:
            await self.tools.aclose()
        finally:
            self.events.close()

    async def __aenter__(self) -> Call:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def build_call(
    loaded: LoadedAgent,
    providers: CallProviders,
    transport: Transport,
    *,
    events_path: str | Path | None = None,
    events: EventLog | None = None,
    variables: Mapping[str, Any] | None = None,
    caller: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    compiled: CompiledAgent | None = None,
    max_tool_rounds: int = 4,
) -> Call:
    """Assemble one call of ``loaded`` on ``providers`` through ``transport``.

    The session is speech-to-speech (:class:`~voiceagent.engine.s2s.SpeechToSpeechSession`) when
    ``providers`` carry a realtime model (:func:`realtime_of`) and the transport carries audio, else the cascaded
    :class:`~voiceagent.engine.session.Session` (``max_tool_rounds`` applies to it only).

    Args:
        loaded: the agent as :func:`voiceagent.config.load.load_agent` returned it.
        providers: ``stt`` / ``llm`` / ``tts`` (a ``ResolvedProviders`` or any object with them).
        transport: the call's transport (text, WAV, device, telephony, WebSocket, in-memory).
        events_path: where to write the JSONL event log; None keeps events in memory only.
        events: an event log to use instead of a new one (its redactor should be ``None``: the
            call's redactor is attached to it). Excludes ``events_path``.
        variables: template variables overriding the agent's defaults for this call.
        caller: caller facts (``phone``, ``id``, ``metadata``) overriding ``transport.caller``.
        env: the environment whose secret values the redactor masks (default ``os.environ``).
        compiled: an already compiled agent (a server compiles once per agent version).
        max_tool_rounds: tool rounds per turn before the LLM must answer in words.

    Returns:
        A :class:`Call`; use it as an async context manager (or call :meth:`Call.aclose`).

    Raises:
        ValueError: both ``events`` and ``events_path`` given.
        OSError: ``events_path`` cannot be created.
    """
    if events is not None and events_path is not None:
        raise ValueError("give events or events_path, not both")
    agent = loaded.agent
    redactor = Redactor(
        agent.guardrails.redact, env=os.environ if env is None else env, patterns=agent.guardrails.redact_patterns
    )
    if events is None:
        events = EventLog(events_path, redactor=redactor)
    else:
        events.redactor = redactor
    tools = ToolRunner(agent, base_dir=loaded.base_dir, redactor=redactor)
    try:
        compiled = compiled or compile_agent(loaded)
        guard = VerificationGuard(agent.guardrails.verification, tools, redactor)
        session: CallSession
        realtime = realtime_of(providers)
        if realtime is not None and transport.kind == "audio":
            from voiceagent.engine.s2s import SpeechToSpeechSession

            session = SpeechToSpeechSession(
                compiled,
                realtime=realtime,
                transport=transport,
                events=events,
                stt=providers.stt,
                tools=tools,
                guard=guard,
                variables=dict(variables or {}),
                caller=dict(caller) if caller is not None else None,
            )
        else:
            session = Session(
                compiled,
                llm=providers.llm,
                transport=transport,
                events=events,
                stt=providers.stt,
                tts=providers.tts,
                tools=tools,
                guard=guard,
                variables=dict(variables or {}),
                caller=dict(caller) if caller is not None else None,
                max_tool_rounds=max_tool_rounds,
            )
    except BaseException:
        events.close()
        raise
    return Call(
        session=session,
        events=events,
        redactor=redactor,
        tools=tools,
        guard=guard,
        compiled=compiled,
        transport=transport,
    )
