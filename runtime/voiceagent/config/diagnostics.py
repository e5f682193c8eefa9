"""Diagnostics: one problem found in an agent file, with the place it was found.

A :class:`Diagnostic` prints GCC-style (``FILE:LINE:COL: error: MESSAGE``) so editors and CI
annotate the right line; see the CLI section of ``shared/spec/agent-format.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in an agent file.

    Attributes:
        file: the file as the user named it (or, for a parent reached through ``extends``,
            that path joined to the child's folder).
        line: 1-based line of the offending key or value.
        column: 1-based column of the offending key or value.
        severity: ``"error"`` (the file is invalid) or ``"warning"`` (valid, but suspicious).
        message: one human sentence; never contains a secret value.
        path: dotted location in the agent, e.g. ``tools[0].http.url``; ``""`` for the file.
    """

    file: str
    line: int
    column: int
    severity: Severity
    message: str
    path: str = ""

    def format(self) -> str:
        """``FILE:LINE:COL: error: MESSAGE`` (``warning:`` for warnings)."""
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of ``voiceagent validate --format json``:
        ``{file, line, column, severity, message, path}``.
        """
        return asdict(self)


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    """True when any diagnostic is an error (warnings alone keep a file valid)."""
    return any(d.severity == "error" for d in diagnostics)


@dataclass
class ConfigError(Exception):
    """An agent file could not be loaded. ``diagnostics`` lists every problem found (errors
    and warnings, in source order); ``str()`` gives the error lines only.
    """

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        errors = [d for d in self.diagnostics if d.severity == "error"] or self.diagnostics
        return "\n".join(d.format() for d in errors)


def format_path(parts: tuple[object, ...] | list[object]) -> str:
    """``("tools", 0, "http", "url")`` -> ``"tools[0].http.url"``."""
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
