"""OpenAICompatLLM posts its body through the SDK's low-level ``post()`` (no per-request
TypedDict transform; docs/performance.md, Profile §1): the request on the wire must be the one
``chat.completions.create(**body)`` would have sent, and the transform must not run."""

from __future__ import annotations

import openai
import pytest
from llm_helpers import LOOKUP_TOOL, WEATHER_TOOL, chat, collect, text_of
from voiceagent.providers.base import ChatRequest
from voiceagent.providers.openai_compat import OpenAICompatLLM
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply, ToolCall, ToolCallReply

KEY = "sk-test-WIRE-456"

# Headers that legitimately differ between two requests (or name the SDK's call path).
_VOLATILE = {"x-stainless-retry-count", "x-stainless-read-timeout", "content-length", "x-stainless-raw-response"}


def _long_request() -> ChatRequest:
    """A conversation with tool messages, assistant tool calls and non-ASCII text."""
    messages = [{"role": "system", "content": "Be brief. Namaste \u0928\u092e\u0938\u094d\u0924\u0947."}]
    for i in range(6):
        messages.append({"role": "user", "content": f"question {i}"})
        messages.append(
            {
                "role": "assistant",
                "content": "One moment.",
                "tool_calls": [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": f'{{"q": "{i}"}}'},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": f"call_{i}", "content": '{"ok": true}'})
        messages.append({"role": "assistant", "content": f"answer {i}"})
    messages.append({"role": "user", "content": "and now?"})
    return ChatRequest(
        messages=messages, tools=[WEATHER_TOOL, LOOKUP_TOOL], tool_choice="auto", temperature=0.3, max_tokens=64
    )


@pytest.mark.parametrize("extra_body", [None, {"cache_prompt": True, "temperature": 0.0}])
@pytest.mark.parametrize("request_", [chat("hi"), _long_request()], ids=["short", "long"])
async def test_wire_request_is_what_create_would_send(request_, extra_body):
    async with FakeOpenAI(api_key=KEY) as srv:
        llm = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="gpt-test", extra_body=extra_body)
        sdk = openai.AsyncOpenAI(base_url=srv.base_url, api_key=KEY, max_retries=0)
        try:
            events, _, _ = await collect(llm, request_)
            assert text_of(events) == "ok."
            # the reference: the SDK's own create() with the same body, as the client did before
            raw = await sdk.chat.completions.with_raw_response.create(
                **llm._body(request_), timeout=llm.timeout_s, extra_body=extra_body or None
            )
            async for _ in raw.parse():
                pass
        finally:
            await llm.aclose()
            await sdk.close()
        ours, reference = srv.chat_requests
    assert ours.body == reference.body
    if extra_body:
        assert ours.body["cache_prompt"] is True and ours.body["temperature"] == 0.0
    assert ours.method == reference.method == "POST" and ours.path == reference.path
    assert ours.headers["authorization"] == f"Bearer {KEY}"
    assert {k: v for k, v in ours.headers.items() if k not in _VOLATILE} == {
        k: v for k, v in reference.headers.items() if k not in _VOLATILE
    }


async def test_the_sdk_request_transform_is_not_run(monkeypatch):
    """The per-request TypedDict walk (5-17 ms of CPU) is what the low-level post avoids."""
    from openai.resources.chat.completions import completions as sdk_completions

    def boom(*args, **kwargs):
        raise AssertionError("the SDK's request transform ran")

    monkeypatch.setattr(sdk_completions, "async_maybe_transform", boom)
    async with FakeOpenAI(api_key=KEY) as srv:
        srv.script(ToolCallReply([ToolCall("lookup", {"q": "x"}, id="call_z")], filler="Hm."))
        llm = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="gpt-test")
        try:
            events, calls, usages = await collect(llm, _long_request())
        finally:
            await llm.aclose()
    assert text_of(events) == "Hm." and [(c.id, c.name) for c in calls] == [("call_z", "lookup")]
    assert usages[0].request_id == srv.chat_requests[0].request_id


async def test_warm_up_sends_nothing_and_reports_seconds():
    async with FakeOpenAI(api_key=KEY) as srv:
        srv.script(TextReply("Hello."))
        llm = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="gpt-test")
        try:
            seconds = await llm.warm_up(chat("hi"))
            assert isinstance(seconds, float) and seconds >= 0
            assert await llm.warm_up() >= 0  # the request is optional
            assert srv.requests == []
            events, _, _ = await collect(llm, chat("hi"))
        finally:
            await llm.aclose()
    assert text_of(events) == "Hello." and len(srv.chat_requests) == 1
