"""OpenAICompatLLM against the fake server: the real openai client on the real wire format."""

from __future__ import annotations

import asyncio
import json

import pytest
from llm_helpers import LOOKUP_TOOL, WEATHER_TOOL, chat, collect, text_of
from voiceagent.providers.base import LLM, ProviderError, TextDelta, Usage
from voiceagent.providers.openai_compat import OpenAICompatLLM
from voiceagent.testing.fake_openai import (
    ErrorReply,
    FakeOpenAI,
    TextReply,
    ToolCall,
    ToolCallReply,
)

KEY = "sk-test-SECRET-123"


@pytest.fixture
async def srv():
    async with FakeOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture
async def llm(srv):
    client = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="gpt-test", max_retries=3, deadline_s=10)
    yield client
    await client.aclose()


async def test_is_an_llm(llm):
    assert isinstance(llm, LLM) and llm.name == "openai" and llm.model == "gpt-test"
    assert KEY not in repr(llm)


async def test_text_deltas_in_order_then_usage_with_request_id(srv, llm):
    srv.script(
        TextReply(
            chunks=["Hel", "lo, ", "how ", "can I ", "help?"],
            usage={"prompt_tokens": 42, "completion_tokens": 7, "cached_tokens": 30},
        )
    )
    events, calls, usages = await collect(llm, chat())
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo, ", "how ", "can I ", "help?"]
    assert calls == [] and isinstance(events[-1], Usage) and len(usages) == 1
    assert usages[0].prompt_tokens == 42 and usages[0].completion_tokens == 7
    assert usages[0].cached_tokens == 30
    assert usages[0].request_id == srv.requests[0].request_id


async def test_request_body_and_headers(srv, llm):
    await collect(llm, chat("hi there", temperature=0.5, max_tokens=77))
    await collect(llm, chat("with tools", tools=[WEATHER_TOOL], tool_choice="required"))
    first, second = srv.requests[0], srv.requests[1]
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.body["model"] == "gpt-test" and first.body["stream"] is True
    assert first.body["stream_options"] == {"include_usage": True}
    assert first.body["temperature"] == 0.5 and first.body["max_tokens"] == 77
    assert first.body["messages"][-1] == {"role": "user", "content": "hi there"}
    assert "tools" not in first.body and "tool_choice" not in first.body  # never tools: []
    assert second.body["tools"] == [WEATHER_TOOL] and second.body["tool_choice"] == "required"


async def test_filler_then_parallel_tool_calls_assembled_after_text(srv, llm):
    srv.script(
        ToolCallReply(
            [
                ToolCall("get_weather", {"city": "Mumbai"}, id="call_a"),
                ToolCall("lookup", {"q": "umbrella shops"}, id="call_b"),
            ],
            filler="Let me check that for you.",
            argument_pieces=4,
        )
    )
    events, calls, usages = await collect(llm, chat(tools=[WEATHER_TOOL, LOOKUP_TOOL]))
    assert text_of(events) == "Let me check that for you."
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolCallRequest") > max(i for i, k in enumerate(kinds) if k == "TextDelta")
    assert kinds[-1] == "Usage"
    assert [(c.id, c.name) for c in calls] == [("call_a", "get_weather"), ("call_b", "lookup")]
    assert json.loads(calls[0].arguments) == {"city": "Mumbai"}
    assert json.loads(calls[1].arguments) == {"q": "umbrella shops"}


async def test_tool_call_without_content_and_empty_arguments(srv, llm):
    srv.script(ToolCallReply([ToolCall("lookup", "")]))
    events, calls, _ = await collect(llm, chat(tools=[LOOKUP_TOOL]))
    assert text_of(events) == ""
    assert calls[0].name == "lookup" and calls[0].arguments == "{}" and calls[0].id


@pytest.mark.parametrize("status", [429, 502, 503])
async def test_retries_then_succeeds(srv, llm, status):
    srv.script(ErrorReply(status, retry_after=0), ErrorReply(status), TextReply("Finally."))
    events, _, usages = await collect(llm, chat())
    assert text_of(events) == "Finally."
    assert len(srv.chat_requests) == 3
    assert usages[0].request_id == srv.requests[-1].request_id


async def test_retry_after_is_respected(srv, llm):
    srv.script(ErrorReply(429, retry_after=0.4), TextReply("ok"))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    events, _, _ = await collect(llm, chat())
    assert text_of(events) == "ok"
    assert loop.time() - t0 >= 0.35  # waited (at least) what the server asked


async def test_retries_are_bounded(srv):
    llm = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="m", max_retries=2)
    srv.script(*[ErrorReply(503, retry_after=0)] * 5)
    with pytest.raises(ProviderError) as info:
        await collect(llm, chat())
    assert info.value.status == 503 and info.value.retryable
    assert "3 attempts" in str(info.value)
    assert len(srv.chat_requests) == 3
    await llm.aclose()


async def test_retry_after_beyond_deadline_gives_up_at_once(srv):
    llm = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="m", max_retries=5, deadline_s=2)
    srv.script(ErrorReply(429, retry_after=30, message="Concurrency limit reached"))
    with pytest.raises(ProviderError) as info:
        await collect(llm, chat())
    assert info.value.status == 429 and "Concurrency limit reached" in str(info.value)
    assert len(srv.chat_requests) == 1
    await llm.aclose()


@pytest.mark.parametrize("status,kind", [(401, "authentication_error"), (400, "invalid_request_error")])
async def test_client_errors_are_clear_not_retried_and_hide_the_key(srv, llm, status, kind):
    srv.script(ErrorReply(status, message=f"rejected: key {KEY} is wrong"))
    with pytest.raises(ProviderError) as info:
        await collect(llm, chat())
    err = info.value
    assert err.status == status and not err.retryable
    assert f"HTTP {status}" in str(err) and kind in str(err) and "rejected" in str(err)
    assert srv.requests[0].request_id in str(err)
    assert KEY not in str(err) and KEY not in repr(err.args)
    assert len(srv.chat_requests) == 1


async def test_wrong_key_is_401(srv):
    llm = OpenAICompatLLM(base_url=srv.base_url, api_key="sk-wrong-key", model="m")
    with pytest.raises(ProviderError) as info:
        await collect(llm, chat())
    assert info.value.status == 401 and "sk-wrong-key" not in str(info.value)
    await llm.aclose()


async def test_deadline_respected_on_a_silent_server(srv):
    llm = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="m", timeout_s=30, max_retries=3, deadline_s=0.5)
    srv.script(TextReply("late", headers_delay_s=5))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(ProviderError) as info:
        await collect(llm, chat())
    assert "deadline" in str(info.value) and info.value.retryable
    assert loop.time() - t0 < 4  # gave up long before the server would have answered
    await llm.aclose()


async def test_per_call_deadline_override(srv, llm):
    srv.script(TextReply("late", headers_delay_s=5))
    with pytest.raises(ProviderError, match="deadline"):
        await collect(llm, chat(), deadline_s=0.3)


async def test_connection_refused_is_a_retryable_provider_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = OpenAICompatLLM(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, model="m", max_retries=1, deadline_s=3)
    with pytest.raises(ProviderError) as info:
        await collect(llm, chat())
    assert info.value.retryable and "connect" in str(info.value)
    await llm.aclose()


async def test_broken_stream_raises_provider_error_after_partial_text(srv, llm):
    srv.script(TextReply("one two three four", abort_after_chunks=2))
    got = []
    with pytest.raises(ProviderError) as info:
        async for ev in llm.stream(chat()):
            got.append(ev)
    assert text_of(got) == "one two" and info.value.retryable


async def test_cancelling_the_consumer_closes_the_request(srv, llm):
    srv.script(TextReply(chunks=["word "] * 200, chunk_delay_s=0.02))
    first = asyncio.Event()

    async def consume():
        async for ev in llm.stream(chat()):
            if isinstance(ev, TextDelta):
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if srv.requests[0].disconnected:
            break
        await asyncio.sleep(0.02)
    assert srv.requests[0].disconnected and not srv.requests[0].completed


async def test_text_tool_calls_mode_extracts_calls_and_keeps_json_out_of_speech(srv):
    llm = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="m", text_tool_calls=True)
    reply = 'One moment. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Pune"}}\n</tool_call>'
    srv.script(TextReply(chunks=[reply[i : i + 3] for i in range(0, len(reply), 3)]))
    events, calls, usages = await collect(llm, chat(tools=[WEATHER_TOOL]))
    assert text_of(events).strip() == "One moment."
    assert "{" not in text_of(events) and "tool_call" not in text_of(events)
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Pune"})]
    assert isinstance(events[-1], Usage)
    await llm.aclose()


async def test_text_tool_calls_off_by_default(srv, llm):
    srv.script(TextReply('{"name": "get_weather", "arguments": {}}'))
    events, calls, _ = await collect(llm, chat(tools=[WEATHER_TOOL]))
    assert calls == [] and "get_weather" in text_of(events)


async def test_default_base_url_is_openai():
    llm = OpenAICompatLLM(base_url=None, api_key="k", model="m")
    assert llm.base_url == "https://api.openai.com/v1"
    await llm.aclose()


async def test_a_stream_that_stalls_mid_reply_times_out(srv):
    llm = OpenAICompatLLM(base_url=srv.base_url, api_key=KEY, model="m", timeout_s=0.3)
    srv.script(TextReply(chunks=["first ", "late"], chunk_delay_s=3))
    got = []
    with pytest.raises(ProviderError) as info:
        async for ev in llm.stream(chat()):
            got.append(ev)
    assert text_of(got) == "first " and info.value.retryable
    assert KEY not in str(info.value)
    await llm.aclose()
