"""What happened in one turn of a test call, read from the session's event log.

:func:`turn_record` turns the events of one turn (the log is already redacted) into a
:class:`TurnRecord`: what the STT heard, what the agent said, which tools it called with which
arguments and how they ended, the state and verification level after the turn, whether the call
ended or is being transferred, and EOU -> first reply time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCallRecord:
    """One function call of the turn (``tool.call``) and its ``tool.result``.

    ``ok`` is None while no result was logged; ``refused`` is True when the verification guard
    refused it (the tool did not run); ``error`` is the (redacted) error text.
    """

    name: str
    arguments: Any
    ok: bool | None = None
    refused: bool = False
    error: str | None = None
    result: Any = None

    @property
    def ran(self) -> bool:
        """Whether the tool actually ran (not refused, not an unknown or malformed call)."""
        if self.refused:
            return False
        return not (
            self.ok is False
            and isinstance(self.error, str)
            and self.error.startswith(("unknown function", "invalid arguments"))
        )


@dataclass
class TurnRecord:
    """One caller turn of a scenario, as the event log tells it.

    Attributes:
        number: the turn's place in the scenario (1 = first).
        said: what the caller side sent (text, or ``audio FILE`` / ``say TEXT``).
        heard: the final transcripts the session received (``user.transcript``).
        reply: everything the agent said in the turn (fillers included), joined.
        calls: the function calls, in order.
        state / verification_level: after the turn.
        ended: the end reason when the call ended after this turn (``end_call``,
            ``final_state``, ``transfer``, ...), else None.
        transfer: the ``call.transfer`` event's fields when the call is being transferred.
        first_reply_ms: EOU -> first agent audio (or text) in ms (``turn.metrics``), None without a reply.
        tts_language: the language the agent's speech was requested in (None without TTS).
        states_entered: states entered during the turn, in order.
        errors: ``error`` events of the turn (where: message).
        events: the turn's events.
    """

    number: int
    said: str
    heard: list[str] = field(default_factory=list)
    reply: str = ""
    calls: list[ToolCallRecord] = field(default_factory=list)
    state: str = ""
    verification_level: int = 0
    ended: str | None = None
    transfer: dict[str, Any] | None = None
    first_reply_ms: float | None = None
    tts_language: str | None = None
    states_entered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by ``voiceagent test --format json`` (events left out)."""
        return {
            "turn": self.number,
            "said": self.said,
            "heard": self.heard,
            "reply": self.reply,
            "tool_calls": [
                {"name": c.name, "arguments": c.arguments, "ok": c.ok, "refused": c.refused, "error": c.error}
                for c in self.calls
            ],
            "state": self.state,
            "verification_level": self.verification_level,
            "ended": self.ended,
            "transfer": self.transfer,
            "first_reply_ms": self.first_reply_ms,
        }


def turn_record(number: int, said: str, events: list[dict[str, Any]]) -> TurnRecord:
    """Read the events of one turn (in log order) into a :class:`TurnRecord` (state and level are
    filled in by the caller, from the session).
    """
    rec = TurnRecord(number=number, said=said, events=list(events))
    replies: list[str] = []
    open_calls: list[ToolCallRecord] = []
    for e in events:
        kind = e.get("type")
        if kind == "user.transcript":
            rec.heard.append(str(e.get("text") or ""))
        elif kind == "agent.text" and e.get("turn") != 0:
            if e.get("text"):
                replies.append(str(e["text"]))
        elif kind == "tool.call":
            new = ToolCallRecord(str(e.get("name")), e.get("arguments"))
            rec.calls.append(new)
            open_calls.append(new)
        elif kind == "tool.result":
            found = next((c for c in open_calls if c.name == e.get("name")), None)
            if found is None:  # a result without a call (e.g. the lockout action): record it too
                call = ToolCallRecord(str(e.get("name")), None)
                rec.calls.append(call)
            else:
                call = found
                open_calls.remove(call)
            call.ok = bool(e.get("ok"))
            call.refused = bool(e.get("refused"))
            call.error = e.get("error")
            call.result = e.get("result")
        elif kind == "state.enter":
            rec.states_entered.append(str(e.get("state")))
        elif kind == "turn.metrics" and rec.first_reply_ms is None:
            rec.first_reply_ms = e.get("eou_to_first_audio_ms")
        elif kind == "call.transfer":
            rec.transfer = {k: v for k, v in e.items() if k not in ("type", "t_ms")}
            rec.ended = "transfer"
        elif kind == "call.end":
            rec.ended = str(e.get("reason") or "end_call")
        elif kind == "error":
            rec.errors.append(f"{e.get('where')}: {e.get('message')}")
    rec.reply = " ".join(replies)
    return rec
