"""Which realtime speech-to-speech provider serves an agent with a ``speech_to_speech`` block.

Used by :mod:`voiceagent.providers.registry` (the one place that knows provider names): on a
call with audio, ``speech_to_speech`` replaces STT -> LLM -> TTS with one realtime model
(Smallest Hydra, which needs ``SMALLEST_API_KEY``); with ``transcripts: stt`` the agent's
``stt:`` provider also runs, to transcribe the caller in parallel. Text calls (``--text``) run
the cascaded LLM of the agent's ``llm:`` block instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from voiceagent.providers.base import NO_CAPABILITIES, ChatRequest, LLMCapabilities, LLMEvent, ProviderError

if TYPE_CHECKING:
    from voiceagent.config.models import Agent
    from voiceagent.providers.realtime import RealtimeS2S

__all__ = ["UnusedLLM", "build_realtime", "s2s_problem"]

SMALLEST_KEY = "SMALLEST_API_KEY"


def s2s_problem(agent: Agent, env: Mapping[str, str]) -> str | None:
    """Why the agent's ``speech_to_speech`` block cannot run here (one sentence), or None."""
    cfg = agent.speech_to_speech
    if cfg is None:
        return None
    from voiceagent.providers.smallest.models import HYDRA_LANGUAGES, base_language, check_hydra_voice

    spoken = [agent.language, *(agent.languages or [])]
    other = next((lang for lang in spoken if base_language(lang) not in HYDRA_LANGUAGES), None)
    if other is not None:
        return (
            f"speech_to_speech: Hydra speaks English only, but this agent speaks {other!r}: "
            "remove the speech_to_speech block (the stt/llm/tts pipeline speaks it) or run with --text"
        )
    if not env.get(SMALLEST_KEY):
        return (
            f"speech_to_speech.provider is smallest but {SMALLEST_KEY} is not set: export {SMALLEST_KEY}=... "
            "(or run with --text to use the llm block)"
        )
    return check_hydra_voice(cfg.model, cfg.voice)


def build_realtime(agent: Agent, env: Mapping[str, str]) -> RealtimeS2S:
    """The realtime provider for ``agent.speech_to_speech`` (Smallest Hydra).

    Raises:
        ProviderError: no API key; ValueError: an unknown model.
    """
    from voiceagent.providers.smallest.hydra import HydraS2S

    cfg = agent.speech_to_speech
    assert cfg is not None
    return HydraS2S(api_key=env.get(SMALLEST_KEY), base_url=env.get("SMALLEST_BASE_URL") or None, model=cfg.model)


class UnusedLLM:
    """The ``llm`` slot of a speech-to-speech call: the realtime model answers, so no chat LLM
    runs (and none is loaded). Streaming from it is a :class:`ProviderError`.
    """

    name = "none"
    model = "none"

    @property
    def capabilities(self) -> LLMCapabilities:
        """None: nothing to warm up or prestart."""
        return NO_CAPABILITIES

    async def stream(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        """Always fails: speech-to-speech calls do not use a chat LLM.

        Raises:
            ProviderError: always.
        """
        raise ProviderError("speech_to_speech: the realtime model answers; no chat LLM is used in this call")
        yield  # pragma: no cover - makes this an async generator

    async def aclose(self) -> None:
        """Nothing to release."""
