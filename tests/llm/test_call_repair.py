"""A tool call whose arguments fail its schema is asked for once more, under that schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

from voiceagent.providers.base import ChatRequest, LLMEvent, ProviderError, TextDelta, ToolCallRequest
from voiceagent.providers.local.call_repair import repaired_call, valid_arguments

TOOL = {
    "type": "function",
    "function": {
        "name": "get_account_info",
        "parameters": {
            "type": "object",
            "properties": {"account_id": {"type": "string", "pattern": "^[0-9]{4,12}$"}},
            "required": ["account_id"],
        },
    },
}
REQUEST = ChatRequest(messages=[{"role": "user", "content": "account 12345"}], tools=[TOOL], max_tokens=16)


def _stream(*events: LLMEvent, fail: bool = False):
    seen: list[ChatRequest] = []

    async def stream(request: ChatRequest) -> AsyncIterator[LLMEvent]:
        seen.append(request)
        if fail:
            raise ProviderError("server gone")
        for event in events:
            yield event

    return stream, seen


def test_valid_arguments_follow_the_schema():
    schema = TOOL["function"]["parameters"]
    assert valid_arguments('{"account_id": "12345"}', schema)
    assert not valid_arguments('{"account": {"id": "12345"}}', schema)
    assert not valid_arguments("not json", schema)
    assert valid_arguments("{}", {"type": "nonsense-type"})  # an uncheckable schema is no reason to ask again


async def test_a_valid_call_is_kept_without_asking_again():
    call = ToolCallRequest(id="c1", name="get_account_info", arguments='{"account_id": "12345"}')
    stream, seen = _stream()
    assert await repaired_call(call, REQUEST, stream) is call
    assert seen == []


async def test_nested_arguments_are_asked_for_again_under_the_tools_schema():
    call = ToolCallRequest(id="c1", name="get_account_info", arguments='{"account": {"id": "12345"}}')
    stream, seen = _stream(
        TextDelta("ignored"),
        ToolCallRequest(id="x", name="other_tool", arguments='{"account_id": "12345"}'),
        ToolCallRequest(id="x", name="get_account_info", arguments='{"account_id": "12345"}'),
    )
    fixed = await repaired_call(call, REQUEST, stream)
    assert (fixed.id, fixed.name, fixed.arguments) == ("c1", "get_account_info", '{"account_id": "12345"}')
    (forced,) = seen
    assert forced.tool_choice == {"type": "function", "function": {"name": "get_account_info"}}
    assert forced.max_tokens == 64 and REQUEST.tool_choice == "auto"  # the caller's request is untouched


async def test_a_failed_or_still_invalid_second_answer_keeps_the_first_call():
    call = ToolCallRequest(id="c1", name="get_account_info", arguments='{"account": "x"}')
    still_bad, _ = _stream(ToolCallRequest(id="x", name="get_account_info", arguments='{"account_id": "12"}'))
    assert await repaired_call(call, REQUEST, still_bad) is call
    broken, _ = _stream(fail=True)
    assert await repaired_call(call, REQUEST, broken) is call
