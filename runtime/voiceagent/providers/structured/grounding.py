"""What one structured round may decode: the decision spec narrowed to what the caller grounded.

The prompt of a structured round (a cached llama.cpp prefix) always lists every choice of the
state; :func:`grounded_spec` narrows only the constraint (grammar / ``response_format``) to what
the caller's own words ground, so the small model cannot decode an invented identifier, a
free-text tool off the caller's topic, or a hang-up / transfer nobody asked for.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from voiceagent.providers.base import ChatRequest
from voiceagent.providers.local.guidance import candidate_values
from voiceagent.providers.structured.decision import DecisionSpec, is_free_text
from voiceagent.providers.structured.gates import asks_to_end, last_user_words
from voiceagent.providers.structured.intents import asked_for_person, content_words

__all__ = ["grounded_spec", "latest_caller_words"]


def latest_caller_words(request: ChatRequest) -> str:
    """The content of the last caller (``user``) message of ``request``, or ``""``."""
    return last_user_words(request.messages)


def _latest_exchange(messages: list[dict[str, Any]]) -> tuple[str, str]:
    """(the agent's words just before the caller's latest ones, those latest words)."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "user":
            before = messages[i - 1] if i and messages[i - 1].get("role") == "assistant" else {}
            return str(before.get("content") or ""), str(messages[i].get("content") or "")
    return "", ""


def grounded_spec(spec: DecisionSpec, request: ChatRequest) -> DecisionSpec:
    """``spec`` with every pattern-checked identifier narrowed to the values the caller said.

    A hang-up (``request.closing``) is offered only when the caller's latest words ask to end,
    a transfer (``request.handoffs``) only when they ask for a person. A ``call`` whose required
    identifier (a ``pattern``-checked string such as ``account_id``)
    the caller never said is not offered; one they said becomes an ``enum`` of those values, so
    the grammar cannot decode an invented one ("1234", the prompt's own example). Only the
    constraint changes, never the prompt (its prefix stays cached). The 0.5B model chose
    ``get_account_info`` for "Hello, I need some help with my account." with the example number,
    and the round had to be decoded twice. A call whose required arguments are all free text (a
    ticket's summary) is offered only when the caller's latest words share a content word with
    the tool's name or description ("please open a ticket"), or the agent's words before them
    with its name ("Shall I open a ticket?"): blocked from the look-up, the model opened a ticket
    for "I have a question about my bill."
    """
    messages = request.messages
    said = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    asked, latest = _latest_exchange(messages)
    ending = not asks_to_end(latest)  # a hang-up nobody asked for is not offered
    transitions = {t: fn for t, fn in spec.transitions.items() if not (ending and fn in request.closing)}
    heard, asked_words = content_words(latest), content_words(asked)
    tools: dict[str, dict[str, Any]] = {}
    for name, params in spec.tools.items():
        props = dict(params.get("properties") or {})
        required = set(params.get("required") or [])
        if (ending and name in request.closing) or (
            name in request.handoffs and not asked_for_person(latest, spec, name)
        ):
            continue  # neither a hang-up nor a transfer the caller did not ask for
        if required and all(is_free_text(props.get(r)) for r in required):
            # free text cannot be checked against the caller's words; their topic can
            about = content_words(name + " " + spec.tool_help.get(name, ""))
            if not (heard & about or asked_words & content_words(name)):
                continue
        keep = True
        for key, schema in list(props.items()):
            if not (isinstance(schema, dict) and schema.get("type") == "string" and schema.get("pattern")):
                continue
            if "enum" in schema:
                continue
            values = candidate_values(said, schema)
            if values:
                props[key] = {**schema, "enum": values}
            elif key in required:
                keep = False
            else:
                del props[key]
        if keep:
            tools[name] = {**params, "properties": props}
    if not tools and not spec.say and not transitions and spec.verify is None:
        return spec  # nothing left to decide: the round keeps its choices (the result is checked anyway)
    return dataclasses.replace(spec, tools=tools, transitions=transitions)
