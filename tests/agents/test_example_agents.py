"""The example agents in agents/ validate, load without any environment, and say what they mean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from voiceagent.cli import main
from voiceagent.config.load import load_agent
from voiceagent.config.validate import validate_paths
from voiceagent.providers.smallest.models import check_voice
from voiceagent.templating import evaluate, render

AGENTS = Path(__file__).resolve().parents[2] / "agents"
FILES = sorted(AGENTS.glob("*.yaml"))
DEVANAGARI = re.compile(r"[\u0900-\u097F]")
#: Lightning v3.1 Pro voices that speak Hindi (the Indian Pro voices of the Lightning v3.1 Pro model card).
HINDI_PRO_VOICES = {
    "rhea",
    "zariya",
    "kareena",
    "mishka",
    "inaaya",
    "saira",
    "meher",
    "aarini",
    "aviraj",
    "vyom",
    "zoravar",
    "reyansh",
    "ahan",
}


def test_the_three_example_agents_exist():
    assert {p.name for p in FILES} >= {"support.yaml", "support.hi.yaml", "bank.yaml"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_agent_has_no_diagnostics_at_all(path):
    assert validate_paths([path]) == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_agent_starts_with_the_schema_comment(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/agent.schema.json"


def test_validate_cli_accepts_every_example():
    result = CliRunner().invoke(main, ["validate", *map(str, FILES)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_agent_loads_on_a_machine_with_no_environment(path):
    loaded = load_agent(path, env={})
    text = repr(loaded.agent.model_dump())
    assert "${" not in text
    agent = loaded.agent
    assert agent.voice is not None and agent.tts.model in {"lightning_v3.1", "lightning_v3.1_pro"}
    assert check_voice(agent.tts.model, agent.voice.id, agent.language) == []
    for provider in (loaded.agent.stt, loaded.agent.llm, loaded.agent.tts):
        assert provider.provider == "auto"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_transfer_numbers_stay_text_with_and_without_the_environment(path):
    for env in ({}, {"TRANSFER_NUMBER": "+919800000000", "BANK_TRANSFER_NUMBER": "15550199"}):
        agent = load_agent(path, env=env).agent
        for tool in agent.tools:
            if tool.builtin == "transfer":
                assert isinstance(tool.to, str) and tool.to.lstrip("+").isdigit()
    assert load_agent(path, env={"TRANSFER_NUMBER": "+919800000000"}).agent.tool("transfer_to_human").to in (
        "+919800000000",
        "+15550111",
    )


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_greeting_and_prompt_render_with_the_agent_variables(path):
    agent = load_agent(path, env={}).agent
    context = {**agent.variables, "variables": agent.variables}
    greeting = render(agent.greeting, context)
    assert next(iter(agent.variables.values())) in greeting
    assert "{{" not in render(agent.prompt, context)


def test_support_defaults_and_environment_overrides():
    default = load_agent(AGENTS / "support.yaml", env={}).agent
    ticket, transfer = default.tool("create_ticket"), default.tool("transfer_to_human")
    assert ticket.http.url == "http://127.0.0.1:8787/tickets"
    assert ticket.http.headers == {"Authorization": "Bearer demo-token"}
    assert (transfer.builtin, transfer.to, transfer.mode) == ("transfer", "+15550100", "warm")
    assert transfer.handoff_prompt
    env = {
        "ACME_TICKETS_URL": "https://tickets.example/t",
        "ACME_TOKEN": "t0k",
        "TRANSFER_NUMBER": "+442070000000",
    }  # digits and '+': must stay text
    custom = load_agent(AGENTS / "support.yaml", env=env).agent
    assert custom.tool("create_ticket").http.url == "https://tickets.example/t"
    assert custom.tool("create_ticket").http.headers["Authorization"] == "Bearer t0k"
    assert custom.tool("transfer_to_human").to == "+442070000000"


def test_support_agent_shape():
    agent = load_agent(AGENTS / "support.yaml", env={}).agent
    assert agent.language == "en" and agent.voice.id == "meher"
    assert [t.name for t in agent.tools] == ["get_account_info", "create_ticket", "transfer_to_human", "end_call"]
    info = agent.tool("get_account_info")
    assert info.python == "tools.acme:get_account_info" and info.filler
    assert info.parameters["account_id"].pattern == "^[0-9]{4,12}$"
    assert agent.tool("end_call").builtin == "end_call"
    assert "get_account_info" in agent.prompt  # the small local LLM is told when to call it


def test_hindi_variant_resolves_to_hindi_everywhere():
    base = load_agent(AGENTS / "support.yaml", env={}).agent
    hindi = load_agent(AGENTS / "support.hi.yaml", env={}).agent
    assert hindi.language == "hi"
    assert hindi.name != base.name
    assert DEVANAGARI.search(hindi.prompt) and DEVANAGARI.search(hindi.greeting)
    assert DEVANAGARI.search(hindi.behaviour.fallback) and DEVANAGARI.search(hindi.behaviour.filler)
    assert hindi.voice.id in HINDI_PRO_VOICES and hindi.tts.model == "lightning_v3.1_pro"
    assert hindi.variables == base.variables  # inherited
    assert hindi.llm == base.llm and hindi.stt == base.stt


def test_hindi_variant_tools_stay_in_step_with_the_base():
    base = load_agent(AGENTS / "support.yaml", env={}).agent
    hindi = load_agent(AGENTS / "support.hi.yaml", env={}).agent
    strip = lambda t: t.model_dump(exclude={"filler", "handoff_prompt", "http", "say"})  # noqa: E731
    assert [strip(t) for t in hindi.tools] == [strip(t) for t in base.tools]
    assert hindi.tool("create_ticket").http.url == base.tool("create_ticket").http.url
    assert DEVANAGARI.search(hindi.tool("get_account_info").filler)
    # the last words of the transfer and the hang-up are the variant's own, in its language
    assert DEVANAGARI.search(hindi.tool("transfer_to_human").say) and DEVANAGARI.search(hindi.tool("end_call").say)


@pytest.mark.parametrize(
    "variant",
    [
        "support.hi.yaml",
        "support.ta.yaml",
        "support.te.yaml",
        "support.kn.yaml",
        "support.mr.yaml",
        "support.gu.yaml",
        "support.hinglish.yaml",
    ],
)
def test_every_locale_variant_says_its_own_last_words(variant):
    base = load_agent(AGENTS / "support.yaml", env={}).agent
    agent = load_agent(AGENTS / variant, env={}).agent
    for tool in ("transfer_to_human", "end_call"):
        said = agent.tool(tool).say
        assert said and said != base.tool(tool).say, (variant, tool)  # not the inherited English line
        assert not re.search(r"[A-Za-z]{4,}", said.replace("{{ company }}", "")), (variant, said)


def test_bank_verification_levels_and_tool_requirements():
    agent = load_agent(AGENTS / "bank.yaml", env={}).agent
    v = agent.guardrails.verification
    assert v.factors == ["full_name", "dob", "account_last_four", "city", "debit_card_last_four"]
    assert {n: lvl.min_factors for n, lvl in v.levels.items()} == {1: 2, 2: 3}
    assert v.max_attempts == 3 and v.lookup == "lookup_customer"
    assert v.on_lockout in {"end_call"} | {t.name for t in agent.tools if t.builtin}
    assert set(v.factors) <= set(agent.guardrails.redact)
    levels = {t.name: t.requires_level for t in agent.tools}
    assert levels["get_transactions"] == levels["analyze_spending"] == levels["get_account_summary"] == 1
    assert levels["break_fixed_deposit"] == 2


def test_bank_lookup_tool_returns_every_factor(monkeypatch, tmp_path):
    from voiceagent.config.pytools import import_tool_module

    monkeypatch.setenv("VOICEAGENT_BANK_DB", str(tmp_path / "bank.db"))
    agent = load_agent(AGENTS / "bank.yaml", env={}).agent
    module, _, func = agent.tool(agent.guardrails.verification.lookup).python.partition(":")
    record = getattr(import_tool_module(module, AGENTS), func)()
    assert record["found"] is True
    assert set(agent.guardrails.verification.factors) <= set(record)


def test_bank_flow_goes_greeting_verify_service_closing():
    agent = load_agent(AGENTS / "bank.yaml", env={}).agent
    flow = agent.flow
    assert flow.initial == "greeting" and list(flow.states) == ["greeting", "verify", "service", "closing"]
    assert flow.states["closing"].final is True
    to_service = [t for t in flow.states["verify"].transitions if t.to == "service"]
    assert len(to_service) == 1 and to_service[0].when
    guard = to_service[0].when
    assert not evaluate(guard, {"session": {"verification_level": 0}})
    assert evaluate(guard, {"session": {"verification_level": 1}})
    assert any(t.description for t in flow.states["greeting"].transitions if t.to == "verify")
    # Level-gated tools are offered only once the caller is verified; the lookup is never offered.
    for name in ("get_transactions", "analyze_spending", "break_fixed_deposit"):
        assert name in flow.states["service"].tools
        assert name not in flow.states["greeting"].tools + flow.states["verify"].tools
    assert all("lookup_customer" not in s.tools for s in flow.states.values())


def test_bank_transfer_moves_the_call_to_closing():
    flow = load_agent(AGENTS / "bank.yaml", env={}).agent.flow
    for state in ("verify", "service"):
        assert any(t.on_tool == "transfer_to_human" and t.to == "closing" for t in flow.states[state].transitions)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_agent_compiles(path):
    from voiceagent.engine.compiler import compile_agent

    compiled = compile_agent(load_agent(path, env={}))
    context = {**compiled.agent.variables, "variables": compiled.agent.variables}
    for name in compiled.states:
        assert compiled.system_prompt(name, context)
    assert compiled.greeting(context)


def test_bank_compiles_to_verified_service_and_hides_the_lookup():
    from voiceagent.engine.compiler import compile_agent

    compiled = compile_agent(load_agent(AGENTS / "bank.yaml", env={}))
    offered = {name: {f["function"]["name"] for f in state.llm_tools()} for name, state in compiled.states.items()}
    assert "verify_caller" in offered["verify"] and "verify_caller" in offered["service"]
    assert "break_fixed_deposit" in offered["service"] and "break_fixed_deposit" not in offered["verify"]
    assert all("lookup_customer" not in names for names in offered.values())
    assert compiled.states["closing"].final


def test_validating_the_bank_agent_does_not_create_its_database(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICEAGENT_BANK_DB", str(tmp_path / "bank.db"))
    assert validate_paths([AGENTS / "bank.yaml"]) == []  # imports tools.bank
    assert not (tmp_path / "bank.db").exists()
