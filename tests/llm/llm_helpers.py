"""Shared helpers for the LLM client tests."""

from __future__ import annotations

from voiceagent.providers.base import ChatRequest, TextDelta, ToolCallRequest, Usage

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
LOOKUP_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look something up",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


def chat(text: str = "hello", tools: list | None = None, **kw) -> ChatRequest:
    return ChatRequest(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}],
        tools=tools or [],
        **kw,
    )


async def collect(llm, request, **kw) -> tuple[list, list[ToolCallRequest], list[Usage]]:
    """(all events, tool calls, usages) of one stream."""
    events = [ev async for ev in llm.stream(request, **kw)]
    return (events, [e for e in events if isinstance(e, ToolCallRequest)], [e for e in events if isinstance(e, Usage)])


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))
