"""The fakes' shared HTTP/1.1 plumbing (voiceagent.testing._http), through the real servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
from voiceagent.testing._http import chunk, read_body, read_head, response_head
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply
from voiceagent.testing.fake_smallest import FakeSmallest


async def _chunked(payload: dict) -> AsyncIterator[bytes]:
    data = json.dumps(payload).encode()
    for i in range(0, len(data), 7):  # several chunks: the server must reassemble them
        yield data[i : i + 7]


async def test_chunked_request_body_is_reassembled() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with FakeOpenAI() as srv:
        srv.script(TextReply("Hello."))
        async with httpx.AsyncClient() as client:
            resp = await client.post(f"{srv.base_url}/chat/completions", content=_chunked(body))
        assert resp.status_code == 200
        assert srv.requests[0].headers["transfer-encoding"] == "chunked"
        assert srv.requests[0].body == body
        assert resp.json()["choices"][0]["message"]["content"] == "Hello."


async def test_mounted_server_gets_a_content_length_body() -> None:
    """FakeSmallest forwards a chunked request to a mount with the body re-framed."""
    body = {"model": "electron", "messages": [{"role": "user", "content": "hi"}]}
    async with FakeOpenAI(api_key="sk_test_fake") as llm, FakeSmallest(mounts={"/waves/v1/chat": llm.port}) as fake:
        llm.script(TextReply("Namaste."))
        async with httpx.AsyncClient() as client:
            resp = await client.post(
                f"{fake.base_url}/chat/completions",
                content=_chunked(body),
                headers={"Authorization": "Bearer sk_test_fake"},
            )
        assert resp.status_code == 200, resp.text
        rec = llm.requests[0]
        assert rec.body == body
        assert "transfer-encoding" not in rec.headers
        assert rec.headers["content-length"] == str(len(json.dumps(body).encode()))
        assert rec.headers["connection"] == "close"


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async with FakeSmallest() as fake:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        for _ in range(2):
            writer.write(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await read_head(reader)
            assert head is not None and head.method == "HTTP/1.1" and head.target == "404"
            assert json.loads(await read_body(reader, head.headers))["error"] == "NotFound"
        writer.close()


def test_response_head_and_chunk_framing() -> None:
    assert response_head(429, {"Retry-After": "1"}) == b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\r\n"
    assert chunk(b"data: x\n\n") == b"9\r\ndata: x\n\n\r\n"


async def test_recorded_request_repr_masks_the_key_but_keeps_it_for_assertions() -> None:
    async with FakeOpenAI(api_key="sk-real-looking-0123") as srv:
        async with httpx.AsyncClient() as client:
            await client.post(
                f"{srv.base_url}/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": "Bearer sk-real-looking-0123"},
            )
        rec = srv.requests[0]
    assert rec.headers["authorization"] == "Bearer sk-real-looking-0123"
    assert "sk-real-looking-0123" not in repr(rec) and "'authorization': '***'" in repr(rec)
