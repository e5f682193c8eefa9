"""Each expectation key passes when it holds and fails with a plain sentence when it does not;
the redaction leak check finds unmasked values without repeating them.
"""

from __future__ import annotations

import pytest
from voiceagent.convtest.expect import check_turn, reply_language, value_matches
from voiceagent.convtest.models import Expect
from voiceagent.convtest.plumbing import find_leaks
from voiceagent.convtest.record import turn_record
from voiceagent.engine.redaction import Redactor


def record(reply: str = "Let me check. Your balance is 42.50.", **kw):
    events = [
        {"type": "user.transcript", "text": "my account is 67890", "turn": 1},
        {"type": "tool.call", "name": "get_account_info", "arguments": {"account_id": "67890"}},
        {"type": "tool.result", "name": "get_account_info", "ok": True, "result": {"found": True}},
        {"type": "tool.call", "name": "break_fixed_deposit", "arguments": {"deposit_id": "FD1001"}},
        {
            "type": "tool.result",
            "name": "break_fixed_deposit",
            "ok": False,
            "error": "verification needed",
            "refused": True,
        },
        {"type": "state.enter", "state": "service", "previous": "verify", "via": "guard"},
        {"type": "agent.text", "text": reply, "interrupted": False, "turn": 1},
        {"type": "turn.metrics", "turn": 1, "eou_to_first_audio_ms": 812.4},
    ]
    events += kw.pop("extra", [])
    rec = turn_record(1, "my account is 67890", events)
    rec.state, rec.verification_level = kw.pop("state", "service"), kw.pop("level", 1)
    return rec


def fails(expect: dict, rec=None) -> list[str]:
    return check_turn(rec or record(), Expect.model_validate(expect))


PASSING = [
    {"tool_calls": [{"name": "get_account_info", "arguments": {"account_id": "67890"}}]},
    {"tool_calls": [{"name": "get_account_info"}, {"name": "break_fixed_deposit"}]},
    {"tool_calls": [{"name": "get_account_info", "arguments": {"account_id": "/^6789/"}}]},
    {"tool_calls": [{"name": "get_account_info", "arguments": {"account_id": 67890}}]},
    {"tools_not_called": ["break_fixed_deposit", "end_call"]},
    {"tool_results": [{"name": "get_account_info", "ok": True}, {"name": "break_fixed_deposit", "ok": False}]},
    {"reply_contains": ["BALANCE", "42.50"]},
    {"reply_contains": "42.50"},
    {"reply_not_contains": ["1985"]},
    {"reply_matches": "balance is \\d+\\.\\d+"},
    {"state": "service"},
    {"verification_level": 1},
    {"language": "en"},
    {"transfer": False},
    {"end": False},
    {"within_ms": 1000},
]


@pytest.mark.parametrize("expect", PASSING)
def test_expectations_that_hold_pass(expect):
    assert fails(expect) == []


FAILING = [
    (
        {"tool_calls": [{"name": "get_account_info", "arguments": {"account_id": "12345"}}]},
        "turn 1: expected a call to get_account_info with account_id '12345' in this turn; the agent called "
        "get_account_info with account_id '67890'; then break_fixed_deposit with deposit_id 'FD1001' and said "
        "'Let me check. Your balance is 42.50.'",
    ),
    (
        {"tool_calls": [{"name": "break_fixed_deposit"}, {"name": "get_account_info"}]},
        "turn 1: expected a call to get_account_info after the calls before it in this turn;",
    ),
    ({"tools_not_called": ["get_account_info"]}, "turn 1: expected get_account_info not to run; it ran and succeeded"),
    (
        {"tool_results": [{"name": "break_fixed_deposit", "ok": True}]},
        "expected break_fixed_deposit to succeed; it was refused: verification needed",
    ),
    (
        {"tool_results": [{"name": "get_account_info", "ok": False}]},
        'expected get_account_info to fail or be refused; it succeeded and returned {"found": true}',
    ),
    ({"tool_results": [{"name": "end_call", "ok": True}]}, "expected a result from end_call; end_call was not called"),
    ({"reply_contains": ["goodbye"]}, "expected the reply to contain 'goodbye'; the agent called"),
    ({"reply_not_contains": ["42.50"]}, "expected the reply not to contain '42.50'; the agent said 'Let me check."),
    ({"reply_matches": "^goodbye"}, "expected the reply to match /^goodbye/; the agent said"),
    (
        {"state": "closing"},
        "expected the call to be in state 'closing'; it is in 'service' (entered service in this turn)",
    ),
    ({"verification_level": 2}, "expected verification level 2; it is 1 (verify_caller was not called in this turn)"),
    ({"language": "hi"}, "expected a reply in hi; the agent replied in Latin script"),
    ({"transfer": True}, "expected the call to be transferred; the call goes on"),
    ({"end": True}, "expected the call to end after this turn; it goes on"),
    ({"within_ms": 500}, "expected the first reply within 500 ms of the end of the caller's words; it took 812 ms"),
]


@pytest.mark.parametrize(("expect", "message"), FAILING)
def test_expectations_that_do_not_hold_fail_in_plain_words(expect, message):
    (line,) = fails(expect)
    assert line.startswith("turn 1: ")
    assert message in line, line


def test_transfer_and_end_read_the_call_end_events():
    transferred = record(extra=[{"type": "call.transfer", "to": "+1 555 0100", "mode": "warm"}])
    assert fails({"transfer": {"to": "+15550100"}, "end": True}, transferred) == []
    (line,) = fails({"transfer": {"to": "+15550199"}}, transferred)
    assert "expected a transfer to +15550199; the call is being transferred to +1 555 0100" in line
    (line,) = fails({"end": False}, transferred)
    assert "expected the call to go on; the call is being transferred to +1 555 0100" in line
    ended = record(extra=[{"type": "call.end", "reason": "end_call"}])
    assert fails({"end": True, "transfer": False}, ended) == []


def test_language_by_script():
    assert reply_language("आपका बकाया 42.50 डॉलर है।") == "DEVANAGARI"
    assert reply_language("Your balance") == "LATIN"
    assert reply_language("42.50") is None
    hindi = record(reply="आपका बकाया 42.50 डॉलर है।")
    assert fails({"language": "hi"}, hindi) == []
    assert "expected a reply in en; the agent replied in Devanagari script" in fails({"language": "en"}, hindi)[0]
    assert "expected a reply in hi; the agent called" in fails({"language": "hi"}, record(reply=""))[0]


def test_no_reply_for_within_ms():
    rec = record()
    rec.first_reply_ms = None
    assert fails({"within_ms": 100}, rec) == ["turn 1: expected a reply within 100 ms; the agent did not reply"]


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ({"a": "1"}, {"a": "1", "b": 2}, True),
        ({"a": "1", "c": 3}, {"a": "1"}, False),
        ({"a": "/^x+$/"}, {"a": "XXX"}, True),
        ({"a": "/^x+$/"}, {"a": "xy"}, False),
        ("1", 1, True),
        (1.0, "1", True),
        (True, "true", False),
        (None, "", False),
        (["a", "b"], ["a", "b"], True),
        (["a"], ["a", "b"], False),
        ({"a": {"b": "c"}}, {"a": {"b": "c", "d": 1}}, True),
        ("12345", "12345 ", False),
    ],
)
def test_argument_matching(expected, actual, ok):
    assert value_matches(expected, actual) is ok


def test_leak_check_names_the_place_never_the_value():
    redactor = Redactor(["dob"], env={})
    redactor.add("1985-04-12")
    clean = [{"type": "agent.text", "t_ms": 1.0, "text": "born [redacted]", "turn": 2}]
    assert find_leaks(clean, redactor.scrub) == []
    leaky = [
        {"type": "agent.text", "t_ms": 1.0, "text": "born 12/04/1985", "turn": 2},
        {"type": "tool.call", "t_ms": 2.0, "name": "x", "arguments": {"dob": "1985-04-12"}},
    ]
    found = find_leaks(leaky, redactor.scrub)
    assert found == ["agent.text.text (turn 2)", "tool.call.arguments"]
    assert not any("1985" in f for f in found)
