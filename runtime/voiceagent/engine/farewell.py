"""Last words: what the caller hears when the runtime itself has to end the call.

When the caller's side of the call fails for good (the STT stream died and could not be
replaced, the text input became unreadable), the call cannot go on: nobody can hear the caller.
It must not end in silence either. :func:`say_last_words` speaks a short apology in the agent's
language through the normal speaker (so TTS, transport and the event log see it as agent speech:
``agent.text`` with ``turn`` and ``reason``), bounded in time, then the session ends with a reason
naming the failure (``session.end`` ``reason: stt_error`` and ``error``: what failed).
"""

from __future__ import annotations

import asyncio

from voiceagent.engine.events import EventLog
from voiceagent.engine.history import History
from voiceagent.engine.metrics import TurnMetrics
from voiceagent.engine.speaker import Speaker
from voiceagent.engine.turn import Turn

__all__ = ["LAST_WORDS", "last_words_for", "say_last_words"]

LAST_WORDS = {
    "en": "I'm sorry, I can no longer hear you because of a technical problem. Please call again. Goodbye.",
    "hi": "माफ़ कीजिए, तकनीकी समस्या के कारण आपकी आवाज़ अब सुनाई नहीं दे रही है। कृपया दोबारा कॉल करें। धन्यवाद।",
}
"""The apology per base language (BCP-47 primary subtag); other languages get the English one."""


def last_words_for(language: str | None) -> str:
    """The apology for ``language`` (``en``, ``hi``, ``en-IN``...), English when unknown."""
    base = (language or "en").split("-")[0].split("_")[0].lower()
    return LAST_WORDS.get(base, LAST_WORDS["en"])


async def say_last_words(
    speaker: Speaker,
    events: EventLog,
    history: History,
    language: str | None,
    turn_index: int,
    *,
    reason: str,
    timeout_s: float = 15.0,
) -> None:
    """Speak the apology for ``language`` through ``speaker`` and log it (``agent.text`` with
    ``turn`` = ``turn_index`` and ``reason``; the assistant message in ``history``); waits at most
    ``timeout_s`` for TTS and playback. Never raises for provider failures (an ``error`` event).
    """
    turn = Turn(turn_index, None, TurnMetrics(turn=turn_index))
    speaker.listener = turn
    try:
        async with asyncio.timeout(timeout_s):
            await speaker.say(last_words_for(language), turn.new_group())
            await speaker.finish()
    except TimeoutError:
        events.emit("error", where="last_words", message=f"not played within {timeout_s:g} s")
    except Exception as exc:  # noqa: BLE001 - the call is ending anyway: log, never raise
        events.emit("error", where="last_words", message=f"{type(exc).__name__}: {exc}")
    heard = turn.spoken_text()  # the sentence, if it produced audio (or was shown, in text mode)
    if heard:
        history.add_assistant(heard)
    events.emit("agent.text", text=heard, interrupted=False, turn=turn_index, reason=reason)
