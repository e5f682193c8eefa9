"""The functions the runtime itself offers the LLM, defined once for validate and run.

``verify_caller`` (when ``guardrails.verification`` is set) and one ``go_to_<state>`` per
LLM-chosen transition. ``voiceagent validate`` (``config.checks``) reserves these names, the
compiler (``engine.compiler``) offers them and the verification guard answers ``verify_caller``.
This module imports nothing from the engine, so config can use it.

Function format: https://platform.openai.com/docs/api-reference/chat/create#chat-create-tools
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["TRANSITION_PREFIX", "VERIFY_FUNCTION", "transition_function_name", "verify_function"]

VERIFY_FUNCTION = "verify_caller"
"""Name of the builtin verification function (a tool of that name is refused)."""

TRANSITION_PREFIX = "go_to_"
"""Prefix of the functions of LLM-chosen transitions (tool names with it are refused)."""


def verify_function(factors: Iterable[str]) -> dict[str, Any]:
    """The OpenAI function definition of ``verify_caller``: one optional string per factor.

    Args:
        factors: the ``guardrails.verification.factors`` names, in file order.

    Returns:
        ``{"type": "function", "function": {"name": "verify_caller", ...}}`` with
        ``required: []`` (callers may give factors one at a time).
    """
    return {
        "type": "function",
        "function": {
            "name": VERIFY_FUNCTION,
            "description": (
                "Verify the caller's identity. Pass only the facts the caller has told you, "
                "exactly as they said them. Returns the verification level reached."
            ),
            "parameters": {
                "type": "object",
                "properties": {
                    f: {"type": "string", "description": f"The caller's {f.replace('_', ' ')}, as they said it."}
                    for f in factors
                },
                "required": [],
            },
        },
    }


def transition_function_name(state: str) -> str:
    """``go_to_<state>`` with characters a function name cannot hold replaced by ``_``."""
    return TRANSITION_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", state)
