"""Decisions the caller's words make plain (structured/intents.py) and facts read without the model
(structured/facts.py ``spotted_facts``), on the example agents' real states and the phrasings the
offline suite and recorded callers produce. Each row could fail: a near miss is asserted too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_helpers import collect
from voiceagent.config.builtin_functions import verify_function
from voiceagent.config.load import load_agent
from voiceagent.engine.compiler import compile_agent
from voiceagent.providers.base import ChatRequest
from voiceagent.providers.local.llm import LocalLLM
from voiceagent.providers.structured.decision import DecisionSpec
from voiceagent.providers.structured.facts import merged_facts, spotted_facts
from voiceagent.providers.structured.intents import content_words, intent_call, says_goodbye, wants_person
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply

ROOT = Path(__file__).resolve().parents[2]
FACTORS = verify_function(["full_name", "dob", "account_last_four", "city", "debit_card_last_four"])
SCHEMA = FACTORS.get("function", FACTORS)["parameters"]


def request(agent: str, state: str | None, said: str) -> tuple[ChatRequest, DecisionSpec]:
    compiled = compile_agent(load_agent(ROOT / "agents" / agent, env={}))
    name = state or compiled.initial
    st = compiled.state(name)
    req = ChatRequest(
        messages=[{"role": "system", "content": "You are an agent."}, {"role": "user", "content": said}],
        tools=st.llm_tools(),
        closing=compiled.closing_functions(name),
        handoffs=compiled.builtin_tools(name, "transfer"),
    )
    return req, DecisionSpec.from_functions(req.tools)


def decided(agent: str, state: str | None, said: str) -> tuple[str, dict] | None:
    req, spec = request(agent, state, said)
    call = intent_call(req, spec, said)
    return (call.name, json.loads(call.arguments)) if call is not None else None


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Let me talk to a human.", True),
        ("I want to speak to a real person, please.", True),
        ("I'd rather talk to a person.", True),
        ("Can you connect me to an agent?", True),
        ("मुझे किसी इंसान से बात करनी है", True),
        ("mujhe kisi insaan se baat karni hai", True),
        ("This is ridiculous, nothing works.", True),
        ("I don't want to talk to a human, just check my bill.", False),
        ("Please write a report about my router.", False),  # "rep" inside "report" is no person
        ("I need to repeat my account number.", False),
        ("What's my balance?", False),
    ],
)
def test_a_request_for_a_person_is_recognised(said, expected):
    assert wants_person(said) is expected


def test_the_transfer_tools_own_description_adds_person_words():
    assert not wants_person("Can I talk to a banker?")
    assert wants_person("Can I talk to a banker?", ["banker"])


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("That's all, thank you. Goodbye.", True),
        ("Actually, nothing. Bye.", True),
        ("No, that is all.", True),
        ("Dhanyavaad, bas itna hi tha. Goodbye.", True),
        ("नहीं, बस इतना ही। धन्यवाद।", True),
        ("Thanks, what is my plan?", False),  # a thank-you with a question goes on
        ("Goodbye to my old plan, can you switch me to Pro?", False),
        ("Thank you.", False),  # thanks alone is left to the model
    ],
)
def test_goodbye_is_only_a_goodbye_without_a_request(said, expected):
    assert says_goodbye(said) is expected


@pytest.mark.parametrize(
    ("agent", "state", "said", "expected"),
    [
        ("support.yaml", None, "Let me talk to a human.", ("transfer_to_human", {"reason": "Let me talk to a human."})),
        ("support.yaml", None, "That's all, thank you. Goodbye.", ("end_call", {})),
        ("support.yaml", None, "Hello.", None),
        (
            "support.yaml",
            None,
            "Also my TV box keeps freezing. Please open a ticket.",
            ("create_ticket", {"summary": "Also my TV box keeps freezing. Please open a ticket."}),
        ),
        (
            "support.yaml",
            None,
            "My router is broken. Can you open a support ticket for me?",
            ("create_ticket", {"summary": "My router is broken. Can you open a support ticket for me?"}),
        ),
        ("support.yaml", None, "I already have a ticket open, what is its status?", None),
        ("support.yaml", None, "I have a question about my bill.", None),  # the look-up needs a number
        ("bank.yaml", None, "I want to check my account.", ("go_to_verify", {})),
        ("bank.yaml", None, "What did I spend last month?", ("go_to_verify", {})),
        ("bank.yaml", None, "Actually, nothing. Bye.", ("go_to_closing", {})),
        (
            "bank.yaml",
            "verify",
            "I'd rather talk to a banker.",
            ("transfer_to_human", {"reason": "I'd rather talk to a banker."}),
        ),
        ("bank.yaml", "verify", "Ravi Kumar, born 12 April 1985.", None),
        ("bank.yaml", "service", "What's my balance?", ("get_account_summary", {})),
        ("bank.yaml", "service", "Show me my recent transactions.", ("get_transactions", {})),
        # "fixed deposit" is in the summary's description too, but the best match needs an id
        ("bank.yaml", "service", "I want to break my fixed deposit.", None),
        ("bank.yaml", "service", "I want to check my account.", None),  # a tie is left to the model
    ],
)
def test_the_call_the_callers_words_determine(agent, state, said, expected):
    assert decided(agent, state, said) == expected


def test_content_words_stem_plurals_and_gerunds():
    assert content_words("The caller asks about their deposits and spending") == {"deposit", "spend"}


async def test_an_intent_is_made_without_the_model_and_a_transfer_nobody_asked_for_is_dropped():
    req, _ = request("support.yaml", None, "Let me talk to a human.")
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply('{"call": "transfer_to_human", "arguments": {"reason": "check"}}'), TextReply('{"say": "Sure."}')
        )
        llm = LocalLLM(base_url=srv.base_url)
        _, calls, _ = await collect(llm, req)
        assert [c.name for c in calls] == ["transfer_to_human"] and not srv.requests  # no model round
        req2, _ = request("support.yaml", None, "Hi, I want to check something.")
        events, calls2, _ = await collect(llm, req2)
        await llm.aclose()
    assert calls2 == []  # the model's transfer was not run: words were asked for instead
    assert len(srv.requests) == 2 and llm.rounds.dropped_calls == 1


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Ravi Kumar, my debit card ends in 7788.", {"full_name": "Ravi Kumar", "debit_card_last_four": "7788"}),
        (
            "This is Ravi Kumar, card ending seven seven eight eight.",
            {"full_name": "Ravi Kumar", "debit_card_last_four": "7788"},
        ),
        (
            "I was born on 12 April 1985 and my account ends in 4321.",
            {"dob": "12 April 1985", "account_last_four": "4321"},
        ),
        (
            "Ravi Kumar from Pune, born 12 April 1985.",
            {"full_name": "Ravi Kumar", "city": "Pune", "dob": "12 April 1985"},
        ),
        ("My name is Ravi Kumar and I live in Pune.", {"full_name": "Ravi Kumar", "city": "Pune"}),
        ("Born April 12th, 1985.", {"dob": "April 12th, 1985"}),
        ("Ravi Kumar, my debit card ends in 7,788.", {"full_name": "Ravi Kumar", "debit_card_last_four": "7788"}),
        (  # espeak-ng's caller as Whisper heard it: "account" without its first syllable
            "I was born on 12 April 1985, and my count ended in 4,321.",
            {"dob": "12 April 1985", "account_last_four": "4321"},
        ),
        ("The counter shows 4321.", {}),  # only a word a name word ends with stands for it
        ("Hi, can you help me with my card?", {}),
        ("My number is 4321.", {}),  # a number no factor's words name is left to the model
        ("What's my balance?", {}),
    ],
)
def test_facts_read_from_the_words_that_name_them(said, expected):
    assert spotted_facts(said, SCHEMA) == expected


def test_a_value_the_model_filed_under_the_wrong_factor_is_moved():
    model = {"full_name": "Ravi Kumar", "account_last_four": "7788"}
    assert merged_facts(model, {"debit_card_last_four": "7788"}) == {
        "full_name": "Ravi Kumar",
        "debit_card_last_four": "7788",
    }


@pytest.mark.parametrize(
    ("schema", "free"),
    [
        ({"type": "string", "description": "One sentence describing the problem"}, True),
        ({}, True),  # a string by default
        ({"type": "string", "pattern": "^[0-9]{4,12}$"}, False),
        ({"type": "string", "enum": ["rent", "travel"]}, False),
        ({"type": "string", "format": "date"}, False),
        ({"type": "integer"}, False),
        (None, False),
    ],
)
def test_free_text_is_a_string_nothing_can_check(schema, free):
    from voiceagent.providers.structured.decision import is_free_text

    assert is_free_text(schema) is free
