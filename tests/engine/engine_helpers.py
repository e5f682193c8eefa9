"""Helpers for the engine tests: build agents, fake tool runners, run a session with a deadline."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from voiceagent.config.load import LoadedAgent
from voiceagent.config.models import Agent
from voiceagent.engine.call import Call, Providers, build_call
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


def loaded_agent(agent: Agent, base_dir: Path) -> LoadedAgent:
    """``agent`` as ``load_agent`` would return it from ``base_dir/agent.yaml`` (python tools
    import from ``base_dir``)."""
    return LoadedAgent(agent=agent, path=base_dir / "agent.yaml", base_dir=base_dir)


async def run_call(
    agent: Agent | LoadedAgent,
    llm: Any,
    transport: FakeTransport,
    *,
    base_dir: Path | None = None,
    timeout: float = 3.0,
    stt: Any = None,
    tts: Any = None,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> tuple[Call, str]:
    """Assemble a call with the real tool runner and guard (``build_call``) and run it to its end
    (bounded by ``timeout`` s); the call is closed. Returns (call, end reason)."""
    loaded = agent if isinstance(agent, LoadedAgent) else loaded_agent(agent, base_dir or Path("."))
    async with build_call(loaded, Providers(llm=llm, stt=stt, tts=tts), transport, env=env or {}, **kwargs) as call:
        reason = await asyncio.wait_for(call.run(), timeout)
    return call, reason


async def run_session(
    agent: Agent,
    llm: FakeLLM,
    transport: FakeTransport,
    *,
    timeout: float = 3.0,
    events: EventLog | None = None,
    **kwargs: Any,
) -> tuple[Session, str]:
    """Run one call of ``agent`` to its end (bounded by ``timeout`` s); returns (session, reason).

    The call is assembled by ``build_call`` (real tool runner and guard, python tools from the
    current folder) unless the test injects stand-ins with ``tools=`` or ``guard=``: only then is
    the ``Session`` built directly around them.
    """
    if "tools" in kwargs or "guard" in kwargs:
        session = Session(compile_agent(agent), llm=llm, transport=transport, events=events or EventLog(), **kwargs)
        reason = await asyncio.wait_for(session.run(), timeout)
        return session, reason
    stt, tts = kwargs.pop("stt", None), kwargs.pop("tts", None)
    loaded = loaded_agent(agent, Path("."))
    async with build_call(
        loaded, Providers(llm=llm, stt=stt, tts=tts), transport, events=events, env={}, **kwargs
    ) as call:
        reason = await asyncio.wait_for(call.run(), timeout)
    return call.session, reason


async def wait_for(predicate: Any, timeout: float = 2.0) -> None:
    """Wait until ``predicate()`` is true (polled every 5 ms), at most ``timeout`` s."""

    async def loop() -> None:
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(loop(), timeout)
