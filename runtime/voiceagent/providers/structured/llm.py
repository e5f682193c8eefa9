"""``llm.structured: true`` for any OpenAI-compatible provider: structured turns over ``response_format``.

:class:`StructuredLLM` wraps an :class:`~voiceagent.providers.openai_compat.OpenAICompatLLM`
(OpenAI, Electron, any compatible server): every round with functions is one decision of
:mod:`voiceagent.providers.structured.rounds`, constrained with ``response_format: {"type":
"json_schema", ...}`` (https://platform.openai.com/docs/guides/structured-outputs); rounds
without functions go to the wrapped LLM unchanged. The embedded model does the same with a
llama.cpp grammar inside :class:`voiceagent.providers.local.llm.LocalLLM`.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

from voiceagent.providers.base import LLM, ChatRequest, LLMCapabilities, LLMEvent
from voiceagent.providers.openai_compat import OpenAICompatLLM
from voiceagent.providers.structured.rounds import StructuredRounds

__all__ = ["StructuredLLM", "structured_if"]


class StructuredLLM:
    """:class:`voiceagent.providers.base.LLM`: structured turns over ``inner``.

    Args:
        inner: the OpenAI-compatible LLM that sends the requests.
        guided: drop ``call`` decisions with identifiers the caller never said.
    """

    def __init__(self, inner: OpenAICompatLLM, *, guided: bool = True) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.capabilities: LLMCapabilities = inner.capabilities
        self.rounds = StructuredRounds(self._send, constraint="json_schema", guided=guided)

    async def _send(self, request: ChatRequest, extra: dict[str, Any]) -> AsyncIterator[LLMEvent]:
        client = copy.copy(self.inner)
        client.extra_body = {**self.inner.extra_body, **extra}
        client.text_tool_calls = False
        async for event in client.stream(request):
            yield event

    async def stream(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        """One round (see :meth:`OpenAICompatLLM.stream` for the event order)."""
        source = self.rounds.stream(request) if request.tools else self.inner.stream(request)
        async for event in source:
            yield event

    async def warm_up(self, request: ChatRequest | None = None) -> float:
        """The wrapped LLM's warm-up."""
        return await self.inner.warm_up(request)

    async def aclose(self) -> None:
        """Close the wrapped LLM."""
        await self.inner.aclose()


def structured_if(llm: OpenAICompatLLM, structured: bool | None) -> LLM:
    """``llm`` in structured turns when the agent says ``llm.structured: true``, else unchanged."""
    return StructuredLLM(llm) if structured else llm
