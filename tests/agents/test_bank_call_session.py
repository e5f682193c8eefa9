"""A whole bank call through the real session loop: agents/bank.yaml, its tools and database,
the runtime's tool runner, verification guard, redactor and event log. Only the LLM is scripted
(a policy that maps each caller line to the function a good model would call)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from voiceagent.config.load import load_agent
from voiceagent.engine.call import Providers, build_call
from voiceagent.testing.fakes import FakeLLM, FakeTransport, tool_call

AGENTS = Path(__file__).resolve().parents[2] / "agents"

CALLER_LINES = [
    "I want to check my spending",
    "I am Ravi Kumar from Pune",
    "How much did I spend in 2025?",
    "Please break my fixed deposit FD1002",
    "I was born on 12 April 1985",
    "Go ahead with the deposit FD1002",
    "That's all, bye",
]


def policy(request):
    """What a well-behaved model would do with the caller's last line (or after a tool result)."""
    offered = {t["function"]["name"] for t in request.tools}
    last = request.messages[-1]
    if last["role"] == "tool":
        return ["Okay, done."]
    text = str(last.get("content", "")).lower()
    if "spending" in text and "go_to_verify" in offered:
        return [tool_call("go_to_verify")]
    if "ravi" in text:
        return [tool_call("verify_caller", json.dumps({"full_name": "Ravi Kumar", "city": "Pune"}))]
    if "2025" in text:
        return [tool_call("analyze_spending", json.dumps({"year": 2025}))]
    if "deposit" in text:
        return [tool_call("break_fixed_deposit", json.dumps({"deposit_id": "FD1002"}))]
    if "born" in text:
        return [tool_call("verify_caller", json.dumps({"dob": "12 April 1985"}))]
    if "bye" in text:
        return [tool_call("go_to_closing")]
    return ["Thank you for banking with us. Goodbye."]


@pytest.fixture
async def call(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICEAGENT_BANK_DB", str(tmp_path / "bank.db"))
    loaded = load_agent(AGENTS / "bank.yaml", env={})
    transport = FakeTransport(
        "text",
        lines=CALLER_LINES,
        plays_audio=False,
        close_input=True,
        caller={"phone": "+15550123", "id": "demo", "metadata": {}},
    )
    llm = FakeLLM(default=[])
    llm.replies = [policy] * 40
    async with build_call(loaded, Providers(llm=llm), transport, events_path=tmp_path / "call.jsonl", env={}) as c:
        reason = await c.run()
    return reason, c.events.events, (tmp_path / "call.jsonl").read_text(encoding="utf-8")


def _results(events, name):
    return [e for e in events if e["type"] == "tool.result" and e["name"] == name]


async def test_the_call_moves_through_every_state(call):
    _, events, _ = call
    states = [e["state"] for e in events if e["type"] == "state.enter"]
    assert states[0] == "greeting"
    assert states[1:] == ["verify", "service", "closing"]
    assert events[-1]["type"] == "session.end"


async def test_verification_reaches_level_one_then_two_and_logs_names_only(call):
    _, events, _ = call
    verifications = [(e["level"], e["factors_matched"]) for e in events if e["type"] == "verification"]
    assert verifications == [(1, ["full_name", "city"]), (2, ["full_name", "dob", "city"])]


async def test_analysis_is_computed_by_the_tool(call):
    _, events, _ = call
    (analysis,) = _results(events, "analyze_spending")
    assert analysis["ok"] and analysis["result"]["total_spent"] == 490_368.00


async def test_the_banking_action_is_refused_at_level_one_and_done_at_level_two(call):
    _, events, _ = call
    refused, done = _results(events, "break_fixed_deposit")
    assert refused["ok"] is False and refused.get("refused") is True
    assert "verification" in refused["error"]
    assert done["ok"] is True and done["result"]["payout"] == 53_250.00  # FD1002 has matured


async def test_tool_names_stay_readable_in_the_log(call):
    _, events, _ = call
    called = [e["name"] for e in events if e["type"] == "tool.call"]
    assert called == [
        "verify_caller",
        "analyze_spending",
        "break_fixed_deposit",
        "verify_caller",
        "break_fixed_deposit",
    ]


async def test_factor_values_are_redacted_once_the_record_was_looked_up(call):
    _, events, log = call
    lines = log.splitlines()
    first_lookup = next(i for i, line in enumerate(lines) if '"type": "verification"' in line)
    later = "\n".join(lines[first_lookup:])
    for value in ("Ravi", "Pune", "1985", "12 April", "7788", "4321"):
        assert value not in later, value
    assert "I was born on [redacted]" in later


async def test_factor_values_never_reach_the_event_log(call):
    _, _, log = call
    for value in ("Ravi", "Pune"):
        assert value not in log, value
