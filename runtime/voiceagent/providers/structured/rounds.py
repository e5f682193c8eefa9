"""Structured turns: each LLM round is one constrained decision (say / call / goto / verify).

:class:`StructuredRounds` turns a session :class:`~voiceagent.providers.base.ChatRequest` into a
request without tools whose output is constrained to :func:`~.decision.decision_schema` (a
llama.cpp GBNF ``grammar`` for the embedded server, or ``response_format`` ``json_schema`` for
an OpenAI-compatible service, https://platform.openai.com/docs/guides/structured-outputs), with
the prompt of :mod:`~.prompt`; it streams the ``say`` words as :class:`TextDelta` while they
decode and turns a ``call`` / ``goto`` / ``verify`` into one
:class:`~voiceagent.providers.base.ToolCallRequest` (``go_to_<state>`` / ``verify_caller``), so
the session runs it as any tool call (schema checks, verification and flow rules unchanged).

Rules for the rounds of one turn, so a small model cannot loop:

- after the result of an ordinary tool the next round may only ``say`` (the answer from the
  facts); after ``goto`` (a new state) every choice but another ``goto``; after ``verify``
  every choice;
- ``tool_choice="none"`` allows only ``say``, ``"required"`` everything but ``say``;
- a ``call`` whose pattern-checked argument the caller never said is not run
  (:func:`voiceagent.providers.local.guidance.grounded`): the round is asked again for words;
- a sentence of a ``say`` that an earlier reply of the call already said (a greeting the caller
  cut off, copied by the model), that says the caller's latest words back, or with a number
  nobody gave, is not spoken
  (:mod:`~.gates`); when nothing is left the round is asked again once with a hint (then a
  repeated question, "How can I help?", is kept);
- a ``verify`` whose facts nobody said ("your full name") is not run: the words-only round that
  follows is told to ask the caller for those facts (:data:`ASK_HINT`);
- in a state offering ``verify_caller`` the caller's latest words (also right after a ``goto``
  into that state) first go through a verify-only
  round whose facts are kept only when the caller said them (:mod:`~.facts`);
- "the caller" in a ``say`` is spoken as "you" (:class:`~.prompt.SecondPerson`);
- with ``guided``, the constraint offers only what the caller grounded (:mod:`~.grounding`),
  and a call the caller's fresh words make plain (a person, goodbye, a topic only
  one function is about) is made without the model (:mod:`~.intents`), and a transfer the model
  chose is run only when the caller asked for a person.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from voiceagent.config.builtin_functions import TRANSITION_PREFIX, VERIFY_FUNCTION
from voiceagent.providers.base import ChatRequest, LLMEvent, TextDelta, ToolCallRequest, Usage
from voiceagent.providers.local.guidance import AFTER_TOOL_HINT, grounded
from voiceagent.providers.structured.decision import Decision, DecisionSpec, SayStream, decision_schema, parse_decision
from voiceagent.providers.structured.facts import grounded_facts, merged_facts, spotted_facts, tried_before
from voiceagent.providers.structured.gates import (
    SentenceGate,
    asks_to_end,
)
from voiceagent.providers.structured.grounding import grounded_spec, latest_caller_words
from voiceagent.providers.structured.hints import ASK_HINT, FLOW_HINT, NUMBER_HINT, REPEAT_HINT
from voiceagent.providers.structured.intents import asked_for_person, intent_call
from voiceagent.providers.structured.prompt import SecondPerson, example_arguments, render_decisions, small_model_prompt

__all__ = [
    "PROP_ORDER",
    "Send",
    "StructuredRounds",
    "constraint_body",
    "may_hold_facts",
    "pending_words",
    "structured_request",
]

PROP_ORDER = ["say", "call", "arguments", "goto", "verify"]
"""Key order of a decision object in the grammar (the name of the choice first)."""

Constraint = Literal["grammar", "json_schema"]
Send = Callable[[ChatRequest, dict[str, Any]], AsyncIterator[LLMEvent]]
"""Sends a request with extra body fields to the server and streams its events."""


def _call_names(msg: dict[str, Any]) -> list[str]:
    return [str(c.get("function", c).get("name") or "") for c in msg.get("tool_calls") or []]


def last_call_kind(messages: list[dict[str, Any]]) -> str | None:
    """Which decision the tool results at the end of ``messages`` answer: ``"goto"``,
    ``"verify"``, ``"tool"``, or None when the history does not end with tool results.
    """
    if not messages or messages[-1].get("role") != "tool":
        return None
    for msg in reversed(messages):
        if msg.get("role") == "assistant" and msg.get("tool_calls"):
            names = _call_names(msg)
            if any(n == VERIFY_FUNCTION for n in names):
                return "verify"
            if all(n.startswith(TRANSITION_PREFIX) for n in names):
                return "goto"
            return "tool"
    return "tool"


def _copied_example(call: ToolCallRequest, spec: DecisionSpec) -> bool:
    """Whether a string argument of ``call`` is the example value the prompt showed for it."""
    params = spec.tools.get(call.name) or {}
    example = example_arguments(params)
    try:
        args = json.loads(call.arguments)
    except ValueError:
        return False
    return any(
        isinstance(v, str) and args.get(k) == v and not params.get("properties", {}).get(k, {}).get("pattern")
        for k, v in example.items()
    )


_FACT_HINTS = re.compile(
    r"\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"|\b(?:name|born|birth|live|from|city|card|ending|ends)\b",
    re.IGNORECASE,
)


def may_hold_facts(said: str) -> bool:
    """Whether the caller's words may hold identity facts worth a facts round: a digit, a spoken
    number or month, a word such as "name", "born", "from", "card", or a capitalised word after
    the first (a name). "What's my balance?" has none, so no extra round is decoded for it.
    """
    if _FACT_HINTS.search(said):
        return True
    words = re.findall(r"[A-Za-z][\w'-]*", said)
    return any(w[0].isupper() and w != "I" for w in words[1:])


def pending_words(messages: list[dict[str, Any]]) -> str | None:
    """The caller's latest words when nothing but state moves (``go_to_<state>``) followed them,
    i.e. the words no facts round has read yet in this state; else None.
    """
    for msg in reversed(messages):
        role = msg.get("role")
        if role == "user":
            return str(msg.get("content") or "")
        if role == "tool":
            continue
        if (
            role == "assistant"
            and msg.get("tool_calls")
            and all(n.startswith(TRANSITION_PREFIX) for n in _call_names(msg))
        ):
            continue
        return None
    return None


def _after_greeting(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``history`` without the agent's lines before the caller's first words (the greeting).

    The greeting is the agent file's scripted line, not a decision of the model; shown as the
    model's own ``{"say": ...}`` it was copied ("How can I help?" again, dropped by the repeat
    gate, so the caller heard the second sentence only): on eight plain turns the first words
    came after 1.41 s on average with it and 0.92 s without it, and no reply repeated it.
    """
    start = next((i for i, m in enumerate(history) if m.get("role") != "assistant"), len(history))
    return history[start:]


def structured_request(request: ChatRequest, *, hint: str | None = None) -> tuple[ChatRequest, DecisionSpec]:
    """The tool-less request of one structured round, and the decisions it allows.

    Args:
        request: the session's request (system prompt first, history, the state's functions).
        hint: one more system message at the end (a retry's reason).
    """
    after = last_call_kind(request.messages)
    tools = request.tools
    if after in ("goto", "verify"):  # the state just changed: no second move in the same breath
        tools = [
            t
            for t in tools
            if not str(t.get("function", t).get("name") or "").startswith(TRANSITION_PREFIX)
            and (after == "goto" or t.get("function", t).get("name") != VERIFY_FUNCTION)
        ]
    spec = DecisionSpec.from_functions(
        tools,
        say=request.tool_choice != "required",
        act=request.tool_choice != "none" and after != "tool",
    )
    # The prompt shows every choice of this point of the turn whatever tool_choice narrows (the
    # grammar does that): a words-only round after a dropped decision then shares the prompt the
    # server has just evaluated, and only its hint is new. With its own shorter prompt the
    # bank's "ask for the facts" round waited 1.1 s for its first token, every token evaluated.
    shown = DecisionSpec.from_functions(tools, act=after != "tool")
    system = ""
    if request.messages and request.messages[0].get("role") == "system":
        system = str(request.messages[0].get("content") or "")
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": small_model_prompt(system, request.instructions, shown)},
        *_after_greeting(render_decisions(request.messages)),
    ]
    if after == "tool":
        messages.append({"role": "system", "content": AFTER_TOOL_HINT})
    elif after in ("goto", "verify") and FLOW_HINT:
        messages.append(
            {"role": "system", "content": FLOW_HINT.format(instructions=request.instructions or "").strip()}
        )
    if hint:
        messages.append({"role": "system", "content": hint})
    req = copy.copy(request)
    # one decision, decoded greedily (the same words give the same choice); a retry with a hint
    # keeps the request's temperature so it can differ
    req.temperature = 0.0 if hint is None else request.temperature
    req.messages = messages
    req.tools = []
    req.tool_choice = "none"
    return req, spec


def constraint_body(spec: DecisionSpec, constraint: Constraint) -> dict[str, Any]:
    """The request-body fields that constrain the output to ``spec``'s decisions.

    ``"grammar"``: llama.cpp's ``grammar`` field (GBNF from llama-cpp-python's
    ``json_schema_to_gbnf``; the bundled server's ``response_format`` only knows ``json_object``).
    ``"json_schema"``: OpenAI's ``response_format: {"type": "json_schema", ...}``.
    """
    schema = decision_schema(spec)
    if constraint == "grammar":
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        return {"grammar": json_schema_to_gbnf(json.dumps(schema), prop_order=PROP_ORDER)}
    return {"response_format": {"type": "json_schema", "json_schema": {"name": "decision", "schema": schema}}}


def _earlier_says(messages: list[dict[str, Any]]) -> list[str]:
    return [
        str(m.get("content"))
        for m in messages
        if m.get("role") == "assistant" and m.get("content") and not m.get("tool_calls")
    ]


class StructuredRounds:
    """Runs structured rounds over a :data:`Send` (see the module docstring).

    Args:
        send: streams a request (with extra body fields) from the server.
        constraint: how the decision is constrained (:func:`constraint_body`).
        guided: drop ``call`` decisions with identifiers the caller never said
            (:func:`~voiceagent.providers.local.guidance.grounded`).
    """

    def __init__(self, send: Send, *, constraint: Constraint, guided: bool = True) -> None:
        self.send = send
        self.constraint = constraint
        self.guided = guided
        self.repeats = 0
        """How many ``say`` decisions had sentences dropped for repeating an earlier reply."""
        self.dropped_calls = 0
        """How many ``call`` decisions were not run: an identifier the caller never said."""
        self.verify_calls = 0
        """How many ``verify_caller`` calls came from the facts round (:meth:`_facts`)."""
        self.invented = 0
        """How many ``say`` decisions had sentences dropped for numbers nobody gave."""
        self.invalid = 0
        """How many outputs were not a decision the round allowed (words only, asked again)."""
        self.intent_calls = 0
        """How many calls the caller's words determined without the model (:mod:`~.intents`)."""

    async def _facts(self, req: ChatRequest, spec: DecisionSpec, said: str) -> dict[str, str]:
        """The verification factors of the caller's latest words, copied by the model under a
        verify-only constraint, kept when grounded (:func:`~.facts.grounded_facts`), with the digit
        and date factors their own words name put right (:func:`~.facts.spotted_facts`); when those
        words alone give two factors or more, the model is not asked.
        """
        assert spec.verify is not None
        spotted = spotted_facts(said, spec.verify)
        if len(spotted) >= 2:  # enough for a level, read without the model (a round saved)
            return spotted
        only = DecisionSpec(verify=spec.verify, say=False)
        text = ""
        async for event in self.send(req, constraint_body(only, self.constraint)):
            if isinstance(event, TextDelta):
                text += event.text
        decision = parse_decision(text, only)
        copied = {}
        if decision is not None and decision.call is not None:
            copied = grounded_facts(json.loads(decision.call.arguments), said, spec.verify)
        return merged_facts(copied, spotted)

    async def stream(
        self, request: ChatRequest, *, retry: bool = True, hint: str | None = None, again: bool | None = None
    ) -> AsyncIterator[LLMEvent]:
        """One round: ``TextDelta`` words as they decode, or one ``ToolCallRequest``, then ``Usage``;
        ``retry``: the turn's first round (calls without the model, facts, words after a dropped
        call); ``again`` (default ``retry``): ask once more when every ``say`` sentence is dropped.
        """
        again = retry if again is None else again
        req, spec = structured_request(request, hint=hint)
        fresh = pending_words(request.messages) if retry else None
        if fresh is not None and self.guided and request.tool_choice != "none":
            decided = intent_call(request, spec, fresh)
            if decided is not None:
                self.intent_calls += 1
                yield decided
                yield Usage()
                return
        said = fresh if spec.verify is not None else None
        if said is not None and spec.verify is not None and may_hold_facts(said):
            facts = await self._facts(req, spec, said)
            if facts:
                self.verify_calls += 1
                yield ToolCallRequest(
                    id=f"call_{uuid.uuid4().hex[:16]}", name=VERIFY_FUNCTION, arguments=json.dumps(facts)
                )
                yield Usage()
                return
        body = constraint_body(grounded_spec(spec, request) if self.guided else spec, self.constraint)
        say = SayStream()
        person = SecondPerson()
        gate = SentenceGate.for_reply(
            request.messages,
            earlier=_earlier_says(request.messages),
            tool_names=[str(t.get("function", t).get("name") or "") for t in request.tools],
        )
        usage = Usage()
        alive = False
        async for event in self.send(req, body):
            if isinstance(event, TextDelta):
                words = gate.feed(person.feed(say.feed(event.text)))
                if words or (say.started and not alive):
                    # the first decoded word is yielded at once (as "" while its sentence is
                    # still checked): the session's round timeout counts until the model answers
                    alive = True
                    yield TextDelta(words)
            elif isinstance(event, Usage):
                usage = event
        tail = gate.feed(person.finish())
        decision = parse_decision(say.text, spec)
        if decision is None and say.started:  # words already spoken (cut by max_tokens): keep them
            decision = Decision("say", say=say.text)
        if decision is not None and decision.kind == "say":
            rest = tail + gate.finish(keep_repeat=not again)
            self.repeats += 1 if gate.repeats else 0
            self.invented += 1 if gate.invented else 0
            refused = bool(gate.refusals) and not (gate.repeats or gate.invented)  # the fallback is better
            if again and not gate.spoke and not refused:  # only repeats or invented numbers: ask once more
                second = copy.copy(request)
                second.temperature = max(0.7, request.temperature)
                reason = NUMBER_HINT if gate.invented else (hint or REPEAT_HINT)
                async for event in self.stream(second, retry=False, hint=reason, again=False):
                    yield event
                return
            if rest:
                yield TextDelta(rest)
            yield usage
            return
        call = decision.call if decision is not None else None
        if call is not None and self.guided and not grounded(call, request.tools, request.messages):
            self.dropped_calls += 1
            call = None
        if call is not None and call.name in request.closing and not asks_to_end(latest_caller_words(request)):
            self.dropped_calls += 1  # a hang-up nobody asked for
            call = None
        if (
            call is not None
            and call.name in request.handoffs
            and not asked_for_person(latest_caller_words(request), spec, call.name)
        ):
            self.dropped_calls += 1  # a transfer nobody asked for
            call = None
        if call is not None and decision is not None and decision.kind == "call" and _copied_example(call, spec):
            self.dropped_calls += 1  # the prompt's own example value, not the caller's words
            call = None
        ask: str | None = None
        if call is not None and decision is not None and decision.kind == "verify" and spec.verify is not None:
            said = "\n".join(str(m.get("content") or "") for m in request.messages if m.get("role") == "user")
            facts = grounded_facts(json.loads(call.arguments), said, spec.verify)
            if facts and not tried_before(facts, request.messages):
                call = ToolCallRequest(id=call.id, name=call.name, arguments=json.dumps(facts))
            else:  # placeholders, facts nobody said or facts already checked: ask for them
                self.dropped_calls += 1
                names = [n.replace("_", " ") for n in json.loads(call.arguments) if isinstance(n, str)]
                ask = ASK_HINT.format(facts=" and ".join(names)) if names else None
                call = None
        if call is None:
            if decision is None:
                self.invalid += 1
            if retry and spec.say:
                words_only = copy.copy(request)
                words_only.tool_choice = "none"
                async for event in self.stream(words_only, retry=False, hint=ask, again=ask is not None):
                    yield event
                return
            yield usage
            return
        yield call
        yield usage
