"""The JSON Schema (Draft 2020-12) of conversation test files, generated from the models.

``schemas/agent-test.schema.json`` is exactly :func:`schema_text` (a test fails when it drifts;
``python scripts/gen_reference.py`` rewrites it). Editors use it through the first line of a
test file: ``# yaml-language-server: $schema=../../schemas/agent-test.schema.json``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from voiceagent.convtest.models import AgentTests

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_ONE_OR_MORE = ("tools_not_called", "reply_contains", "reply_not_contains")


@lru_cache(maxsize=1)
def test_json_schema() -> dict[str, Any]:
    """The test-file schema as a dict (cached; treat as read-only)."""
    base = AgentTests.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = base.pop("$defs")
    for key in _ONE_OR_MORE:  # one text may stand for a list of one, as the loader accepts
        prop = defs["Expect"]["properties"][key]
        branches = [b for b in prop["anyOf"] if b.get("type") != "null"]
        prop["anyOf"] = [*branches, {"type": "string"}, {"type": "null"}]
    defs["AgentTests"] = dict(base)
    return {
        "$schema": DRAFT,
        "title": "voiceagent conversation test file",
        "description": "Scripted calls with a voice agent and what must happen in each turn (docs/test-reference.md).",
        "$ref": "#/$defs/AgentTests",
        "$defs": dict(sorted(defs.items())),
    }


test_json_schema.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def schema_text() -> str:
    """The schema as committed: JSON, indent 2, non-ASCII kept, trailing newline."""
    return json.dumps(test_json_schema(), indent=2, ensure_ascii=False) + "\n"
