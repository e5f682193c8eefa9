"""Helpers for the engine tests: build agents, fake tool runners, run a session with a deadline."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from voiceagent.config.models import Agent
from voiceagent.engine.compiler import compile_agent
from voiceagent.engine.events import EventLog
from voiceagent.engine.session import Session
from voiceagent.engine.tools import ToolResult
from voiceagent.testing.fakes import FakeLLM, FakeTransport


def make_agent(**fields: Any) -> Agent:
    """An Agent with a name and prompt filled in."""
    fields.setdefault("name", "test-agent")
    fields.setdefault("prompt", "You help callers of {{ company }}.")
    fields.setdefault("variables", {"company": "Acme"})
    return Agent.model_validate(fields)


class RecordingRunner:
    """A ToolRunner stand-in: each tool sleeps ``delays[name]`` seconds and returns ``results[name]``;
    records (name, args, start, end) per call."""

    def __init__(self, delays: dict[str, float] | None = None, results: dict[str, Any] | None = None) -> None:
        self.delays = delays or {}
        self.results = results or {}
        self.calls: list[dict[str, Any]] = []

    async def run(self, name: str, arguments: Any, ctx: Any) -> ToolResult:
        rec = {"name": name, "args": arguments, "start": time.monotonic(), "end": None, "ctx": ctx}
        self.calls.append(rec)
        await asyncio.sleep(self.delays.get(name, 0.0))
        rec["end"] = time.monotonic()
        result = self.results.get(name, {"status": "done"})
        if isinstance(result, ToolResult):
            return result
        return ToolResult(True, result)


async def run_session(
    agent: Agent,
    llm: FakeLLM,
    transport: FakeTransport,
    *,
    timeout: float = 3.0,
    events: EventLog | None = None,
    **kwargs: Any,
) -> tuple[Session, str]:
    """Compile ``agent``, run a Session to its end (bounded by ``timeout`` s); returns (session, reason)."""
    session = Session(compile_agent(agent), llm=llm, transport=transport, events=events or EventLog(), **kwargs)
    reason = await asyncio.wait_for(session.run(), timeout)
    return session, reason
