"""Running conversation tests: each scenario is one real call on an in-memory transport.

The call is assembled with :func:`voiceagent.engine.call.build_call` (real compiler, guard,
tools, redactor and event log). ``llm: agent`` uses the agent's own providers, resolved exactly
as ``voiceagent run`` resolves them (``providers.registry.resolve_providers``); ``llm: scripted``
uses :class:`~voiceagent.convtest.scripted.ScriptedLLM` and, for ``audio:`` / ``say:`` turns, the
agent's own STT. Turns are driven one at a time: the next utterance is sent only after the
session logged the previous turn's ``turn.metrics`` (and, when the call is ending, its end).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from voiceagent.config.load import LoadedAgent
from voiceagent.convtest.expect import check_turn
from voiceagent.convtest.judge import Judge, transcript_of
from voiceagent.convtest.load import LoadedTests
from voiceagent.convtest.models import LlmMode, Scenario, Turn
from voiceagent.convtest.plumbing import (
    InjectingSTT,
    WatchedEventLog,
    find_leaks,
    frames_of,
    spoken_audio,
    wav_audio,
)
from voiceagent.convtest.record import TurnRecord, turn_record
from voiceagent.convtest.scripted import ScriptedLLM
from voiceagent.convtest.voices import VoiceUnavailable, caller_audio

Status = Literal["passed", "failed", "skipped"]

SCRIPTED_TURN_TIMEOUT_S = 20.0
"""Longest wait for one scripted turn (tools included) before it counts as stuck."""
AGENT_TURN_TIMEOUT_S = 90.0
"""Longest wait for one turn with the agent's own LLM (a cold local model is slow)."""


@dataclass
class ScenarioResult:
    """The outcome of one scenario.

    Attributes:
        file: the test file as the user named it; ``name``: the scenario's name.
        status: ``passed``, ``failed`` or ``skipped``.
        failures: one plain sentence per failure (``turn N: expected ...; ...``).
        notes: why something was skipped (a judge without a judge LLM, a missing offline model).
        turns: what happened, turn by turn.
        duration_s: wall time of the scenario.
    """

    file: str
    name: str
    status: Status
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def id(self) -> str:
        """``FILE::NAME``."""
        return f"{self.file}::{self.name}"


class SkipScenario(Exception):
    """The scenario cannot run here (a missing model or key); the message says why."""


@dataclass
class RunOptions:
    """Options of one ``voiceagent test`` run: ``llm`` overrides every scenario's mode;
    ``judge`` judges ``judge:`` criteria (None: they are skipped); ``env`` is the environment
    (default ``os.environ``); ``caller_voice`` speaks ``user:`` turns (``--caller-voice``).
    """

    llm: LlmMode | None = None
    judge: Judge | None = None
    env: Mapping[str, str] | None = None
    caller_voice: str | None = None
    """Speak every ``user:`` turn in this voice through the agent's STT
    (:mod:`voiceagent.convtest.voices`); None: ``user:`` text is the final transcript."""


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the tools of one scenario, and restore them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _describe(turn: Turn) -> str:
    if turn.user is not None:
        return turn.user
    if turn.audio is not None:
        return f"(audio {turn.audio})"
    return f"(spoken: {turn.say})"


class ScenarioRunner:
    """Runs the scenarios of one loaded test file against its (loaded) agent."""

    def __init__(self, tests: LoadedTests, loaded: LoadedAgent, options: RunOptions) -> None:
        self.file = tests
        self.loaded = loaded
        self.options = options
        self._shared: dict[bool, Any] = {}

    def mode(self, scenario: Scenario) -> LlmMode:
        """The LLM mode of ``scenario``: the command's ``--llm``, else the scenario's, else the file's."""
        return self.options.llm or scenario.llm or self.file.tests.llm

    async def run(self, scenario: Scenario) -> ScenarioResult:
        """Run ``scenario`` to its end; never raises for what the agent does."""
        result = ScenarioResult(self.file.display, scenario.name, "passed")
        started = time.perf_counter()
        if scenario.skip:
            result.status, result.notes = "skipped", [f"skipped: {scenario.skip}"]
            return result
        with tempfile.TemporaryDirectory(prefix="voiceagent-test-") as tmp:
            env = {k: v.replace("{tmp}", tmp) for k, v in self.file.tests.env.items()}
            try:
                with _environment(env):
                    await self._run(scenario, result)
            except SkipScenario as exc:
                result.status, result.notes = "skipped", [*result.notes, f"skipped: {exc}"]
        if result.failures:
            result.status = "failed"
        elif result.status != "skipped" and result.notes:
            result.status = "skipped"  # e.g. a judge criterion could not be judged: never a pass
        result.duration_s = time.perf_counter() - started
        return result

    # ------------------------------------------------------------------ one call

    async def _providers(self, scenario: Scenario, audio: bool) -> tuple[Any, ScriptedLLM | None]:
        """The providers of one call: (stt, llm, tts holder, the scripted LLM or None).

        The agent's own providers are resolved once per kind of call (text / audio) and shared
        by the file's scenarios, as a server keeps them warm; :meth:`aclose` closes them.
        """
        from voiceagent.providers.registry import ProviderSetupError, ResolvedProviders, resolve_providers

        scripted = self.mode(scenario) == "scripted"
        if scripted and not audio:
            llm = ScriptedLLM()
            return ResolvedProviders(stt=None, llm=llm, tts=None), llm
        key = audio
        shared = self._shared.get(key)
        if shared is None:
            env = dict(self.options.env if self.options.env is not None else os.environ)
            try:
                shared = resolve_providers(self.loaded.agent, env=env, audio=audio, speech=audio)
            except ProviderSetupError as exc:
                raise SkipScenario(f"the agent's providers cannot be set up here: {exc}") from None
            if audio:
                await _check_local_stt(shared)
            prestart = getattr(shared.llm, "prestart", None)
            if prestart is not None and not scripted:  # as run does: a local model loads meanwhile
                prestart()
            self._shared[key] = shared
        stt = InjectingSTT(shared.stt) if audio and shared.stt is not None else None
        if scripted:  # the agent's own STT, the scripted LLM, no agent speech
            llm = ScriptedLLM()
            return ResolvedProviders(stt=stt, llm=llm, tts=None), llm
        return ResolvedProviders(stt=stt, llm=shared.llm, tts=shared.tts), None

    async def aclose(self) -> None:
        """Close the providers shared by this file's scenarios (idempotent)."""
        shared, self._shared = self._shared, {}
        for providers in shared.values():
            with contextlib.suppress(Exception):
                await providers.aclose()

    async def _run(self, scenario: Scenario, result: ScenarioResult) -> None:
        from voiceagent.demo_tickets import demo_ticket_service
        from voiceagent.engine.call import build_call
        from voiceagent.transports.memory import MemoryTransport

        tests = self.file.tests
        audio = self.options.caller_voice is not None or any(t.kind != "user" for t in scenario.turns)
        providers, scripted = await self._providers(scenario, audio)
        stt = providers.stt
        caller_model = scenario.caller or tests.caller
        caller = caller_model.model_dump() if caller_model is not None else None
        transport = MemoryTransport("audio" if audio else "text", caller=caller, plays_audio=providers.tts is not None)
        log = WatchedEventLog()
        env = dict(self.options.env if self.options.env is not None else os.environ)
        call = build_call(
            self.loaded,
            providers,
            transport,
            events=log,
            variables={**tests.variables, **scenario.variables},
            caller=caller,
            env=env,
        )
        timeout = SCRIPTED_TURN_TIMEOUT_S if scripted is not None else AGENT_TURN_TIMEOUT_S
        demo = contextlib.ExitStack()  # the demo ticket service, when the agent posts to it
        demo.enter_context(demo_ticket_service(self.loaded.agent, env))
        task = asyncio.create_task(call.run(), name="test-call")
        task.add_done_callback(lambda _: log.poke())
        try:
            if self.loaded.agent.greeting:
                await log.wait_until(
                    lambda: task.done() or any(e["type"] == "agent.text" and e.get("turn") == 0 for e in log.events),
                    timeout,
                )
            for number, turn in enumerate(scenario.turns, start=1):
                if task.done():
                    ended = next((e.get("reason") for e in reversed(log.events) if e["type"] == "session.end"), None)
                    result.failures.append(
                        f"turn {number}: the call had already ended ({ended or _task_error(task)}) "
                        "before the caller said "
                        f"{_describe(turn)!r}"
                    )
                    break
                rec, problem = await self._turn(number, turn, call, transport, stt, scripted, log, task, timeout)
                result.turns.append(rec)
                if problem is not None:  # not delivered, or no end of turn: nothing more to check
                    result.failures.append(f"turn {number}: {problem}")
                    break
                crashed = [e for e in rec.errors if e.startswith("turn:")]
                if crashed:
                    result.failures.append(f"turn {number}: the session failed: {crashed[0]}")
                if turn.expect is not None:
                    result.failures += check_turn(rec, turn.expect)
                    if turn.expect.judge is not None:
                        await self._judge(result, rec, turn.expect.judge)
            if not task.done():
                transport.hang_up()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.wait({task})
            if task.done() and not task.cancelled() and task.exception() is not None:
                result.failures.append(f"the call failed: {_task_error(task)}")
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await transport.aclose()
            await call.aclose()
            demo.close()
        for where in find_leaks(log.events, call.redactor.scrub):
            result.failures.append(
                f"redaction leak: a value listed in guardrails.redact appears unmasked in the event log at {where}"
            )

    async def _turn(
        self,
        number: int,
        turn: Turn,
        call: Any,
        transport: Any,
        stt: InjectingSTT | None,
        scripted: ScriptedLLM | None,
        log: WatchedEventLog,
        task: asyncio.Task[str],
        timeout: float,
    ) -> tuple[TurnRecord, str | None]:
        """Send one turn and wait for its end; (what happened, a problem that stops the scenario)."""
        mark = len(log.events)
        if scripted is not None:
            scripted.start_turn(turn.llm, number)
        problem = await self._send(turn, transport, stt)
        if problem is not None:
            return turn_record(number, _describe(turn), []), problem

        def since() -> list[dict[str, Any]]:
            return log.events[mark:]

        def turn_done() -> bool:
            if task.done():
                return True
            heard = [e["turn"] for e in since() if e["type"] == "user.transcript"]
            if not heard:
                return False
            return any(e["type"] == "turn.metrics" and e.get("turn") == max(heard) for e in since())

        finished = await log.wait_until(turn_done, timeout)
        if finished and call.session.flow.ending is not None:
            await log.wait_until(task.done, timeout)  # the call ends: wait for call.end / call.transfer
        rec = turn_record(number, _describe(turn), since())
        rec.state = call.session.state.state
        rec.verification_level = call.session.state.verification_level
        tts = call.session.tts
        speaker = call.session.speaker
        spoken_in = speaker.last_language or getattr(tts, "language", None)  # per sentence for `languages`
        rec.tts_language = spoken_in if tts is not None and speaker.audio else None
        if not finished:
            what = "the speech recognizer heard nothing" if not rec.heard else "the agent did not finish its reply"
            return rec, f"{what} within {timeout:.0f} s (the agent said {rec.reply!r})"
        return rec, None

    async def _send(self, turn: Turn, transport: Any, stt: InjectingSTT | None) -> str | None:
        """Deliver the turn's input; returns a problem sentence when it cannot be delivered."""
        voice = self.options.caller_voice
        if turn.user is not None and voice is None:
            if stt is not None:
                stt.inject(turn.user)
            else:
                transport.send_text(turn.user)
            return None
        eou_ms = self.loaded.agent.stt.eou_timeout_ms
        if turn.user is not None and voice is not None:
            try:
                audio = await caller_audio(turn.user, voice, self.loaded.agent.language)
            except (VoiceUnavailable, ImportError, OSError, ValueError) as exc:
                raise SkipScenario(f"--caller-voice {voice}: {exc}") from None
        elif turn.audio is not None:
            path = self.file.base_dir / turn.audio
            try:
                audio = wav_audio(path)
            except (OSError, ValueError) as exc:
                return f"cannot read {turn.audio}: {exc}"
        else:
            try:
                audio = await spoken_audio(turn.say or "", self.loaded.agent.language)
            except (ImportError, OSError, RuntimeError, ValueError) as exc:
                raise SkipScenario(
                    f"say: needs the offline voice (pip install 'voiceagent-runtime[local]', or espeak-ng): {exc}"
                ) from None
        try:
            async with asyncio.timeout(SCRIPTED_TURN_TIMEOUT_S + len(audio.pcm) / audio.sample_rate / 2):
                await transport.send_audio(frames_of(audio, tail_silence_ms=eou_ms + 600))
        except TimeoutError:
            return "the call stopped taking caller audio (the speech recognizer failed?)"
        return None

    async def _judge(self, result: ScenarioResult, rec: TurnRecord, criterion: str) -> None:
        judge = self.options.judge
        if judge is None:
            result.notes.append(
                f"turn {rec.number}: judge skipped (no judge LLM: use --judge-llm URL or set VOICEAGENT_JUDGE_LLM): "
                f"{criterion!r}"
            )
            return
        verdict = await judge.judge(criterion, transcript_of(result.turns))
        if verdict.passed is None:
            result.notes.append(f"turn {rec.number}: judge skipped ({verdict.reason}): {criterion!r}")
        elif not verdict.passed:
            result.failures.append(f"turn {rec.number}: the judge says {criterion!r} does not hold: {verdict.reason}")


async def _check_local_stt(providers: Any) -> None:
    """The embedded recognizer loads its model only when a call starts: check now that the
    [local] extra is there, so a missing one is a SKIPPED reason, not a failed call.

    Raises:
        SkipScenario: the local recognizer's packages or model files are missing.
    """
    if getattr(providers.stt, "name", None) != "local-whisper":
        return
    from voiceagent.providers.base import ProviderError
    from voiceagent.providers.local.whisper_models import whisper_model_dir

    try:
        await asyncio.to_thread(whisper_model_dir, getattr(providers.stt, "model", None))
    except ProviderError as exc:
        await providers.aclose()
        raise SkipScenario(
            "audio turns need a speech recognizer: set SMALLEST_API_KEY, or install the offline one "
            f"(pip install 'voiceagent-runtime[local]'): {exc}"
        ) from None


def _task_error(task: asyncio.Task[str]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return f"{type(exc).__name__}: {exc}" if exc is not None else str(task.result())


def agent_env(tests: LoadedTests, base: Mapping[str, str]) -> dict[str, str]:
    """The environment the agent file is loaded with: ``base`` plus the test file's ``env``
    (``{tmp}`` standing for the system's temporary folder at load time).
    """
    extra = {k: v.replace("{tmp}", tempfile.gettempdir()) for k, v in tests.tests.env.items()}
    return {**base, **extra}


def load_agent_for(tests: LoadedTests, env: Mapping[str, str]) -> LoadedAgent:
    """Load the test file's agent as ``run`` does (``${VAR}`` filled from ``env``).

    Raises:
        voiceagent.config.diagnostics.ConfigError: the agent is invalid with this environment.
    """
    from voiceagent.config.load import load_agent

    return load_agent(Path(tests.agent_path), env=agent_env(tests, env))
