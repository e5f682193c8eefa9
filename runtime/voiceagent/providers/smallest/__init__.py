"""Smallest AI providers: Pulse streaming STT, Lightning TTS (WebSocket + HTTP), Electron LLM.

Wire protocols: Smallest's API reference (https://github.com/smallest-inc/smallest-ai-documentation,
``fern/apis/waves/``); each module cites its page. Configuration comes from keyword
arguments, else ``SMALLEST_API_KEY`` / ``SMALLEST_BASE_URL`` (default
``https://api.smallest.ai/waves/v1``). The Electron LLM lives in :mod:`.llm` (import it from there).
"""

from voiceagent.providers.smallest.models import check_voice, default_voice
from voiceagent.providers.smallest.stt import PulseStream, PulseSTT
from voiceagent.providers.smallest.tts import LightningTTS

__all__ = ["LightningTTS", "PulseSTT", "PulseStream", "check_voice", "default_voice"]
