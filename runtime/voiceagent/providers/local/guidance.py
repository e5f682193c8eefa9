"""Deterministic help for a small local model (Qwen2.5-0.5B): correctness lives in our code.

Measured on the support agent (``agents/support.yaml``) with the embedded model, temperature 0.3:

- asked "check my account, the number is 12345" it answered "I'm sorry, but I can't help with
  that." or invented a balance, and never wrote a ``<tool_call>``; asked a grammar-constrained
  yes/no "should get_account_info be called with 12345?" it said yes with the same confidence
  (log-probability -0.15 .. -0.39) for "I was born in 1988" and "my phone number is 5550123" as
  for real account questions, so it cannot make that decision either;
- given a tool result it repeated the tool call (and then called every other tool) instead of
  answering; with calls ruled out it answered from a ``key: value`` rendering of the result far
  more often than from raw JSON; it repeated the filler spoken before the call ("Let me check
  your account.") when that text was shown with the call; over 5 account look-ups x 3 histories
  (greeting, none, cut-off greeting) the hint "Using the tool response, answer the caller's
  question now in one or two short sentences." gave 0 refusals in 15, "Now reply to the caller
  directly (say you and your) ..." 6 in 15 ("I'm sorry, but I can't assist with that.").

So, for small local models:

1. :func:`direct_call`: when the caller's latest turn supplies every required argument of exactly
   one offered tool, and each of those values is *checkable* (a ``pattern`` or ``enum`` in the
   schema it fully matches) and the parameter is *named* in that turn or in the agent's question
   just before it (``account_id`` -> "account"), the call is made without asking the model.
   The arguments are validated against the whole JSON schema first. Nothing here knows a tool.
   Calls the model writes itself are kept only when their ``pattern``-checked values were said
   by the caller (:func:`grounded`); otherwise the model is asked again for words only.
2. :func:`answer_request_parts`: after tool results (and whenever ``tool_choice`` is
   ``"none"``), the model must answer in words: the ``<tool_call>`` token is banned (or, when its
   id is unknown, :data:`ANSWER_GRAMMAR` rules out call syntax), calls written anyway are dropped,
   dict results are shown as ``key: value`` lines (:func:`render_tool_result`) and
   :data:`AFTER_TOOL_HINT` is appended as a last system message.
3. :class:`ToolNameGate`: sentences naming a tool are never spoken; when nothing is left the model
   is asked once more (temperature 0.7). The prompt prefix (system prompt, tools, earlier turns) is unchanged, so
   llama.cpp's prompt cache still applies.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import jsonschema

from voiceagent.digit_words import DIGIT_WORDS
from voiceagent.providers.base import ToolCallRequest

__all__ = [
    "AFTER_TOOL_HINT",
    "ANSWER_GRAMMAR",
    "ToolNameGate",
    "answer_request_parts",
    "answered_tools",
    "candidate_values",
    "direct_call",
    "grounded",
    "render_tool_result",
    "without_replies",
]

ANSWER_GRAMMAR = r"root ::= [^<{[\n ] [^<\n]*"
"""GBNF (llama.cpp grammar, https://github.com/ggml-org/llama.cpp/blob/master/grammars/README.md):
one line of text that cannot start a JSON value nor contain a ``<tool_call>`` tag."""

AFTER_TOOL_HINT = "Using the tool response, answer the caller's question now in one or two short sentences."
"""The last system message of a request that follows tool results."""

_GENERIC = {
    "id",
    "ids",
    "no",
    "num",
    "number",
    "value",
    "the",
    "a",
    "of",
    "get",
    "set",
    "info",
    "lookup",
    "look",
    "up",
    "find",
    "fetch",
    "check",
    "create",
    "update",
    "data",
}


def _spoken_digits(text: str) -> str:
    """``"one two three"`` -> ``"1 2 3"`` (single digit words only; other words untouched)."""
    return re.sub(
        r"\b(" + "|".join(DIGIT_WORDS) + r")\b", lambda m: DIGIT_WORDS[m.group(1).lower()], text, flags=re.IGNORECASE
    )


def candidate_values(text: str, schema: dict[str, Any]) -> list[Any]:
    """Distinct values in ``text`` that satisfy a checkable property ``schema``, in order.

    Checkable: a string with a ``pattern`` (tried on every word, and on digit runs with the
    spaces, dashes, dots and commas between them removed, so "1-2-3-4-5" and "one two three four
    five" give "12345"), a string/number ``enum`` (whole words, case-insensitive), or an
    integer with a ``pattern``/``minimum``+``maximum``. Anything else gives ``[]`` (free text
    such as a ticket summary is never guessed).
    """
    kind = schema.get("type")
    if "enum" in schema:
        options: list[Any] = []
        for option in schema["enum"]:
            if re.search(rf"(?<!\w){re.escape(str(option))}(?!\w)", text, re.IGNORECASE):
                options.append(option)
        return options
    pattern = schema.get("pattern")
    if kind == "integer" and pattern is None and not {"minimum", "maximum"} <= schema.keys():
        return []
    if kind not in ("string", "integer") or (kind == "string" and not pattern):
        return []
    spoken = _spoken_digits(text)
    pieces = re.findall(r"[\w.@+-]+", spoken)
    pieces += [re.sub(r"[\s.,-]", "", run) for run in re.findall(r"\d(?:[\s.,-]{0,2}\d)+", spoken)]
    out: list[Any] = []
    for raw in pieces:
        piece = raw.strip(".,-")
        value: Any = piece
        if kind == "integer":
            if not piece.isdigit():
                continue
            value = int(piece)
        if pattern and not re.fullmatch(pattern, piece):
            continue
        try:
            jsonschema.validate(value, schema)
        except jsonschema.ValidationError:
            continue
        except jsonschema.SchemaError:
            return []
        if value not in out:
            out.append(value)
    return out


def _cue_words(tool_name: str, param: str) -> list[str]:
    words = [w for w in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", param.lower()) if w]
    words = [w for w in words if w not in _GENERIC and len(w) > 2]
    if not words:
        words = [w for w in re.split(r"[_\W]+", tool_name.lower()) if w and w not in _GENERIC and len(w) > 2]
    return words


def _named(words: list[str], *texts: str) -> bool:
    return any(re.search(rf"\b{re.escape(w)}", t, re.IGNORECASE) for w in words for t in texts)


def _answers_a_number_question(said: str, asked: str) -> bool:
    """Whether ``said`` is little but a number ("It's 67890.") given to the agent's question for a
    number ("What is your bill number?"): the 0.5B model asked for a "bill number" where the tool
    takes an account number, and the caller's bare answer then named no parameter.
    """
    words = re.findall(r"[^\W\d_]+", said)
    return len(words) <= 4 and asked.rstrip().endswith("?") and re.search(r"\bnumber\b", asked, re.I) is not None


def direct_call(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ToolCallRequest | None:
    """The one tool call the caller's latest turn determines, or None (see the module docstring).

    messages: the request's OpenAI-format messages; only acts when the last one is the caller's
        (``role == "user"``), i.e. on the first LLM round of a turn.
    tools: the offered OpenAI-format tools. A tool qualifies when it has required parameters and
        each has exactly one :func:`candidate_values` match in the latest user message and is
        named there or in the assistant message right before it. Returns None when no tool or
        more than one qualifies, or the arguments fail the tool's JSON schema.
    """
    if not messages or messages[-1].get("role") != "user" or not tools:
        return None
    said = str(messages[-1].get("content") or "")
    asked = ""
    if len(messages) >= 2 and messages[-2].get("role") == "assistant":
        asked = str(messages[-2].get("content") or "")
    found: list[ToolCallRequest] = []
    for tool in tools:
        fn = tool.get("function") or {}
        params = fn.get("parameters") or {}
        required = params.get("required") or []
        props = params.get("properties") or {}
        if not required or not all(r in props for r in required):
            continue
        args: dict[str, Any] = {}
        for name in required:
            values = candidate_values(said, props[name])
            if len(values) != 1 or not (
                _named(_cue_words(fn.get("name", ""), name), said, asked) or _answers_a_number_question(said, asked)
            ):
                break
            args[name] = values[0]
        else:
            try:
                jsonschema.validate(args, params)
            except (jsonschema.ValidationError, jsonschema.SchemaError):
                continue
            found.append(
                ToolCallRequest(
                    id=f"call_{uuid.uuid4().hex[:16]}", name=fn["name"], arguments=json.dumps(args, ensure_ascii=False)
                )
            )
    return found[0] if len(found) == 1 else None


def grounded(call: ToolCallRequest, tools: list[dict[str, Any]], messages: list[dict[str, Any]]) -> bool:
    """Whether every ``pattern``-checked string argument of a model-written ``call`` is a value
    the caller actually said (:func:`candidate_values` of the user messages). The 0.5B model
    invents identifiers: asked "please check account I'm near a world" (a misheard 9001) it
    called ``get_account_info`` with ``1234567890``. Other arguments are not judged here.
    """
    tool = next((t for t in tools if (t.get("function") or {}).get("name") == call.name), None)
    props = (((tool or {}).get("function") or {}).get("parameters") or {}).get("properties") or {}
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        return True  # malformed arguments are the schema check's business
    if not isinstance(args, dict):
        return True
    said = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "user")
    for name, schema in props.items():
        value = args.get(name)
        if (
            isinstance(value, str)
            and isinstance(schema, dict)
            and schema.get("pattern")
            and schema.get("type") == "string"
            and "enum" not in schema
            and value not in candidate_values(said, schema)
        ):
            return False
    return True


class ToolNameGate:
    """Streaming filter that drops every sentence naming an offered tool.

    The 0.5B model explains its tools to the caller ("You can call the `get_account_info`
    function with your account number", 2-3 times in 10 for "Hi, I want to check my account.",
    whatever the prompt said) and, after a result, copies rule text from the system prompt.
    Text is passed on a sentence at a time (the session speaks whole sentences anyway).

    ``feed(text) -> text to pass now``; ``finish() -> the rest``; ``dropped`` counts sentences.
    """

    _END = re.compile(r"[.!?](?:\s+|$)")
    """A sentence ends at ``.``/``!``/``?`` followed by space or by the end of what arrived so
    far (so a sentence is passed on as soon as its mark arrives, adding no delay)."""

    def __init__(self, tool_names: list[str]) -> None:
        names = [n for n in tool_names if n]
        self._names = re.compile("|".join(re.escape(n) for n in names), re.IGNORECASE) if names else None
        self._buf = ""
        self.dropped = 0

    def _keep(self, sentence: str) -> str:
        if self._names is not None and self._names.search(sentence):
            self.dropped += 1
            return ""
        return sentence

    def feed(self, text: str) -> str:
        """Take the next piece of the reply; return the whole sentences in it that may be spoken."""
        self._buf += text
        ends = [m.end() for m in self._END.finditer(self._buf)]
        out, start = [], 0
        for end in ends:
            out.append(self._keep(self._buf[start:end]))
            start = end
        self._buf = self._buf[start:]
        return "".join(out)

    def finish(self) -> str:
        """End of the reply: return the unfinished last sentence if it may be spoken."""
        rest, self._buf = self._buf, ""
        return self._keep(rest) if rest.strip() else rest


def render_tool_result(content: Any) -> Any:
    """A tool message's content as a small model reads it best: a JSON object becomes
    ``key: value`` lines (nested values stay JSON); anything else is returned unchanged.
    """
    if not isinstance(content, str):
        return content
    try:
        value = json.loads(content)
    except ValueError:
        return content
    if not isinstance(value, dict) or not value:
        return content
    lines = []
    for key, item in value.items():
        if isinstance(item, (dict, list)):
            shown = json.dumps(item, ensure_ascii=False)
        elif isinstance(item, bool):
            shown = "yes" if item else "no"
        else:
            shown = item
        lines.append(f"{key}: {shown}")
    return "\n".join(lines)


def answer_request_parts(
    messages: list[dict[str, Any]], tool_choice: Any, *, call_token: int | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """``(messages, extra request-body fields)`` that make the model answer in words, or None
    when it may call a tool. Applies after tool results (last message ``role == "tool"``) and for
    ``tool_choice == "none"``; after tool results :data:`AFTER_TOOL_HINT` is appended. Input is
    not modified.

    call_token: the token id of ``<tool_call>`` when known: it is banned with ``logit_bias``
        (-100); otherwise the reply is constrained by :data:`ANSWER_GRAMMAR`. The grammar cost
        63 vs 44 ms per token while llama-cpp-python matched it against the whole vocabulary at
        every step; with :mod:`~voiceagent.providers.local.lazy_grammar` both cost about the same
        (27-32 vs 29 ms measured), and the bias stays the first choice.
    """
    after_tools = bool(messages) and messages[-1].get("role") == "tool"
    if not after_tools and tool_choice != "none":
        return None
    out = list(messages)
    if after_tools:
        out.append({"role": "system", "content": AFTER_TOOL_HINT})
    if call_token is not None:
        return out, {"logit_bias": {str(call_token): -100}}
    return out, {"grammar": ANSWER_GRAMMAR}


def answered_tools(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The offered tools whose results the last tool messages carry, for the answer after them.

    The model's chat template lists every offered tool's JSON schema in the prompt; for the bank
    agent's answer after ``get_account_summary`` that took 10.7 s to evaluate on 2 cores, with
    only the answered tool 4.3 s (same words). The list is never empty: with no tools the 0.5B
    model answered a newline or JSON instead of words. Returns ``tools`` when no call is found.
    """
    called: set[str] = set()
    for msg in reversed(messages):
        if msg.get("role") == "tool":
            continue
        if msg.get("role") == "assistant":
            for call in msg.get("tool_calls") or []:
                called.add((call.get("function") or call).get("name"))
        break
    kept = [t for t in tools if t.get("function", {}).get("name") in called]
    return kept or tools


def without_replies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` without the agent's spoken replies (assistant messages with no tool call, the
    greeting among them), for the answer after a tool; the tool calls and results, the system and
    the caller's messages stay. Input is not modified.

    The 0.5B model copied an earlier reply instead of answering from the result: after the bank
    agent's ``verify_caller`` and ``get_account_summary`` it said "Hello, what's your full name?"
    again in 3 of 3 captured calls; without the replies, greedy, the same three requests gave the
    balance and the deposits, and the support agent's "check my account 12345" answer also named
    the plan it had left out (agents/offline-tests, docs/offline.md).
    """
    return [m for m in messages if not (m.get("role") == "assistant" and not m.get("tool_calls"))]
