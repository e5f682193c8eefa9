"""LocalLLM: message rendering, grammar forcing and tool parsing (against the fake server), plus
one real end-to-end run on the embedded model (``-m local_models``)."""

from __future__ import annotations

import json

import pytest
from llm_helpers import LOOKUP_TOOL, WEATHER_TOOL, chat, collect, text_of
from voiceagent.providers.base import LLM, ChatRequest, ProviderError
from voiceagent.providers.local.llm import LocalLLM, render_history, required_call_grammar
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply, ToolCall, ToolCallReply

needs_llama = pytest.mark.needs_local("llama_cpp")


def test_render_history_writes_tool_calls_in_the_template_format():
    msgs = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Pune"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 31}'},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [{"id": "c2", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
        },
    ]
    out = render_history(msgs)
    assert out[2] == {
        "role": "assistant",
        "content": '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Pune"}}\n</tool_call>',
    }
    assert out[3] == {**msgs[3], "content": "temp: 31"}  # a JSON object reads as key: value
    assert out[4]["content"].startswith("Checking.\n<tool_call>\n")
    assert "tool_calls" in msgs[2]  # input untouched


async def test_stream_against_an_existing_server_parses_text_tool_calls():
    async with FakeOpenAI() as srv:
        srv.script(TextReply('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Goa"}}\n</tool_call>'))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        assert isinstance(llm, LLM)
        events, calls, _ = await collect(llm, chat("weather in goa?", tools=[WEATHER_TOOL]))
        await llm.aclose()
        assert text_of(events) == ""
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Goa"})]
        body = srv.requests[-1].body
        assert body["tools"] == [WEATHER_TOOL] and body["tool_choice"] == "auto"
        assert "grammar" not in body


async def test_tool_choice_none_drops_calls_and_keeps_json_unspoken():
    async with FakeOpenAI() as srv:
        srv.script(TextReply('Sure. {"name": "lookup", "arguments": {}}'))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, calls, _ = await collect(llm, chat(tools=[LOOKUP_TOOL], tool_choice="none"))
        await llm.aclose()
        assert calls == [] and text_of(events).strip() == "Sure."


async def test_warm_up_sends_the_system_prompt_and_few_tokens():
    async with FakeOpenAI() as srv:
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        await llm.warm_up(system_prompt="You are Asha.", tools=[LOOKUP_TOOL])
        req = ChatRequest(messages=[{"role": "system", "content": "Bank."}, {"role": "user", "content": "hi"}])
        await llm.warm_up(req)
        await llm.aclose()
        first, second = srv.requests[0].body, srv.requests[1].body
        assert first["max_tokens"] == 4 and first["messages"][0] == {"role": "system", "content": "You are Asha."}
        assert first["tools"] == [LOOKUP_TOOL]
        assert second["messages"] == req.messages and second["max_tokens"] == 4


async def test_invalid_arguments_are_asked_again_under_the_tool_schema():
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply(
                'One sec. <tool_call>{"name": "get_weather", "arguments": {"city": {"type": "Pune"}}}</tool_call>'
            ),
            ToolCallReply([ToolCall("get_weather", {"city": "Pune"})]),
        )
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, calls, usages = await collect(llm, chat("weather in pune?", tools=[WEATHER_TOOL]))
        await llm.aclose()
        assert text_of(events).strip() == "One sec."
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Pune"})]
        assert len(usages) == 1 and type(events[-1]).__name__ == "Usage"
        retry = srv.requests[1].body
        assert retry["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
        assert retry["messages"] == srv.requests[0].body["messages"]


async def test_valid_arguments_are_not_asked_again():
    async with FakeOpenAI() as srv:
        srv.script(TextReply('<tool_call>{"name": "get_weather", "arguments": {"city": "Pune"}}</tool_call>'))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        _, calls, _ = await collect(llm, chat(tools=[WEATHER_TOOL]))
        await llm.aclose()
        assert len(srv.requests) == 1 and json.loads(calls[0].arguments) == {"city": "Pune"}


@needs_llama
async def test_required_tool_choice_sends_a_call_grammar():
    grammar = required_call_grammar([WEATHER_TOOL, LOOKUP_TOOL])
    assert grammar.startswith('root ::= "<tool_call>\\n" call "\\n</tool_call>"')
    assert '\\"get_weather\\"' in grammar and '\\"lookup\\"' in grammar
    async with FakeOpenAI() as srv:
        srv.script(TextReply('<tool_call>\n{"name": "lookup", "arguments": {"q": "x"}}\n</tool_call>'))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        _, calls, _ = await collect(llm, chat(tools=[WEATHER_TOOL, LOOKUP_TOOL], tool_choice="required"))
        await llm.aclose()
        body = srv.requests[-1].body
        assert body["grammar"] == grammar and body["tool_choice"] == "auto"
        assert [c.name for c in calls] == ["lookup"]


@needs_llama
async def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path):
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"this is not a gguf file")
    llm = LocalLLM(model_path=bogus, startup_timeout_s=60)
    with pytest.raises(ProviderError) as info:
        await collect(llm, chat())
    assert "local LLM server" in str(info.value) and "exited" in str(info.value)
    await llm.aclose()


@pytest.mark.local_models
@needs_llama
async def test_real_local_model_calls_a_tool():
    """The embedded Qwen2.5-0.5B answers a question that needs a tool with a ToolCallRequest."""
    balance = {
        "type": "function",
        "function": {
            "name": "get_balance",
            "description": "Get the caller's current account balance.",
            "parameters": {
                "type": "object",
                "properties": {"account": {"type": "string", "enum": ["checking", "savings"]}},
                "required": ["account"],
            },
        },
    }
    llm = LocalLLM()
    try:
        await llm.warm_up(
            system_prompt="You are a bank phone agent. Use the tools for account data; never guess numbers.",
            tools=[balance],
        )
        request = ChatRequest(
            messages=[
                {
                    "role": "system",
                    "content": "You are a bank phone agent. Use the tools for account data; never guess numbers.",
                },
                {"role": "user", "content": "What is the balance of my savings account?"},
            ],
            tools=[balance],
            temperature=0.0,
            max_tokens=60,
        )
        events, calls, usages = await collect(llm, request)
        assert calls, f"no tool call; the model said {text_of(events)!r}"
        assert calls[0].name == "get_balance"
        assert json.loads(calls[0].arguments).get("account") == "savings"
        assert "<tool_call>" not in text_of(events) and '"name"' not in text_of(events)
        assert len(usages) == 1
    finally:
        await llm.aclose()
    assert llm._proc is None
