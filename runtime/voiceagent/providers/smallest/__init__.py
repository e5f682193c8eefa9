"""Smallest AI providers: Pulse streaming STT, Lightning TTS (WebSocket + HTTP), Electron LLM,
Hydra speech-to-speech.

Wire protocols: Smallest's API reference (https://github.com/smallest-inc/smallest-ai-documentation,
``fern/apis/waves/``); each module cites its page. Configuration comes from keyword
arguments, else ``SMALLEST_API_KEY`` / ``SMALLEST_BASE_URL`` (default
``https://api.smallest.ai/waves/v1``). The Electron LLM lives in :mod:`.llm`, Hydra in :mod:`.hydra`.

The clients are imported lazily (PEP 562 ``__getattr__``), so importing the light
:mod:`.models` (voice rosters, used by ``voiceagent validate``) does not load numpy or websockets.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LightningTTS", "PulseSTT", "PulseStream", "check_voice", "default_voice"]

_WHERE = {
    "LightningTTS": "tts",
    "PulseSTT": "stt",
    "PulseStream": "stt",
    "check_voice": "models",
    "default_voice": "models",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
