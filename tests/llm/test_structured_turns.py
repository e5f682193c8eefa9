"""Structured turns: one constrained decision per LLM round, against the fake OpenAI server.

The request body each round sends (grammar / response_format, no tools) and the mapping of the
decoded decision to what the session runs (words, a tool call, ``go_to_<state>``,
``verify_caller``) are asserted; the real model is in test_structured_real_model.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_helpers import collect, text_of
from voiceagent.config.load import load_agent
from voiceagent.engine.compiler import compile_agent
from voiceagent.providers.base import ChatRequest
from voiceagent.providers.local.guidance import AFTER_TOOL_HINT, ANSWER_GRAMMAR
from voiceagent.providers.local.llm import LocalLLM
from voiceagent.providers.openai_compat import OpenAICompatLLM
from voiceagent.providers.structured.decision import DecisionSpec, SayStream, decision_schema, parse_decision
from voiceagent.providers.structured.facts import grounded_facts
from voiceagent.providers.structured.gates import SentenceGate
from voiceagent.providers.structured.llm import StructuredLLM
from voiceagent.providers.structured.prompt import SecondPerson, example_arguments, second_person, small_model_prompt
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply

pytestmark = pytest.mark.needs_local("llama_cpp")  # the grammars come from llama-cpp-python

ROOT = Path(__file__).resolve().parents[2]


def state(agent: str, name: str | None = None):
    compiled = compile_agent(load_agent(ROOT / "agents" / agent, env={}))
    return compiled.state(name or compiled.initial)


def request(agent: str, st: str | None, *turns: dict, **kw) -> ChatRequest:
    s = state(agent, st)
    return ChatRequest(
        messages=[{"role": "system", "content": "You are an agent.\n\n" + (s.instructions or "")}, *turns],
        tools=s.llm_tools(),
        instructions=s.instructions,
        **kw,
    )


def user(text: str) -> dict:
    return {"role": "user", "content": text}


async def local_round(req: ChatRequest, *replies: str) -> tuple[list, list, list]:
    """``req`` through the embedded model's structured rounds, the fake server answering with
    ``replies`` in order: (events, calls, the requests the server received)."""
    async with FakeOpenAI() as srv:
        srv.script(*(TextReply(r) for r in replies))
        llm = LocalLLM(base_url=srv.base_url)
        events, calls, _ = await collect(llm, req)
        await llm.aclose()
    return events, calls, srv.requests


# ------------------------------------------------------------------ schema and parsing


def test_the_schema_offers_exactly_the_states_tools_transitions_and_verification():
    spec = DecisionSpec.from_functions(state("bank.yaml", "service").llm_tools())
    schema = decision_schema(spec)
    options = schema["anyOf"]
    calls = [o["properties"]["call"]["const"] for o in options if "call" in o["properties"]]
    assert calls == [
        "get_account_summary",
        "get_transactions",
        "analyze_spending",
        "break_fixed_deposit",
        "transfer_to_human",
    ]
    (goto,) = [o for o in options if "goto" in o["properties"]]
    assert goto["properties"]["goto"] == {"enum": ["closing"]}
    (verify,) = [o for o in options if "verify" in o["properties"]]
    assert set(verify["properties"]["verify"]["properties"]) == {
        "full_name",
        "dob",
        "account_last_four",
        "city",
        "debit_card_last_four",
    }
    deposit = next(o for o in options if o["properties"].get("call", {}).get("const") == "break_fixed_deposit")
    assert deposit["properties"]["arguments"]["properties"]["deposit_id"]["pattern"] == "^[A-Za-z]{2}[0-9]{4}$"
    assert all(o["additionalProperties"] is False for o in options)


def test_none_allows_only_words_and_required_no_words():
    tools = state("support.yaml").llm_tools()
    assert decision_schema(DecisionSpec.from_functions(tools, act=False))["required"] == ["say"]
    kinds = DecisionSpec.from_functions(tools, say=False).kinds
    assert kinds == ["call"]


@pytest.mark.parametrize(
    "text",
    [
        '{"call": "delete_everything", "arguments": {}}',  # a tool the state does not offer
        '{"goto": "service"}',  # a state the greeting cannot choose
        '{"call": "get_account_info", "arguments": "12345"}',
        '{"say": ""}',
        "not json",
        "[1, 2]",
    ],
)
def test_decisions_the_state_does_not_allow_are_refused(text):
    spec = DecisionSpec.from_functions(state("support.yaml").llm_tools())
    assert parse_decision(text, spec) is None


def test_goto_and_verify_map_to_the_sessions_functions():
    spec = DecisionSpec.from_functions(state("bank.yaml", "greeting").llm_tools())
    goto = parse_decision('{"goto": "verify"}', spec)
    assert goto is not None and goto.call is not None and goto.call.name == "go_to_verify"
    verify = parse_decision('{"verify": {"city": "Pune", "dob": " "}}', spec)
    assert verify is not None and verify.call is not None
    assert (verify.call.name, json.loads(verify.call.arguments)) == ("verify_caller", {"city": "Pune"})


def test_say_streams_as_it_decodes_with_escapes():
    stream = SayStream()
    pieces = ['{"', "say", '": "He', 'llo \\"you', '\\" caf\\u00e9', '." }']
    assert "".join(stream.feed(p) for p in pieces) == 'Hello "you" café.'
    other = SayStream()
    assert "".join(other.feed(p) for p in ['{"call": "x", "arguments": {"say": "no"}}']) == ""


def test_third_person_never_reaches_the_caller():
    assert second_person("Please check the caller's account number.") == "Please check your account number."
    assert second_person("The caller should check the number.") == "You should check the number."
    assert (
        second_person("You should check the number 10001 to find their account balance.")
        == "You should check the number 10001 to find your account balance."
    )
    assert second_person("Their card ends in 7788.") == "Your card ends in 7788."
    assert second_person("I see their deposits and their accountant.") == "I see your deposits and their accountant."
    assert second_person("Our agents keep their office hours.") == "Our agents keep their office hours."
    assert second_person("Ask them about theirs.") == "Ask them about theirs."
    person = SecondPerson()
    pieces = ["Please check ", "the ", "call", "er's account ", "number now."]
    assert "".join(person.feed(p) for p in pieces) + person.finish() == "Please check your account number now."


def test_examples_are_synthesised_from_the_schema():
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in state("bank.yaml", "service").llm_tools()}
    assert example_arguments(tools["break_fixed_deposit"]) == {"deposit_id": "FD1001"}
    support = {t["function"]["name"]: t["function"]["parameters"] for t in state("support.yaml").llm_tools()}
    (value,) = example_arguments(support["get_account_info"]).values()
    assert value.isdigit() and 4 <= len(value) <= 12


def test_the_prompt_puts_the_instructions_first_and_lists_every_choice():
    s = state("bank.yaml", "verify")
    spec = DecisionSpec.from_functions(s.llm_tools())
    prompt = small_model_prompt("You are a bank agent.\n\n" + s.instructions, s.instructions, spec)
    assert prompt.startswith("Before helping, verify the caller.")
    assert prompt.index("You are a bank agent.") > prompt.index("verify_caller with exactly")
    for choice in ('{"goto": "closing"}', '"call": "transfer_to_human"', '{"verify": ', '{"say": '):
        assert choice in prompt
    assert 'speak to them as "you"' in prompt


def test_facts_are_kept_only_when_the_caller_said_them():
    schema = state("bank.yaml", "verify").llm_tools()[-1]["function"]["parameters"]
    said = "Ravi Kumar, born 12 April 1985, card ending seven seven eight eight"
    facts = {"full_name": "Ravi Kumar", "dob": "1985-04-12", "city": "Pune", "debit_card_last_four": "7788", "x": "1"}
    assert grounded_facts(facts, said, schema) == {
        "full_name": "Ravi Kumar",
        "dob": "1985-04-12",
        "debit_card_last_four": "7788",
    }
    assert grounded_facts({"full_name": "John Smith"}, "What's my balance?", schema) == {}
    # Whisper writes digits with thousands separators: espeak-ng's "... my account ends in 4321"
    said = "I was born on 12 April 1985, and my count ended in 4,321."
    copied = {"dob": "12 April 1985", "account_last_four": "4321", "debit_card_last_four": "0000"}
    assert grounded_facts(copied, said, schema) == {"dob": "12 April 1985", "account_last_four": "4321"}
    assert grounded_facts({"account_last_four": "4321"}, "4,3210 and 14,321", schema) == {}


# ------------------------------------------------------------------ over the wire


async def test_local_say_is_streamed_and_the_body_carries_the_grammar_not_tools():
    async with FakeOpenAI() as srv:
        srv.script(TextReply(chunks=['{"say": "Sure, what is ', "the caller's account ", 'number?"}']))
        llm = LocalLLM(base_url=srv.base_url)
        req = request(
            "support.yaml",
            None,
            user("I have a question about my bill."),
            closing=("end_call",),
            handoffs=("transfer_to_human",),
        )
        events, calls, _ = await collect(llm, req)
        await llm.aclose()
    assert calls == [] and text_of(events) == "Sure, what is your account number?"
    body = srv.requests[0].body
    assert "tools" not in body and body["temperature"] == 0.0
    prompt = body["messages"][0]["content"]
    assert "Answer with exactly one JSON object" in prompt  # the small-model prompt
    for name in ("get_account_info", "create_ticket", "transfer_to_human", "end_call"):
        assert name in prompt  # the prompt (a cached prefix) always lists every choice ...
        assert name not in body["grammar"]  # ... the grammar only what the caller's words ground
    assert '\\"say\\"' in body["grammar"]


async def test_the_grammar_offers_only_identifiers_and_topics_the_caller_gave():
    async with FakeOpenAI() as srv:
        srv.script(TextReply('{"say": "Sure."}'))
        llm = LocalLLM(base_url=srv.base_url)
        said = "My account is 12345 or 67890, and my router is broken, I need a ticket."
        await collect(
            llm, request("support.yaml", None, user(said), closing=("end_call",), handoffs=("transfer_to_human",))
        )
        await llm.aclose()
    grammar = srv.requests[-1].body["grammar"]
    # two numbers: the look-up is offered with exactly those two (no invented one), a ticket for
    # the topic; no transfer (nobody asked for a person), no hang-up (nobody said goodbye)
    assert "get_account_info" in grammar and "12345" in grammar and "67890" in grammar
    assert "create_ticket" in grammar and "transfer_to_human" not in grammar and "end_call" not in grammar


async def test_local_goto_after_a_facts_round_that_found_none():
    async with FakeOpenAI() as srv:
        srv.script(TextReply('{"verify": {}}'), TextReply('{"goto": "verify"}'))
        llm = LocalLLM(base_url=srv.base_url)
        _, calls, _ = await collect(llm, request("bank.yaml", "greeting", user("Hi, can you help me with my card?")))
        await llm.aclose()
    assert [c.name for c in calls] == ["go_to_verify"]
    facts_round, decision_round = (r.body for r in srv.requests)
    assert "verify" in facts_round["grammar"] and "goto" not in facts_round["grammar"]
    assert '\\"verify\\"' in decision_round["grammar"] and "closing" in decision_round["grammar"]
    assert facts_round["messages"] == decision_round["messages"]  # one prompt: the KV cache is shared


async def test_local_verify_keeps_only_what_the_caller_said():
    async with FakeOpenAI() as srv:
        srv.script(TextReply('{"verify": {"full_name": "Ravi Kumar", "city": "Mumbai"}}'))
        llm = LocalLLM(base_url=srv.base_url)
        _, calls, _ = await collect(llm, request("bank.yaml", "verify", user("I'm Ravi Kumar.")))
        await llm.aclose()
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("verify_caller", {"full_name": "Ravi Kumar"})]
    assert len(srv.requests) == 1


async def test_facts_the_guard_already_refused_are_not_sent_again():
    """flite's "Ravi Kumar from Pune" was heard as "Ragi Kumar from Poon" and refused; for the
    caller's next "What is my balance?" the model chose those facts again, spending a second
    attempt of three."""
    refused = {"full_name": "Ragi Kumar", "city": "Poon"}
    turns = [
        user("Ragi Kumar from Poon."),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "verify_caller", "arguments": json.dumps(refused)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "verified: false"},
        {"role": "assistant", "content": "Sorry, I could not verify you."},
        user("What is my balance?"),
    ]
    events, calls, requests = await local_round(
        request("bank.yaml", "verify", *turns),
        '{"verify": {"full_name": "Ragi Kumar", "city": "poon"}}',
        '{"say": "Please tell me your full name and city again."}',
    )
    assert calls == [] and text_of(events).strip() == "Please tell me your full name and city again."
    assert requests[1].body["messages"][-1]["content"].endswith("Ask the caller for their full name and city.")
    # another combination of what the caller said is still sent
    turns[1]["tool_calls"][0]["function"]["arguments"] = json.dumps({"full_name": "Ragi Kumar"})
    _, calls, _ = await local_round(
        request("bank.yaml", "verify", *turns), '{"verify": {"full_name": "Ragi Kumar", "city": "Poon"}}'
    )
    assert [json.loads(c.arguments) for c in calls] == [refused]


async def test_a_structured_say_never_reads_the_callers_identity_facts_back():
    verify = {"id": "v1", "function": {"name": "verify_caller", "arguments": '{"dob": "12 April 1985"}'}}
    turns = [
        user("Born 12 April 1985."),
        {"role": "assistant", "content": "", "tool_calls": [verify]},
        {"role": "tool", "tool_call_id": "v1", "content": "verified: false"},
        {"role": "assistant", "content": "I could not verify you."},
        user("Why not?"),
    ]
    events, _, _ = await local_round(
        request("bank.yaml", "verify", *turns), '{"say": "You said 1985-04-12. Please tell me your full name too."}'
    )
    assert text_of(events).strip() == "Please tell me your full name too."


async def test_an_invented_identifier_is_not_called_and_words_are_asked_for():
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply('{"call": "get_account_info", "arguments": {"account_id": "99999"}}'),
            TextReply('{"say": "What is your account number?"}'),
        )
        llm = LocalLLM(base_url=srv.base_url)
        events, calls, _ = await collect(llm, request("support.yaml", None, user("Can you check my account?")))
        await llm.aclose()
    assert calls == [] and text_of(events) == "What is your account number?"
    assert llm.rounds.dropped_calls == 1
    assert "get_account_info" not in srv.requests[1].body["grammar"]


async def test_after_a_tool_result_only_words_are_allowed():
    turns = [
        user("Account 12345 please."),
        {
            "role": "assistant",
            "content": "Let me check your account.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_account_info", "arguments": '{"account_id": "12345"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"found": True, "plan": "Basic"})},
    ]
    async with FakeOpenAI() as srv:
        srv.script(TextReply('{"say": "You are on the Basic plan."}'), TextReply("You are on the Basic plan."))
        structured = StructuredLLM(OpenAICompatLLM(base_url=srv.base_url, api_key="k", model="m"))
        events, calls, _ = await collect(structured, request("support.yaml", None, *turns))
        local = LocalLLM(base_url=srv.base_url)  # the embedded model answers on the guided path
        local_events, local_calls, _ = await collect(local, request("support.yaml", None, *turns))
        await local.aclose()
        await structured.aclose()
    assert text_of(events) == "You are on the Basic plan." == text_of(local_events)
    assert calls == [] == local_calls
    body = srv.requests[0].body
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["say"]  # words only
    rendered = body["messages"]
    assert {
        "role": "assistant",
        "content": '{"call": "get_account_info", "arguments": {"account_id": "12345"}}',
    } in rendered
    assert any(m["role"] == "tool" and m["tool_call_id"] == "c1" and "plan: Basic" in m["content"] for m in rendered)
    guided = srv.requests[1].body
    assert guided["grammar"] == ANSWER_GRAMMAR and guided["messages"][-1]["content"] == AFTER_TOOL_HINT
    # only the tool whose result is answered is listed (the whole list took 10.7 s to evaluate)
    assert [t["function"]["name"] for t in guided["tools"]] == ["get_account_info"]


async def test_a_repeated_greeting_is_not_said_again():
    greeting = {"role": "assistant", "content": "Hi, this is Acme Corp support. How can I help?"}
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply('{"say": "Hi, this is Acme Corp support. How can I help?"}'),
            TextReply('{"say": "Hi, this is Acme Corp support. How can I help?"}'),  # asked again: same
            TextReply('{"say": "Hi, this is Acme Corp support. Your bill is due on Friday."}'),
        )
        llm = LocalLLM(base_url=srv.base_url)
        first, _, _ = await collect(llm, request("support.yaml", None, greeting, user("Hello.")))
        second, _, _ = await collect(llm, request("support.yaml", None, greeting, user("When is my bill due?")))
        await llm.aclose()
    assert text_of(first).strip() == "How can I help?"
    assert "repeat" in srv.requests[1].body["messages"][-1]["content"]
    assert text_of(second).strip() == "Your bill is due on Friday."
    assert len(srv.requests) == 3


async def test_numbers_nobody_gave_are_not_spoken_and_the_round_is_asked_again():
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply('{"say": "Your balance is rupees 10,000."}'),
            TextReply('{"say": "What is your account number? You said 4471, right?"}'),
        )
        llm = LocalLLM(base_url=srv.base_url)
        events, _, _ = await collect(llm, request("support.yaml", None, user("My count number is 4,471. Balance?")))
        await llm.aclose()
    assert text_of(events).strip() == "What is your account number? You said 4471, right?"
    assert "Never guess numbers" in srv.requests[1].body["messages"][-1]["content"]
    assert llm.rounds.invented == 1


async def test_a_reply_that_only_refuses_is_not_spoken_and_not_asked_again():
    """espeak-ng's "bill" was heard as "real": the model refused "I have a question about my
    real."; the session's fallback ("Sorry, could you repeat that?") follows instead. Asking the
    model again cost 1.4-1.9 s before the first audio for no better words."""
    events, calls, requests = await local_round(
        request("support.yaml", None, user("I have a question about my real.")),
        '{"say": "I\'m sorry, but I can\'t assist with that."}',
        '{"say": "Sure, what is your account number?"}',
    )
    assert calls == [] and text_of(events).strip() == "" and len(requests) == 1


async def test_a_refusal_beside_other_words_leaves_only_those_words():
    events, _, _ = await local_round(
        request("support.yaml", None, user("I have a question about my real.")),
        '{"say": "Sorry, I cannot help with that. What is your account number?"}',
    )
    assert text_of(events).strip() == "What is your account number?"


@pytest.mark.parametrize(
    ("sentence", "refuses"),
    [
        ("I'm sorry, but I can't assist with that.", True),
        ("I’m sorry, I can’t help with this.", True),
        ("I am unable to assist you with your request.", True),
        ("I can't verify your identity with those details.", False),
        ("I can't help with that, but I can open a ticket for you.", False),
    ],
)
def test_only_a_sentence_that_just_refuses_is_held_back(sentence, refuses):
    gate = SentenceGate([], set())
    out = gate.feed(sentence + " ") + gate.finish(keep_repeat=False)
    assert (out.strip() == "", gate.refusals) == ((True, 1) if refuses else (False, 0))


async def test_structured_true_over_an_openai_compatible_service_sends_a_json_schema():
    async with FakeOpenAI() as srv:
        srv.script(TextReply('{"call": "transfer_to_human", "arguments": {"reason": "asked for a person"}}'))
        llm = StructuredLLM(OpenAICompatLLM(base_url=srv.base_url, api_key="sk-test", model="m"))
        _, calls, _ = await collect(llm, request("support.yaml", None, user("Let me talk to a human.")))
        await llm.aclose()
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("transfer_to_human", {"reason": "asked for a person"})
    ]
    fmt = srv.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "decision"
    assert "tools" not in srv.requests[0].body


def test_the_registry_turns_structured_on_for_local_and_on_request_for_others():
    from voiceagent.config.models import Agent
    from voiceagent.providers.registry import resolve_providers

    def llm_of(llm_cfg: dict):
        agent = Agent.model_validate({"version": 1, "name": "a", "prompt": "p", "llm": llm_cfg})
        return resolve_providers(agent, env={}, audio=False, speech=False).llm

    url = "http://127.0.0.1:1/v1"
    local = llm_of({"provider": "local", "base_url": url})
    assert isinstance(local, LocalLLM) and local.structured
    assert not llm_of({"provider": "local", "base_url": url, "structured": False}).structured
    assert isinstance(llm_of({"provider": "openai", "base_url": url, "structured": True}), StructuredLLM)
    assert isinstance(llm_of({"provider": "openai", "base_url": url}), OpenAICompatLLM)


@pytest.mark.parametrize(
    "said, expected",
    [
        ("What's my balance?", False),
        ("Show me my recent transactions.", False),
        ("I'd rather talk to a person.", False),
        ("Ravi Kumar, born 12 April 1985.", True),
        ("John Smith from Delhi.", True),
        ("my name is ravi kumar", True),
        ("card ending seven seven eight eight", True),
    ],
)
def test_a_facts_round_runs_only_for_words_that_may_hold_facts(said, expected):
    from voiceagent.providers.structured.rounds import may_hold_facts

    assert may_hold_facts(said) is expected


async def test_no_facts_round_for_a_plain_question():
    async with FakeOpenAI() as srv:
        srv.script(TextReply('{"goto": "verify"}'))
        llm = LocalLLM(base_url=srv.base_url)
        _, calls, _ = await collect(llm, request("bank.yaml", "greeting", user("Can you help me with something?")))
        await llm.aclose()
    assert [c.name for c in calls] == ["go_to_verify"] and len(srv.requests) == 1


async def test_a_sentence_naming_a_tool_is_not_spoken():
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply('{"say": "Sure. When you are done, say goodbye and call end_call. What is your account number?"}')
        )
        llm = LocalLLM(base_url=srv.base_url)
        events, _, _ = await collect(llm, request("support.yaml", None, user("I have a question.")))
        await llm.aclose()
    assert text_of(events).split() == ["Sure.", "What", "is", "your", "account", "number?"]


async def test_a_hang_up_nobody_asked_for_is_not_called_and_words_are_asked_for():
    """The real 0.5B model answered "Hello." with end_call on a fresh machine (CI)."""
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply('{"call": "end_call", "arguments": {}}'),
            TextReply('{"say": "Hi! How can I help you today?"}'),
        )
        llm = LocalLLM(base_url=srv.base_url)
        events, calls, _ = await collect(llm, request("support.yaml", None, user("Hello."), closing=("end_call",)))
        await llm.aclose()
    assert calls == [] and text_of(events) == "Hi! How can I help you today?"
    assert llm.rounds.dropped_calls == 1


@pytest.mark.parametrize("said", ["Thanks, that's all. Bye.", "No, nothing else, thank you.", "ठीक है, धन्यवाद।"])
async def test_a_hang_up_the_caller_asked_for_is_called(said):
    async with FakeOpenAI() as srv:
        srv.script(TextReply('{"call": "end_call", "arguments": {}}'))
        llm = LocalLLM(base_url=srv.base_url)
        _, calls, _ = await collect(llm, request("support.yaml", None, user(said), closing=("end_call",)))
        await llm.aclose()
    assert [c.name for c in calls] == ["end_call"]


def test_the_session_marks_the_end_call_builtin_as_closing():
    from voiceagent.engine.call import Providers, build_call
    from voiceagent.testing.fakes import FakeLLM, FakeTransport

    loaded = load_agent(ROOT / "agents" / "support.yaml", env={})
    call = build_call(loaded, Providers(llm=FakeLLM()), FakeTransport("text", lines=[]), env={})
    assert call.session.prompt.request("auto").closing == ("end_call",)


async def bank_verify_turn(*replies: str) -> tuple[list, list, list]:
    """The bank's verify step answering "I want to check my account." with these model outputs:
    (events, calls, the requests the fake server received)."""
    return await local_round(request("bank.yaml", "verify", user("I want to check my account.")), *replies)


async def test_the_callers_words_said_back_are_not_spoken():
    events, _, requests = await bank_verify_turn(
        '{"say": "I want to check my account."}', '{"say": "Please tell me your full name and date of birth."}'
    )
    assert text_of(events).strip() == "Please tell me your full name and date of birth."
    assert "repeat" in requests[1].body["messages"][-1]["content"]


async def test_a_question_for_the_facts_that_only_says_the_callers_words_back_is_asked_again():
    """The bank's first turn ended in the fallback: the question round said "I want to check my
    account." back, which is never spoken, and nothing was left."""
    events, calls, requests = await bank_verify_turn(
        '{"verify": {"full_name": "your full name"}}',
        '{"say": "I want to check my account."}',
        '{"say": "What is your full name?"}',
    )
    assert calls == [] and text_of(events).strip() == "What is your full name?"
    ask = "Do not repeat the caller's words. Ask the caller for their full name."
    assert [r.body["messages"][-1]["content"] for r in requests[1:]] == [ask, ask]
    assert requests[2].body["temperature"] == 0.7 and len(requests) == 3


async def test_a_verify_with_placeholders_becomes_a_question_for_those_facts():
    events, calls, requests = await bank_verify_turn(
        '{"verify": {"full_name": "your full name", "dob": "your dob"}}',
        '{"say": "Please tell me your full name and date of birth."}',
    )
    assert calls == [] and text_of(events).strip() == "Please tell me your full name and date of birth."
    hint = requests[1].body["messages"][-1]
    assert hint == {
        "role": "system",
        "content": "Do not repeat the caller's words. Ask the caller for their full name and dob.",
    }
    grammar = requests[1].body["grammar"]  # words only
    assert "say-kv" in grammar and "verify" not in grammar
    # the same prompt as the round before, and then only the hint: the server's evaluated
    # prompt is reused (a prompt of its own was evaluated again, 1.1 s on 2 cores)
    first, second = requests[0].body["messages"], requests[1].body["messages"]
    assert second[:-1] == first


@pytest.mark.parametrize(
    "sentence",
    [
        "Your full name is [your full name] and your dob is [your dob].",
        "Hello {name}, how are you?",
        "Hi <caller>!",
        "You are the person on the phone: speak to them as 'you', 'your', never as 'you'.",  # the rules
        "Never mention tools, JSON or these rules.",
    ],
)
def test_a_placeholder_or_the_prompts_rules_are_not_spoken(sentence):
    gate = SentenceGate([], set())
    out = gate.feed(sentence + " Which account is it? ") + gate.finish()
    assert out.strip() == "Which account is it?" and gate.invented == 1


def test_brackets_around_real_words_are_not_placeholders_unless_a_template():
    gate = SentenceGate([], set())
    assert gate.feed("Your plan is Pro (the best one). ").strip() == "Your plan is Pro (the best one)."


@pytest.mark.parametrize(
    ("sentence", "known", "spoken"),
    [
        ("The account number 10001 has a balance of $0.", {10001.0}, False),  # found: false, no balance
        ("You owe 5 rupees.", set(), False),
        ("Your balance is Rs 0.", set(), False),
        ("Your balance is $0.", {0.0}, True),  # the tool said balance_due: 0
        ("Your balance is $42.50.", {42.5}, True),
        ("You have 2 tickets open.", set(), True),  # a small count, not money
    ],
)
def test_a_sum_of_money_is_checked_whatever_its_size(sentence, known, spoken):
    gate = SentenceGate([], known)
    out = gate.feed(sentence + " ") + gate.finish(keep_repeat=False)
    assert (out.strip() == sentence, gate.invented) == ((True, 0) if spoken else (False, 1))
