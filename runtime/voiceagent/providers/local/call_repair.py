"""A tool call whose arguments fail the tool's JSON schema, asked for again under that schema.

The 0.5B model often nests or misnames arguments (``{"account": {"type": "savings"}}``).
:func:`repaired_call` asks once more with ``tool_choice`` naming that tool, which the local
server decodes under a grammar generated from the tool's parameter schema (llama.cpp; the
cached prompt prefix makes this cost only the argument tokens). Schema checks use jsonschema:
https://python-jsonschema.readthedocs.io/
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import jsonschema

from voiceagent.providers.base import ChatRequest, LLMEvent, ProviderError, ToolCallRequest

__all__ = ["repaired_call", "valid_arguments"]


def valid_arguments(arguments: str, schema: dict[str, Any]) -> bool:
    """Whether ``arguments`` (a JSON string) satisfies ``schema`` (JSON Schema); a schema that
    cannot be checked counts as satisfied (it is no reason to call again).
    """
    try:
        value = json.loads(arguments)
    except ValueError:
        return False
    try:
        validator = jsonschema.validators.validator_for(schema)
        return bool(validator(schema).is_valid(value))
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.UnknownType):
        return True


async def repaired_call(
    call: ToolCallRequest,
    request: ChatRequest,
    stream: Callable[[ChatRequest], AsyncIterator[LLMEvent]],
) -> ToolCallRequest:
    """``call`` if its arguments satisfy its tool's schema in ``request.tools``; else the same
    call asked for again once through ``stream`` (the request with ``tool_choice`` naming the
    tool and ``max_tokens`` at least 64), keeping ``call.id``. Returns ``call`` unchanged when the
    second answer is no valid call of that tool or the provider fails (:class:`ProviderError`).
    """
    tool = next((t for t in request.tools if t.get("function", {}).get("name") == call.name), None)
    schema = (tool or {}).get("function", {}).get("parameters")
    if not schema or valid_arguments(call.arguments, schema):
        return call
    forced = copy.copy(request)
    forced.tool_choice = {"type": "function", "function": {"name": call.name}}
    forced.max_tokens = max(64, request.max_tokens)
    with contextlib.suppress(ProviderError):
        async for event in stream(forced):
            if not isinstance(event, ToolCallRequest) or event.name != call.name:
                continue
            if valid_arguments(event.arguments, schema):
                return ToolCallRequest(id=call.id, name=call.name, arguments=event.arguments)
    return call
