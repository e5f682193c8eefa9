"""Python tools of the example agents (``python: tools.acme:get_account_info`` in agents/*.yaml).

The runtime imports ``tools.<module>`` with the agent file's folder first on the import path
(docs/agent-reference.md, "tools"). Every tool is a plain function that takes the
LLM's arguments as keyword arguments and may accept an optional keyword ``ctx`` (an object or a
mapping with ``caller``, ``session`` and ``variables``); it returns JSON-serialisable data or
raises an exception whose message the runtime reports to the LLM as the tool error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["caller_phone", "field"]


def field(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]``; None when ``obj`` is None or has neither."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def caller_phone(ctx: Any) -> str | None:
    """The caller's phone number from a tool context (``ctx.caller.phone``), or None.

    Accepts objects and mappings at both levels; surrounding whitespace is removed and an empty
    value counts as absent.
    """
    phone = field(field(ctx, "caller"), "phone")
    if phone is None:
        return None
    phone = str(phone).strip()
    return phone or None
