"""Tool parameter schemas: OpenAI function definitions and argument validation.

The declared ``parameters`` of a tool (docs/agent-reference.md, ``tools[ ].parameters``) are
JSON-Schema properties (https://json-schema.org/draft/2020-12/json-schema-validation);
``required`` defaults to every parameter. Builtins (transfer, end_call) always accept an
optional string ``reason``. Validation uses ``jsonschema`` (Draft 2020-12, formats checked).
OpenAI function-tool shape: https://platform.openai.com/docs/guides/function-calling

Arguments come from the LLM, i.e. indirectly from the caller, so they are bounded before any
work is done on them (:func:`parse_arguments`): at most :data:`MAX_ARGUMENTS_CHARS` characters of
JSON, :data:`MAX_DEPTH` levels of nesting and :data:`MAX_STRING_CHARS` characters per string;
anything larger is refused with an :class:`ArgumentError` for the LLM (a 600 KB ``verify_caller``
value used to block the event loop for seconds; a 200 000-deep array raised ``RecursionError``).
A parameter's ``pattern`` must match the **whole** value (``re.fullmatch`` semantics): with JSON
Schema's search semantics ``^[0-9]{4,8}$`` accepts ``"1234"`` plus a newline, because ``$``
matches before a trailing newline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import jsonschema

from voiceagent.config.models import Tool

__all__ = [
    "MAX_ARGUMENTS_CHARS",
    "MAX_DEPTH",
    "MAX_STRING_CHARS",
    "ArgumentError",
    "ToolFailure",
    "loggable_arguments",
    "parameters_schema",
    "parse_arguments",
    "tool_definition",
    "tool_definitions",
    "validate_arguments",
]

_REASON = {"type": "string", "description": "Why, in a few words."}

MAX_ARGUMENTS_CHARS = 32_000
"""Longest arguments JSON text accepted from the LLM (characters)."""
MAX_STRING_CHARS = 4_000
"""Longest string value (or key) accepted in tool arguments (characters)."""
MAX_DEPTH = 16
"""Deepest nesting of arrays/objects accepted in tool arguments (the arguments object is level 1)."""
_LOG_CHARS = 500


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

    Bounded first: the text may be at most :data:`MAX_ARGUMENTS_CHARS` characters and
    :data:`MAX_DEPTH` levels deep (checked before parsing, in linear time), every string at most
    :data:`MAX_STRING_CHARS` characters.

    Raises:
        ArgumentError: the text is not JSON or not a JSON object, or it is too large or too deep
            (the message says which limit, never the value).
    """
    if arguments is None:
        return {}
    if isinstance(arguments, Mapping):
        value: Any = dict(arguments)
    else:
        if isinstance(arguments, (bytes, bytearray)):
            arguments = arguments.decode("utf-8", "replace")
        text = str(arguments).strip()
        if not text:
            return {}
        if len(text) > MAX_ARGUMENTS_CHARS:
            raise ArgumentError(
                f"arguments are too large: {len(text)} characters of JSON (the limit is {MAX_ARGUMENTS_CHARS})"
            )
        depth = _json_depth(text)
        if depth > MAX_DEPTH:
            raise ArgumentError(f"arguments are nested too deeply: {depth} levels (the limit is {MAX_DEPTH})")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ArgumentError(f"arguments are not valid JSON ({exc.msg} at position {exc.pos})") from None
        except RecursionError:  # pragma: no cover - the depth check comes first
            raise ArgumentError("arguments are nested too deeply") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ArgumentError("arguments must be a JSON object")
    _check_sizes(value)
    return value


def _json_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting of a JSON text (brackets inside strings ignored); linear."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest  # enough: refused anyway
        elif ch in "]}":
            depth -= 1
    return deepest


def _check_sizes(args: dict[str, Any]) -> None:
    """Every string (value or key) at most MAX_STRING_CHARS, nesting at most MAX_DEPTH (iterative)."""
    stack: list[tuple[Any, str, int]] = [(args, "", 1)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                name = f"'{where}'" if where else "a value"
                raise ArgumentError(
                    f"argument {name} is too long: {len(value)} characters (the limit is {MAX_STRING_CHARS})"
                )
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise ArgumentError(f"arguments are nested too deeply (the limit is {MAX_DEPTH} levels)")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and len(key) > MAX_STRING_CHARS:
                    raise ArgumentError(f"an argument name is too long: {len(key)} characters")
                path = f"{where}.{key}" if where else str(key)
                stack.append((item, path[:80], depth + 1))


def loggable_arguments(raw: str | None) -> str | None:
    """The raw arguments text as the event log keeps it when it was refused: at most 500
    characters, with the full length noted when cut.
    """
    if raw is None or len(raw) <= _LOG_CHARS:
        return raw
    return f"{raw[:_LOG_CHARS]}… [{len(raw)} characters]"


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
    validator = _validator(json.dumps(_whole_match(schema), sort_keys=True))
    problems = []
    for err in sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in err.absolute_path)
        problems.append(f"{where}: {_short(err)}" if where else _short(err))
    if problems:
        raise ArgumentError("invalid arguments: " + "; ".join(problems))
    return args


_LEADING_FLAGS = re.compile(r"^\(\?[aiLmsux]+\)")
_WHOLE_PREFIX, _WHOLE_SUFFIX = "\\A(?:", ")\\Z"


def whole_match_pattern(pattern: str) -> str:
    """``pattern`` made to match the whole string with ``re.search`` (what jsonschema calls):
    ``pattern`` wrapped in a non-capturing group between the ``A`` and ``Z`` anchors, with
    leading inline flags such as ``(?i)`` kept in front.
    """
    flags = _LEADING_FLAGS.match(pattern)
    head = flags.group(0) if flags else ""
    return f"{head}{_WHOLE_PREFIX}{pattern[len(head) :]}{_WHOLE_SUFFIX}"


def _whole_match(schema: dict[str, Any]) -> dict[str, Any]:
    props = {
        name: {**p, "pattern": whole_match_pattern(p["pattern"])} if isinstance(p.get("pattern"), str) else p
        for name, p in schema["properties"].items()
    }
    return {**schema, "properties": props}


def _declared_pattern(validated: str) -> str:
    """The author's pattern back from :func:`whole_match_pattern`'s form (for messages)."""
    flags = _LEADING_FLAGS.match(validated)
    head = flags.group(0) if flags else ""
    body = validated[len(head) :]
    if body.startswith(_WHOLE_PREFIX) and body.endswith(_WHOLE_SUFFIX):
        body = body[len(_WHOLE_PREFIX) : -len(_WHOLE_SUFFIX)]
    return head + body


def _short(err: jsonschema.ValidationError) -> str:
    if err.validator in ("pattern", "enum", "format"):
        # Do not repeat the (possibly sensitive) value back; say what was expected.
        if err.validator == "pattern":
            return (
                f"does not match pattern {_declared_pattern(str(err.validator_value))!r} (the whole value must match)"
            )
        if err.validator == "enum":
            return f"must be one of {err.validator_value!r}"
        return f"is not a valid {err.validator_value}"
    msg = str(err.message)
    return msg if len(msg) <= 160 else msg[:157] + "..."
