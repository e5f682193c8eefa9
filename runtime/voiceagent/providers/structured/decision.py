"""One LLM round as one constrained decision: the JSON Schema of the choices and its parser.

A state offers the LLM functions (OpenAI tool definitions, see
https://platform.openai.com/docs/api-reference/chat/create#chat-create-tools): its tools, one
``go_to_<state>`` per LLM-chosen transition and, with verification, ``verify_caller``. In
structured mode the model does not write tool calls; it writes exactly one JSON object, one of::

    {"say": "words for the caller"}
    {"call": "<one of this state's tools>", "arguments": {<that tool's parameter schema>}}
    {"goto": "<one of this state's LLM transitions (target state names)>"}
    {"verify": {<the verification factors the caller gave>}}

:func:`decision_schema` builds the JSON Schema (JSON Schema 2020-12, https://json-schema.org/)
from the offered functions, so a tool or state the state does not offer cannot be produced; the
server turns it into a decoding grammar (llama.cpp: ``json_schema_to_gbnf``, GBNF
https://github.com/ggml-org/llama.cpp/blob/master/grammars/README.md; OpenAI-compatible
services: ``response_format`` ``json_schema``). :class:`SayStream` streams the ``say`` string
while it decodes; :func:`parse_decision` maps the finished object back to what the session
already runs (text, or one :class:`~voiceagent.providers.base.ToolCallRequest`).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from voiceagent.config.builtin_functions import TRANSITION_PREFIX, VERIFY_FUNCTION
from voiceagent.providers.base import ToolCallRequest

__all__ = [
    "Decision",
    "DecisionSpec",
    "SayStream",
    "decision_schema",
    "is_free_text",
    "parse_decision",
]

Kind = Literal["say", "call", "goto", "verify"]


@dataclass(frozen=True, slots=True)
class DecisionSpec:
    """What one round may decide, read from a request's functions.

    Attributes:
        tools: tool name -> its parameter schema (``call``).
        transitions: target state name -> its ``go_to_<state>`` function name (``goto``).
        transition_help: target state name -> the transition's description.
        verify: the ``verify_caller`` parameter schema (``verify``), or None.
        say: whether words are allowed this round.
    """

    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    tool_help: dict[str, str] = field(default_factory=dict)
    transitions: dict[str, str] = field(default_factory=dict)
    transition_help: dict[str, str] = field(default_factory=dict)
    verify: dict[str, Any] | None = None
    say: bool = True

    @classmethod
    def from_functions(cls, functions: list[dict[str, Any]], *, say: bool = True, act: bool = True) -> DecisionSpec:
        """Split OpenAI function definitions into tools, transitions and verification.

        Args:
            functions: ``[{"type": "function", "function": {"name", "description", "parameters"}}]``.
            say: allow ``say`` (False for ``tool_choice="required"``).
            act: allow ``call`` / ``goto`` / ``verify`` (False for ``tool_choice="none"``).
        """
        tools: dict[str, dict[str, Any]] = {}
        tool_help: dict[str, str] = {}
        transitions: dict[str, str] = {}
        transition_help: dict[str, str] = {}
        verify: dict[str, Any] | None = None
        for definition in functions if act else []:
            fn = definition.get("function", definition)
            name = str(fn.get("name") or "")
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            description = str(fn.get("description") or "")
            if not name:
                continue
            if name == VERIFY_FUNCTION:
                verify = params
            elif name.startswith(TRANSITION_PREFIX) and not (params.get("properties") or {}):
                target = name[len(TRANSITION_PREFIX) :]
                transitions[target] = name
                transition_help[target] = description
            else:
                tools[name] = params
                tool_help[name] = description
        return cls(tools, tool_help, transitions, transition_help, verify, say or not (tools or transitions or verify))

    @property
    def kinds(self) -> list[Kind]:
        """The decisions this spec allows, in schema order."""
        out: list[Kind] = ["say"] if self.say else []
        if self.tools:
            out.append("call")
        if self.transitions:
            out.append("goto")
        if self.verify is not None:
            out.append("verify")
        return out


def is_free_text(schema: Any) -> bool:
    """Whether a parameter's JSON schema is free text: a string (the default type) with no
    ``pattern``, ``enum``, ``format`` or ``const`` to check a value against (a ticket's summary,
    a transfer's reason), so nothing the caller said can ground or refute it.
    """
    return (
        isinstance(schema, dict)
        and schema.get("type", "string") == "string"
        and not any(k in schema for k in ("pattern", "enum", "format", "const"))
    )


def _object(props: dict[str, Any], order: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": order, "additionalProperties": False}


def _arguments(params: dict[str, Any]) -> dict[str, Any]:
    """A tool's parameter schema, closed (no invented argument names)."""
    schema = dict(params)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    return schema


def decision_schema(spec: DecisionSpec) -> dict[str, Any]:
    """The JSON Schema of one decision allowed by ``spec`` (``anyOf`` of the choices).

    Each ``call`` option pins the tool name with ``const`` and its own parameter schema, so the
    arguments follow the tool's schema (patterns, enums, bounds). ``goto`` is an ``enum`` of the
    state's LLM-transition targets. ``say`` is a non-empty string of at most
    :data:`SAY_MAX_CHARS` characters.
    """
    options: list[dict[str, Any]] = []
    if spec.say:
        say = {"type": "string", "minLength": 1}
        options.append(_object({"say": say}, ["say"]))
    for name, params in spec.tools.items():
        options.append(_object({"call": {"const": name}, "arguments": _arguments(params)}, ["call", "arguments"]))
    if spec.transitions:
        options.append(_object({"goto": {"enum": list(spec.transitions)}}, ["goto"]))
    if spec.verify is not None:
        options.append(_object({"verify": _arguments(spec.verify)}, ["verify"]))
    return options[0] if len(options) == 1 else {"anyOf": options}


@dataclass(frozen=True, slots=True)
class Decision:
    """A parsed decision. ``kind`` is which; ``say`` the words; ``call`` the request to run."""

    kind: Kind
    say: str = ""
    call: ToolCallRequest | None = None


def parse_decision(text: str, spec: DecisionSpec) -> Decision | None:
    """The decision in ``text`` (the whole decoded JSON object), or None when it is not one
    ``spec`` allows (broken JSON, a tool or state not offered, arguments that are not an object).

    ``goto`` becomes a call of the transition's ``go_to_<state>`` function, ``verify`` a call of
    ``verify_caller``; argument values are checked by the runtime as for any tool call.
    """
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None

    def request(name: str, arguments: Any) -> ToolCallRequest:
        return ToolCallRequest(
            id=f"call_{uuid.uuid4().hex[:16]}", name=name, arguments=json.dumps(arguments, ensure_ascii=False)
        )

    if "say" in value and spec.say:
        words = value["say"]
        return Decision("say", say=words.strip()) if isinstance(words, str) and words.strip() else None
    if "call" in value and value.get("call") in spec.tools:
        arguments = value.get("arguments", {})
        return Decision("call", call=request(value["call"], arguments)) if isinstance(arguments, dict) else None
    if "goto" in value and value.get("goto") in spec.transitions:
        return Decision("goto", call=request(spec.transitions[value["goto"]], {}))
    if "verify" in value and spec.verify is not None and isinstance(value["verify"], dict):
        facts = {k: v for k, v in value["verify"].items() if isinstance(v, str) and v.strip()}
        return Decision("verify", call=request(VERIFY_FUNCTION, facts))
    return None


class SayStream:
    r"""Streams the ``say`` string of a decision while its JSON decodes.

    Feed the decoded text pieces; :meth:`feed` returns the words of ``{"say": "..."}`` that are
    complete so far (JSON escapes such as ``\"`` and ``\u00e9`` decoded), and nothing for any
    other decision. :attr:`text` is everything fed.
    """

    _PREFIX = '"say"'

    def __init__(self) -> None:
        self.text = ""
        self._start: int | None = None  # index of the first character inside the string
        self._pos = 0  # next undecoded index
        self._closed = False
        self._undecided = True

    @property
    def started(self) -> bool:
        """Whether the decoded text is a ``say`` whose string has begun."""
        return self._start is not None

    def feed(self, piece: str) -> str:
        """Add ``piece``; returns newly decoded ``say`` words (may be ``""``)."""
        self.text += piece
        if self._undecided:
            head = self.text.lstrip()
            if head.startswith("{"):
                rest = head[1:].lstrip()
                if rest and not self._PREFIX.startswith(rest[: len(self._PREFIX)]):
                    self._undecided = False  # another decision: nothing to speak
                    return ""
                if rest.startswith(self._PREFIX):
                    after = rest[len(self._PREFIX) :].lstrip()
                    if after.startswith(":"):
                        value = after[1:].lstrip()
                        if value.startswith('"'):
                            self._start = len(self.text) - len(value) + 1
                            self._pos = self._start
                            self._undecided = False
                        elif value:
                            self._undecided = False
            elif head:
                self._undecided = False
        if self._start is None or self._closed:
            return ""
        out: list[str] = []
        text = self.text
        while self._pos < len(text):
            ch = text[self._pos]
            if ch == '"':
                self._closed = True
                break
            if ch != "\\":
                out.append(ch)
                self._pos += 1
                continue
            if self._pos + 1 >= len(text):
                break  # wait for the escaped character
            code = text[self._pos + 1]
            if code == "u":
                if self._pos + 6 > len(text):
                    break
                with contextlib.suppress(ValueError):
                    out.append(chr(int(text[self._pos + 2 : self._pos + 6], 16)))
                self._pos += 6
                continue
            out.append({"n": " ", "t": " ", "r": " ", "b": "", "f": ""}.get(code, code))
            self._pos += 2
        return "".join(out)
