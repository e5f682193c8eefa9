"""Per-turn latency and usage numbers, emitted as the ``turn.metrics`` event.

All times are milliseconds on the session clock (``EventLog.now_ms``). EOU is the moment the
session received the caller's final transcript (or text line).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voiceagent.providers.base import Usage


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 1)


@dataclass(slots=True)
class TurnMetrics:
    """Timestamps (ms, session clock) and counters of one turn.

    eou_ms: final transcript received. first_token_ms: first LLM event (text or tool call) of the
    turn. first_audio_ms: first agent audio frame handed to ``transport.play`` (text transports:
    first sentence shown), filler included. answer_audio_ms: the same for the first sentence of the
    LLM's own words (after the tools in a tool turn). llm_request_ms: first LLM request sent. tts_request_ms /
    tts_first_frame_ms: first sentence sent to TTS / its first frame. warmup_wait_ms: time the turn
    waited for the LLM warm-up (``engine.warmup``) before its utterance timeout started (included
    in the ``eou_to_*`` numbers). language: the caller's language in this turn (``session.language``).
    """

    turn: int
    eou_ms: float | None = None
    llm_request_ms: float | None = None
    first_token_ms: float | None = None
    first_audio_ms: float | None = None
    answer_audio_ms: float | None = None
    tts_request_ms: float | None = None
    tts_first_frame_ms: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    request_ids: list[str] = field(default_factory=list)
    llm_rounds: int = 0
    tool_calls: int = 0
    warmup_wait_ms: float = 0.0
    language: str | None = None

    def add_usage(self, usage: Usage) -> None:
        """Add a ``providers.base.Usage`` (tokens summed over the turn's LLM rounds)."""
        self.prompt_tokens += usage.prompt_tokens or 0
        self.completion_tokens += usage.completion_tokens or 0
        self.cached_tokens += usage.cached_tokens or 0
        if usage.request_id:
            self.request_ids.append(usage.request_id)

    def as_event(self, **extra: Any) -> dict[str, Any]:
        """Fields of the ``turn.metrics`` event."""
        return {
            "turn": self.turn,
            "eou_to_first_token_ms": _delta(self.eou_ms, self.first_token_ms),
            "eou_to_first_audio_ms": _delta(self.eou_ms, self.first_audio_ms),
            "eou_to_answer_audio_ms": _delta(self.eou_ms, self.answer_audio_ms),
            "llm_ttfb_ms": _delta(self.llm_request_ms, self.first_token_ms),
            "tts_ttfb_ms": _delta(self.tts_request_ms, self.tts_first_frame_ms),
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "request_id": self.request_ids[-1] if self.request_ids else None,
            "request_ids": list(self.request_ids),
            "llm_rounds": self.llm_rounds,
            "tool_calls": self.tool_calls,
            "warmup_wait_ms": self.warmup_wait_ms,
            "language": self.language,
            **extra,
        }
