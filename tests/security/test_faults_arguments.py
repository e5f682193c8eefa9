"""Issue 10 class 8: tool arguments from the LLM are bounded and checked strictly.

A real call (``build_call``) where the scripted LLM sends hostile arguments: a pattern bypass
with a trailing newline, a 600 KB ``verify_caller`` value, a 200 000-deep JSON array, a 10 000-deep
one. Every one is refused with an error the LLM reads, logged as ``tool.call`` + ``tool.result``,
and the call goes on. A failed verification attempt does not tell which factor was wrong.
"""

from __future__ import annotations

import json
import time

import pytest
from faults_helpers import run_call, write_agent
from voiceagent.engine.tool_schema import parse_arguments
from voiceagent.testing.fakes import FakeLLM, FakeTransport, tool_call

MAX_STRING_CHARS = 4000  # engine.tool_schema.MAX_STRING_CHARS (literal: the test also runs on old code)

AGENT = """\
version: 1
name: args
prompt: You help callers.
tools:
  - name: lookup_customer
    python: "crm:lookup"
    parameters: {}
  - name: check_pin
    python: "crm:check_pin"
    filler: ""
    parameters:
      pin: {type: string, pattern: "^[0-9]{4,8}$"}
guardrails:
  verification:
    factors: [name, dob, city]
    lookup: lookup_customer
    levels:
      1: {min_factors: 2, description: account questions}
    max_attempts: 3
"""

CRM = """\
CALLS = []
def lookup():
    return {"name": "Ravi Kumar", "dob": "1985-04-12", "city": "Pune"}
def check_pin(pin):
    CALLS.append(pin)
    return {"pin_ok": True}
"""


async def one_call(tmp_path, *arguments: tuple[str, str]):
    """One caller turn per (function, raw arguments); each turn: the call, then a plain answer."""
    agent = write_agent(tmp_path, AGENT, crm=CRM)
    replies = []
    for name, raw in arguments:
        replies += [[tool_call(name, raw)], ["Answered."]]
    llm = FakeLLM(replies)
    lines = [f"turn {i}" for i in range(len(arguments))]
    transport = FakeTransport("text", lines=lines, close_input=True, plays_audio=False)
    call, reason = await run_call(agent, llm=llm, transport=transport)
    assert reason == "caller_ended"
    assert len(call.events.of_type("turn.metrics")) == len(arguments)  # every turn was answered
    assert [e["type"] for e in call.events.events][-1] == "session.end"
    return call, llm


def tool_message(llm: FakeLLM, turn: int) -> dict:
    """The tool message the LLM got back in ``turn`` (0-based)."""
    return json.loads(llm.requests[2 * turn + 1].messages[-1]["content"])


async def test_a_pattern_must_match_the_whole_value(tmp_path):
    call, llm = await one_call(
        tmp_path,
        ("check_pin", json.dumps({"pin": "1234\n"})),
        ("check_pin", json.dumps({"pin": "12345"})),
    )
    first, second = call.events.of_type("tool.result")
    assert first["ok"] is False and "does not match pattern '^[0-9]{4,8}$'" in first["error"]
    assert "1234" not in first["error"]  # the value is not echoed
    assert "error" in tool_message(llm, 0)
    assert second["ok"] is True and tool_message(llm, 1) == {"pin_ok": True}


@pytest.mark.parametrize(
    ("value", "ok"),
    [("1234", True), ("12345678", True), ("1234\n", False), ("123", False), ("x1234", False), ("1234\r\n", False)],
)
def test_pattern_fullmatch_semantics_unit(value, ok):
    from voiceagent.config.models import Tool
    from voiceagent.engine.tool_schema import ArgumentError, validate_arguments

    tool = Tool.model_validate(
        {"name": "t", "python": "m:f", "parameters": {"pin": {"type": "string", "pattern": "^[0-9]{4,8}$"}}}
    )
    if ok:
        assert validate_arguments(tool, {"pin": value}) == {"pin": value}
    else:
        with pytest.raises(ArgumentError):
            validate_arguments(tool, {"pin": value})


async def test_a_600_kb_verify_caller_value_is_refused_at_once(tmp_path):
    huge = json.dumps({"name": "Ravi " * 120_000, "city": "Pune"})
    started = time.perf_counter()
    call, llm = await one_call(tmp_path, ("verify_caller", huge))
    assert time.perf_counter() - started < 3.0
    (logged,) = call.events.of_type("tool.call")
    assert len(json.dumps(logged)) < 2000  # the log keeps a cut copy, not 600 KB
    (result,) = call.events.of_type("tool.result")
    assert result["ok"] is False and "too large" in result["error"]
    assert "too large" in tool_message(llm, 0)["error"]
    assert not call.events.of_type("verification")  # nothing was checked, no attempt counted


async def test_a_long_string_under_the_total_limit_is_refused_too(tmp_path):
    long_name = json.dumps({"name": "R" * (MAX_STRING_CHARS + 1), "city": "Pune"})
    call, llm = await one_call(tmp_path, ("verify_caller", long_name))
    (result,) = call.events.of_type("tool.result")
    assert result["ok"] is False and "'name' is too long" in result["error"]


@pytest.mark.parametrize("depth", [200_000, 10_000, 17])
async def test_deeply_nested_arguments_are_refused_and_logged(tmp_path, depth):
    raw = '{"pin": ' + "[" * depth + "]" * depth + "}"
    call, llm = await one_call(tmp_path, ("check_pin", raw), ("check_pin", '{"pin": "4321"}'))
    calls = call.events.of_type("tool.call")
    results = call.events.of_type("tool.result")
    assert len(calls) == len(results) == 2
    assert results[0]["ok"] is False and ("too deeply" in results[0]["error"] or "too large" in results[0]["error"])
    assert "error" in tool_message(llm, 0)
    assert results[1]["ok"] is True  # the next round of the call works
    assert not call.events.of_type("error")


def test_parse_arguments_limits_unit():
    from voiceagent.engine import tool_schema
    from voiceagent.engine.tool_schema import ArgumentError

    assert tool_schema.MAX_STRING_CHARS == MAX_STRING_CHARS

    assert parse_arguments('{"a": "[[[[{{{{"}') == {"a": "[[[[{{{{"}  # brackets in strings do not count
    assert parse_arguments({"a": ["x"]}) == {"a": ["x"]}
    with pytest.raises(ArgumentError, match="too long"):
        parse_arguments({"a": {"b": "x" * (MAX_STRING_CHARS + 1)}})
    nested: list = []
    for _ in range(50):
        nested = [nested]
    with pytest.raises(ArgumentError, match="too deeply"):
        parse_arguments({"a": nested})


async def test_a_failed_verification_does_not_reveal_which_factor_was_wrong(tmp_path):
    """Name right, city wrong: the reply must read the same as name wrong, city right."""
    replies = []
    for attempt in ({"name": "Ravi Kumar", "city": "Mumbai"}, {"name": "Raj Mehta", "city": "Pune"}):
        call, llm = await one_call(tmp_path / attempt["city"], ("verify_caller", json.dumps(attempt)))
        replies.append(tool_message(llm, 0))
    assert replies[0] == replies[1]
    assert replies[0]["matched_factors"] == [] and replies[0]["verification_level"] == 0
    text = json.dumps(replies[0])
    for factor in ("name", "city"):
        assert factor not in text.split("needed from")[0]
