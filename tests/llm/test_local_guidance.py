"""Small-model guidance: tool calls the caller's words determine, and answers after tool results.

The phrasings below are the list the issue asks for: each must call get_account_info with the
right account_id (or, for the negative cases, must not call anything without the model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_helpers import collect, text_of
from voiceagent.config.load import load_agent
from voiceagent.engine.compiler import compile_agent
from voiceagent.providers.base import ChatRequest, ToolCallRequest, Usage
from voiceagent.providers.local.guidance import (
    AFTER_TOOL_HINT,
    ANSWER_GRAMMAR,
    ToolNameGate,
    answer_request_parts,
    candidate_values,
    direct_call,
    grounded,
    render_tool_result,
    without_replies,
)
from voiceagent.providers.local.llm import LocalLLM
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = {"type": "string", "pattern": "^[0-9]{4,12}$"}
GREETING = "Hi, this is Acme Corp support. How can I help?"


@pytest.fixture(scope="module")
def support_tools() -> list[dict]:
    """The tools agents/support.yaml offers in its first state, as the LLM sees them."""
    compiled = compile_agent(load_agent(ROOT / "agents" / "support.yaml", env={}))
    return compiled.state(compiled.initial).llm_tools()


def convo(user: str, asked: str = GREETING) -> list[dict]:
    return [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": asked},
        {"role": "user", "content": user},
    ]


@pytest.mark.parametrize(
    "user, asked, account",
    [
        ("Hi, can you check my account? The number is 12345.", GREETING, "12345"),
        ("What's my balance? My account number is 67890.", GREETING, "67890"),
        ("My account is 24680, what plan am I on?", GREETING, "24680"),
        ("Account number 9001, please.", GREETING, "9001"),
        ("Can you look up my account, it's 1-2-3-4-5?", GREETING, "12345"),
        ("my account number is one two three four five", GREETING, "12345"),
        ("It's 67890.", "Sure, what's your account number?", "67890"),
        ("Sure, 24680", "Could you give me your account number?", "24680"),
        ("It's 67890.", "Sure, I can help you with that. What is your bill number?", "67890"),  # a bare answer
    ],
)
def test_account_questions_call_get_account_info_with_the_number(support_tools, user, asked, account):
    call = direct_call(convo(user, asked), support_tools)
    assert call is not None and call.name == "get_account_info"
    assert json.loads(call.arguments) == {"account_id": account}


@pytest.mark.parametrize(
    "user, asked",
    [
        ("Hello.", GREETING),
        ("Hi there, how are you?", GREETING),
        ("Can you check my account?", GREETING),  # no number: the model asks for it
        ("My phone number is 5550123, I want a person.", GREETING),  # "account" never said
        ("I was born in 1988.", GREETING),
        ("It's 9001.", GREETING),  # nobody asked for an account number
        ("My account is 12345, or maybe 67890.", GREETING),  # two numbers: not ours to pick
        ("My account is 12.", GREETING),  # fails the pattern
        ("Thanks, goodbye!", GREETING),
        ("I was born in 1988 and I live in a small town.", "What is your phone number?"),  # not a bare answer
        ("It's 67890.", "Your number is noted."),  # no question asked
    ],
)
def test_other_turns_are_left_to_the_model(support_tools, user, asked):
    assert direct_call(convo(user, asked), support_tools) is None


def test_only_the_first_round_of_a_turn_is_decided(support_tools):
    msgs = convo("My account is 12345.") + [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c",
                    "type": "function",
                    "function": {"name": "get_account_info", "arguments": '{"account_id": "12345"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": '{"found": true}'},
    ]
    assert direct_call(msgs, support_tools) is None


def test_free_text_and_parameterless_tools_are_never_filled():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "create_ticket",
                "parameters": {
                    "type": "object",
                    "properties": {"summary": {"type": "string"}},
                    "required": ["summary"],
                },
            },
        },
        {"type": "function", "function": {"name": "end_call", "parameters": {"type": "object", "properties": {}}}},
    ]
    assert direct_call(convo("Create a ticket with summary 12345, then end the call."), tools) is None


def test_enum_and_integer_parameters():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "set_plan",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "plan": {"type": "string", "enum": ["Basic", "Pro"]},
                        "seats": {"type": "integer", "minimum": 1, "maximum": 50},
                    },
                    "required": ["plan", "seats"],
                },
            },
        }
    ]
    call = direct_call(convo("Move my plan to pro with 5 seats."), tools)
    assert call is not None and json.loads(call.arguments) == {"plan": "Pro", "seats": 5}
    assert direct_call(convo("Move my plan to pro with 500 seats."), tools) is None
    assert candidate_values("pro or basic", tools[0]["function"]["parameters"]["properties"]["plan"]) == [
        "Basic",
        "Pro",
    ]


def test_render_tool_result_reads_as_key_value_lines():
    assert (
        render_tool_result('{"found": true, "name": "Priya", "tags": ["a"]}') == 'found: yes\nname: Priya\ntags: ["a"]'
    )
    assert render_tool_result("plain text") == "plain text"
    assert render_tool_result("[1, 2]") == "[1, 2]"


async def test_local_llm_makes_the_determined_call_without_asking_the_server(support_tools):
    async with FakeOpenAI() as srv:
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, calls, usages = await collect(
            llm, ChatRequest(messages=convo("Check account 12345 please."), tools=support_tools)
        )
        await llm.aclose()
    assert srv.requests == [] and llm.direct_calls == 1
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_account_info", {"account_id": "12345"})]
    assert isinstance(events[-1], Usage) and isinstance(events[0], ToolCallRequest)


async def test_after_tool_results_the_model_must_answer_in_words(support_tools):
    msgs = convo("Check account 12345 please.") + [
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_account_info", "arguments": '{"account_id": "12345"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"found": true, "name": "Priya"}'},
    ]
    async with FakeOpenAI() as srv:
        srv.script(TextReply("Hi Priya, your account is active."))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, calls, _ = await collect(llm, ChatRequest(messages=msgs, tools=support_tools, temperature=0.3))
        await llm.aclose()
    body = srv.requests[0].body
    assert body["grammar"] == ANSWER_GRAMMAR and body["temperature"] == 0.0
    assert body["messages"][-1] == {"role": "system", "content": AFTER_TOOL_HINT}
    assert body["messages"][-2]["content"] == "found: yes\nname: Priya"
    # the greeting (a spoken reply) is not shown: the model copied such replies as its answer
    assert body["messages"][:2] == [msgs[0], msgs[2]]
    assert all(m["content"] != GREETING for m in body["messages"])
    assert calls == [] and text_of(events) == "Hi Priya, your account is active."


def _ticket_result(caller: str) -> list[dict]:
    return convo(caller) + [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "create_ticket", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"id": "T-1077", "status": "open"}'},
    ]


async def answers(msgs: list[dict], tools: list[dict], replies: list[str], times: int = 1):
    """The guided (not structured) answer after the tool results in ``msgs``, asked ``times``
    times of one LocalLLM, the fake server answering ``replies`` in order: (the spoken texts,
    the calls of the first answer, the requests the server received, the closed LocalLLM)."""
    async with FakeOpenAI() as srv:
        srv.script(*(TextReply(r) for r in replies))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        texts, calls = [], []
        for _ in range(times):
            events, answer_calls, _ = await collect(llm, ChatRequest(messages=msgs, tools=tools))
            texts.append(text_of(events).strip())
            calls = calls or answer_calls
        await llm.aclose()
    return texts, calls, srv.requests, llm


async def test_the_answer_after_a_tool_never_says_the_callers_words_back_nor_invents_numbers(support_tools):
    msgs = _ticket_result("My router is broken. Can you open a support ticket for me?")
    replies = [
        "Your ticket T-1077 is open. Can you open a support ticket for me? It costs 250 dollars.",
        "Can you open a support ticket for me?",
        "Can you open a support ticket for me?",  # the retry of the second answer
    ]
    # the second answer only dropped sentences: asked once more, at 0.7; nothing to say then is nothing said
    texts, calls, requests, llm = await answers(msgs, support_tools, replies, times=2)
    assert calls == [] and texts == ["Your ticket T-1077 is open.", ""]
    assert len(requests) == 3 and requests[2].body["temperature"] == 0.7
    assert llm.dropped_sentences == 1


async def test_a_refusal_after_a_tool_is_asked_again_and_kept_only_when_it_refuses_again(support_tools):
    msgs = _ticket_result("My router is broken. Can you open a support ticket for me?")
    refusal = "I'm sorry, but I can't assist with this request."
    replies = [refusal, "Your ticket T-1077 is open.", refusal, "Sorry, I can't help with that."]
    texts, _, requests, _ = await answers(msgs, support_tools, replies, times=2)
    assert requests[1].body["temperature"] == 0.7
    assert texts == ["Your ticket T-1077 is open.", "Sorry, I can't help with that."]  # better than the fallback


async def test_the_answer_after_a_tool_shows_it_is_alive_before_its_retry(support_tools):
    """The session's round timeout counts until the LLM's first event: a dropped first answer and
    its retry (two long evaluations of the bank's prompt on a slow machine) must not count as
    silence, so the first decoded word is yielded at once, as "", while its sentence is checked."""
    from voiceagent.providers.base import TextDelta

    msgs = _ticket_result("My router is broken. Can you open a support ticket for me?")
    async with FakeOpenAI() as srv:
        srv.script(TextReply("Can you open a support ticket for me?"), TextReply("Your ticket T-1077 is open."))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, _, _ = await collect(llm, ChatRequest(messages=msgs, tools=support_tools))
        await llm.aclose()
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas[0] == "" and len(srv.requests) == 2  # alive before the retry was even asked
    assert "".join(deltas).strip() == "Your ticket T-1077 is open."


def _verified_then_looked_up(guard_message: str) -> list[dict]:
    """A conversation after "Ravi Kumar from Pune.": verify_caller answered ``guard_message``, then
    get_account_info returned a balance of 42.5."""
    verified = json.dumps({"verification_level": 1, "message": guard_message})
    return convo("Ravi Kumar from Pune.") + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "v1", "function": {"name": "verify_caller"}}]},
        {"role": "tool", "tool_call_id": "v1", "content": verified},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "function": {"name": "get_account_info"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"balance": 42.5}'},
    ]


async def test_the_answer_after_a_tool_never_reads_out_the_verification_result(support_tools):
    """espeak-ng's "What's my balance?" was heard as "What's my marriage?"; after verification and
    the summary look-up the model read the guard's message out: "Your marriage is verified to
    level 1 (information queries: ...)"."""
    msgs = _verified_then_looked_up("The caller is verified to level 1 (information queries).")
    said = "Your marriage is verified to level 1 (information queries). Your balance is 42.5."
    texts, _, _, _ = await answers(msgs, support_tools, [said])
    assert texts == ["Your balance is 42.5."]


@pytest.mark.parametrize(
    ("said", "spoken"),
    [
        ("Your marriage was verified to level 1. Your balance is 42.5.", ["Your balance is 42.5."]),
        ("You are now at level 1. Your balance is 42.5.", ["Your balance is 42.5."]),
        ("You are verified now. Your balance is 42.5.", ["You are verified now. Your balance is 42.5."]),
    ],
)
async def test_a_verification_level_in_other_words_is_not_read_out(support_tools, said, spoken):
    """espeak-ng's caller again: the answer said "Your marriage was verified to level 1.", four
    words of the guard's message, under the five-word check. The level is the runtime's word."""
    msgs = _verified_then_looked_up("The caller is verified to level 1.")
    texts, _, _, _ = await answers(msgs, support_tools, [said])
    assert texts == spoken


async def test_a_level_is_spoken_when_no_verification_gave_one(support_tools):
    msgs = convo("What does my plan include?") + [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "function": {"name": "get_account_info"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"plan": "Pro, support level 2"}'},
    ]
    texts, _, _, _ = await answers(msgs, support_tools, ["Your Pro plan has support level 2."])
    assert texts == ["Your Pro plan has support level 2."]


async def test_the_answer_after_a_tool_never_says_the_callers_identity_facts_back(support_tools):
    """Heard as "What's my marriage?", the bank's answer after verification and the look-up was
    "Your marriage is Ravi Kumar, born 12 April 1985.", the date of birth said aloud on the phone."""
    facts = '{"full_name": "Ravi Kumar", "dob": "1985-04-12"}'
    verify = {"id": "v1", "function": {"name": "verify_caller", "arguments": facts}}
    msgs = convo("Ravi Kumar, born 12 April 1985.") + [
        {"role": "assistant", "content": None, "tool_calls": [verify]},
        {"role": "tool", "tool_call_id": "v1", "content": '{"verification_level": 1}'},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "function": {"name": "get_account_info"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"balance": 42.5}'},
    ]
    said = "Your marriage is Ravi Kumar, born 12 April 1985. Thank you, Ravi Kumar. Your balance is 42.5."
    texts, _, _, _ = await answers(msgs, support_tools, [said])
    assert texts == ["Thank you, Ravi Kumar. Your balance is 42.5."]  # a name alone is polite


@pytest.mark.parametrize(
    ("sentence", "spoken"),
    [
        ("You were born on 12 April 1985.", False),
        ("Your card ending 7788 is active.", False),
        ("I am Ravi Kumar from Pune.", False),  # two facts together: the caller's words back
        ("Thank you, Ravi Kumar.", True),
        ("Your balance is 1745461.2 rupees.", True),
    ],
)
def test_identity_facts_are_never_said_back(sentence, spoken):
    from voiceagent.providers.structured.gates import SentenceGate

    gate = SentenceGate(
        [], {12.0, 4.0, 1985.0, 7788.0, 1745461.2}, secrets=["Ravi Kumar", "1985-04-12", "Pune", "7788"]
    )
    assert (gate.feed(sentence + " ") + gate.finish(keep_repeat=False)).strip() == (sentence if spoken else "")


def test_the_answer_after_a_tool_does_not_see_earlier_replies():
    """The bank's answer after verification and the summary look-up said "Hello, what's your full
    name?" again: the model copied the reply it saw last. The calls and results stay."""
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]}
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "assistant", "content": "Welcome. How can I help?"},
        {"role": "user", "content": "What's my balance?"},
        {"role": "assistant", "content": "Hello, what's your full name?"},
        {"role": "user", "content": "Ravi Kumar from Pune."},
        call,
        {"role": "tool", "tool_call_id": "c1", "content": "balance: 1745461.2"},
    ]
    kept = without_replies(history)
    assert [m["role"] for m in kept] == ["system", "user", "user", "assistant", "tool"]
    assert kept[3] is call and "Hello, what's your full name?" not in str(kept)
    assert len(history) == 7  # input not modified


async def test_plain_turns_go_to_the_model_unchanged(support_tools):
    async with FakeOpenAI() as srv:
        srv.script(TextReply("Hello! How can I help?"))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, calls, _ = await collect(llm, ChatRequest(messages=convo("Hello."), tools=support_tools))
        await llm.aclose()
    body = srv.requests[0].body
    assert "grammar" not in body and body["messages"] == convo("Hello.")
    assert calls == [] and llm.direct_calls == 0


async def test_guidance_can_be_turned_off(support_tools):
    async with FakeOpenAI() as srv:
        srv.script(TextReply("Sure."))
        llm = LocalLLM(base_url=srv.base_url, guided=False, structured=False)
        await collect(llm, ChatRequest(messages=convo("Check account 12345."), tools=support_tools))
        await llm.aclose()
    assert len(srv.requests) == 1 and llm.direct_calls == 0


def test_a_known_call_token_is_banned_instead_of_a_grammar():
    msgs = convo("hi") + [{"role": "tool", "tool_call_id": "c", "content": "ok"}]
    out, extra = answer_request_parts(msgs, "auto", call_token=151657)
    assert extra == {"logit_bias": {"151657": -100}}
    assert out[-1] == {"role": "system", "content": AFTER_TOOL_HINT} and out[:-1] == msgs
    out, extra = answer_request_parts(convo("hi"), "none")
    assert extra == {"grammar": ANSWER_GRAMMAR} and out == convo("hi")  # no hint without results
    assert answer_request_parts(convo("hi"), "auto") is None


def test_grounded_accepts_only_values_the_caller_said(support_tools):
    said = convo("Please check account 9 0 0 1.")
    ok = ToolCallRequest("c", "get_account_info", '{"account_id": "9001"}')
    made_up = ToolCallRequest("c", "get_account_info", '{"account_id": "1234567890"}')
    free_text = ToolCallRequest("c", "create_ticket", '{"summary": "anything at all"}')
    assert grounded(ok, support_tools, said)
    assert not grounded(made_up, support_tools, said)
    assert grounded(free_text, support_tools, said)  # no pattern: not judged here


async def test_an_invented_account_number_is_dropped_and_words_asked_for(support_tools):
    msgs = convo("Please check account I'm near a world for me.")
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply(
                '<tool_call>\n{"name": "get_account_info", "arguments": {"account_id": "1234567890"}}\n</tool_call>'
            ),
            TextReply("Could you tell me your account number?"),
        )
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, calls, usages = await collect(llm, ChatRequest(messages=msgs, tools=support_tools))
        await llm.aclose()
    assert calls == [] and llm.dropped_calls == 1 and len(usages) == 1
    assert text_of(events) == "Could you tell me your account number?"
    second = srv.requests[1].body
    assert second["tool_choice"] == "none" and second["grammar"] == ANSWER_GRAMMAR
    assert second["messages"] == msgs


async def test_the_filler_said_before_a_call_is_not_shown_to_the_model(support_tools):
    msgs = convo("Check account 12345 please.") + [
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
        {"role": "tool", "tool_call_id": "c1", "content": '{"found": false}'},
    ]
    async with FakeOpenAI() as srv:
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        await collect(llm, ChatRequest(messages=msgs, tools=support_tools))
        await llm.aclose()
    shown = srv.requests[0].body["messages"][2]["content"]  # after the system prompt and the caller
    assert shown.startswith("<tool_call>") and "Let me check" not in shown


def test_tool_name_gate_drops_sentences_that_name_a_tool():
    gate = ToolNameGate(["get_account_info", "end_call"])
    pieces = ["Sure! You can call `get_acc", "ount_info` with it. What is", " your number?", " Then END_CALL"]
    out = "".join(gate.feed(p) for p in pieces) + gate.finish()
    assert out == "Sure! What is your number?" and gate.dropped == 2
    assert ToolNameGate([]).feed("Fine. ") == "Fine. "


async def test_a_reply_that_only_explains_tools_is_asked_again(support_tools):
    async with FakeOpenAI() as srv:
        srv.script(
            TextReply("You can call the get_account_info function with your number."),
            TextReply("Sure, what is your account number?"),
        )
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, calls, usages = await collect(
            llm, ChatRequest(messages=convo("Hi, I want to check my account."), tools=support_tools, temperature=0.3)
        )
        await llm.aclose()
    assert text_of(events) == "Sure, what is your account number?" and calls == []
    assert len(usages) == 1 and llm.dropped_sentences == 1
    assert srv.requests[1].body["temperature"] == 0.7


async def test_other_sentences_of_the_reply_are_kept_without_asking_again(support_tools):
    async with FakeOpenAI() as srv:
        srv.script(TextReply("Sure. I will call get_account_info for you."))
        llm = LocalLLM(base_url=srv.base_url, structured=False)
        events, _, _ = await collect(llm, ChatRequest(messages=convo("Check my account."), tools=support_tools))
        await llm.aclose()
    assert text_of(events) == "Sure." and len(srv.requests) == 1


def test_tool_name_gate_passes_a_sentence_as_soon_as_its_mark_arrives():
    gate = ToolNameGate(["get_account_info"])
    assert gate.feed("Sure") == "" and gate.feed(", one moment.") == "Sure, one moment."
    assert gate.feed(" Your balance is $42.") == " Your balance is $42."
    assert gate.feed("50 today.") == "50 today."
