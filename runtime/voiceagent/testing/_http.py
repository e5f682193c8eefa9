"""The small HTTP/1.1 server plumbing the fake servers share (``FakeOpenAI``, ``FakeSmallest``).

Enough of RFC 9112 (https://www.rfc-editor.org/rfc/rfc9112) for real clients (``openai``/httpx,
``websockets``) on 127.0.0.1: request heads, ``Content-Length`` and chunked request bodies,
response heads, chunked response bodies (what server-sent events ride on), keep-alive, and a
listener whose connection tasks are cancelled on close.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LAST_CHUNK",
    "STATUS_TEXT",
    "ClientGone",
    "LocalServer",
    "RequestHead",
    "chunk",
    "read_body",
    "read_head",
    "response_head",
    "write",
]

STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
"""Reason phrases for the status lines the fakes send."""

LAST_CHUNK = b"0\r\n\r\n"
"""The zero-length chunk that ends a chunked body."""


class ClientGone(Exception):
    """The client closed the connection while the server was writing."""


@dataclass
class RequestHead:
    """A request line and headers. ``raw`` is the head as received (up to and including the blank
    line); ``headers`` keys are lower-case (a repeated header keeps its last value).
    """

    raw: bytes
    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        """False when the client sent ``Connection: close``."""
        return self.headers.get("connection", "").lower() != "close"


async def read_head(reader: asyncio.StreamReader) -> RequestHead | None:
    """The next request head on ``reader``; ``None`` when the client closed (or sent a head
    longer than the reader's limit, 64 KiB by default).
    """
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return RequestHead(raw, method, target, headers)


async def read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    """The request body announced by ``headers`` (lower-case keys): chunked or
    ``Content-Length`` bytes, ``b""`` when neither.

    Raises:
        asyncio.IncompleteReadError: the client closed mid-body.
    """
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            data = await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                return bytes(body)
            body += data[:-2]
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


def response_head(status: int, headers: Mapping[str, str]) -> bytes:
    """``HTTP/1.1 <status> <reason>``, the ``headers`` and the blank line, latin-1 encoded."""
    lines = [f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """``data`` framed as one chunk of a ``Transfer-Encoding: chunked`` body (non-empty data;
    end the body with :data:`LAST_CHUNK`).
    """
    return b"%x\r\n%s\r\n" % (len(data), data)


async def write(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write and drain.

    Raises:
        ClientGone: the connection is closing or the client reset it.
    """
    if writer.is_closing():
        raise ClientGone()
    writer.write(data)
    try:
        await writer.drain()
    except ConnectionError as exc:
        raise ClientGone() from exc


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class LocalServer:
    """An ``asyncio`` TCP listener on 127.0.0.1 (ephemeral port) running ``handler`` per
    connection. Client disconnects and teardown cancellation end a handler quietly; the writer
    is always closed. :meth:`aclose` cancels the open connections.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    async def start(self) -> int:
        """Bind and serve; returns the port."""
        self._server = await asyncio.start_server(self._run, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handler(reader, writer)
        except (ClientGone, ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # Our own teardown cancels handlers; finishing normally keeps asyncio's stream
            # callback (Python 3.11) from logging the cancellation as an error.
            pass
        finally:
            self._tasks.discard(task)
            with contextlib.suppress(Exception):  # transport already gone
                writer.close()

    async def aclose(self) -> None:
        """Stop listening, cancel and await the connection handlers (waits at most 2 s for the
        listener to close).
        """
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0)
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):  # teardown
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):  # teardown
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
