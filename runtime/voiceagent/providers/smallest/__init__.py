"""Smallest AI providers: Pulse streaming STT, Lightning TTS (WebSocket + HTTP), Electron LLM.

Wire protocols: /work/shared/spec/smallest-protocols.md. Configuration comes from keyword
arguments, else ``SMALLEST_API_KEY`` / ``SMALLEST_BASE_URL`` (default
``https://api.smallest.ai/waves/v1``). The Electron LLM lives in :mod:`.llm` (import it from there).
"""

from voiceagent.providers.smallest.models import check_voice, default_voice
from voiceagent.providers.smallest.stt import PulseStream, PulseSTT
from voiceagent.providers.smallest.tts import LightningTTS

__all__ = ["LightningTTS", "PulseSTT", "PulseStream", "check_voice", "default_voice"]
