"""The system messages a structured round ends its prompt with: after a move into another state,
and when it asks the model again because nothing of its answer could be spoken.

Each is the last message of a request whose earlier messages are the round before's, so
llama.cpp reuses the prompt it has just evaluated and only these words are new
(:mod:`voiceagent.providers.structured.rounds`).
"""

from __future__ import annotations

__all__ = ["ASK_HINT", "FLOW_HINT", "NUMBER_HINT", "REPEAT_HINT"]

FLOW_HINT = "Reply to the caller's last request now, following: {instructions}"
"""The last system message after a ``goto`` or ``verify`` result ({instructions}: the state's)."""

NUMBER_HINT = "Never guess numbers: only say numbers the caller or a tool gave. Ask the caller or use a tool."
"""The last system message when a reply's numbers came from nowhere and it is asked for again."""

REPEAT_HINT = "Do not greet or repeat yourself. Answer the caller's last words."
"""The last system message when a reply only repeated earlier ones and is asked for again."""

ASK_HINT = "Do not repeat the caller's words. Ask the caller for their {facts}."
"""The last system message when a ``verify`` decision held only facts nobody said (the model filled
in "your full name"): it meant to ask for them, so the words-only round is told to ({facts}: the
factor names it chose, in words)."""
