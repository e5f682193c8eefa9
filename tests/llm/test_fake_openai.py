"""The fake chat-completions server speaks the wire format the real client expects."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest
from voiceagent.testing.fake_openai import (
    ErrorReply,
    FakeOpenAI,
    TextReply,
    ToolCall,
    ToolCallReply,
)

MSG = [{"role": "user", "content": "hello there"}]


def _sse_payloads(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


async def test_stream_wire_format_usage_and_done():
    async with FakeOpenAI() as srv:
        srv.script(TextReply("One two three."))
        async with httpx.AsyncClient() as http:
            r = await http.post(
                f"{srv.base_url}/chat/completions",
                json={"model": "m", "messages": MSG, "stream": True, "stream_options": {"include_usage": True}},
            )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-request-id"] == srv.requests[0].request_id
        payloads = _sse_payloads(r.text)
        assert payloads[-1] == "[DONE]"
        chunks = [json.loads(p) for p in payloads[:-1]]
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        assert text == "One two three."
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
        assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


async def test_no_usage_chunk_without_include_usage_and_electron_path():
    async with FakeOpenAI() as srv:
        async with httpx.AsyncClient() as http:
            r = await http.post(
                f"{srv.electron_base_url}/chat/completions", json={"model": "electron", "messages": MSG, "stream": True}
            )
        chunks = [json.loads(p) for p in _sse_payloads(r.text)[:-1]]
        assert all("usage" not in c for c in chunks)
        # beyond the script: the default reply, not a hang
        assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "ok."
        assert srv.requests[0].path == "/waves/v1/chat/completions"


async def test_parallel_tool_calls_through_real_client_and_recording():
    async with FakeOpenAI(api_key="sk-test") as srv:
        srv.script(
            ToolCallReply([ToolCall("a", {"x": 1}, id="call_1"), ToolCall("b", '{"y": 2}')], filler="Let me check.")
        )
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        stream = await client.chat.completions.create(
            model="m", messages=MSG, stream=True, extra_headers={"X-Trace": "t1"}
        )
        content, calls, finish = "", {}, None
        async for ch in stream:
            d = ch.choices[0].delta
            content += d.content or ""
            for tc in d.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "args": ""})
                slot["id"] = tc.id or slot["id"]
                slot["name"] += (tc.function.name or "") if tc.function else ""
                slot["args"] += (tc.function.arguments or "") if tc.function else ""
            finish = ch.choices[0].finish_reason or finish
        await client.close()
        assert content == "Let me check."
        assert calls[0] == {"id": "call_1", "name": "a", "args": '{"x": 1}'}
        assert calls[1]["name"] == "b" and json.loads(calls[1]["args"]) == {"y": 2}
        assert finish == "tool_calls"
        assert srv.requests[0].headers["x-trace"] == "t1"
        assert srv.requests[0].headers["authorization"] == "Bearer sk-test"
        assert srv.requests[0].body["messages"] == MSG


async def test_errors_envelope_retry_after_auth_and_n():
    async with FakeOpenAI(api_key="sk-good") as srv:
        srv.script(ErrorReply(429, retry_after=2))
        async with httpx.AsyncClient() as http:
            auth = {"Authorization": "Bearer sk-good"}
            r1 = await http.post(f"{srv.base_url}/chat/completions", json={"model": "m", "messages": MSG}, headers=auth)
            r2 = await http.post(
                f"{srv.base_url}/chat/completions",
                json={"model": "m", "messages": MSG},
                headers={"Authorization": "Bearer no"},
            )
            r3 = await http.post(
                f"{srv.base_url}/chat/completions", json={"model": "m", "messages": MSG, "n": 2}, headers=auth
            )
        assert r1.status_code == 429 and r1.headers["retry-after"] == "2"
        assert r1.json()["error"]["type"] == "rate_limit_error"
        assert r1.json()["error"]["request_id"] == r1.headers["x-request-id"]
        assert r2.status_code == 401 and r2.json()["error"]["type"] == "authentication_error"
        assert r3.status_code == 400 and "n > 1" in r3.json()["error"]["message"]


async def test_callable_reply_and_non_streaming_tool_calls():
    async def build(req):
        return TextReply("echo " + req.body["messages"][-1]["content"])

    async with FakeOpenAI() as srv:
        srv.script(build, ToolCallReply([ToolCall("lookup", {"q": "x"})]))
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="k", max_retries=0)
        r1 = await client.chat.completions.create(model="m", messages=MSG)
        r2 = await client.chat.completions.create(model="m", messages=MSG)
        await client.close()
        assert r1.choices[0].message.content == "echo hello there"
        assert r2.choices[0].finish_reason == "tool_calls"
        assert r2.choices[0].message.content is None
        assert json.loads(r2.choices[0].message.tool_calls[0].function.arguments) == {"q": "x"}
        assert srv.pending == 0


async def test_client_disconnect_is_recorded():
    async with FakeOpenAI() as srv:
        srv.script(TextReply(chunks=["a"] * 50, chunk_delay_s=0.02))
        async with (
            httpx.AsyncClient() as http,
            http.stream(
                "POST", f"{srv.base_url}/chat/completions", json={"model": "m", "messages": MSG, "stream": True}
            ) as r,
        ):
            async for _ in r.aiter_lines():
                break
        for _ in range(100):
            if srv.requests[0].disconnected:
                break
            await asyncio.sleep(0.02)
        assert srv.requests[0].disconnected and not srv.requests[0].completed


async def test_abort_mid_stream_breaks_the_client():
    async with FakeOpenAI() as srv:
        srv.script(TextReply("a b c d", abort_after_chunks=2))
        client = openai.AsyncOpenAI(base_url=srv.base_url, api_key="k", max_retries=0)
        got = ""
        with pytest.raises(Exception):
            stream = await client.chat.completions.create(model="m", messages=MSG, stream=True)
            async for ch in stream:
                got += ch.choices[0].delta.content or ""
        await client.close()
        assert got == "a b"
