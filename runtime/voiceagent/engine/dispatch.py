"""Run the function calls of one LLM round: tools, ``verify_caller`` and LLM-chosen transitions.

All calls of a round run concurrently (``asyncio.gather``) while the filler is spoken. Tool
failures, timeouts, refusals and unknown functions go back to the LLM as ``{"error": ...}``;
nothing here raises for them. Verification is decided by the guard (``engine.guardrails``),
never by the LLM: a tool whose ``requires_level`` is above ``session.verification_level`` is
not run and the LLM gets the refusal.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from voiceagent import templating
from voiceagent.config.models import Tool
from voiceagent.engine.compiler import VERIFY_FUNCTION
from voiceagent.engine.tool_schema import ArgumentError, loggable_arguments, parse_arguments
from voiceagent.providers.base import ToolCallRequest

if TYPE_CHECKING:  # pragma: no cover
    from voiceagent.engine.session import Session
    from voiceagent.engine.turn import Turn

Kind = Literal["tool", "verify", "transition", "unknown"]


@dataclass(slots=True)
class CallOutcome:
    """What one function call produced. ``content`` goes back to the LLM as the tool message."""

    call: ToolCallRequest
    kind: Kind
    ok: bool
    content: Any
    transition_to: str | None = None


def _default_refusal(tool: Tool, level: int) -> str | None:
    if tool.requires_level is not None and tool.requires_level > level:
        return (
            f"Not allowed: {tool.name} needs identity verification level {tool.requires_level}, "
            f"the caller is at level {level}. Verify the caller first."
        )
    return None


class Dispatcher:
    """Executes function calls for ``session``; see the module docstring."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def classify(self, call: ToolCallRequest) -> Kind:
        """Which kind of function ``call`` names in the current state."""
        state = self.s.compiled.state(self.s.state.state)
        if call.name == VERIFY_FUNCTION and self.s.compiled.has_verification:
            return "verify"
        if state.transition_for_function(call.name) is not None:
            return "transition"
        if call.name in state.tools:
            return "tool"
        return "unknown"

    def filler_for(self, calls: list[ToolCallRequest]) -> str | None:
        """The filler for a round: the first called tool's ``filler``, else ``behaviour.filler``.
        None when only transitions / builtins / unknown names / tools that will be refused were called.
        """
        slow = False
        for call in calls:
            kind = self.classify(call)
            if kind == "verify":
                slow = True
            elif kind == "tool":
                tool = self.s.compiled.tools[call.name]
                if tool.builtin is None and not self._refusal(tool):
                    if tool.filler is not None:  # "" = this tool runs in silence
                        return tool.filler or None
                    slow = True
        return self.s.compiled.agent.behaviour.filler if slow else None

    def _refusal(self, tool: Tool) -> str | None:
        level = self.s.state.verification_level
        return self.s.guard.refusal_for(tool, level) if self.s.guard is not None else _default_refusal(tool, level)

    async def run_calls(self, turn: Turn, calls: list[ToolCallRequest], *, spoke: bool) -> list[CallOutcome]:
        """Run ``calls`` concurrently; speak the filler first unless the LLM already said something.
        Applies transitions (the first LLM-chosen one, else the first ``on_tool`` one) afterwards.
        """
        s = self.s
        turn.metrics.tool_calls += len(calls)
        if not spoke:
            filler = self.filler_for(calls)
            if filler:
                text = self._render(filler, {})
                await s.speaker.say(text, None)
        kinds = [self.classify(c) for c in calls]
        outcomes = list(await asyncio.gather(*(self._execute(c, k) for c, k in zip(calls, kinds, strict=True))))
        chosen = next((o for o in outcomes if o.kind == "transition" and o.transition_to), None)
        chosen = chosen or next((o for o in outcomes if o.transition_to), None)
        if chosen is not None:
            s.enter_state(chosen.transition_to, via="llm" if chosen.kind == "transition" else "on_tool")
        return outcomes

    async def _execute(self, call: ToolCallRequest, kind: Kind) -> CallOutcome:
        try:  # bounded: size, depth and string length are checked before parsing (tool_schema)
            args = parse_arguments(call.arguments)
        except ArgumentError as exc:
            self.s.events.emit("tool.call", name=call.name, arguments=loggable_arguments(call.arguments))
            self.s.events.emit("tool.result", name=call.name, ok=False, error=f"invalid arguments: {exc}")
            return CallOutcome(call, kind, False, {"error": f"invalid arguments: {exc}"})
        if kind == "transition":
            target = self.s.compiled.state(self.s.state.state).transition_for_function(call.name).to  # type: ignore[union-attr]
            return CallOutcome(call, kind, True, {"ok": True, "state": target}, transition_to=target)
        if kind == "verify":
            return await self._verify(call, args)
        if kind == "unknown":
            self.s.events.emit("tool.call", name=call.name, arguments=args)
            error = f"unknown function {call.name!r} in this step of the conversation"
            self.s.events.emit("tool.result", name=call.name, ok=False, error=error)
            return CallOutcome(call, kind, False, {"error": error})
        ok, content = await self.run_tool(self.s.compiled.tools[call.name], args)
        state = self.s.compiled.state(self.s.state.state)
        transition = state.transition_on_tool(call.name) if ok else None
        if transition is not None and transition.when is not None and not self.s.guard_holds(transition.when):
            transition = None
        return CallOutcome(call, kind, ok, content, transition_to=transition.to if transition else None)

    async def run_tool(self, tool: Tool, args: dict[str, Any]) -> tuple[bool, Any]:
        """Run one agent tool (refusal check, ToolRunner, builtin actions); returns (ok, content for the LLM)."""
        s = self.s
        s.events.emit("tool.call", name=tool.name, arguments=args)
        refusal = self._refusal(tool)
        if refusal:
            s.events.emit("tool.result", name=tool.name, ok=False, error=refusal, refused=True)
            return False, {"error": refusal}
        if s.tools is not None:
            try:
                result = await s.tools.run(tool.name, args, s.tool_context())
            except Exception as exc:  # noqa: BLE001 - the runner should not raise; never crash the call
                result = _Result(False, None, f"{type(exc).__name__}: {exc}", None)
        elif tool.builtin is not None:
            result = _Result(True, {"ok": True}, None, None)
        else:
            result = _Result(False, None, "no tool runner is configured", None)
        timing = {"duration_ms": round(result.duration_ms, 1)} if getattr(result, "duration_ms", None) else {}
        if getattr(result, "output", None):  # what the tool printed: to the log, never to stdout
            timing["output"] = result.output
        if result.ok:
            s.events.emit("tool.result", name=tool.name, ok=True, result=result.result, **timing)
        else:
            s.events.emit("tool.result", name=tool.name, ok=False, error=result.error, **timing)
        if result.ok and tool.builtin is not None:
            self._builtin_action(tool, args, result.action)
        if hasattr(result, "for_llm"):
            return result.ok, result.for_llm()
        if result.ok:
            return True, result.result if result.result is not None else {"ok": True}
        return False, {"error": result.error or "the tool failed"}

    async def _verify(self, call: ToolCallRequest, args: dict[str, Any]) -> CallOutcome:
        s = self.s
        # Stated factor values are personal data: the log gets their names only.
        s.events.emit("tool.call", name=VERIFY_FUNCTION, arguments={k: "[redacted]" for k in args})
        if s.guard is None:
            error = "verification is not available"
            s.events.emit("tool.result", name=VERIFY_FUNCTION, ok=False, error=error)
            return CallOutcome(call, "verify", False, {"error": error})
        try:
            outcome = await s.guard.verify(args, s.tool_context())
        except Exception as exc:  # noqa: BLE001 - the guard should not raise; never crash the call
            error = f"verification failed: {type(exc).__name__}"
            s.events.emit("tool.result", name=VERIFY_FUNCTION, ok=False, error=error)
            return CallOutcome(call, "verify", False, {"error": error})
        s.state.verification_level = int(outcome.level or 0)
        s.events.emit(
            "verification",
            level=s.state.verification_level,
            factors_matched=list(outcome.matched or []),
            locked_out=bool(outcome.locked_out),
        )
        content = (
            outcome.for_llm()
            if hasattr(outcome, "for_llm")
            else {"verification_level": s.state.verification_level, "message": outcome.message}
        )
        s.events.emit(
            "tool.result",
            name=VERIFY_FUNCTION,
            ok=True,
            result={"verification_level": s.state.verification_level, "locked_out": bool(outcome.locked_out)},
        )
        if getattr(outcome, "newly_locked", outcome.locked_out):
            await self._lockout()
        return CallOutcome(call, "verify", True, content)

    async def _lockout(self) -> None:
        """Run ``on_lockout`` through the guard (a tool such as a transfer, or ``end_call``)."""
        s = self.s
        s.events.emit("verification.lockout", action=getattr(s.guard, "lockout_action", None))
        run_lockout = getattr(s.guard, "run_lockout", None)
        result = await run_lockout(s.tool_context()) if run_lockout is not None else None
        if result is None:
            return
        # the runtime, not the LLM, ends this call: the LLM gets a last round to tell the caller
        if result.ok and result.action is not None:
            self._apply_action(result.action, None, last_words=True)
        elif not result.ok:
            s.events.emit("error", where="guardrails", message=result.error or "lockout action failed")
            s.request_end("end_call", {"reason": "verification_lockout"}, last_words=True)

    def _builtin_action(self, tool: Tool, args: dict[str, Any], action: Any) -> None:
        if action is None:  # no runner: derive the action from the tool definition
            info: dict[str, Any] = {"reason": args.get("reason")}
            if tool.builtin == "transfer":
                info.update(
                    to=self._render(tool.to or "", {"args": args}),
                    mode=tool.mode,
                    handoff=self._render(tool.handoff_prompt, {"args": args}) if tool.handoff_prompt else None,
                )
            self.s.request_end("transfer" if tool.builtin == "transfer" else "end_call", {**info, "tool": tool.name})
            return
        self._apply_action(action, tool.name)

    def _apply_action(self, action: Any, tool: str | None, *, last_words: bool = False) -> None:
        """Carry out a ``TransferAction`` (has ``to``) or ``EndCallAction`` from the tool runner."""
        info = dataclasses.asdict(action) if dataclasses.is_dataclass(action) else dict(action)
        if tool is not None:
            info["tool"] = tool
        if "to" in info:
            self.s.request_end("transfer", info, last_words=last_words)
        else:
            info["reason"] = info.get("reason") or "end_call"
            self.s.request_end("end_call", info, last_words=last_words)

    def _render(self, source: str, extra: dict[str, Any]) -> str:
        try:
            return templating.render(source, self.s.tool_context().template_context(**extra))
        except templating.TemplateError as exc:
            self.s.events.emit("error", where="template", message=str(exc))
            return source


@dataclass(slots=True)
class _Result:
    ok: bool
    result: Any
    error: str | None
    action: Any
