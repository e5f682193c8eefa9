"""agents/bank.yaml through the runtime's own tool runner and verification guard.

Proves the YAML, the Python tools and the engine agree: the lookup record has every factor,
level 1 opens the read-only tools, level 2 the banking action, lockout transfers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from voiceagent.config.load import load_agent
from voiceagent.engine.guardrails import VerificationGuard
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tools import ToolContext, ToolRunner, TransferAction

AGENTS = Path(__file__).resolve().parents[2] / "agents"


@pytest.fixture
async def bank(monkeypatch, tmp_path):
    """``(agent, runner, guard, redactor)`` for bank.yaml with the database in ``tmp_path``."""
    monkeypatch.setenv("VOICEAGENT_BANK_DB", str(tmp_path / "bank.db"))
    loaded = load_agent(AGENTS / "bank.yaml", env={})
    redactor = Redactor(loaded.agent.guardrails.redact, env={})
    runner = ToolRunner(loaded.agent, base_dir=loaded.base_dir, redactor=redactor)
    guard = VerificationGuard(loaded.agent.guardrails.verification, runner, redactor)
    yield loaded.agent, runner, guard, redactor
    await runner.aclose()


def _ctx(phone: str | None = "+15550123", level: int = 0) -> ToolContext:
    caller = {"phone": phone} if phone else {}
    return ToolContext(
        caller=caller, session={"state": "service", "turns": 3, "verification_level": level, "language": "en"}
    )


async def test_two_factors_give_level_one_and_open_read_only_tools(bank):
    agent, runner, guard, _ = bank
    tx = agent.tool("get_transactions")
    assert guard.refusal_for(tx) is not None
    outcome = await guard.verify({"full_name": "ravi kumar", "city": " PUNE "}, _ctx())
    assert (outcome.level, outcome.matched, outcome.failed) == (1, ["full_name", "city"], False)
    assert guard.refusal_for(tx) is None
    assert guard.refusal_for(agent.tool("analyze_spending")) is None
    assert "verification needed" in guard.refusal_for(agent.tool("break_fixed_deposit"))
    result = await runner.run("get_transactions", json.dumps({"category": "rent", "limit": 2}), _ctx(level=1))
    assert result.ok, result.error
    assert [t["amount"] for t in result.result["transactions"]] == [-24_255.00, -24_255.00]


async def test_a_third_factor_gives_level_two_and_the_deposit_can_be_broken(bank):
    agent, runner, guard, _ = bank
    await guard.verify({"full_name": "Ravi Kumar", "debit_card_last_four": "seven seven eight eight"}, _ctx())
    outcome = await guard.verify({"dob": "12 April 1985"}, _ctx())
    assert outcome.level == 2 and outcome.matched == ["full_name", "dob", "debit_card_last_four"]
    assert guard.refusal_for(agent.tool("break_fixed_deposit")) is None
    result = await runner.run("break_fixed_deposit", {"deposit_id": "FD1002"}, _ctx(level=2))
    assert result.ok and result.result["ok"] is True and result.result["payout"] == 53_250.00


async def test_analysis_runs_through_the_runner_with_an_integer_year(bank):
    _, runner, _, _ = bank
    result = await runner.run("analyze_spending", {"year": 2025}, _ctx(level=1))
    assert result.ok, result.error
    assert result.result["total_spent"] == 490_368.00


async def test_a_malformed_deposit_id_is_rejected_before_the_tool_runs(bank):
    _, runner, _, _ = bank
    result = await runner.run("break_fixed_deposit", {"deposit_id": "one thousand"}, _ctx(level=2))
    assert not result.ok and "deposit_id" in result.error
    summary = await runner.run("get_account_summary", {}, _ctx(level=2))
    assert [d["status"] for d in summary.result["fixed_deposits"]] == ["active", "active"]


async def test_three_wrong_attempts_lock_out_and_transfer(bank):
    _, _, guard, _ = bank
    for _ in range(3):
        outcome = await guard.verify({"full_name": "Someone Else", "city": "Mumbai"}, _ctx())
    assert outcome.locked_out and outcome.newly_locked and outcome.level == 0
    action = await guard.run_lockout(_ctx())
    assert action.ok and isinstance(action.action, TransferAction)
    assert action.action.to == "+15550111"


async def test_an_unknown_phone_has_no_record_to_match(bank):
    _, _, guard, _ = bank
    outcome = await guard.verify({"full_name": "Ravi Kumar", "city": "Pune"}, _ctx(phone="+10000000000"))
    assert outcome.level == 0 and outcome.failed
    assert "No matching customer record" in outcome.message


async def test_factor_values_are_redacted_after_verification(bank):
    _, _, guard, redactor = bank
    await guard.verify({"full_name": "Ravi Kumar", "city": "Pune"}, _ctx())
    text = redactor.scrub_text("Ravi Kumar from Pune, born 1985-04-12, card 7788, account 4321")
    for secret in ("Ravi", "Pune", "1985-04-12", "7788", "4321"):
        assert secret not in text
