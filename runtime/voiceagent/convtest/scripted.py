"""The scripted LLM of ``llm: scripted`` scenarios: no model, the test file says what it answers.

Each turn of a test file lists the LLM's rounds (``say`` / ``tool_calls`` / ``transition``); every
call to :meth:`ScriptedLLM.stream` answers with the next round of the current turn, as a real
LLM's stream would: text first (``TextDelta``), then complete function calls
(``ToolCallRequest``). A ``transition`` is the call of the state's transition function
(``go_to_<state>``, see ``engine.compiler``), so the runtime decides whether the move is allowed.
When the turn's script has run out the stream is empty, and the runtime's own behaviour shows
(the fallback phrase, for example). Implements ``providers.base.LLM``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from voiceagent.convtest.models import Round
from voiceagent.engine.compiler import transition_function_name
from voiceagent.providers.base import (
    NO_CAPABILITIES,
    ChatRequest,
    LLMCapabilities,
    LLMEvent,
    TextDelta,
    ToolCallRequest,
    Usage,
)


@dataclass
class ScriptedLLM:
    """An :class:`~voiceagent.providers.base.LLM` that replays a turn's rounds.

    Attributes:
        requests: every request received, in order (what the runtime offered the LLM).
        rounds_used: rounds of the current turn answered so far.
    """

    name: str = "scripted"
    model: str = "scripted"
    capabilities: LLMCapabilities = NO_CAPABILITIES
    requests: list[ChatRequest] = field(default_factory=list)
    rounds_used: int = 0
    _rounds: list[Round] = field(default_factory=list)
    _turn: int = 0

    def start_turn(self, rounds: Sequence[Round] | None, turn: int) -> None:
        """Answer the next ``stream()`` calls with ``rounds`` (caller turn number ``turn``)."""
        self._rounds = list(rounds or [])
        self._turn = turn
        self.rounds_used = 0

    @property
    def rounds_left(self) -> int:
        """Rounds of the current turn not answered yet."""
        return len(self._rounds) - self.rounds_used

    async def stream(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        """The next round as LLM events; nothing when the turn's script has run out."""
        self.requests.append(request)
        if self.rounds_used >= len(self._rounds):
            return
        index = self.rounds_used
        rnd = self._rounds[index]
        self.rounds_used += 1
        if rnd.say:
            yield TextDelta(rnd.say)
        for n, call in enumerate(rnd.tool_calls or []):
            arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            yield ToolCallRequest(id=f"call_{self._turn}_{index}_{n}", name=call.name, arguments=arguments)
        if rnd.transition is not None:
            yield ToolCallRequest(
                id=f"call_{self._turn}_{index}_t", name=transition_function_name(rnd.transition), arguments="{}"
            )
        yield Usage()

    async def aclose(self) -> None:
        """Nothing to release."""
