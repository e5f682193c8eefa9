"""Planning and building the Smallest AI providers (Pulse STT, Electron LLM, Lightning TTS) for
an agent: the ``plan``/``build`` functions their rows in :mod:`voiceagent.providers.table` name.

Provider modules are imported inside the functions, so planning stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping

from voiceagent.config.models import Agent
from voiceagent.providers.base import LLM, STT, TTS
from voiceagent.providers.registry import Choice, ProviderSetupError, clean, primary_language

KEY = "SMALLEST_API_KEY"
BASE_URL = "SMALLEST_BASE_URL"
LIGHTNING_RATES = (8000, 16000, 24000, 44100)
"""Sample rates Lightning synthesizes (Hz); others are synthesized at 24 kHz and resampled."""


def plan_stt(agent: Agent, env: Mapping[str, str], why: str) -> Choice:
    """Smallest Pulse, when it has a streaming recognizer for the agent's language (and one code
    recognising every one of ``languages``: :func:`~voiceagent.providers.smallest.models.pulse_language_for`).

    Raises:
        ProviderSetupError: the language (or the combination) is not served.
    """
    from voiceagent.providers.smallest.models import STT_LANGUAGES

    lang = primary_language(agent)
    if lang not in STT_LANGUAGES and agent.language.lower() not in STT_LANGUAGES:
        raise ProviderSetupError(
            f"Smallest Pulse has no streaming recognizer for language {agent.language!r}; "
            f"run with --text to type instead"
        )
    if len(agent.spoken_languages()) > 1:  # callers who switch: the one code that hears them all
        from voiceagent.providers.smallest.models import pulse_language_for

        code = pulse_language_for(agent.spoken_languages())
        if code is None:
            raise ProviderSetupError(
                f"Smallest Pulse cannot recognise {', '.join(agent.spoken_languages())} on one stream; "
                f"run with --text to type instead"
            )
        return Choice("stt", "smallest", f"smallest {agent.stt.model or 'pulse'} language={code}", why)
    return Choice("stt", "smallest", f"smallest {agent.stt.model or 'pulse'}", why)


def build_stt(choice: Choice, agent: Agent, env: Mapping[str, str]) -> STT:
    """A :class:`~voiceagent.providers.smallest.stt.PulseSTT` for the agent."""
    from voiceagent.providers.smallest.stt import PulseSTT

    return PulseSTT(
        api_key=env[KEY],
        base_url=clean(agent.stt.base_url) or clean(env.get(BASE_URL)),
        model=agent.stt.model or "pulse",
        eou_timeout_ms=agent.stt.eou_timeout_ms,
        languages=agent.languages if agent.languages and len(agent.languages) > 1 else None,
        extra_params={"keywords": ",".join(agent.stt.keywords)} if agent.stt.keywords else None,
    )


def plan_llm(agent: Agent, env: Mapping[str, str], why: str) -> Choice:
    """Smallest Electron (any language)."""
    return Choice("llm", "smallest", f"smallest {agent.llm.model or 'electron'}", why)


def build_llm(choice: Choice, agent: Agent, env: Mapping[str, str]) -> LLM:
    """Electron through the OpenAI-compatible client (in structured turns with ``llm.structured: true``)."""
    from voiceagent.providers.smallest.llm import electron_llm
    from voiceagent.providers.structured.llm import structured_if

    llm = electron_llm(
        api_key=env[KEY],
        base_url=clean(agent.llm.base_url) or clean(env.get(BASE_URL)),
        model=agent.llm.model or "electron",
    )
    return structured_if(llm, agent.llm.structured)


def plan_tts(agent: Agent, env: Mapping[str, str], why: str) -> Choice:
    """Smallest Lightning with the agent's voice (or the model's default for its language).

    Raises:
        ProviderSetupError: the voice cannot speak the language, or one of ``languages`` (never a
            silent English voice).
    """
    from voiceagent.providers.smallest.models import DEFAULT_TTS_MODEL, check_voice, default_voice

    model = agent.tts.model or DEFAULT_TTS_MODEL
    voice = agent.voice.id if agent.voice else default_voice(model, primary_language(agent))
    problems = list(dict.fromkeys(p for code in agent.spoken_languages() for p in check_voice(model, voice, code)))
    if any("cannot speak" in p or "not supported" in p for p in problems):
        raise ProviderSetupError(f"tts: {'; '.join(problems)}")
    warn = "".join(f"; warning: {p}" for p in problems)
    return Choice("tts", "smallest", f"smallest {model} voice {voice}", why + warn)


def build_tts(choice: Choice, agent: Agent, env: Mapping[str, str]) -> TTS:
    """A :class:`~voiceagent.providers.smallest.tts.LightningTTS` for the agent."""
    from voiceagent.providers.smallest.models import DEFAULT_TTS_MODEL
    from voiceagent.providers.smallest.tts import LightningTTS

    rate = agent.tts.sample_rate
    if rate not in LIGHTNING_RATES:  # 22050 / 48000: synthesize at 24 kHz, transports resample
        rate = 24000
    return LightningTTS(
        api_key=env[KEY],
        base_url=clean(agent.tts.base_url) or clean(env.get(BASE_URL)),
        voice_id=agent.voice.id if agent.voice else None,
        model=agent.tts.model or DEFAULT_TTS_MODEL,
        language=primary_language(agent),
        sample_rate=rate,
        speed=agent.voice.speed if agent.voice else 1.0,
    )
