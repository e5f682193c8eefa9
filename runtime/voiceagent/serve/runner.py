"""One served call, from admission to the last line of its event log.

The call is assembled with :func:`voiceagent.engine.call.build_call` (providers resolved per call,
``audio=True``, the STT and TTS asked for the wire rate so nothing is resampled), its events go
to ``--events-dir/<agent>/<call-id>.jsonl`` and to the metrics (and, for a browser call, to the
page's live view). One structured JSON log line is written when the call starts and one when it
ends. When the server drains, a call still running after the drain timeout finishes its current
sentence, hears a goodbye and is hung up; its event log ends with ``session.end`` and
``server.goodbye``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceagent.engine.events import EventLog
from voiceagent.serve.calls import ActiveCall, CallRegistry
from voiceagent.serve.catalogue import AgentVersion, Catalogue
from voiceagent.serve.metrics import ServeMetrics

__all__ = ["GOODBYES", "ObservedEventLog", "ServeContext", "run_call"]

log = logging.getLogger("voiceagent.serve")

GOODBYES = {
    "en": "I'm sorry, we have to end this call now. Please call again. Goodbye.",
    "hi": "माफ़ कीजिए, हमें यह कॉल अभी समाप्त करनी होगी। कृपया फिर से कॉल करें। धन्यवाद।",
}
"""What a caller hears when the server shuts down under them (by the agent's language)."""
END_TIMEOUT_S = 10.0
"""How long a call may take to finish its sentence once the server ends it."""

Listener = Callable[[dict[str, Any]], None]
AfterCall = Callable[[str, Any], Awaitable[None]]


class ObservedEventLog(EventLog):
    """An :class:`EventLog` that also hands every (redacted) event to listeners (metrics, the
    browser's live view). A failing listener is logged and never affects the call.
    """

    def __init__(self, path: str | Path | None, listeners: list[Listener]) -> None:
        super().__init__(path)
        self.listeners = listeners

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        """Record the event (see :meth:`EventLog.emit`), then tell the listeners."""
        event = super().emit(type, **fields)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")
        return event


@dataclass
class ServeContext:
    """What every route and call of one server shares.

    Attributes:
        catalogue: the agents. registry: the calls in progress. metrics: Prometheus metrics.
        env: the environment (provider keys, ``${VAR}`` values, the redactor's secrets).
        events_dir: where event logs go (None: memory only).
        public_url: ``--public-url`` (None: from the request's headers).
        auth_token: required by ``/ws`` and ``/call`` when set.
    """

    catalogue: Catalogue
    registry: CallRegistry
    metrics: ServeMetrics
    env: Mapping[str, str]
    events_dir: Path | None = None
    public_url: str | None = None
    auth_token: str | None = None


def tune_rates(providers: Any, rate: int) -> None:
    """Ask the Smallest STT and TTS for the call's wire rate (Hz) when they support it, so caller
    audio reaches Pulse as it came and agent audio leaves Lightning at the rate the phone plays.
    """
    from voiceagent.providers.smallest.models import STT_SAMPLE_RATES, TTS_SAMPLE_RATES
    from voiceagent.providers.smallest.stt import PulseSTT
    from voiceagent.providers.smallest.tts import LightningTTS

    if isinstance(providers.stt, PulseSTT) and rate in STT_SAMPLE_RATES:
        providers.stt.sample_rate = rate
    if isinstance(providers.tts, LightningTTS) and rate in TTS_SAMPLE_RATES:
        providers.tts.sample_rate = rate


def _log_line(event: str, **fields: Any) -> None:
    log.info("%s", json.dumps({"event": event, **fields}, ensure_ascii=False, default=str))


async def _say_goodbye(tts: Any, transport: Any, events: EventLog, language: str) -> None:
    text = GOODBYES.get(language.split("-", maxsplit=1)[0].lower(), GOODBYES["en"])
    events.emit("server.goodbye", text=text, reason="shutdown")
    if tts is None or getattr(transport, "stopped", False):
        return
    try:
        async with asyncio.timeout(END_TIMEOUT_S):
            async for frame in tts.synthesize(text):
                await transport.play(frame)
            await transport.wait_played()
    except Exception as exc:  # noqa: BLE001 - the call ends either way
        events.emit("error", where="tts", message=f"{type(exc).__name__}: {exc}")


async def run_call(
    ctx: ServeContext,
    active: ActiveCall,
    version: AgentVersion,
    transport: Any,
    *,
    listeners: list[Listener] | None = None,
    after: AfterCall | None = None,
) -> str:
    """Run one admitted call to its end and release it. Never raises for the call's failures.

    Args:
        ctx: the server's shared state.
        active: the admission (released here, whatever happens).
        version: the agent version the call keeps to its end.
        transport: a started telephony or browser transport (``sample_rate``, ``caller``).
        listeners: more event listeners (the browser's live view).
        after: ``await after(reason, call)`` once the session ended, before the event log closes
            (the Twilio route transfers or hangs up through the REST API there).

    Returns:
        The outcome: the session's end reason (``caller_ended``, ``end_call``, ``transfer``...),
        ``shutdown`` when the server ended it, ``error`` when it could not start.
    """
    from voiceagent.engine.call import build_call
    from voiceagent.engine.redaction import Redactor
    from voiceagent.providers.registry import resolve_providers

    agent = version.loaded.agent
    name = agent.name
    scrub = Redactor(agent.guardrails.redact, env=ctx.env).scrub
    path = ctx.events_dir / name / f"{active.id}.jsonl" if ctx.events_dir is not None else None
    observers: list[Listener] = [lambda e: ctx.metrics.observe(name, e), *(listeners or [])]
    outcome = "error"
    providers: Any = None
    call: Any = None
    events: ObservedEventLog | None = None
    t0 = time.monotonic()
    ctx.metrics.calls_active.inc()
    _log_line("call.start", agent=name, version=version.version, call_id=active.id, transport=active.kind)
    try:
        events = ObservedEventLog(path, observers)
        providers = await asyncio.to_thread(resolve_providers, agent, env=ctx.env, audio=True)
        tune_rates(providers, transport.sample_rate)
        call = build_call(version.loaded, providers, transport, events=events, env=ctx.env, compiled=version.compiled)
        log_events = events
        transport.on_dtmf = lambda digit: log_events.emit("dtmf", digit=digit)
        outcome = await _run_until_end(call, active, transport, providers, events, agent.language)
        if after is not None:
            await after(outcome, call)
    except Exception as exc:  # noqa: BLE001 - one clear error event and log line, never a traceback
        message = str(scrub(f"{type(exc).__name__}: {exc}"))
        log.warning("call %s of %s failed: %s", active.id, name, message)
        if events is not None:
            events.emit("error", where="serve", message=message)
        outcome = "error"
    finally:
        if providers is not None:
            try:
                await providers.aclose()
            except Exception:
                log.exception("closing providers failed")
        if call is not None:
            await call.aclose()
        elif events is not None:
            events.close()
        ctx.metrics.calls_active.dec()
        ctx.metrics.call_ended(name, outcome)
        ctx.registry.release(active)
        turns = sum(1 for e in events.events if e["type"] == "turn.metrics") if events is not None else 0
        _log_line(
            "call.end",
            agent=name,
            call_id=active.id,
            transport=active.kind,
            outcome=outcome,
            turns=turns,
            duration_s=round(time.monotonic() - t0, 3),
            events=str(path) if path is not None else None,
        )
    return outcome


def _request_shutdown(session: Any) -> None:
    """Ask the session to end with reason ``shutdown`` once its current sentence is done: the
    flow's ``request_end`` (``session.flow``), or the session's own on older engines. Failing that
    the call still ends (its input ends), with the reason ``caller_ended``.
    """
    for owner in (getattr(session, "flow", None), session):
        request_end = getattr(owner, "request_end", None)
        if callable(request_end):
            try:
                request_end("end_call", {"reason": "shutdown"})
            except Exception:
                log.exception("could not ask the session to end")
            return


async def _run_until_end(
    call: Any, active: ActiveCall, transport: Any, providers: Any, events: EventLog, language: str
) -> str:
    """``call.run()``, unless the server ends the call first (``active.end_now``): then the
    agent finishes its sentence, the input ends, and the caller hears the goodbye.
    """
    runner = asyncio.create_task(call.run(), name=f"call-{active.id}")
    stopper = asyncio.create_task(active.end_now.wait())
    try:
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            return str(runner.result())
        _request_shutdown(call.session)
        transport.end_input()
        try:
            async with asyncio.timeout(END_TIMEOUT_S):
                await asyncio.shield(runner)
        except TimeoutError:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        await _say_goodbye(providers.tts, transport, events, language)
        return "shutdown"
    finally:
        stopper.cancel()
        if not runner.done():
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
