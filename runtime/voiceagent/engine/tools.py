"""Tool execution for one agent: python, HTTP and builtin tools behind one ``run`` call.

The session loop hands every LLM tool call to :meth:`ToolRunner.run`, which never raises for a
tool failure: unknown tools, invalid JSON arguments, schema violations, exceptions, timeouts and
non-2xx HTTP answers all become ``ToolResult(ok=False, error=...)`` with a short message meant
for the LLM (scrubbed by the :class:`~voiceagent.engine.redaction.Redactor`: no secrets, no
registered sensitive values).

Python tools run contained (:mod:`voiceagent.engine.tool_exec`): ``sys.exit``,
``KeyboardInterrupt`` and a self-raised ``CancelledError`` are tool errors, sync tools run on
daemon threads (a hung one never keeps the process alive), and what a tool prints is captured into
``ToolResult.output`` (the event log), never written to the conversation's stdout.

Format: docs/agent-reference.md ("tools"); contracts: docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from voiceagent.config.models import Agent, Tool
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tool_exec import OutputCapture, ToolAborted, capture_output, describe_abort
from voiceagent.engine.tool_schema import (
    ArgumentError,
    ToolFailure,
    parse_arguments,
    tool_definitions,
    validate_arguments,
)
from voiceagent.templating import TemplateError, render

__all__ = [
    "EndCallAction",
    "ToolContext",
    "ToolFailure",
    "ToolResult",
    "ToolRunner",
    "TransferAction",
    "tool_definitions",
]


@dataclass
class ToolContext:
    """What a tool may know about the call it runs in.

    Attributes:
        caller: transport-provided caller facts, e.g. ``{"phone": "+15550100", "id": ..., "metadata": {...}}``.
        session: read-only view of session state: ``state`` (str), ``turns`` (int),
            ``verification_level`` (int), ``language`` (BCP-47 str).
        variables: the agent's template variables (``agent.variables`` plus overrides).
        now: the wall-clock time of the call (timezone-aware UTC by default).
    """

    caller: dict[str, Any] = field(default_factory=dict)
    session: Mapping[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def template_context(self, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The Jinja2 context of agent files (docs/agent-reference.md): variables (also top-level by name),
        ``caller``, ``session``, ``args``, ``now``. Reserved names win over variables of the same name.
        """
        ctx: dict[str, Any] = dict(self.variables)
        ctx.update(
            variables=self.variables,
            caller=self.caller,
            session=dict(self.session),
            args=dict(args or {}),
            now=self.now,
        )
        return ctx


@dataclass(frozen=True)
class TransferAction:
    """The session must transfer the call.

    Attributes:
        to: destination phone number or SIP URI (rendered).
        mode: ``cold`` (blind) or ``warm`` (the human first hears ``handoff``).
        handoff: rendered ``handoff_prompt`` for warm transfers, else None.
    """

    to: str
    mode: Literal["cold", "warm"] = "cold"
    handoff: str | None = None


@dataclass(frozen=True)
class EndCallAction:
    """The session must end the call after the agent's reply. ``reason`` is free text or None."""

    reason: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call.

    Attributes:
        ok: True when the tool ran and succeeded.
        result: JSON-serialisable value for the LLM when ok (dict, list, str, number, bool, None).
        error: short, scrubbed message for the LLM when not ok.
        action: a call-control action the session must carry out (builtins), or None.
        duration_ms: wall time of the call in milliseconds.
        output: what the tool printed to stdout/stderr while it ran (cut at
            :data:`~voiceagent.engine.tool_exec.OUTPUT_LIMIT` characters), for the event log only;
            None when it printed nothing.
    """

    ok: bool
    result: Any = None
    error: str | None = None
    action: TransferAction | EndCallAction | None = None
    duration_ms: float = 0.0
    output: str | None = None

    def for_llm(self) -> str:
        """The JSON text to put in the ``tool`` message for the LLM: the result, or ``{"error": ...}``."""
        payload = self.result if self.ok else {"error": self.error}
        return json.dumps(payload, ensure_ascii=False, default=str)


class ToolRunner:
    """Runs the tools of one agent. One instance may serve many sessions (it holds no call state).

    Args:
        agent: the loaded agent; its ``tools`` are the runnable tools.
        base_dir: folder of the agent file; ``python: module:function`` is imported from here first.
        redactor: scrubs error messages (and nothing else: results go to the LLM unchanged).
        http_client: shared ``httpx.AsyncClient``; when None the runner creates (and closes) its own.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        base_dir: Path,
        redactor: Redactor,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        from voiceagent.engine.tool_http import HttpToolCaller
        from voiceagent.engine.tool_python import PythonToolLoader

        self.agent = agent
        self.base_dir = Path(base_dir)
        self.redactor = redactor
        self._tools: dict[str, Tool] = {t.name: t for t in agent.tools}
        self._python = PythonToolLoader(self.base_dir)
        self._http = HttpToolCaller(http_client, redactor=redactor, tools=agent.tools)  # registers tool secrets

    def tool(self, name: str) -> Tool | None:
        """The declared tool called ``name``, or None."""
        return self._tools.get(name)

    async def run(self, name: str, arguments: Mapping[str, Any] | str | None, ctx: ToolContext) -> ToolResult:
        """Run tool ``name`` with ``arguments`` (a dict, or the raw JSON text from the LLM).

        Never raises for tool failures (see module docstring); returns ``ToolResult``. A tool
        that calls ``sys.exit``, raises ``KeyboardInterrupt`` or raises ``CancelledError`` by
        itself gets ``ok=False`` too. Cancellation of the calling task propagates (barge-in may
        cancel a tool).
        """
        started = time.perf_counter()
        capture: OutputCapture | None = None

        def done(ok: bool, result: Any = None, error: str | None = None, action: Any = None) -> ToolResult:
            if error is not None:
                error = self.redactor.scrub_text(error)
            output = capture.text() if capture is not None else None
            if output is not None:
                output = self.redactor.scrub_text(output)
            return ToolResult(ok, result, error, action, (time.perf_counter() - started) * 1000.0, output)

        tool = self._tools.get(name)
        if tool is None:
            return done(False, error=f"unknown tool '{name}'")
        try:
            args = parse_arguments(arguments)
            args = validate_arguments(tool, args)
        except ArgumentError as exc:
            return done(False, error=str(exc))

        try:
            with capture_output() as capture:
                if tool.builtin is not None:
                    result, action = self._builtin(tool, args, ctx)
                    return done(True, result, action=action)
                if tool.python is not None:
                    coro = self._python.call(tool.python, args, ctx)
                elif tool.http is not None:
                    coro = self._http.call(tool.http, args, ctx)
                else:
                    return done(False, error=f"tool '{name}' has no implementation (python, http or builtin)")
                # asyncio.timeout, not wait_for: on 3.11 wait_for may swallow a barge-in's cancellation
                async with asyncio.timeout(tool.timeout_ms / 1000.0):
                    result = await coro
        except TimeoutError:
            # a sync python tool's daemon thread runs on in the background (engine/tool_exec.py)
            return done(False, error=f"tool '{name}' timed out after {tool.timeout_ms} ms")
        except ToolAborted as exc:
            return done(False, error=f"tool '{name}' failed: it {exc}")
        except ToolFailure as exc:
            return done(False, error=str(exc))
        except TemplateError as exc:
            return done(False, error=f"tool '{name}' is misconfigured: {exc}")
        except Exception as exc:  # noqa: BLE001 - a tool must never crash a call
            return done(False, error=f"tool '{name}' failed: {type(exc).__name__}: {exc}"[:300])
        except (SystemExit, KeyboardInterrupt) as exc:  # raised outside tool_exec (e.g. an HTTP hook)
            return done(False, error=f"tool '{name}' failed: it {describe_abort(exc)}")
        return done(True, result)

    def _builtin(self, tool: Tool, args: dict[str, Any], ctx: ToolContext) -> tuple[Any, Any]:
        reason = args.get("reason")
        reason = str(reason) if reason is not None else None
        if tool.builtin == "transfer":
            tctx = ctx.template_context(args)
            to = render(tool.to or "", tctx).strip()
            if not to:
                raise ToolFailure(f"tool '{tool.name}' has no transfer destination")
            handoff = None
            if tool.mode == "warm":
                handoff = render(tool.handoff_prompt, tctx).strip() if tool.handoff_prompt else reason
            return {"status": "transferring", "mode": tool.mode}, TransferAction(to, tool.mode, handoff)
        return {"status": "ending_call"}, EndCallAction(reason)

    async def aclose(self) -> None:
        """Close the HTTP client when the runner created it."""
        await self._http.aclose()
