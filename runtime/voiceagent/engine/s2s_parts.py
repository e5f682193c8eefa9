"""Pieces of the speech-to-speech session loop (:mod:`voiceagent.engine.s2s`) that are not the loop.

* :class:`S2STurn`: the bookkeeping of one agent turn (the responses the model gave to one caller
  utterance, or the greeting): latency timestamps (ms, session clock), audio received, text of
  the model's items, tool calls in flight.
* :func:`opening_instructions` / :func:`reconnect_summary`: what goes into the model's
  instructions (the greeting to open with; after a dropped socket, the conversation so far,
  since a realtime session cannot be resumed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "HANGUP_WAIT_MS",
    "MAX_RECONNECTS",
    "NARRATION_WAIT_MS",
    "PLAYED_SLACK_MS",
    "PLAYOUT_GRACE_MS",
    "SETTLE_MS",
    "SUMMARY_ENTRIES",
    "TICK_S",
    "Entry",
    "S2STurn",
    "opening_instructions",
    "reconnect_summary",
    "tool_entry",
]

NARRATION_WAIT_MS = 8000.0
"""Longest wait for the model to speak after a tool output before the turn is closed."""
SETTLE_MS = 600.0
"""After the caller hung up: how long the model must stay quiet before the call ends."""
HANGUP_WAIT_MS = 20000.0
"""After the caller hung up: longest wait for the model's last answer."""
TICK_S = 0.05
"""How often (s) the loop checks its timers (narration wait, playout, hang-up)."""
PLAYED_SLACK_MS = 30.0
"""A turn counts as played out when at most this much of its audio is still unplayed."""
PLAYOUT_GRACE_MS = 2000.0
"""A turn whose audio the transport never reports as played ends this long after it would have."""


MAX_RECONNECTS = 5
"""New sessions opened after drops in one call before the call ends (``s2s_error``)."""
SUMMARY_ENTRIES = 12
"""Most recent conversation entries kept in a reconnect summary."""
SUMMARY_ENTRY_CHARS = 240
"""Each entry of the summary is cut to this many characters."""


@dataclass(slots=True, eq=False)
class S2STurn:
    """One agent turn of a speech-to-speech call.

    Attributes:
        index: 0 for the greeting, else the caller turn (``session.turns`` after it began).
        eou_ms: when the model said the caller stopped speaking (None for the greeting).
        response_ms: first ``response.created`` of the turn; first_audio_ms: first agent audio
            frame handed to the transport; played_at_first_ms: ``transport.played_ms()`` then.
        audio_ms: agent audio received in this turn (ms); texts: text of the model's assistant
            items (speech-to-speech models usually send none); tool_calls: calls made;
            pending: calls still running; awaiting_since_ms: a tool output was sent and the
            narration has not started yet (since then).
        finished_ms / status: the model finished the turn's last response then, with that
            ``response.done`` status; the turn ends once its audio has been played.
        ended: ``agent.text`` (and ``turn.metrics``) were emitted.
    """

    index: int
    eou_ms: float | None = None
    response_ms: float | None = None
    first_audio_ms: float | None = None
    played_at_first_ms: float = 0.0
    audio_ms: float = 0.0
    texts: list[str] = field(default_factory=list)
    tool_calls: int = 0
    pending: int = 0
    awaiting_since_ms: float | None = None
    responses: int = 0
    finished_ms: float | None = None
    status: str | None = None
    ended: bool = False

    @property
    def is_caller_turn(self) -> bool:
        """Whether this turn answers the caller (the greeting is not)."""
        return self.eou_ms is not None

    def heard_ms(self, played_now_ms: float) -> float:
        """Agent audio of this turn the caller heard, given ``transport.played_ms()`` now."""
        if self.first_audio_ms is None:
            return 0.0
        return max(0.0, min(self.audio_ms, played_now_ms - self.played_at_first_ms))

    def metrics(self, **extra: Any) -> dict[str, Any]:
        """Fields of the ``turn.metrics`` event (same names as the cascaded loop's)."""

        def delta(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(b - a, 1)

        return {
            "turn": self.index,
            "mode": "speech_to_speech",
            "eou_to_first_token_ms": delta(self.eou_ms, self.response_ms),
            "eou_to_first_audio_ms": delta(self.eou_ms, self.first_audio_ms),
            "responses": self.responses,
            "tool_calls": self.tool_calls,
            "agent_audio_ms": round(self.audio_ms, 1),
            **extra,
        }


Entry = tuple[Literal["caller", "agent", "tool"], str]


def opening_instructions(system_prompt: str, greeting: str | None) -> str:
    """The instructions of the first session: the system prompt and, with a greeting, the order to
    open the call with it (the model speaks first, ``generate_initial_response``).
    """
    if not greeting:
        return system_prompt
    return f"{system_prompt}\n\nOpen the call by saying exactly this greeting, then wait for the caller: {greeting}"


def reconnect_summary(system_prompt: str, entries: list[Entry], *, state: str, level: int) -> str:
    """Instructions for a new session after a dropped one: the system prompt (of the current
    state), then a short summary of the conversation so far (the last :data:`SUMMARY_ENTRIES`
    entries, each cut to :data:`SUMMARY_ENTRY_CHARS` characters).
    """
    lines = []
    for who, text in entries[-SUMMARY_ENTRIES:]:
        clipped = text if len(text) <= SUMMARY_ENTRY_CHARS else text[: SUMMARY_ENTRY_CHARS - 3] + "..."
        lines.append(f"- {who}: {clipped}")
    said = "\n".join(lines) if lines else "- (nothing yet)"
    return (
        f"{system_prompt}\n\n"
        "The connection to the caller was lost for a moment and this is a new session of the same "
        "call: do not greet the caller again; continue the conversation where it stopped. "
        f"Conversation so far (oldest first):\n{said}\n"
        f"Current step of the conversation: {state}; caller verification level: {level}."
    )


def tool_entry(name: str, content: Any) -> Entry:
    """A summary entry for a tool result (what the model was told)."""
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, default=str)
    return ("tool", f"{name} returned {text}")
