"""The JSON Schema (Draft 2020-12) of agent files, generated from the pydantic models.

``voiceagent schema`` prints :func:`schema_text`; ``schemas/agent.schema.json`` is exactly that
output (a test fails when it drifts). A file with ``extends`` is a *variant*: it is checked
against ``AgentVariant``, where every field is optional and may be ``null`` (null removes the
inherited value), because it only lists what differs from its parent.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

from voiceagent.config.models import Agent

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_META = ("title", "description", "examples", "default")


def _override_ref(ref: str, defs: dict[str, Any], out: dict[str, Any]) -> str:
    name = ref.rsplit("/", 1)[-1]
    new = name + "Override"
    if new not in out:
        out[new] = {}  # placeholder against recursion
        out[new] = _override_object(defs[name], defs, out)
    return f"#/$defs/{new}"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    meta = {k: schema[k] for k in _META if k in schema and k != "default"}
    body = {k: v for k, v in schema.items() if k not in _META}
    if "anyOf" in body and {"type": "null"} in body["anyOf"]:
        return {**meta, **body}
    return {**meta, "anyOf": [body, {"type": "null"}]}


def _override_prop(schema: dict[str, Any], defs: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(schema)
    if "$ref" in s:
        s["$ref"] = _override_ref(s["$ref"], defs, out)
    for branch in s.get("anyOf", []):
        if "$ref" in branch and branch["$ref"] != _ENV_REF["$ref"]:
            branch["$ref"] = _override_ref(branch["$ref"], defs, out)
    add = s.get("additionalProperties")
    if isinstance(add, dict) and "$ref" in add:
        s["additionalProperties"] = {"$ref": _override_ref(add["$ref"], defs, out)}
    return _nullable(s)


def _override_object(schema: dict[str, Any], defs: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """Deep-partial copy of an object schema: nothing required, every value may be null;
    mappings merge so their values are partial too; lists replace so their items stay whole.
    """
    s = {k: copy.deepcopy(v) for k, v in schema.items() if k not in ("required", "properties", "oneOf")}
    s["properties"] = {k: _override_prop(v, defs, out) for k, v in schema.get("properties", {}).items()}
    return s


def _levels_keys(defs: dict[str, Any]) -> None:
    # YAML level keys are integers (1:, 2:); JSON keys are strings. `pattern` ignores
    # non-strings, so both "1" (JSON) and 1 (YAML loaded by check-jsonschema) pass.
    levels = defs["Verification"]["properties"]["levels"]
    levels["propertyNames"] = {"pattern": "^[0-9]+$"}


ENV_REFERENCE = {
    "type": "string",
    "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$",
    "description": "An environment variable reference, ${NAME} or ${NAME:-default}, filled in when the agent runs.",
    "examples": ["${LLM_TEMPERATURE:-0.3}"],
}
_ENV_REF = {"$ref": "#/$defs/EnvReference"}


def _allow_env_reference(prop: dict[str, Any]) -> None:
    """Typed scalar fields (numbers, true/false, fixed choices) may be written as one
    ``${VAR}`` reference, as ``voiceagent validate`` accepts; text fields already may.
    """
    meta = {k: prop.pop(k) for k in list(prop) if k in _META}
    if "anyOf" in prop:
        branches = prop["anyOf"]
    else:
        branches = [dict(prop)]
        prop.clear()
    typed = any(b.get("type") in ("integer", "number", "boolean") or "enum" in b or "const" in b for b in branches)
    if typed:
        prop["anyOf"] = [*branches, _ENV_REF]
    elif len(branches) == 1:
        prop.update(branches[0])
    else:
        prop["anyOf"] = branches
    prop.update(meta)


@lru_cache(maxsize=1)
def agent_json_schema() -> dict[str, Any]:
    """The agent-file schema as a dict (cached; treat as read-only)."""
    base = Agent.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = base.pop("$defs")
    _levels_keys(defs)
    for model in [base, *defs.values()]:
        for prop in model.get("properties", {}).values():
            _allow_env_reference(prop)
    defs["EnvReference"] = dict(ENV_REFERENCE)
    agent = dict(base)
    overrides: dict[str, Any] = {}
    variant = _override_object(agent, defs, overrides)
    variant["title"] = "AgentVariant"
    variant["description"] = (
        "A variant of another agent file (it has `extends`): only the keys that differ. "
        "Mappings merge key by key, lists and scalars replace, null removes the inherited key."
    )
    variant["required"] = ["extends"]
    variant["properties"]["extends"] = copy.deepcopy(agent["properties"]["extends"])
    variant["properties"]["extends"].pop("default", None)
    variant["properties"]["extends"].pop("anyOf", None)
    variant["properties"]["extends"]["type"] = "string"
    agent["description"] = "A voice agent: what it says, how it sounds and what it may do."
    all_defs = {**defs, **overrides, "Agent": agent, "AgentVariant": variant}
    return {
        "$schema": DRAFT,
        "title": "voiceagent agent file",
        "description": "A YAML agent definition for the voiceagent runtime (docs/agent-reference.md).",
        "type": "object",
        "if": {"required": ["extends"]},
        "then": {"$ref": "#/$defs/AgentVariant"},
        "else": {"$ref": "#/$defs/Agent"},
        "$defs": dict(sorted(all_defs.items())),
    }


def schema_text() -> str:
    """The schema as committed: JSON, indent 2, non-ASCII kept, trailing newline."""
    return json.dumps(agent_json_schema(), indent=2, ensure_ascii=False) + "\n"
