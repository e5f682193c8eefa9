"""Helpers for the agent-config tests: compact views of diagnostics."""

from __future__ import annotations

from voiceagent.config.diagnostics import Diagnostic


def errors(diags: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.severity == "error"]


def where(diags: list[Diagnostic]) -> list[tuple[int, int, str]]:
    """(line, column, message) of every diagnostic, for compact assertions."""
    return [(d.line, d.column, d.message) for d in diags]
