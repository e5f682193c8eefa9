"""Prompts for small models, built from the agent's YAML: instructions first, choices in plain words.

A 0.5B model follows what it reads first and copies examples; it speaks of "the caller" when
the prompt does. So :func:`small_model_prompt` writes, generically (nothing here knows an
example agent):

1. the current state's instructions (the task of this step),
2. the agent's own prompt,
3. the decisions of :mod:`voiceagent.providers.structured.decision`, each in plain words with one
   short example synthesised from the tool's name, parameters and description,

and tells the model to speak to the caller as "you"; descriptions it may copy into its words
are rewritten to the second person (:func:`second_person`), which is also applied to every spoken
``say`` (:class:`SecondPerson`), so "the caller's account" never reaches the caller.
:func:`render_decisions` shows earlier rounds of the history in the JSON the model must write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from voiceagent.config.builtin_functions import VERIFY_FUNCTION
from voiceagent.providers.local.guidance import render_tool_result
from voiceagent.providers.structured.decision import TRANSITION_PREFIX, DecisionSpec

__all__ = ["SecondPerson", "example_arguments", "render_decisions", "second_person", "small_model_prompt"]

_OWNED = (
    "account",
    "balance",
    "bill",
    "card",
    "number",
    "plan",
    "ticket",
    "name",
    "date of birth",
    "detail",
    "identity",
    "deposit",
    "transaction",
    "payment",
    "order",
    "request",
    "question",
    "problem",
    "issue",
    "call",
)
"""Nouns (and their plurals) after which "their" means the caller's (:func:`second_person`)."""

_THIRD = [
    (re.compile(r"\b(?:the|this) (?:caller|customer|user)'s\b", re.I), "your"),
    (re.compile(r"\b(?:the|this) (?:caller|customer|user)s'\b", re.I), "your"),
    (re.compile(r"\b(?:the|this) (?:caller|customer|user) (?:is|was)\b", re.I), "you are"),
    (re.compile(r"\b(?:the|this) (?:caller|customer|user) (?:has)\b", re.I), "you have"),
    (re.compile(r"\b(?:the|this) (?:caller|customer|user) (?:does)\b", re.I), "you do"),
    (re.compile(r"\b(?:the|this) (?:caller|customer|user) (?:should|can|must|will|needs?|wants?)\b", re.I), None),
    (re.compile(r"\b(?:the|this) (?:caller|customer|user)\b", re.I), "you"),
    # "their" before what a caller owns: the prompt's tool descriptions speak of "the caller's
    # account number", and the model then said "You should check the number 10001 to find their
    # account balance." to the caller. Other uses of "their" ("their office hours") stay.
    (re.compile(rf"\btheir(?= (?:{'|'.join(_OWNED)})s?\b)", re.I), "your"),
]


def _case_like(original: str, text: str) -> str:
    return text[0].upper() + text[1:] if original[:1].isupper() else text


def second_person(text: str) -> str:
    """``text`` with "the caller" (customer, user) turned into "you"/"your", and "their" before
    something a caller owns (:data:`_OWNED`: "their account balance") into "your".

    Examples: "Please check the caller's account number" -> "Please check your account number";
    "The caller should check the number." -> "You should check the number."
    """

    def verb_form(match: re.Match[str]) -> str:
        verb = match.group(0).split()[-1].lower()
        verb = {"needs": "need", "wants": "want"}.get(verb, verb)
        return _case_like(match.group(0), f"you {verb}")

    def fixed(replacement: str) -> Callable[[re.Match[str]], str]:
        return lambda match: _case_like(match.group(0), replacement)

    for pattern, replacement in _THIRD:
        text = pattern.sub(verb_form if replacement is None else fixed(replacement), text)
    return text


class SecondPerson:
    """Applies :func:`second_person` to streamed text without splitting a phrase it rewrites:
    the last few words are held back until more text (or :meth:`finish`) arrives.
    """

    HOLD_WORDS = 3

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> str:
        """Add ``piece``; returns the text that is final (rewritten), may be ``""``."""
        self._buffer = second_person(self._buffer + piece)
        cuts = [m.start() for m in re.finditer(r"\s+\S", self._buffer)]
        if len(cuts) < self.HOLD_WORDS:
            return ""
        cut = cuts[-self.HOLD_WORDS]
        out, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return out

    def finish(self) -> str:
        """The rest of the text."""
        out, self._buffer = second_person(self._buffer), ""
        return out


_EXAMPLE_IN_TEXT = re.compile(r"\b(?:for example|e\.g\.|such as|like)\s*[:,]?\s*([A-Za-z0-9][\w\-]*)", re.I)


def _example_value(name: str, schema: dict[str, Any]) -> Any:
    """A plausible value of one parameter for a prompt example (never shown to the caller)."""
    kind = schema.get("type")
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if kind in {"integer", "number"}:
        low = schema.get("minimum", 1)
        return max(int(low), 1) if kind == "integer" else float(low)
    if kind == "boolean":
        return True
    described = _EXAMPLE_IN_TEXT.search(str(schema.get("description") or ""))
    pattern = schema.get("pattern")
    candidates: list[str] = [described.group(1)] if described else []
    if schema.get("format") == "date":
        candidates.append("2026-01-31")
    if pattern:
        digits = re.search(r"\[0-9\]\{(\d+)", pattern) or re.search(r"\\d\{(\d+)", pattern)
        letters = re.search(r"\[A-Za-z\]\{(\d+)\}\[0-9\]\{(\d+)", pattern)
        if letters:
            candidates.append("AB" + "1234567890"[: int(letters.group(2))])
        if digits:
            candidates.append("1234567890"[: max(int(digits.group(1)), 4)])
    for candidate in candidates:
        if not pattern or re.search(pattern, candidate):
            return candidate
    words = name.replace("_", " ")
    description = str(schema.get("description") or "").strip().rstrip(".")
    if description and not pattern:
        return second_person(description)
    return words


def example_arguments(params: dict[str, Any]) -> dict[str, Any]:
    """Example arguments for a tool: its required parameters, from the schema."""
    props: dict[str, Any] = params.get("properties") or {}
    required = [p for p in params.get("required") or [] if p in props]
    return {p: _example_value(p, props[p]) for p in required}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def _choices(spec: DecisionSpec) -> list[str]:
    lines: list[str] = []
    for name, params in spec.tools.items():
        help_text = _sentence(spec.tool_help.get(name, "")) or f"Use {name.replace('_', ' ')}."
        example = {"call": name, "arguments": example_arguments(params)}
        lines.append(f"- {help_text} Write: {_json(example)}")
    for target in spec.transitions:
        help_text = _sentence(spec.transition_help.get(target, "")) or f"Move on to {target}."
        lines.append(f"- When {help_text[0].lower() + help_text[1:]} Write: {_json({'goto': target})}")
    if spec.verify is not None:
        props = list(spec.verify.get("properties") or {})
        said = ", ".join(p.replace("_", " ") for p in props)
        shown = {p: f"their {p.replace('_', ' ')}" for p in props[:2]}
        lines.append(
            f"- When the caller says any of: {said}, pass exactly what they said to {VERIFY_FUNCTION}. "
            f"Write: {_json({'verify': shown})}"
        )
    if spec.say:
        first = "Otherwise, to" if lines else "To"
        lines.append(f"- {first} answer the caller in one or two short sentences, write: {_json({'say': '...'})}")
    return lines


RULES = (
    'The caller is the person on the phone: speak to them as "you" and "your", never as "the caller". '
    "Never mention tools, JSON or these rules."
)
"""The runtime's own rules in every structured prompt (never to be spoken: :mod:`~.gates`)."""


def small_model_prompt(system: str, instructions: str | None, spec: DecisionSpec) -> str:
    """The system prompt of a structured round.

    Args:
        system: the agent's rendered system prompt (its ``prompt`` and, when ``instructions`` is
            given, those instructions after it, as :meth:`CompiledAgent.system_prompt` joins them).
        instructions: the current state's rendered instructions, or None.
        spec: the decisions this round allows.

    Returns:
        Instructions, the rest of the prompt, then the choices with examples, the caller
        addressed as "you".
    """
    rest = system.strip()
    if instructions and instructions.strip():
        rest = system.replace(instructions.strip(), "").strip()
    parts = [instructions.strip()] if instructions and instructions.strip() else []
    if rest:
        parts.append(rest)
    parts.append(RULES + "\nAnswer with exactly one JSON object, one of:\n" + "\n".join(_choices(spec)))
    return "\n\n".join(parts)


def _decision_of_call(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function", call)
    name = str(fn.get("name") or "")
    args: Any = fn.get("arguments") or "{}"
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except ValueError:
            args = {}
    if name == VERIFY_FUNCTION:
        return {"verify": args}
    if name.startswith(TRANSITION_PREFIX) and not args:
        return {"goto": name[len(TRANSITION_PREFIX) :]}
    return {"call": name, "arguments": args}


def render_decisions(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history as the model's own decisions: an assistant text becomes ``{"say": ...}``, an
    assistant tool call ``{"call"/"goto"/"verify": ...}`` (the filler spoken with it is left out:
    the model repeated it), a tool result ``key: value`` lines in a ``tool`` message. Returns new
    dicts; the input is not changed. System messages are left out (the caller builds its own).
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        role = msg.get("role")
        if role == "system":
            continue
        if role == "assistant":
            calls = msg.get("tool_calls") or []
            if calls:
                content = "\n".join(_json(_decision_of_call(c)) for c in calls)
            else:
                content = _json({"say": str(msg.get("content") or "")})
            out.append({"role": "assistant", "content": content})
        elif role == "tool":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": str(msg.get("tool_call_id") or "call"),
                    "content": str(render_tool_result(msg.get("content")) or ""),
                }
            )
        else:
            out.append({"role": role, "content": str(msg.get("content") or "")})
    return out
