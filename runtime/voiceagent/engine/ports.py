"""The seams of the session loop that are not providers or transports: tools and verification.

The session is typed against these Protocols, never against the concrete classes, so a test
(or a server) can hand it a stand-in. The real implementations satisfy them:
:class:`voiceagent.engine.tools.ToolRunner` is a :class:`ToolRunnerPort` and
:class:`voiceagent.engine.guardrails.VerificationGuard` a :class:`Guard`
(``tests/engine/test_ports.py`` checks both under mypy and at runtime).

The data crossing them (:class:`~voiceagent.engine.tools.ToolResult`,
:class:`~voiceagent.engine.tools.ToolContext`,
:class:`~voiceagent.engine.guardrails.VerificationOutcome`) are plain dataclasses.
Protocols: https://typing.readthedocs.io/en/latest/spec/protocol.html
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from voiceagent.config.models import Tool
    from voiceagent.engine.guardrails import VerificationOutcome
    from voiceagent.engine.tools import ToolContext, ToolResult

__all__ = ["Guard", "ToolRunnerPort"]


@runtime_checkable
class ToolRunnerPort(Protocol):
    """Runs the agent's tools (python, HTTP, builtin) for the session."""

    async def run(self, name: str, arguments: Mapping[str, Any] | str | None, ctx: ToolContext) -> ToolResult:
        """Run tool ``name`` with ``arguments`` (a dict or the LLM's raw JSON text).

        Must not raise for a tool failure: a failure is ``ToolResult(ok=False, error=...)``.
        Cancellation (barge-in) propagates.
        """
        ...


@runtime_checkable
class Guard(Protocol):
    """Decides caller verification (``verify_caller``) and the refusals of ``requires_level`` tools.

    The guard computes levels; the call's current level is held by the flow
    (:attr:`voiceagent.engine.flow.Flow.verification_level`) and passed in.
    """

    @property
    def lockout_action(self) -> str | None:
        """``on_lockout``: a tool name or ``"end_call"``, or None."""
        ...

    def refusal_for(self, tool: Tool, level: int | None = None) -> str | None:
        """Text for the LLM when ``tool.requires_level`` exceeds ``level``, else None."""
        ...

    async def verify(self, arguments: Mapping[str, Any] | str | None, ctx: ToolContext) -> VerificationOutcome:
        """Check the stated factors; never raises for bad input or lookup failures."""
        ...

    async def prefetch(self, ctx: ToolContext) -> bool:
        """Look the caller's record up at session start when no factor is needed to find it, so
        its redacted values are masked from the first transcript on; True when it did. Never raises.
        """
        ...

    async def run_lockout(self, ctx: ToolContext) -> ToolResult | None:
        """Run the ``on_lockout`` action; None when none is configured."""
        ...
