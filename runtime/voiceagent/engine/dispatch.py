"""Run the function calls of one LLM round: tools, ``verify_caller`` and LLM-chosen transitions.

All calls of a round run concurrently (``asyncio.gather``) while the filler is spoken. Tool
failures, timeouts, refusals and unknown functions go back to the LLM as ``{"error": ...}``;
nothing here raises for them. Verification is decided by the guard (``engine.guardrails``),
never by the LLM: a tool whose ``requires_level`` is above the flow's verification level is
not run and the LLM gets the refusal. Which function is what, which transition is taken and
how the call ends are the flow's rules (:class:`~voiceagent.engine.flow.Flow`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from voiceagent import templating
from voiceagent.config.builtin_functions import VERIFY_FUNCTION
from voiceagent.config.models import Tool
from voiceagent.engine.compiler import CompiledAgent
from voiceagent.engine.events import EventLog
from voiceagent.engine.flow import Ending, Flow, FunctionKind
from voiceagent.engine.ports import Guard, ToolRunnerPort
from voiceagent.engine.tool_schema import ArgumentError, loggable_arguments, parse_arguments
from voiceagent.engine.tools import EndCallAction, ToolContext, ToolResult, TransferAction
from voiceagent.providers.base import ToolCallRequest

__all__ = ["CallOutcome", "Dispatcher"]


@dataclass(slots=True)
class CallOutcome:
    """What one function call produced. ``content`` goes back to the LLM as the tool message."""

    call: ToolCallRequest
    kind: FunctionKind
    ok: bool
    content: Any


def _default_refusal(tool: Tool, level: int) -> str | None:
    if tool.requires_level is not None and tool.requires_level > level:
        return (
            f"Not allowed: {tool.name} needs identity verification level {tool.requires_level}, "
            f"the caller is at level {level}. Verify the caller first."
        )
    return None


def _parse_args(raw: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The LLM's JSON arguments as ``(dict, None)``, or ``(None, why)`` when not a JSON object or
    over the size, depth or string-length limits (checked before parsing: ``tool_schema``).
    """
    try:
        return parse_arguments(raw), None
    except ArgumentError as exc:
        return None, str(exc)


class Dispatcher:
    """Executes the function calls of one call; see the module docstring.

    Args:
        compiled: the compiled agent (its tools).
        flow: the call's :class:`~voiceagent.engine.flow.Flow` (classification, transitions,
            ending, verification level).
        events: the call's event log (``tool.call``, ``tool.result``, ``verification``...).
        say: speaks a filler (``Speaker.say``); returns when it is queued.
        tool_context: the ``ctx`` handed to tools and the guard, built fresh per call.
        tools: runs the agent's tools; None: only builtins work, other tools answer with an error.
        guard: verification; None: ``requires_level`` still refuses (level stays 0) and
            ``verify_caller`` answers with an error.
    """

    def __init__(
        self,
        compiled: CompiledAgent,
        flow: Flow,
        events: EventLog,
        *,
        say: Callable[[str], Awaitable[object]],
        tool_context: Callable[[], ToolContext],
        tools: ToolRunnerPort | None = None,
        guard: Guard | None = None,
    ) -> None:
        self.compiled = compiled
        self.flow = flow
        self.events = events
        self.tools = tools
        self.guard = guard
        self._say = say
        self._tool_context = tool_context

    def filler_for(self, calls: list[ToolCallRequest]) -> str | None:
        """The filler of a round, rendered: the first called tool's ``filler`` (with that call's
        ``args``), else ``behaviour.filler``. None when only transitions / builtins / unknown
        names / tools that will be refused were called, or the tool's filler is ``""``.
        """
        slow = False
        for call in calls:
            kind = self.flow.classify(call.name)
            if kind == "verify":
                slow = True
            elif kind == "tool":
                tool = self.compiled.tools[call.name]
                if tool.builtin is None and not self._refusal(tool):
                    if tool.filler is not None:  # "" = this tool runs in silence
                        args = _parse_args(call.arguments)[0] or {}
                        return self._render(tool.filler, args) if tool.filler else None
                    slow = True
        filler = self.compiled.agent.behaviour.filler if slow else None
        return self._render(filler, {}) if filler else None

    def _refusal(self, tool: Tool) -> str | None:
        level = self.flow.verification_level
        return self.guard.refusal_for(tool, level) if self.guard is not None else _default_refusal(tool, level)

    async def run_calls(self, calls: list[ToolCallRequest], *, spoke: bool, said: str = "") -> list[CallOutcome]:
        """Run ``calls`` concurrently; speak the filler first unless the LLM already said something
        in this round, or the turn already said that filler (``said``: the turn's words so far; a
        verification and the look-up after it said "One moment please. One moment please.").
        Then the flow takes the transition the round chose (:meth:`Flow.after_calls`).
        """
        if not spoke:
            filler = self.filler_for(calls)
            if filler and filler.strip() not in said:
                await self._say(filler)
        kinds = [self.flow.classify(c.name) for c in calls]
        outcomes = list(await asyncio.gather(*(self._execute(c, k) for c, k in zip(calls, kinds, strict=True))))
        self.flow.after_calls((o.call.name, o.kind, o.ok) for o in outcomes)
        return outcomes

    async def _execute(self, call: ToolCallRequest, kind: FunctionKind) -> CallOutcome:
        args, error = _parse_args(call.arguments)
        if args is None:
            self.events.emit("tool.call", name=call.name, arguments=loggable_arguments(call.arguments))
            self.events.emit("tool.result", name=call.name, ok=False, error=f"invalid arguments: {error}")
            return CallOutcome(call, kind, False, {"error": f"invalid arguments: {error}"})
        if kind == "transition":
            return CallOutcome(call, kind, True, {"ok": True, "state": self.flow.llm_target(call.name)})
        if kind == "verify":
            return await self._verify(call, args)
        if kind == "unknown":
            self.events.emit("tool.call", name=call.name, arguments=args)
            error = f"unknown function {call.name!r} in this step of the conversation"
            self.events.emit("tool.result", name=call.name, ok=False, error=error)
            return CallOutcome(call, kind, False, {"error": error})
        ok, content = await self.run_tool(self.compiled.tools[call.name], args)
        return CallOutcome(call, kind, ok, content)

    async def run_tool(self, tool: Tool, args: dict[str, Any]) -> tuple[bool, Any]:
        """Run one agent tool (refusal check, tool runner, builtin actions); returns (ok, content for the LLM)."""
        self.events.emit("tool.call", name=tool.name, arguments=args)
        refusal = self._refusal(tool)
        if refusal:
            self.events.emit("tool.result", name=tool.name, ok=False, error=refusal, refused=True)
            return False, {"error": refusal}
        if self.tools is not None:
            try:
                result = await self.tools.run(tool.name, args, self._tool_context())
            except Exception as exc:  # noqa: BLE001 - the runner should not raise; never crash the call
                result = ToolResult(False, None, f"{type(exc).__name__}: {exc}")
        elif tool.builtin is not None:
            result = ToolResult(True, {"ok": True})
        else:
            result = ToolResult(False, None, "no tool runner is configured")
        timing: dict[str, Any] = {"duration_ms": round(result.duration_ms, 1)} if result.duration_ms else {}
        if result.output:  # what the tool printed: to the log, never to stdout
            timing["output"] = result.output
        if result.ok:
            self.events.emit("tool.result", name=tool.name, ok=True, result=result.result, **timing)
        else:
            self.events.emit("tool.result", name=tool.name, ok=False, error=result.error, **timing)
        if result.ok and tool.builtin is not None:
            self._builtin_action(tool, args, result.action)
        return result.ok, result.for_llm()

    async def _verify(self, call: ToolCallRequest, args: dict[str, Any]) -> CallOutcome:
        # Stated factor values are personal data: the log gets their names only.
        self.events.emit("tool.call", name=VERIFY_FUNCTION, arguments=dict.fromkeys(args, "[redacted]"))
        if self.guard is None:
            error = "verification is not available"
            self.events.emit("tool.result", name=VERIFY_FUNCTION, ok=False, error=error)
            return CallOutcome(call, "verify", False, {"error": error})
        try:
            outcome = await self.guard.verify(args, self._tool_context())
        except Exception as exc:  # noqa: BLE001 - the guard should not raise; never crash the call
            error = f"verification failed: {type(exc).__name__}"
            self.events.emit("tool.result", name=VERIFY_FUNCTION, ok=False, error=error)
            return CallOutcome(call, "verify", False, {"error": error})
        self.flow.record_verification(outcome.level)
        level = self.flow.verification_level
        self.events.emit(
            "verification", level=level, factors_matched=list(outcome.matched), locked_out=outcome.locked_out
        )
        self.events.emit(
            "tool.result",
            name=VERIFY_FUNCTION,
            ok=True,
            result={"verification_level": level, "locked_out": outcome.locked_out},
        )
        if outcome.newly_locked:
            await self._lockout(self.guard)
        return CallOutcome(call, "verify", True, outcome.for_llm())

    async def _lockout(self, guard: Guard) -> None:
        """Run ``on_lockout`` through the guard (a tool such as a transfer, or ``end_call``)."""
        self.events.emit("verification.lockout", action=guard.lockout_action)
        result = await guard.run_lockout(self._tool_context())
        if result is None:
            return
        # the runtime, not the LLM, ends this call: the LLM gets a last round to tell the caller
        if result.ok and result.action is not None:
            tool = guard.lockout_action if guard.lockout_action in self.compiled.tools else None
            self._apply_action(result.action, tool, last_words=True)
        elif not result.ok:
            self.events.emit("error", where="guardrails", message=result.error or "lockout action failed")
            self.flow.request_end("end_call", {"reason": "verification_lockout"}, last_words=True)

    def _builtin_action(self, tool: Tool, args: dict[str, Any], action: TransferAction | EndCallAction | None) -> None:
        if action is None:  # no runner: derive the action from the tool definition
            info: dict[str, Any] = {"reason": args.get("reason")}
            if tool.builtin == "transfer":
                info.update(
                    to=self._render(tool.to or "", args),
                    mode=tool.mode,
                    handoff=self._render(tool.handoff_prompt, args) if tool.handoff_prompt else None,
                )
            self.flow.request_end("transfer" if tool.builtin == "transfer" else "end_call", {**info, "tool": tool.name})
            return
        self._apply_action(action, tool.name)

    def _apply_action(
        self, action: TransferAction | EndCallAction, tool: str | None, *, last_words: bool = False
    ) -> None:
        """Carry out a ``TransferAction`` or ``EndCallAction`` from the tool runner or the guard."""
        info = asdict(action)
        if tool is not None:
            info["tool"] = tool
        if isinstance(action, TransferAction):
            self.flow.request_end("transfer", info, last_words=last_words)
        else:
            info["reason"] = info.get("reason") or "end_call"
            self.flow.request_end("end_call", info, last_words=last_words)

    def last_words(self, ending: Ending) -> str | None:
        """The ``say`` of the builtin tool that is ending the call (``ending.info["tool"]``),
        rendered; None when it has none (the LLM then says the last words).
        """
        tool = self.compiled.tools.get(str(ending.info.get("tool") or ""))
        if tool is None or tool.builtin is None or not tool.say:
            return None
        return self._render(tool.say, {"reason": ending.info.get("reason")}) or None

    def goodbye(self) -> str | None:
        """The ``say`` of the agent's first builtin ``end_call`` tool, rendered, or None: the last
        words of a call that ends in a final state when the LLM's last round said nothing (the
        0.5B model answered the bank's move into ``closing`` with a newline, and the caller heard
        the fallback "Sorry, could you repeat that?" before the hang-up).
        """
        say = next((t.say for t in self.compiled.tools.values() if t.builtin == "end_call" and t.say), None)
        return (self._render(say, {"reason": "final_state"}) or None) if say else None

    def _render(self, source: str, args: dict[str, Any]) -> str:
        """Render a tool template (filler, transfer target, handoff) with the call's ``args``."""
        try:
            return templating.render(source, self._tool_context().template_context(args))
        except templating.TemplateError as exc:
            self.events.emit("error", where="template", message=str(exc))
            return source
