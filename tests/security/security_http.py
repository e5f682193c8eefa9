"""A hostile HTTP/1.1 API for the security tests: binds 127.0.0.1 (or ::1) on an ephemeral port,
records every request it receives, and answers per path prefix with a handler of the test's
choosing (echo by default). Wire helpers from :mod:`voiceagent.testing._http`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voiceagent.config.models import Agent
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tools import ToolContext, ToolRunner
from voiceagent.testing._http import ClientGone, read_body, read_head, response_head, write


@dataclass
class Seen:
    """One request as the server received it (``headers`` lower-case keys)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen, asyncio.StreamWriter], Awaitable[None]]


async def send(
    writer: asyncio.StreamWriter, status: int, body: bytes | str | Any, headers: dict[str, str] | None = None
) -> None:
    """One whole answer with ``Connection: close``; dicts and lists are sent as JSON."""
    ctype = "text/plain"
    if not isinstance(body, (bytes, str)):
        body, ctype = json.dumps(body), "application/json"
    data = body.encode() if isinstance(body, str) else body
    head = {"Content-Type": ctype, "Content-Length": str(len(data)), "Connection": "close"}
    head.update(headers or {})
    await write(writer, response_head(status, head) + data)


async def echo(seen: Seen, writer: asyncio.StreamWriter) -> None:
    """200 with the request as JSON: method, target, headers, body."""
    await send(
        writer,
        200,
        {"method": seen.method, "target": seen.target, "headers": seen.headers, "body": seen.body.decode()},
    )


class FakeApi:
    """The server. ``routes`` maps a path prefix to a handler (longest prefix wins)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def base(self) -> str:
        """``http://host:port`` (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> FakeApi:
        self._server = await asyncio.start_server(self._conn, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await read_head(reader)
            if head is None:
                return
            body = await read_body(reader, head.headers)
            seen = Seen(head.method, head.target, head.headers, body)
            self.seen.append(seen)
            prefixes = sorted((p for p in self.routes if head.path.startswith(p)), key=len, reverse=True)
            await (self.routes[prefixes[0]] if prefixes else echo)(seen, writer)
        except (ClientGone, ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0)


CTX = ToolContext(
    caller={"phone": "+15550100", "id": "c-1"},
    session={"state": "main", "turns": 1, "verification_level": 0, "language": "en"},
    variables={"company": "Acme"},
)


def runner_for(*tools: dict[str, Any], redactor: Redactor | None = None) -> ToolRunner:
    """A tool runner for an agent with ``tools`` (dicts as in YAML)."""
    agent = Agent.model_validate({"name": "sec", "prompt": "p", "tools": list(tools)})
    return ToolRunner(agent, base_dir=Path("."), redactor=redactor or Redactor([], env={}))
