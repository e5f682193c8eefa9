"""Guardrail rules through the session with the real VerificationGuard, ToolRunner and Redactor:
lockout with ``on_lockout: end_call``, a locked-out caller stays refused, verification levels only
unlock the tools they cover, and neither the record nor redacted values reach the LLM or the log.
(Lockout with a transfer tool: ``test_session_openai.py``; factor normalisation and level
arithmetic: ``tests/tools/test_tools_verification.py``.)"""

import json

from engine_helpers import make_agent, run_call
from voiceagent.testing.fakes import FakeLLM, FakeTransport, tool_call

TOOLS_PY = """
def lookup_customer():
    return {"name": "Ann Lee", "dob": "1990-01-02", "city": "Pune", "account_last_four": "4321"}

def balance():
    return {"balance": 120}

def close_account():
    return {"closed": True}
"""


def bank_agent(**verification):
    return make_agent(
        tools=[
            {"name": "lookup_customer", "python": "shop:lookup_customer"},
            {"name": "balance", "python": "shop:balance", "requires_level": 1, "filler": "Checking the balance."},
            {"name": "close_account", "python": "shop:close_account", "requires_level": 2, "filler": "Closing it now."},
        ],
        guardrails={
            "verification": {
                "factors": ["name", "dob", "city", "account_last_four"],
                "lookup": "lookup_customer",
                "levels": {1: {"min_factors": 2}, 2: {"min_factors": 3}},
                **verification,
            },
            "redact": ["dob", "account_last_four"],
        },
    )


async def run_bank(tmp_path, agent, llm, lines):
    (tmp_path / "shop.py").write_text(TOOLS_PY)
    transport = FakeTransport("text", lines=lines, close_input=True, plays_audio=False)
    call, reason = await run_call(agent, llm, transport, base_dir=tmp_path)
    return call.session, reason, call.events, transport


async def test_lockout_with_end_call_ends_the_call_after_last_words(tmp_path):
    agent = bank_agent(max_attempts=2, on_lockout="end_call")
    wrong = tool_call("verify_caller", json.dumps({"name": "Bob Stone", "dob": "1970-03-03"}))
    llm = FakeLLM([[wrong], ["That did not match."], [wrong], ["I have to end the call now. Goodbye."]])
    session, reason, events, transport = await run_bank(
        tmp_path, agent, llm, ["I am Bob Stone, born 1970-03-03", "Bob Stone, 1970-03-03", "hello?"]
    )
    assert reason == "caller verification failed too many times"
    assert [e["locked_out"] for e in events.of_type("verification")] == [False, True]
    assert events.of_type("verification.lockout")[0]["action"] == "end_call"
    assert events.of_type("agent.text")[-1]["text"].endswith("Goodbye.")
    assert [e["type"] for e in events.events][-2:] == ["call.end", "session.end"]
    assert len(events.of_type("user.transcript")) == 2  # "hello?" came after the call ended


async def test_levels_unlock_only_the_tools_they_cover_and_the_record_stays_private(tmp_path):
    agent = bank_agent()
    llm = FakeLLM(
        [
            [tool_call("verify_caller", json.dumps({"name": "ann lee", "city": "PUNE"}))],
            [tool_call("balance", id="b"), tool_call("close_account", id="c")],
            ["Your balance is 120; closing needs one more detail."],
        ]
    )
    session, _, events, transport = await run_bank(tmp_path, agent, llm, ["I'm Ann Lee from Pune, close my account"])
    assert session.state.verification_level == 1
    results = {e["name"]: e for e in events.of_type("tool.result")}
    assert results["balance"]["ok"] is True
    assert results["close_account"]["ok"] is False and results["close_account"]["refused"] is True
    assert "level 2" in results["close_account"]["error"]
    # the default filler while verifying; then the allowed tool's own (the refused one has none)
    assert [t for role, t in transport.shown if role == "agent"] == [
        "One moment while I check that.",
        "Checking the balance.",
        "Your balance is 120; closing needs one more detail.",
    ]
    sent = json.dumps([r.messages for r in llm.requests])
    assert "1990-01-02" not in sent and "4321" not in sent  # the record never reaches the LLM
    log = json.dumps(events.events)
    assert "1990-01-02" not in log and "4321" not in log


async def test_a_locked_out_caller_stays_refused(tmp_path):
    agent = bank_agent(max_attempts=1)
    llm = FakeLLM(
        [
            [tool_call("verify_caller", json.dumps({"name": "Bob", "city": "Delhi"}))],
            ["Sorry."],
            [tool_call("verify_caller", json.dumps({"name": "Ann Lee", "city": "Pune"}))],
            [tool_call("balance")],
            ["I cannot help with that."],
        ]
    )
    session, _, events, _ = await run_bank(tmp_path, agent, llm, ["I'm Bob from Delhi", "Actually Ann Lee from Pune"])
    assert session.state.verification_level == 0
    assert [e["level"] for e in events.of_type("verification")] == [0, 0]
    assert all(e["locked_out"] for e in events.of_type("verification"))
    balance = next(e for e in events.of_type("tool.result") if e["name"] == "balance")
    assert balance["refused"] is True and "locked" in balance["error"]


async def test_a_refused_call_gets_no_filler_and_llm_words_replace_the_tool_filler(tmp_path):
    agent = bank_agent()
    llm = FakeLLM(
        [
            [tool_call("close_account")],  # refused at level 0: silence
            ["I need to verify you first."],
            [tool_call("verify_caller", json.dumps({"name": "Ann Lee", "city": "Pune", "dob": "2 January 1990"}))],
            ["Sure, one second. ", tool_call("close_account")],  # the LLM's words, not the filler
            ["Your account is closed."],
        ]
    )
    session, _, events, transport = await run_bank(
        tmp_path, agent, llm, ["close my account", "Ann Lee, Pune, 2 Jan 1990"]
    )
    assert session.state.verification_level == 2
    assert [e["ok"] for e in events.of_type("tool.result") if e["name"] == "close_account"] == [False, True]
    assert [t for role, t in transport.shown if role == "agent"] == [
        "I need to verify you first.",
        "One moment while I check that.",
        "Sure, one second.",
        "Your account is closed.",
    ]
