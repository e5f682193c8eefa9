"""docs/first-agent.md stays true: its example files validate and its sample error is real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from voiceagent.cli import main
from voiceagent.config.load import load_agent
from voiceagent.config.validate import validate_paths

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "first-agent.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def guide_agents(tmp_path, monkeypatch):
    """The guide's bakery agent (with its tool) and Hindi variant, written as the guide says."""
    yaml_blocks = _blocks("yaml")
    base = next(b for b in yaml_blocks if "name: sunny-bakery\n" in b)
    tools = next(b for b in yaml_blocks if b.startswith("tools:"))
    variant = next(b for b in yaml_blocks if "extends: bakery.yaml" in b)
    code = next(b for b in _blocks("python") if "def get_order_status" in b)
    agents = tmp_path / "agents"
    (agents / "tools").mkdir(parents=True)
    (agents / "tools" / "__init__.py").write_text("", encoding="utf-8")
    (agents / "tools" / "bakery.py").write_text(code, encoding="utf-8")
    (agents / "bakery.yaml").write_text(base + tools, encoding="utf-8")
    (agents / "bakery.hi.yaml").write_text(variant, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return agents, base


def test_the_guides_agent_tool_and_variant_validate(guide_agents):
    agents, _ = guide_agents
    assert validate_paths([agents / "bakery.yaml", agents / "bakery.hi.yaml"]) == []
    hindi = load_agent(agents / "bakery.hi.yaml", env={}).agent
    assert hindi.language == "hi"
    assert hindi.variables["bakery"] == "Sunny Bakery"  # merged from the parent
    assert [t.name for t in hindi.tools] == ["get_order_status", "end_call"]  # inherited list


def test_the_guides_tool_behaves_as_described(guide_agents):
    from voiceagent.config.pytools import import_tool_module

    agents, _ = guide_agents
    module = import_tool_module("tools.bakery", agents)
    assert module.get_order_status("1002") == {
        "found": True,
        "order_id": "1002",
        "status": "in the oven, ready at 4 pm",
    }
    assert module.get_order_status("9") == {"found": False}


def test_the_guides_sample_error_is_what_validate_prints(guide_agents):
    agents, base = guide_agents
    (agents / "bakery.yaml").write_text(base + "llm:\n  temprature: 0.3\n", encoding="utf-8")
    shown = next(
        line for line in GUIDE.read_text(encoding="utf-8").splitlines() if "temprature" in line and ": error:" in line
    )
    result = CliRunner().invoke(main, ["validate", "agents/bakery.yaml"])
    assert result.exit_code == 1
    assert shown.strip() in result.output.splitlines()


def test_the_guides_demo_caller_matches_the_bank_data(monkeypatch, tmp_path):
    from voiceagent.config.pytools import import_tool_module

    monkeypatch.setenv("VOICEAGENT_BANK_DB", str(tmp_path / "bank.db"))
    record = import_tool_module("tools.bank", GUIDE.parents[1] / "agents").lookup_customer()
    text = " ".join(GUIDE.read_text(encoding="utf-8").split())
    assert f"demo customer {record['full_name']} (born 12 April 1985, lives in {record['city']}" in text
    assert record["dob"] == "1985-04-12"
    assert f"account ending {record['account_last_four']}, card ending {record['debit_card_last_four']}" in text


def test_the_guides_second_caller_matches_the_bank_data(monkeypatch, tmp_path):
    from voiceagent.config.pytools import import_tool_module

    monkeypatch.setenv("VOICEAGENT_BANK_DB", str(tmp_path / "bank.db"))
    bank = import_tool_module("tools.bank", GUIDE.parents[1] / "agents")
    record = bank.lookup_customer(ctx={"caller": {"phone": "+15550199"}})
    text = " ".join(GUIDE.read_text(encoding="utf-8").split())
    assert (
        f"`--caller-phone +15550199` calls as {record['full_name']} instead (born 3 November 1990, "
        f"{record['city']}, account ending {record['account_last_four']}, card ending "
        f"{record['debit_card_last_four']})"
    ) in text
    assert record["dob"] == "1990-11-03"


def test_the_guides_hinglish_variant_validates_and_lists_both_languages(guide_agents):
    agents, _ = guide_agents
    block = next(b for b in _blocks("yaml") if "extends: bakery.hi.yaml" in b)
    (agents / "bakery.hinglish.yaml").write_text(block, encoding="utf-8")
    assert validate_paths([agents / "bakery.hinglish.yaml"]) == []
    agent = load_agent(agents / "bakery.hinglish.yaml", env={}).agent
    assert agent.language == "hi" and agent.languages == ["hi", "en"] and agent.voice.id == "meher"
    assert "हमेशा हिंदी में" not in agent.prompt  # the prompt allows both languages
