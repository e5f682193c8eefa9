"""Tool calls of a speech-to-speech call, run by the runtime exactly as in the cascaded loop.

The realtime model asks for a function (``response.function_call_arguments.done`` on Hydra);
:class:`S2STools` runs it through the cascaded loop's
:class:`~voiceagent.engine.dispatch.Dispatcher` — the same argument validation,
``requires_level`` refusals, ``verify_caller`` decided by the guard, redacted ``tool.call`` /
``tool.result`` events, tool timeouts, builtin transfer / end-call and the flow's transitions —
then answers the model with the result as the tool output (a JSON string). No filler is spoken:
the model says its own words around a call. After a transition the new state's tools are sent
(``session.update``); the instructions of a realtime session cannot change, and ``s2s.update``
says so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voiceagent.engine.compiler import CompiledAgent
from voiceagent.engine.dispatch import Dispatcher
from voiceagent.engine.events import EventLog
from voiceagent.engine.flow import Flow
from voiceagent.engine.ports import Guard, ToolRunnerPort
from voiceagent.engine.s2s_link import RealtimeLink
from voiceagent.engine.s2s_parts import S2STurn
from voiceagent.engine.tools import ToolContext
from voiceagent.providers import realtime as rt
from voiceagent.providers.base import ToolCallRequest

__all__ = ["S2STools", "ToolDone"]


@dataclass(frozen=True, slots=True)
class ToolDone:
    """A finished call: ``content`` is what the model is told; ``gen`` the session that asked."""

    gen: int
    turn: S2STurn
    call_id: str
    name: str
    content: Any


async def _no_filler(_text: str) -> None:
    """Realtime models speak their own words around a tool call: no filler is needed."""


class S2STools:
    """Runs the model's tool calls of one call (see the module docstring).

    Args:
        compiled, flow, events, tool_context, tools, guard: as for the
            :class:`~voiceagent.engine.dispatch.Dispatcher`.
        link: the call's realtime link (tool outputs and tool updates go to its session).
        deliver: called with a :class:`ToolDone` when a call finished (from the call's task).
    """

    def __init__(
        self,
        compiled: CompiledAgent,
        flow: Flow,
        events: EventLog,
        link: RealtimeLink,
        *,
        tool_context: Callable[[], ToolContext],
        tools: ToolRunnerPort | None,
        guard: Guard | None,
        deliver: Callable[[ToolDone], None],
    ) -> None:
        self.flow = flow
        self.events = events
        self.link = link
        self.dispatcher = Dispatcher(
            compiled, flow, events, say=_no_filler, tool_context=tool_context, tools=tools, guard=guard
        )
        self.tools_state = flow.name
        """The state whose tools the model has."""
        self._deliver = deliver
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, ev: rt.ToolCall, turn: S2STurn) -> None:
        """Run the call ``ev`` of ``turn`` in the background (one round of the dispatcher)."""
        turn.tool_calls += 1
        turn.pending += 1
        gen = self.link.gen

        async def run() -> None:
            call = ToolCallRequest(ev.call_id, ev.name, ev.arguments)
            try:
                content: Any = (await self.dispatcher.run_calls([call], spoke=True))[0].content
            except Exception as exc:  # noqa: BLE001 - the dispatcher should not raise; never crash the call
                self.events.emit("error", where="tool", message=f"{type(exc).__name__}: {exc}")
                content = {"error": "the tool failed"}
            self.flow.apply_guards()
            self._deliver(ToolDone(gen, turn, ev.call_id, ev.name, content))

        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.create_task(run(), name=f"s2s-tool-{ev.name}"))

    async def answer(self, done: ToolDone) -> None:
        """Send the new state's tools (after a transition), then the tool output to the session
        that asked; a replaced session's call cannot be answered (``s2s.tool_output_dropped``).
        """
        await self.sync_tools()
        session = self.link.session
        if done.gen == self.link.gen and session is not None:
            output = done.content if isinstance(done.content, str) else json.dumps(done.content, default=str)
            await session.send_tool_output(done.call_id, output)
        else:
            self.events.emit("s2s.tool_output_dropped", name=done.name, note="the session that asked was replaced")

    async def sync_tools(self) -> None:
        """After a transition: the new state's tools to the model (``session.update``)."""
        session = self.link.session
        if self.flow.name == self.tools_state or session is None:
            return
        self.tools_state = self.flow.name
        tools = self.flow.current.llm_tools()
        await session.update_tools(tools)
        self.events.emit(
            "s2s.update",
            state=self.flow.name,
            tools=[t["function"]["name"] for t in tools],
            instructions="unchanged: a realtime session's instructions cannot change; "
            "the new state's instructions apply from the next session",
        )

    async def aclose(self) -> None:
        """Cancel calls still running (the call is over)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
