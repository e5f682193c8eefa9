"""Knowledge-based verification: normalisation, levels, attempts, lockout, refusals, redaction."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from tools_fixture import agent_dict
from voiceagent.config.models import Agent
from voiceagent.engine.guardrails import VERIFY_TOOL_NAME, VerificationGuard
from voiceagent.engine.guardrails_normalise import digits_of, factor_matches, parse_date
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tools import EndCallAction, ToolRunner, TransferAction

RECORD_VALUES = ["Jane O'Neil", "1990-05-17", "4321", "São Paulo", "4111 1111 1111 9876"]


@pytest.fixture
def guard(agent, runner, redactor) -> VerificationGuard:
    return VerificationGuard(agent.guardrails.verification, runner, redactor)


# -- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1990-05-17",
        "1990/05/17",
        "17/05/1990",
        "17-05-1990",
        "17.05.1990",
        "05/17/1990",
        "17 May 1990",
        "17 may 1990",
        "May 17 1990",
        "May 17, 1990",
        "17th of May 1990",
        "17th May, 1990",
        "the 17th of May, 1990",
        "May 17th 1990",
        "17 MAY 1990",
        "19900517",
        "1990-05-17T00:00:00",
        " 17  May  1990 ",
    ],
)
def test_date_spellings(text):
    assert parse_date(text) == date(1990, 5, 17)
    assert factor_matches("dob", text, "1990-05-17")


def test_date_objects_and_record_formats():
    assert factor_matches("dob", "17 May 1990", date(1990, 5, 17))
    assert factor_matches("dob", "1990-05-17", datetime(1990, 5, 17, 0, 0))
    assert factor_matches("dob", "May 17 1990", "17/05/1990")


@pytest.mark.parametrize(
    "text", ["18 May 1990", "17 May 1991", "1990-17-05", "May 1990", "17/05/90", "yesterday", "32/01/1990", ""]
)
def test_wrong_or_unparseable_dates_do_not_match(text):
    assert not factor_matches("dob", text, "1990-05-17")


def test_day_first_for_ambiguous_numeric_dates():
    assert parse_date("05/06/1990") == date(1990, 6, 5)
    assert parse_date("13/06/1990") == date(1990, 6, 13)
    assert parse_date("06/13/1990") == date(1990, 6, 13)


@pytest.mark.parametrize(
    ("provided", "record", "ok"),
    [
        ("jane o'neil", "Jane O'Neil", True),
        ("  JANE   ONEIL ", "Jane O'Neil", True),
        ("Jane O Neil", "Jane O'Neil", True),
        ("Jane Oneil.", "Jane O'Neil", True),
        ("Sao Paulo", "São Paulo", True),
        ("saopaulo", "São Paulo", True),
        ("Mary Jane", "Jane O'Neil", False),
        ("Jane", "Jane O'Neil", False),
        ("Rio", "São Paulo", False),
    ],
)
def test_name_and_text_normalisation(provided, record, ok):
    assert factor_matches("name", provided, record) is ok


@pytest.mark.parametrize(
    ("factor", "provided", "record", "ok"),
    [
        ("account_last_four", "4321", "4321", True),
        ("account_last_four", "43 21", "4321", True),
        ("account_last_four", "4-3-2-1", "4321", True),
        ("account_last_four", "four three two one", "4321", True),
        ("account_last_four", "Four, three, two, one.", "4321", True),
        ("account_last_four", 4321, "4321", True),
        ("account_last_four", "1234", "4321", False),
        ("account_last_four", "432", "4321", False),
        ("debit_card_last_four", "9876", "4111 1111 1111 9876", True),
        ("debit_card_last_four", "nine eight seven six", "**** 9876", True),
        ("debit_card_last_four", "9875", "4111 1111 1111 9876", False),
        ("account_number", "0012 3456", "00123456", True),
        ("account_number", "oh oh one two three four five six", "00123456", True),
        ("account_number", "double oh 123456", "00123456", True),
        ("account_number", "123456", "00123456", False),
    ],
)
def test_number_normalisation(factor, provided, record, ok):
    assert factor_matches(factor, provided, record) is ok


def test_digits_of_keeps_digits_from_mixed_text():
    assert digits_of("card ending **** 1234") == "1234"
    assert digits_of("seven seven") == "77"


def test_empty_values_never_match():
    assert not factor_matches("name", "", "")
    assert not factor_matches("name", None, "Jane")
    assert not factor_matches("name", "Jane", None)


# -- the guard --------------------------------------------------------------------------------


def test_verify_tool_definition(guard):
    d = guard.verify_tool_definition()
    assert d["type"] == "function"
    fn = d["function"]
    assert fn["name"] == VERIFY_TOOL_NAME == "verify_caller"
    assert list(fn["parameters"]["properties"]) == ["name", "dob", "account_last_four", "city", "debit_card_last_four"]
    assert all(p["type"] == "string" for p in fn["parameters"]["properties"].values())
    assert fn["parameters"]["required"] == []


def _no_record_values(text: str) -> None:
    for value in RECORD_VALUES + ["1990", "17 May", "O'Neil", "9876", "Paulo"]:
        assert value.casefold() not in text.casefold(), value


async def test_levels_accumulate_and_only_go_up(guard, ctx):
    out = await guard.verify({"name": "jane oneil"}, ctx)
    assert (out.level, out.matched, out.failed, out.locked_out) == (0, ["name"], False, False)
    assert "not verified" in out.message and "1 more matching factor is needed" in out.message
    out = await guard.verify('{"dob": "17th of May 1990"}', ctx)
    assert (out.level, out.matched) == (1, ["name", "dob"])
    assert "level 1 (information queries)" in out.message
    assert "For level 2 (banking actions), 1 more matching factor is needed" in out.message
    out = await guard.verify({"city": "sao paulo", "account_last_four": "4 3 2 1"}, ctx)
    assert out.level == 2 and out.matched == ["name", "dob", "account_last_four", "city"]
    assert out.attempts_left == 3
    assert guard.level == 2
    for o in (out,):
        _no_record_values(o.message)
        _no_record_values(o.for_llm())


async def test_all_at_once_reaches_level_two(guard, ctx):
    out = await guard.verify(
        {"name": "Jane O'Neil", "dob": "05/17/1990", "debit_card_last_four": "nine eight seven six"}, ctx
    )
    assert out.level == 2
    assert out.matched == ["name", "dob", "debit_card_last_four"]
    assert json.loads(out.for_llm())["verification_level"] == 2


async def test_mismatch_is_a_failed_attempt_without_naming_the_factor(guard, ctx):
    out = await guard.verify({"name": "Jane O'Neil", "dob": "18 May 1990"}, ctx)
    assert out.failed and not out.locked_out
    assert out.level == 0 and out.matched == []  # no credit: which factor was wrong stays unknown
    assert out.attempts_left == 2
    assert "did not match" in out.message and "2 attempts left" in out.message
    assert "dob" not in out.message.split("needed from:")[0]  # which factor failed is not told
    _no_record_values(out.message)


async def test_lockout_after_max_attempts(guard, ctx):
    for left in (2, 1):
        out = await guard.verify({"dob": "1 January 2000"}, ctx)
        assert out.failed and out.attempts_left == left and not out.locked_out
    out = await guard.verify({"dob": "2 January 2000"}, ctx)
    assert out.locked_out and out.newly_locked and out.attempts_left == 0
    assert "locked" in out.message
    # further calls are refused, even with correct details, and do not consult the record
    out = await guard.verify({"name": "Jane O'Neil", "dob": "1990-05-17"}, ctx)
    assert out.locked_out and not out.newly_locked and out.level == 0 and out.matched == []
    assert guard.lockout_action == "transfer_to_human"


async def test_run_lockout_runs_the_configured_tool(guard, ctx):
    res = await guard.run_lockout(ctx)
    assert res.ok
    assert isinstance(res.action, TransferAction) and res.action.mode == "warm"
    assert "verification failed" in res.action.handoff


async def test_end_call_lockout_without_tool(base_dir, ctx):
    data = agent_dict()
    data["guardrails"]["verification"]["on_lockout"] = "end_call"
    data["guardrails"]["verification"]["max_attempts"] = 1
    agent = Agent.model_validate(data)
    red = Redactor(agent.guardrails.redact, env={})
    runner = ToolRunner(agent, base_dir=base_dir, redactor=red)
    guard = VerificationGuard(agent.guardrails.verification, runner, red)
    out = await guard.verify({"account_last_four": "0000"}, ctx)
    assert out.locked_out and out.newly_locked
    res = await guard.run_lockout(ctx)
    assert res.ok and isinstance(res.action, EndCallAction)
    await runner.aclose()


async def test_calls_without_factors_do_not_count(guard, ctx):
    for args in ({}, "", '{"unknown": "x"}', {"name": "   "}):
        out = await guard.verify(args, ctx)
        assert not out.failed and out.attempts_left == 3
        assert "No verification details" in out.message
    out = await guard.verify("{not json", ctx)
    assert not out.failed and "not valid JSON" in out.message


async def test_lookup_failure_does_not_count(base_dir, ctx):
    data = agent_dict()
    data["guardrails"]["verification"]["lookup"] = "boom"  # needs 'reason', fails validation
    agent = Agent.model_validate(data)
    red = Redactor(agent.guardrails.redact, env={})
    runner = ToolRunner(agent, base_dir=base_dir, redactor=red)
    guard = VerificationGuard(agent.guardrails.verification, runner, red)
    out = await guard.verify({"name": "Jane O'Neil"}, ctx)
    assert out.level == 0 and not out.failed and out.attempts_left == 3
    assert "could not be checked" in out.message
    await runner.aclose()


async def test_no_record_is_a_failed_attempt(base_dir, ctx):
    (base_dir / "tools" / "empty.py").write_text("def lookup():\n    return None\n")
    data = agent_dict()
    data["tools"].append({"name": "empty_lookup", "python": "tools.empty:lookup"})
    data["guardrails"]["verification"]["lookup"] = "empty_lookup"
    agent = Agent.model_validate(data)
    red = Redactor(agent.guardrails.redact, env={})
    runner = ToolRunner(agent, base_dir=base_dir, redactor=red)
    guard = VerificationGuard(agent.guardrails.verification, runner, red)
    out = await guard.verify({"name": "Jane O'Neil"}, ctx)
    assert out.failed and out.attempts_left == 2 and "No matching customer record" in out.message
    await runner.aclose()


async def test_record_missing_a_factor_is_not_a_failure(base_dir, ctx):
    (base_dir / "tools" / "partial.py").write_text(
        "def lookup():\n    return {'Name': 'Jane O\\'Neil', 'DOB': '1990-05-17'}\n"
    )
    data = agent_dict()
    data["tools"].append({"name": "partial_lookup", "python": "tools.partial:lookup"})
    data["guardrails"]["verification"]["lookup"] = "partial_lookup"
    agent = Agent.model_validate(data)
    red = Redactor(agent.guardrails.redact, env={})
    runner = ToolRunner(agent, base_dir=base_dir, redactor=red)
    guard = VerificationGuard(agent.guardrails.verification, runner, red)
    out = await guard.verify({"name": "jane o'neil", "dob": "17 May 1990", "city": "Paris"}, ctx)
    assert out.level == 1 and not out.failed and out.matched == ["name", "dob"]
    assert "cannot be checked for this caller: city" in out.message
    await runner.aclose()


async def test_lookup_receives_declared_factor_arguments(base_dir, ctx):
    (base_dir / "tools" / "by_account.py").write_text(
        "def lookup(account_last_four):\n"
        "    return {'account_last_four': account_last_four, 'name': 'Jane'} if account_last_four == '4321' else None\n"
    )
    data = agent_dict()
    data["tools"].append(
        {
            "name": "by_account",
            "parameters": {"account_last_four": {"type": "string"}},
            "python": "tools.by_account:lookup",
        }
    )
    data["guardrails"]["verification"]["lookup"] = "by_account"
    agent = Agent.model_validate(data)
    red = Redactor(agent.guardrails.redact, env={})
    runner = ToolRunner(agent, base_dir=base_dir, redactor=red)
    guard = VerificationGuard(agent.guardrails.verification, runner, red)
    out = await guard.verify({"name": "jane"}, ctx)
    assert not out.failed and out.level == 0 and out.matched == []
    assert "ask for their account_last_four first" in out.message
    out = await guard.verify({"account_last_four": "4321", "name": "jane"}, ctx)
    assert out.level == 1 and out.matched == ["name", "account_last_four"]
    await runner.aclose()


async def test_values_are_registered_with_the_redactor(guard, ctx, redactor):
    await guard.verify({"name": "Jane O'Neil", "dob": "17th of May 1990", "city": "Lisbon"}, ctx)
    event = {
        "type": "tool.call",
        "arguments": {"name": "Jane O'Neil", "dob": "17th of May 1990", "city": "Lisbon"},
        "text": "caller said born 17/05/1990, card 4111 1111 1111 9876, account 4321, in Lisbon",
    }
    clean = json.dumps(redactor.scrub(event))
    for value in ["Jane O'Neil", "17th of May 1990", "17/05/1990", "9876", "4321", "Lisbon"]:
        assert value not in clean, value
    assert "caller said born" in clean
    # digits of redacted record values: the last four of a card alone, spoken digits given
    assert redactor.scrub_text("card ending 9876") == "card ending [redacted]"
    await guard.verify({"account_last_four": "five five six six"}, ctx)
    assert redactor.scrub_text("said 5566 or five five six six") == "said [redacted] or [redacted]"
    # record values of non-redacted fields (city) are not registered from the record
    assert redactor.scrub_text("São Paulo") == "São Paulo"


async def test_refusal_for(guard, agent, ctx):
    tool = agent.tool("get_account")
    text = guard.refusal_for(tool, 0)
    assert text.startswith("verification needed: level 2 (banking actions) is required for get_account")
    assert "verify_caller" in text
    assert guard.refusal_for(tool, 2) is None
    assert guard.refusal_for(agent.tool("add"), 0) is None
    await guard.verify({"name": "Jane O'Neil", "dob": "1990-05-17", "city": "Sao Paulo"}, ctx)
    assert guard.refusal_for(tool) is None  # defaults to the guard's level


async def test_without_verification_configured(runner, redactor, agent, ctx):
    guard = VerificationGuard(None, runner, redactor)
    assert guard.verify_tool_definition() is None
    out = await guard.verify({"name": "x"}, ctx)
    assert out.level == 0 and "not configured" in out.message
    assert "not available" in guard.refusal_for(agent.tool("get_account"), 0)
    assert await guard.run_lockout(ctx) is None
