"""Mutable per-call session state and the template context built from it.

Templates and guards see the names of the agent format (docs: shared spec, "Strings"):
``variables`` (also top-level by name), ``caller``, ``session`` (``state``, ``turns``,
``verification_level``, ``language``), ``now`` and, inside a tool, ``args``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class SessionState:
    """What the runtime knows about the call so far; the session loop is its only writer.

    Attributes:
        state: the current flow state name (``"main"`` for an agent without ``flow``).
        turns: caller turns taken so far (final transcripts answered).
        verification_level: 0 until ``verify_caller`` reaches a level (guardrails).
        language: BCP-47 language of the call.
        verification_attempts: failed ``verify_caller`` attempts (kept for the guard).
    """

    state: str
    turns: int = 0
    verification_level: int = 0
    language: str = "en"
    verification_attempts: int = 0

    def as_template(self) -> dict[str, Any]:
        """The ``session`` mapping templates and guards see (a copy; templates cannot mutate it)."""
        return {
            "state": self.state,
            "turns": self.turns,
            "verification_level": self.verification_level,
            "language": self.language,
        }


def caller_facts(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``caller`` mapping of a call: ``phone`` and ``id`` as text ("" when the transport does
    not know them, so ``{{ caller.phone }}`` renders empty rather than "None"), ``metadata`` a
    dict; other keys the transport gives are kept. A missing fact is falsy, as before.
    """
    out = dict(raw or {})
    for key in ("phone", "id"):
        out[key] = "" if out.get(key) is None else str(out[key])
    out["metadata"] = dict(out.get("metadata") or {})
    return out


def template_context(
    session: SessionState,
    variables: Mapping[str, Any],
    caller: Mapping[str, Any],
    now: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The Jinja2 context for prompts, greetings, guards and tool templates.

    Variables are also available top-level by name; the reserved names (``variables``,
    ``caller``, ``session``, ``now`` and ``extra`` keys such as ``args``) win over variables
    of the same name.
    """
    ctx: dict[str, Any] = dict(variables)
    ctx.update(
        variables=dict(variables),
        caller=dict(caller),
        session=session.as_template(),
        now=now or datetime.now(UTC),
    )
    ctx.update(extra)
    return ctx
