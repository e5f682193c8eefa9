"""The fixture agent of tests/tools: python, HTTP and builtin tools and a verification setup."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

TOOLS_PY = """
import asyncio
import time
from datetime import date

CALLS = []

def add(a, b):
    return {"sum": a + b}

async def async_echo(text):
    await asyncio.sleep(0)
    return {"echo": text}

def whoami(ctx):
    return {"phone": ctx.caller.get("phone"), "state": ctx.session.get("state")}

def whoami_context(context, *, greeting="hi"):
    return {"phone": context.caller.get("phone"), "greeting": greeting}

def kw(**kwargs):
    return sorted(kwargs)

def boom(reason):
    raise RuntimeError("database exploded: " + reason)

def slow():
    time.sleep(1.0)
    return "late"

async def aslow():
    await asyncio.sleep(5)
    return "late"

def weird():
    return {"when": date(2024, 1, 2), "tags": {"x"}, 3: object.__new__(Thing)}

class Thing:
    def __str__(self):
        return "a thing"

def lookup_customer():
    return RECORD

RECORD = {
    "name": "Jane O'Neil",
    "dob": "1990-05-17",
    "account_last_four": "4321",
    "city": "São Paulo",
    "debit_card_last_four": "4111 1111 1111 9876",
}
"""

HELPER_PY = """
VALUE = 41
"""

USES_SIBLING_PY = """
from tools import helper

def answer():
    return helper.VALUE + 1
"""


def agent_dict(**overrides: Any) -> dict[str, Any]:
    """The fixture agent as plain data (tests tweak it before validating)."""
    data: dict[str, Any] = {
        "name": "fixture-agent",
        "prompt": "You help {{ company }} customers.",
        "variables": {"company": "Acme"},
        "tools": [
            {
                "name": "add",
                "parameters": {"a": {"type": "number"}, "b": {"type": "number"}},
                "python": "tools.acme:add",
            },
            {"name": "async_echo", "parameters": {"text": {"type": "string"}}, "python": "tools.acme:async_echo"},
            {"name": "whoami", "python": "tools.acme:whoami"},
            {"name": "whoami_context", "python": "tools.acme:whoami_context"},
            {
                "name": "kw",
                "parameters": {"x": {"type": "string"}, "y": {"type": "string"}},
                "required": ["x"],
                "python": "tools.acme:kw",
            },
            {"name": "boom", "parameters": {"reason": {"type": "string"}}, "python": "tools.acme:boom"},
            {"name": "slow", "python": "tools.acme:slow", "timeout_ms": 100},
            {"name": "aslow", "python": "tools.acme:aslow", "timeout_ms": 100},
            {"name": "weird", "python": "tools.acme:weird"},
            {"name": "sibling", "python": "tools.uses_sibling:answer"},
            {"name": "missing_module", "python": "tools.nope:fn"},
            {"name": "missing_function", "python": "tools.acme:nope"},
            {
                "name": "get_account",
                "parameters": {
                    "account_id": {"type": "string", "pattern": "^[0-9]{4,12}$"},
                    "kind": {"type": "string", "enum": ["savings", "current"]},
                },
                "required": ["account_id"],
                "python": "tools.acme:kw",
                "requires_level": 2,
            },
            {"name": "lookup_customer", "python": "tools.acme:lookup_customer"},
            {
                "name": "transfer_to_human",
                "builtin": "transfer",
                "to": "+15550100",
                "mode": "warm",
                "handoff_prompt": "Customer escalation for {{ caller.phone }}: {{ args.reason }}",
            },
            {"name": "cold_transfer", "builtin": "transfer", "to": "sip:desk@{{ company | lower }}.example"},
            {"name": "hang_up", "builtin": "end_call"},
        ],
        "guardrails": {
            "verification": {
                "factors": ["name", "dob", "account_last_four", "city", "debit_card_last_four"],
                "lookup": "lookup_customer",
                "levels": {
                    1: {"min_factors": 2, "description": "information queries"},
                    2: {"min_factors": 3, "description": "banking actions"},
                },
                "max_attempts": 3,
                "on_lockout": "transfer_to_human",
            },
            "redact": ["dob", "account_last_four", "debit_card_last_four"],
        },
    }
    data.update(overrides)
    return data


def write_tools(base_dir: Path) -> Path:
    """Write the fixture ``tools`` package into ``base_dir`` and return ``base_dir``."""
    pkg = base_dir / "tools"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "acme.py").write_text(textwrap.dedent(TOOLS_PY))
    (pkg / "helper.py").write_text(HELPER_PY)
    (pkg / "uses_sibling.py").write_text(USES_SIBLING_PY)
    return base_dir
