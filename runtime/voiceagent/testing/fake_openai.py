"""A scripted, OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

It speaks real HTTP/1.1 (keep-alive, chunked server-sent events), so the real ``openai`` client
and :class:`voiceagent.providers.openai_compat.OpenAICompatLLM` run against it unchanged.

Wire format follows the OpenAI chat-completions API
(https://platform.openai.com/docs/api-reference/chat/streaming) as Smallest Electron serves it
(https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/openapi/electron-openapi.yaml
): ``data: {chat.completion.chunk}`` lines, the first chunk carrying ``delta.role``, filler
``content`` before streamed ``tool_calls`` deltas, a final chunk with ``finish_reason``, a usage
chunk with ``"choices": []`` when ``stream_options.include_usage`` is set, then ``data: [DONE]``.
Every response carries an ``X-Request-Id`` header; errors use the OpenAI envelope
``{"error": {"message", "type", ...}}``.

Routes: ``POST /v1/chat/completions`` and ``POST /waves/v1/chat/completions`` (Electron's path),
``GET /v1/models``. Anything else is a 404 envelope.

Usage::

    async with FakeOpenAI() as srv:
        srv.script(
            TextReply("Hello there.", chunk_delay_s=0.01),
            ToolCallReply([ToolCall("get_weather", {"city": "Mumbai"})], filler="Let me check."),
            ErrorReply(429, retry_after=0),
            lambda req: TextReply(f"you said {req.body['messages'][-1]['content']}"),
        )
        client = AsyncOpenAI(base_url=srv.base_url, api_key="sk-test")
        ...
        assert srv.requests[0].body["stream"] is True

Requests beyond the script get ``srv.default`` (a ``TextReply("ok.")``) rather than hanging.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import uuid
from typing import Any

from voiceagent.testing._http import (
    LAST_CHUNK,
    ClientGone,
    LocalServer,
    chunk,
    read_body,
    read_head,
    response_head,
    write,
)
from voiceagent.testing.fake_openai_replies import (
    CHAT_PATHS as _CHAT_PATHS,
)
from voiceagent.testing.fake_openai_replies import (
    ERROR_MESSAGE as _ERROR_MESSAGE,
)
from voiceagent.testing.fake_openai_replies import (
    ERROR_TYPE as _ERROR_TYPE,
)
from voiceagent.testing.fake_openai_replies import (
    ErrorReply,
    RecordedRequest,
    Reply,
    ReplyFactory,
    TextReply,
    ToolCall,
    ToolCallReply,
)
from voiceagent.testing.fake_openai_replies import (
    split_words as _split_words,
)

__all__ = [
    "ErrorReply",
    "FakeOpenAI",
    "RecordedRequest",
    "Reply",
    "TextReply",
    "ToolCall",
    "ToolCallReply",
]


# --------------------------------------------------------------------------- server


class FakeOpenAI:
    """A scripted chat-completions server; use as ``async with FakeOpenAI() as srv``.

    api_key: when given, requests without ``Authorization: Bearer <api_key>`` get a 401 envelope.
    model: the ``model`` echoed in responses (default: the request's model).
    Attributes: ``base_url`` (``http://127.0.0.1:PORT/v1``), ``electron_base_url``
    (``.../waves/v1``), ``requests`` (list of :class:`RecordedRequest`), ``default`` (the reply
    used once the script is exhausted).
    """

    def __init__(self, *, api_key: str | None = None, model: str | None = None) -> None:
        self.api_key = api_key
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.default: Reply | ReplyFactory = TextReply("ok.")
        self._queue: list[Reply | ReplyFactory] = []
        self._listener = LocalServer(self._handle)
        self.port = 0

    # ------------------------------------------------------------------ public API
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the OpenAI SDK's ``base_url``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def electron_base_url(self) -> str:
        """``http://127.0.0.1:PORT/waves/v1`` (Smallest Electron's path layout)."""
        return f"http://127.0.0.1:{self.port}/waves/v1"

    def script(self, *replies: Reply | ReplyFactory) -> FakeOpenAI:
        """Queue replies, one per chat request, in order. A ``str`` means ``TextReply(str)``; a
        callable receives the :class:`RecordedRequest` and returns (or awaits to) a reply.
        """
        self._queue.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """How many scripted replies are not used yet."""
        return len(self._queue)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded chat-completions requests only."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    async def start(self) -> FakeOpenAI:
        """Bind 127.0.0.1 on an ephemeral port and serve."""
        self.port = await self._listener.start()
        return self

    async def aclose(self) -> None:
        """Stop serving and drop open connections."""
        await self._listener.aclose()

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ HTTP plumbing
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (req := await self._read_request(reader)) is not None:
            if not await self._respond(req, writer):
                break

    async def _read_request(self, reader: asyncio.StreamReader) -> RecordedRequest | None:
        head = await read_head(reader)
        if head is None:
            return None
        raw = await read_body(reader, head.headers)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = RecordedRequest(head.method, head.path, head.headers, body, raw, request_id=f"req_{uuid.uuid4().hex}")
        self.requests.append(rec)
        return rec

    @staticmethod
    def _head(status: int, rec: RecordedRequest, extra: dict[str, str]) -> bytes:
        return response_head(status, {"X-Request-Id": rec.request_id, **extra})

    async def _send_json(
        self,
        writer: asyncio.StreamWriter,
        rec: RecordedRequest,
        status: int,
        payload: Any,
        extra: dict[str, str] | None = None,
    ) -> None:
        body = json.dumps(payload).encode()
        hdrs = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        hdrs.update(extra or {})
        await write(writer, self._head(status, rec, hdrs) + body)
        rec.completed = True

    async def _send_error(self, writer: asyncio.StreamWriter, rec: RecordedRequest, err: ErrorReply) -> None:
        if err.headers_delay_s:
            await asyncio.sleep(err.headers_delay_s)
        envelope = {
            "error": {
                "message": err.message or _ERROR_MESSAGE.get(err.status, "Server error"),
                "type": err.type or _ERROR_TYPE.get(err.status, "server_error"),
                "code": None,
                "request_id": rec.request_id,
            }
        }
        extra = {} if err.retry_after is None else {"Retry-After": f"{err.retry_after:g}"}
        await self._send_json(writer, rec, err.status, envelope, extra)

    # ------------------------------------------------------------------ routing
    async def _respond(self, rec: RecordedRequest, writer: asyncio.StreamWriter) -> bool:
        keep_alive = rec.headers.get("connection", "").lower() != "close"
        if rec.method == "GET" and rec.path in ("/v1/models", "/waves/v1/models"):
            await self._send_json(
                writer,
                rec,
                200,
                {"object": "list", "data": [{"id": self.model or "fake-model", "object": "model", "owned_by": "fake"}]},
            )
            return keep_alive
        if rec.path not in _CHAT_PATHS:
            await self._send_error(writer, rec, ErrorReply(404, f"No route {rec.path}", "not_found_error"))
            return keep_alive
        if rec.method != "POST":
            await self._send_error(writer, rec, ErrorReply(405, "Use POST", "invalid_request_error"))
            return keep_alive
        if self.api_key is not None and rec.headers.get("authorization") != f"Bearer {self.api_key}":
            await self._send_error(writer, rec, ErrorReply(401))
            return keep_alive
        body = rec.body if isinstance(rec.body, dict) else None
        if body is None or not isinstance(body.get("messages"), list):
            await self._send_error(writer, rec, ErrorReply(400, "messages is required"))
            return keep_alive
        if (body.get("n") or 1) > 1:
            await self._send_error(writer, rec, ErrorReply(400, "n > 1 is not supported"))
            return keep_alive

        reply = await self._next_reply(rec)
        if isinstance(reply, ErrorReply):
            await self._send_error(writer, rec, reply)
            return keep_alive
        try:
            if body.get("stream"):
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return await self._stream(writer, rec, reply, include_usage) and keep_alive
            await self._non_stream(writer, rec, reply)
            return keep_alive
        except ClientGone:
            rec.disconnected = True
            return False

    async def _next_reply(self, rec: RecordedRequest) -> TextReply | ToolCallReply | ErrorReply:
        item = self._queue.pop(0) if self._queue else self.default
        if callable(item) and not isinstance(item, (TextReply, ToolCallReply, ErrorReply)):
            made = item(rec)
            item = await made if inspect.isawaitable(made) else made
        if isinstance(item, str):
            item = TextReply(item)
        if not isinstance(item, (TextReply, ToolCallReply, ErrorReply)):
            raise TypeError(f"FakeOpenAI: unsupported scripted reply {item!r}")
        return item

    # ------------------------------------------------------------------ bodies
    def _usage(self, rec: RecordedRequest, completion_tokens: int, override: dict[str, int] | None) -> dict[str, Any]:
        prompt = sum(len(str(m.get("content") or "").split()) + 4 for m in rec.body["messages"])
        u = {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "cached_tokens": 0}
        u.update(override or {})
        return {
            "prompt_tokens": u["prompt_tokens"],
            "completion_tokens": u["completion_tokens"],
            "total_tokens": u["prompt_tokens"] + u["completion_tokens"],
            "prompt_tokens_details": {"cached_tokens": u["cached_tokens"]},
        }

    def _chunk(self, rec: RecordedRequest, cid: str, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        payload = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.model or rec.body.get("model") or "fake-model",
            "choices": choices,
            **extra,
        }
        return chunk(f"data: {json.dumps(payload)}\n\n".encode())

    async def _stream(
        self, writer: asyncio.StreamWriter, rec: RecordedRequest, reply: TextReply | ToolCallReply, include_usage: bool
    ) -> bool:
        if reply.headers_delay_s:
            await asyncio.sleep(reply.headers_delay_s)
        cid = f"chatcmpl-{uuid.uuid4().hex[:16]}"
        await write(
            writer,
            self._head(
                200,
                rec,
                {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Transfer-Encoding": "chunked"},
            ),
        )
        await write(
            writer,
            self._chunk(rec, cid, [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]),
        )
        if reply.first_token_delay_s:
            await asyncio.sleep(reply.first_token_delay_s)

        content = (
            reply.pieces() if isinstance(reply, TextReply) else (_split_words(reply.filler) if reply.filler else [])
        )
        for i, piece in enumerate(content):
            if isinstance(reply, TextReply) and reply.abort_after_chunks is not None and i >= reply.abort_after_chunks:
                writer.transport.abort()
                rec.disconnected = True
                return False
            if i and reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)
            await write(
                writer, self._chunk(rec, cid, [{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
            )
        completion_tokens = len(content)

        if isinstance(reply, ToolCallReply):
            finish = "tool_calls"
            for idx, call in enumerate(reply.calls):
                if reply.chunk_delay_s:
                    await asyncio.sleep(reply.chunk_delay_s)
                call_id = call.id or f"call_{uuid.uuid4().hex[:12]}"
                await write(
                    writer,
                    self._chunk(
                        rec,
                        cid,
                        [
                            {
                                "index": 0,
                                "delta": {
                                    "tool_calls": [
                                        {
                                            "index": idx,
                                            "id": call_id,
                                            "type": "function",
                                            "function": {"name": call.name, "arguments": ""},
                                        }
                                    ]
                                },
                                "finish_reason": None,
                            }
                        ],
                    ),
                )
                args = call.arguments_json()
                n = max(1, reply.argument_pieces)
                step = max(1, -(-len(args) // n))
                for start in range(0, len(args), step):
                    await write(
                        writer,
                        self._chunk(
                            rec,
                            cid,
                            [
                                {
                                    "index": 0,
                                    "delta": {
                                        "tool_calls": [
                                            {"index": idx, "function": {"arguments": args[start : start + step]}}
                                        ]
                                    },
                                    "finish_reason": None,
                                }
                            ],
                        ),
                    )
                completion_tokens += 5 + len(args) // 4
        else:
            finish = reply.finish_reason
        await write(writer, self._chunk(rec, cid, [{"index": 0, "delta": {}, "finish_reason": finish}]))
        if include_usage:
            await write(writer, self._chunk(rec, cid, [], usage=self._usage(rec, completion_tokens, reply.usage)))
        await write(writer, chunk(b"data: [DONE]\n\n") + LAST_CHUNK)
        rec.completed = True
        return True

    async def _non_stream(
        self, writer: asyncio.StreamWriter, rec: RecordedRequest, reply: TextReply | ToolCallReply
    ) -> None:
        delay = reply.headers_delay_s + reply.first_token_delay_s
        if delay:
            await asyncio.sleep(delay)
        if isinstance(reply, ToolCallReply):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": reply.filler,
                "tool_calls": [
                    {
                        "id": c.id or f"call_{uuid.uuid4().hex[:12]}",
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments_json()},
                    }
                    for c in reply.calls
                ],
            }
            finish, ntok = "tool_calls", len(reply.calls) * 8
        else:
            message = {"role": "assistant", "content": "".join(reply.pieces()), "tool_calls": None}
            finish, ntok = reply.finish_reason, len(reply.pieces())
        await self._send_json(
            writer,
            rec,
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model or rec.body.get("model") or "fake-model",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": self._usage(rec, ntok, reply.usage),
            },
        )
