"""Tool parameter schemas: OpenAI function definitions and argument validation.

The declared ``parameters`` of a tool (docs/agent-reference.md, ``tools[ ].parameters``) are
JSON-Schema properties (https://json-schema.org/draft/2020-12/json-schema-validation);
``required`` defaults to every parameter. Builtins (transfer, end_call) always accept an
optional string ``reason``. Validation uses ``jsonschema`` (Draft 2020-12, formats checked).
OpenAI function-tool shape: https://platform.openai.com/docs/guides/function-calling
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import jsonschema

from voiceagent.config.models import Tool

__all__ = [
    "ArgumentError",
    "ToolFailure",
    "parameters_schema",
    "parse_arguments",
    "tool_definition",
    "tool_definitions",
    "validate_arguments",
]

_REASON = {"type": "string", "description": "Why, in a few words."}


class ToolFailure(Exception):
    """Raised inside tool implementations; its text becomes ``ToolResult.error`` (scrubbed)."""


class ArgumentError(ToolFailure):
    """Arguments from the LLM that are not valid JSON or do not match the tool's parameters."""


def parameters_schema(tool: Tool) -> dict[str, Any]:
    """The JSON Schema (type object) of ``tool``'s arguments.

    Properties come from ``tool.parameters`` (unset keys omitted); ``required`` is
    ``tool.required`` or every parameter. Builtins get an optional ``reason`` string unless they
    declare one.
    """
    props: dict[str, Any] = {name: p.model_dump(exclude_none=True) for name, p in tool.parameters.items()}
    required = list(tool.required) if tool.required is not None else list(tool.parameters)
    if tool.builtin is not None and "reason" not in props:
        props["reason"] = dict(_REASON)
    return {"type": "object", "properties": props, "required": required}


def tool_definition(tool: Tool) -> dict[str, Any]:
    """One OpenAI function-tool definition: ``{"type": "function", "function": {name, description, parameters}}``."""
    fn: dict[str, Any] = {"name": tool.name, "parameters": parameters_schema(tool)}
    if tool.description:
        fn["description"] = tool.description
    elif tool.builtin == "transfer":
        fn["description"] = "Transfer the call to a human."
    elif tool.builtin == "end_call":
        fn["description"] = "End the call."
    return {"type": "function", "function": fn}


def tool_definitions(tools: Iterable[Tool]) -> list[dict[str, Any]]:
    """OpenAI function-tool definitions for ``tools``, in order (see :func:`tool_definition`)."""
    return [tool_definition(t) for t in tools]


def parse_arguments(arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """Arguments as a dict: a mapping is copied, a JSON text parsed (empty text/None -> ``{}``).

    Raises:
        ArgumentError: the text is not JSON or not a JSON object.
    """
    if arguments is None:
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if isinstance(arguments, (bytes, bytearray)):
        arguments = arguments.decode("utf-8", "replace")
    text = str(arguments).strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"arguments are not valid JSON ({exc.msg} at position {exc.pos})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ArgumentError("arguments must be a JSON object")
    return value


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        json.loads(schema_json), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate_arguments(tool: Tool, args: dict[str, Any]) -> dict[str, Any]:
    """Check ``args`` against ``tool``'s parameter schema and return the arguments to pass.

    Arguments the tool does not declare are dropped (LLMs sometimes invent extras; a python
    function would fail on them). Every violation is reported at once, e.g.
    ``invalid arguments: 'account_id' is required; amount: 'x' is not of type 'number'``.
    Values are not echoed for pattern/enum failures beyond what jsonschema reports for the field.

    Raises:
        ArgumentError: the arguments do not match.
    """
    schema = parameters_schema(tool)
    known = schema["properties"]
    args = {k: v for k, v in args.items() if k in known}
    validator = _validator(json.dumps(schema, sort_keys=True))
    problems = []
    for err in sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in err.absolute_path)
        problems.append(f"{where}: {_short(err)}" if where else _short(err))
    if problems:
        raise ArgumentError("invalid arguments: " + "; ".join(problems))
    return args


def _short(err: jsonschema.ValidationError) -> str:
    if err.validator in ("pattern", "enum", "format"):
        # Do not repeat the (possibly sensitive) value back; say what was expected.
        if err.validator == "pattern":
            return f"does not match pattern {err.validator_value!r}"
        if err.validator == "enum":
            return f"must be one of {err.validator_value!r}"
        return f"is not a valid {err.validator_value}"
    msg = str(err.message)
    return msg if len(msg) <= 160 else msg[:157] + "..."
