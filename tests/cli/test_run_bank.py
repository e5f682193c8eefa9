"""Headline acceptance test: `voiceagent run agents/bank.yaml --text` as a real subprocess, the
caller's lines piped in, against a scripted fake LLM speaking the real OpenAI wire format.

The call walks greeting -> verify -> service -> closing; a level-2 tool (break_fixed_deposit) is
refused at level 1 and runs after the third factor; every step is in the --events log.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from cli_helpers import voiceagent_run
from voiceagent.testing.fake_openai import FakeOpenAI, RecordedRequest, TextReply, ToolCall, ToolCallReply

ROOT = Path(__file__).resolve().parents[2]
BANK = ROOT / "agents" / "bank.yaml"
KEY = "sk_test_bank_0123456789"

CALLER_LINES = [
    "Hi, I want to break my fixed deposit.",
    "My name is Ravi Kumar and I live in Pune.",
    "My date of birth is 12 April 1985.",
    "That's all, thank you. Bye.",
]


def _last_tool_call(messages: list[dict]) -> tuple[str, str] | None:
    """(function name, tool message content) when the last message answers a tool call."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    call_id = messages[-1].get("tool_call_id")
    for m in reversed(messages):
        for c in m.get("tool_calls") or []:
            if c.get("id") == call_id:
                return c["function"]["name"], str(messages[-1].get("content"))
    return None


def bank_brain(req: RecordedRequest):
    """A deterministic LLM for the bank agent, deciding from the conversation like a model would."""
    body = req.body
    messages = body["messages"]
    offered = {t["function"]["name"] for t in body.get("tools") or []}
    verify_params = next(
        (
            t["function"]["parameters"]["properties"]
            for t in body.get("tools") or []
            if t["function"]["name"] == "verify_caller"
        ),
        {},
    )
    name_key = next((k for k in verify_params if "name" in k), "full_name")
    answered = _last_tool_call(messages)
    if answered is None:
        said = str(messages[-1].get("content", "")).lower()
        if "fixed deposit" in said and "go_to_verify" in offered:
            return ToolCallReply([ToolCall("go_to_verify", {})])
        if "ravi kumar" in said:
            return ToolCallReply([ToolCall("verify_caller", {name_key: "Ravi Kumar", "city": "Pune"})])
        if "12 april 1985" in said:
            return ToolCallReply(
                [ToolCall("verify_caller", {name_key: "Ravi Kumar", "city": "Pune", "dob": "12 April 1985"})]
            )
        if "bye" in said and "go_to_closing" in offered:
            return ToolCallReply([ToolCall("go_to_closing", {})])
        if "go_to_closing" not in offered and "bye" in said:
            return TextReply("Thank you for banking with Northwind Bank. Goodbye.")
        return TextReply("How can I help?")
    name, content = answered
    if name == "go_to_verify":
        return TextReply("Sure. First, please tell me your full name and your city.")
    if name == "verify_caller":
        if "break_fixed_deposit" in offered:
            return ToolCallReply([ToolCall("break_fixed_deposit", {"deposit_id": "FD1001"})])
        return TextReply("Sorry, that did not match our records.")
    if name == "break_fixed_deposit":
        if "error" in content:
            return TextReply("For that I need one more detail. What is your date of birth?")
        return TextReply("Done. Deposit FD1001 is closed and the money is in your savings account.")
    if name == "go_to_closing":
        return TextReply("Thank you for banking with Northwind Bank. Goodbye.")
    return TextReply("Okay.")


def _strings(obj) -> list[str]:
    """Every string (keys and values) in nested JSON data."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [x for k, v in obj.items() for x in [k, *_strings(v)]]
    if isinstance(obj, list):
        return [x for v in obj for x in _strings(v)]
    return []


async def run_cli(args: list[str], env: dict[str, str], stdin: str, timeout: float = 60) -> tuple[int, str, str]:
    """``voiceagent run ARGS`` with exactly ``env``; returns (code, stdout, stderr)."""
    code, out, err, _ = await voiceagent_run(args, env, stdin, timeout)
    return code, out, err


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMALLEST_", "OPENAI_", "LLM_"))}
    env.update(VOICEAGENT_BANK_DB=str(tmp_path / "bank.db"), PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture
async def fake_llm():
    pytest.importorskip("voiceagent.engine.session")
    async with FakeOpenAI(api_key=KEY) as srv:
        srv.default = bank_brain
        yield srv


async def test_bank_call_walks_the_flow_and_refuses_level_2_until_verified(fake_llm, tmp_path):
    pytest.importorskip("voiceagent.providers.smallest.llm")
    events_path = tmp_path / "call.jsonl"
    env = cli_env(tmp_path, SMALLEST_API_KEY=KEY, SMALLEST_BASE_URL=fake_llm.electron_base_url)
    code, out, err = await run_cli(
        [str(BANK), "--text", "--events", str(events_path)], env, "\n".join(CALLER_LINES) + "\n"
    )
    assert code == 0, err

    # startup lines on stderr say what was chosen and why; the key itself never appears
    assert "llm: smallest electron — SMALLEST_API_KEY is set" in err
    assert KEY not in err and KEY not in out

    # the conversation on stdout: one `agent: ` line per spoken sentence, caller lines echoed
    lines = out.splitlines()
    agent_said = " ".join(line[len("agent: ") :] for line in lines if line.startswith("agent: "))
    assert agent_said.startswith("Welcome to Northwind Bank. How can I help you today?")
    assert "For that I need one more detail. What is your date of birth?" in agent_said
    assert "Done. Deposit FD1001 is closed and the money is in your savings account." in agent_said
    assert agent_said.endswith("Thank you for banking with Northwind Bank. Goodbye.")
    assert agent_said.index("date of birth") < agent_said.index("Deposit FD1001 is closed")
    assert [line for line in lines if line.startswith("caller: ")] == [f"caller: {x}" for x in CALLER_LINES]
    assert all(line.startswith(("agent: ", "caller: ")) for line in lines)

    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert all("type" in e and "t_ms" in e for e in events)
    types = [e["type"] for e in events]
    assert types[0] == "session.start" and types[-1] == "session.end"
    assert [e["state"] for e in events if e["type"] == "state.enter"] == ["greeting", "verify", "service", "closing"]
    transcripts = [e["text"] for e in events if e["type"] == "user.transcript"]
    assert len(transcripts) == 4
    assert transcripts[0] == CALLER_LINES[0] and transcripts[3] == CALLER_LINES[3]

    levels = [e["level"] for e in events if e["type"] == "verification"]
    assert levels == [1, 2]
    matched = [set(e["factors_matched"]) for e in events if e["type"] == "verification"]
    assert matched == [{"full_name", "city"}, {"full_name", "city", "dob"}]

    breaks = [e for e in events if e["type"] == "tool.result" and e["name"] == "break_fixed_deposit"]
    assert [b["ok"] for b in breaks] == [False, True]
    assert breaks[0].get("refused") is True and "level 2" in json.dumps(breaks[0])
    # the refusal came before level 2 was reached, the success after
    i_refused, i_level2, i_ok = (
        events.index(breaks[0]),
        next(i for i, e in enumerate(events) if e.get("type") == "verification" and e["level"] == 2),
        events.index(breaks[1]),
    )
    assert i_refused < i_level2 < i_ok
    # every event type of the spec's event log is there
    assert {
        "session.start",
        "state.enter",
        "user.transcript",
        "agent.text",
        "tool.call",
        "tool.result",
        "verification",
        "turn.metrics",
        "session.end",
    } <= set(types)
    assert types.count("session.start") == types.count("session.end") == 1
    assert types[-2] in ("call.end", "call.transfer")
    assert [e["name"] for e in events if e["type"] == "tool.call"].count("break_fixed_deposit") == 2
    # one agent.text per turn (the greeting is turn 0), and one turn.metrics per caller turn
    assert sorted(e["turn"] for e in events if e["type"] == "agent.text") == [0, 1, 2, 3, 4]
    metrics = [e for e in events if e["type"] == "turn.metrics"]
    assert [m["turn"] for m in metrics] == [1, 2, 3, 4]
    for m in metrics:
        assert m["eou_to_first_token_ms"] >= 0 and m["eou_to_first_audio_ms"] >= m["eou_to_first_token_ms"]
        assert m["prompt_tokens"] > 0 and m["completion_tokens"] > 0
        # X-Request-Id of the fake's HTTP responses, captured per LLM round
        assert m["request_id"] == m["request_ids"][-1] and len(m["request_ids"]) == m["llm_rounds"]
    served = {r.request_id for r in fake_llm.chat_requests}
    assert {rid for m in metrics for rid in m["request_ids"]} <= served
    assert all(r.body.get("stream_options", {}).get("include_usage") for r in fake_llm.chat_requests)

    # no filler for the refused level-2 call; the tool's own filler once it is allowed to run
    assert agent_said.count("Let me look into that deposit.") == 1
    assert agent_said.index("date of birth") < agent_said.index("Let me look into that deposit.")

    # values named in guardrails.redact never reach the log
    # values the runtime knows to be sensitive once the record was looked up never reach the log
    strings = " | ".join(_strings(events))
    for secret in ("1985", "4321", "7788"):  # as a number, not inside a random request id ("...924321b5...")
        assert not re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", strings), secret
    assert "My date of birth is [redacted]." in transcripts
    assert KEY not in events_path.read_text()

    # the LLM saw the key as a Bearer token and never the verification record
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in fake_llm.chat_requests)
    for r in fake_llm.chat_requests:
        assert "1985-04-12" not in json.dumps(r.body)


async def test_bank_call_log_never_holds_redacted_values_even_before_verification(fake_llm, tmp_path):
    """guardrails.redact values must be masked from the first transcript on: the caller says their
    name and city *before* the runtime looked the record up, so the record has to be known (or the
    stated factor values masked) before ``user.transcript`` is written."""
    pytest.importorskip("voiceagent.providers.smallest.llm")
    events_path = tmp_path / "call.jsonl"
    env = cli_env(tmp_path, SMALLEST_API_KEY=KEY, SMALLEST_BASE_URL=fake_llm.electron_base_url)
    code, _, err = await run_cli(
        [str(BANK), "--text", "--events", str(events_path)], env, "\n".join(CALLER_LINES) + "\n"
    )
    assert code == 0, err
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    transcripts = [e["text"] for e in events if e["type"] == "user.transcript"]
    assert transcripts[1] == "My name is [redacted] and I live in [redacted]."
    strings = " | ".join(_strings(events))
    for secret in ("Ravi", "Kumar", "Pune"):
        assert secret not in strings
