"""Which STT, LLM and TTS serve an agent, and why — driven by the provider table.

The providers themselves are data: :data:`voiceagent.providers.table.PROVIDERS` has one row per
(slot, provider name) with its API-key variable, whether ``auto`` may choose it, the languages
it serves and the ``plan``/``build`` functions of its setup module. This module only applies
the generic rules (``stt/llm/tts.provider`` in ``docs/agent-reference.md``):

- ``auto``: the first ``auto`` row of the slot whose key variable is set (Smallest AI with
  ``SMALLEST_API_KEY``), else the first that needs no key (the embedded local stack);
- a named provider whose row requires a key fails with :class:`ProviderSetupError` naming the
  variable when it is missing;
- the row's planner then decides for the agent (a Hindi agent and an English-only recognizer:
  said plainly instead of silently falling back to English) and its builder builds it;
- ``speech_to_speech`` (audio calls only): a realtime model (Smallest Hydra) instead of llm + tts,
  plus the ``stt`` row for parallel transcripts with ``transcripts: stt``
  (:mod:`voiceagent.providers.s2s_choice`, docs/speech-to-speech.md); text calls run the llm.

Decisions are made first (:func:`plan_providers`, pure and cheap) and providers built second
(:func:`resolve_providers`), so the startup lines can be printed and tested without any model.
Provider modules are imported lazily: the local ones load heavy libraries.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

from voiceagent.config.models import Agent
from voiceagent.providers.base import LLM, STT, TTS, ProviderError
from voiceagent.providers.realtime import RealtimeS2S
from voiceagent.providers.table import AUTO, Slot, auto_candidates, spec_for

__all__ = ["Choice", "ProviderPlan", "ProviderSetupError", "ResolvedProviders", "plan_providers", "resolve_providers"]


class ProviderSetupError(Exception):
    """The agent's providers cannot be set up (a missing key, a language the stack cannot serve,
    a missing package). The message is one plain sentence for the user, never a secret.
    """


@dataclass(frozen=True)
class Choice:
    """One decision: ``provider`` (``smallest``, ``local``, ``openai``) for ``slot`` and why."""

    slot: Slot | Literal["s2s"]
    provider: str
    what: str
    """Human description: ``smallest pulse``, ``local (faster-whisper base)``..."""
    why: str

    @property
    def note(self) -> str:
        """The startup line, e.g. ``stt: local (faster-whisper base) — no SMALLEST_API_KEY``."""
        return f"{self.slot}: {self.what} — {self.why}"


@dataclass(frozen=True)
class ProviderPlan:
    """The decisions for one run; ``stt``/``tts`` are None when not used (``off_notes`` say why)."""

    stt: Choice | None
    llm: Choice | None
    tts: Choice | None
    off_notes: tuple[str, ...] = ()
    s2s: Choice | None = None
    """Speech-to-speech (``speech_to_speech``, audio calls only): replaces llm and tts."""

    @property
    def notes(self) -> list[str]:
        """One startup line per slot, in s2s, stt, llm, tts order (a slot that is off says why)."""
        chosen = {c.slot: c.note for c in (self.s2s, self.stt, self.llm, self.tts) if c is not None}
        off = {note.split(":", 1)[0]: note for note in self.off_notes}
        lines = [chosen.get(slot) or off.pop(slot, None) for slot in ("s2s", "stt", "llm", "tts")]
        return [line for line in lines if line] + list(off.values())


@dataclass
class ResolvedProviders:
    """Built providers for one call. ``stt`` is None in text mode; ``tts`` is None when no audio
    is produced; ``realtime`` is the speech-to-speech model of an audio call of an agent with
    ``speech_to_speech`` (then ``llm`` is an unused placeholder). ``notes``: one startup line per
    slot saying what was chosen and why.
    """

    stt: STT | None
    llm: LLM
    tts: TTS | None
    notes: list[str] = field(default_factory=list)
    realtime: RealtimeS2S | None = None

    async def aclose(self) -> None:
        """Close every provider that has ``aclose`` (errors are swallowed: this runs at exit)."""
        for p in (self.realtime, self.stt, self.llm, self.tts):
            close = getattr(p, "aclose", None)
            if close is None:
                continue
            with contextlib.suppress(Exception):  # shutting down: one failing close must not stop the others
                await close()


def primary_language(agent: Agent) -> str:
    """The agent's primary language subtag: ``en-IN`` -> ``en``."""
    return agent.language.lower().replace("_", "-").split("-", 1)[0]


def clean(value: str | None) -> str | None:
    """``${VAR:-}`` gives ``""``: treat empty strings as unset."""
    return value or None


def _function(path: str) -> Callable[..., Any]:
    """The function at ``module:function`` (a row's ``plan`` or ``build``)."""
    module, _, name = path.partition(":")
    return cast(Callable[..., Any], getattr(importlib.import_module(module), name))


def _choose(slot: Slot, configured: str, env: Mapping[str, str]) -> tuple[str, str]:
    """(provider name, why) for ``configured`` (``auto`` or a name) from the table.

    Raises:
        ProviderSetupError: a provider whose row requires a key, without that key.
    """
    candidates = auto_candidates(slot)
    if configured == AUTO:
        skipped: list[str] = []
        for row in candidates:
            if row.key_env is None:
                return row.name, "no " + " or ".join(skipped) if skipped else "needs no key"
            if env.get(row.key_env):
                return row.name, f"{row.key_env} is set"
            skipped.append(row.key_env)
        raise ProviderSetupError(f"{slot}.provider is auto but none of {', '.join(skipped)} is set")
    row = spec_for(slot, configured)
    if row.key_required and row.key_env and not env.get(row.key_env):
        fix = next((r.name for r in candidates if r.key_env is None), "another provider")
        raise ProviderSetupError(
            f"{slot}.provider is {configured} but {row.key_env} is not set: export {row.key_env}=... "
            f"or set {slot}.provider: {fix}"
        )
    return configured, f"{slot}.provider: {configured} in the agent"


def _plan(slot: Slot, agent: Agent, env: Mapping[str, str]) -> Choice:
    """The decision for one slot: the table's choice, then its row's planner."""
    configured = getattr(agent, slot).provider
    name, why = _choose(slot, configured, env)
    return cast(Choice, _function(spec_for(slot, name).plan)(agent, env, why))


def plan_providers(agent: Agent, *, env: Mapping[str, str], audio: bool, speech: bool = True) -> ProviderPlan:
    """Decide providers without building any.

    Args:
        agent: the loaded agent.
        env: environment variables (``SMALLEST_API_KEY``, ``OPENAI_API_KEY``, ...).
        audio: True for a voice call (STT and TTS required); False for text mode (no STT; TTS
            only when it can be set up, else None with a note, since speech is then optional).
        speech: text mode only: False skips TTS altogether (nothing will be synthesized).

    Raises:
        ProviderSetupError: a required key is missing or the chosen stack cannot serve the agent.
    """
    s2s = agent.speech_to_speech
    if audio and s2s is not None:
        from voiceagent.providers.s2s_choice import s2s_problem

        problem = s2s_problem(agent, env)
        if problem:
            raise ProviderSetupError(problem)
        choice = Choice(
            "s2s", "smallest", f"smallest {s2s.model} voice {s2s.voice or 'default'}", "speech_to_speech in the agent"
        )
        stt = _plan("stt", agent, env) if s2s.transcripts == "stt" else None
        notes: tuple[str, ...] = ("llm, tts: off — speech_to_speech answers (--text uses the llm block)",)
        if stt is None:
            notes += ("stt: off — speech_to_speech.transcripts: none (no caller transcripts)",)
        return ProviderPlan(stt=stt, llm=None, tts=None, off_notes=notes, s2s=choice)
    plan = _plan_cascaded(agent, env=env, audio=audio, speech=speech)
    if s2s is not None:  # text mode
        note = "s2s: off — text mode runs the llm block (speech_to_speech is for audio calls)"
        plan = replace(plan, off_notes=(*plan.off_notes, note))
    return plan


def _plan_cascaded(agent: Agent, *, env: Mapping[str, str], audio: bool, speech: bool) -> ProviderPlan:
    llm = _plan("llm", agent, env)
    if audio:
        return ProviderPlan(stt=_plan("stt", agent, env), llm=llm, tts=_plan("tts", agent, env))
    if not speech:
        return ProviderPlan(stt=None, llm=llm, tts=None, off_notes=("stt, tts: off — text mode",))
    try:
        tts: Choice | None = _plan("tts", agent, env)
        off: tuple[str, ...] = ("stt: off — text mode",)
    except ProviderSetupError as exc:
        tts, off = None, ("stt: off — text mode", f"tts: off — {exc}")
    return ProviderPlan(stt=None, llm=llm, tts=tts, off_notes=off)


def resolve_providers(agent: Agent, *, env: Mapping[str, str], audio: bool, speech: bool = True) -> ResolvedProviders:
    """Decide (see :func:`plan_providers`, same arguments) and build the providers for one call.

    Returns:
        :class:`ResolvedProviders` with ``notes``: one line per slot such as
        ``"stt: local (faster-whisper base + Silero VAD) — no SMALLEST_API_KEY"``.

    Raises:
        ProviderSetupError: missing key (named), unsupported language, or a provider that could
            not be built (e.g. a missing package; the message says which and how to fix it).
    """
    plan = plan_providers(agent, env=env, audio=audio, speech=speech)
    built: dict[str, Any] = {"stt": None, "llm": None, "tts": None, "s2s": None}
    notes = list(plan.notes)
    try:
        if plan.s2s is not None:
            from voiceagent.providers.s2s_choice import UnusedLLM, build_realtime

            built["llm"] = UnusedLLM()
            try:
                built["s2s"] = build_realtime(agent, env)
            except (ProviderError, ValueError) as exc:
                raise ProviderSetupError(f"s2s: could not start {plan.s2s.what}: {exc}") from exc
        slots: tuple[tuple[Slot, Choice | None], ...] = (("llm", plan.llm), ("stt", plan.stt), ("tts", plan.tts))
        for slot, choice in slots:
            if choice is None:
                continue
            try:
                built[slot] = _function(spec_for(slot, choice.provider).build)(choice, agent, env)
            except (ProviderError, ImportError, ValueError, OSError) as exc:
                if slot == "tts" and not audio:  # text mode: speech is optional
                    notes = [n for n in notes if not n.startswith("tts:")] + [f"tts: off — {exc}"]
                    continue
                raise ProviderSetupError(
                    f"{slot}: could not start {choice.what}: {exc}"
                    + (_local_fix(slot) if spec_for(slot, choice.provider).key_env is None else "")
                ) from exc
    except BaseException:
        import asyncio

        partial = ResolvedProviders(stt=built["stt"], llm=built["llm"], tts=built["tts"], realtime=built["s2s"])
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(partial.aclose())
        raise
    return ResolvedProviders(stt=built["stt"], llm=built["llm"], tts=built["tts"], notes=notes, realtime=built["s2s"])


def _local_fix(slot: Slot) -> str:
    """`` (run with --text, or set SMALLEST_API_KEY)``: the keys of the slot's cloud providers."""
    keys = [r.key_env for r in auto_candidates(slot) if r.key_env]
    return " (run with --text" + (f", or set {' or '.join(keys)})" if keys else ")")
