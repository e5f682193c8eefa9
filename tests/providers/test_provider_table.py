"""Providers as data: the registry, the agent models and the schema all read the provider table,
so a new provider is one setup module plus one row (issue 9 item 7)."""

from __future__ import annotations

import sys
import types
from dataclasses import replace

import pytest
from voiceagent.config.models import Agent
from voiceagent.config.schema import schema_text
from voiceagent.providers import registry, table
from voiceagent.providers.table import PROVIDERS, ProviderSpec, provider_names


def agent(**kw: object) -> Agent:
    return Agent.model_validate({"name": "t", "prompt": "p", **kw})


@pytest.mark.parametrize("slot", ["stt", "llm", "tts"])
def test_models_and_schema_allow_exactly_the_tables_names(slot):
    import json

    names = provider_names(slot)
    assert names[0] == "auto" and set(names[1:]) == {p.name for p in PROVIDERS if p.slot == slot}
    for name in names:
        assert getattr(agent(**{slot: {"provider": name}}), slot).provider == name
    with pytest.raises(ValueError, match="Input should be 'auto'"):
        agent(**{slot: {"provider": "nope"}})
    schema = json.loads(schema_text())
    prop = schema["$defs"][f"{slot.upper()}Config"]["properties"]["provider"]
    assert [b["enum"] for b in prop.get("anyOf", [prop]) if "enum" in b] == [list(names)]
    assert all(p.label in prop["description"] for p in PROVIDERS if p.slot == slot)


def test_every_row_names_importable_plan_and_build_functions():
    for row in PROVIDERS:
        for path in (row.plan, row.build):
            module, _, name = path.partition(":")
            assert callable(getattr(__import__(module, fromlist=[name]), name)), path


def test_a_new_provider_is_one_module_and_one_row(monkeypatch):
    """A fake 'deepgram' STT: its module and its row, nothing else, and the registry plans and
    builds it with the generic key rule and startup note."""
    built = object()
    module = types.ModuleType("fake_deepgram")

    def plan_stt(agent, env, why):
        return registry.Choice("stt", "deepgram", "deepgram nova-3", why)

    def build_stt(choice, agent, env):
        assert env["DEEPGRAM_API_KEY"] == "dg"
        return built

    module.plan_stt, module.build_stt = plan_stt, build_stt
    monkeypatch.setitem(sys.modules, "fake_deepgram", module)
    row = ProviderSpec(
        "stt",
        "deepgram",
        "Deepgram in the cloud",
        "DEEPGRAM_API_KEY",
        "fake_deepgram:plan_stt",
        "fake_deepgram:build_stt",
    )
    monkeypatch.setattr(table, "PROVIDERS", (*PROVIDERS, row))
    base = agent()
    chosen = base.model_copy(update={"stt": base.stt.model_copy(update={"provider": "deepgram"})})

    with pytest.raises(registry.ProviderSetupError, match=r"stt\.provider is deepgram but DEEPGRAM_API_KEY is not set"):
        registry.plan_providers(chosen, env={"SMALLEST_API_KEY": "k"}, audio=True)
    plan = registry.plan_providers(chosen, env={"SMALLEST_API_KEY": "k", "DEEPGRAM_API_KEY": "dg"}, audio=True)
    assert plan.notes[0] == "stt: deepgram nova-3 — stt.provider: deepgram in the agent"
    assert (
        registry._function(table.spec_for("stt", "deepgram").build)(plan.stt, chosen, {"DEEPGRAM_API_KEY": "dg"})
        is built
    )


def test_auto_takes_the_first_row_whose_key_is_set(monkeypatch):
    rows = [replace(r, auto=False) if (r.slot, r.name) == ("llm", "smallest") else r for r in PROVIDERS]
    openai_first = [replace(r, auto=True) if (r.slot, r.name) == ("llm", "openai") else r for r in rows]
    monkeypatch.setattr(table, "PROVIDERS", tuple(sorted(openai_first, key=lambda r: r.name != "openai")))
    plan = registry.plan_providers(
        agent(), env={"OPENAI_API_KEY": "x", "SMALLEST_API_KEY": "k"}, audio=False, speech=False
    )
    assert plan.llm.provider == "openai"
    plan = registry.plan_providers(agent(), env={}, audio=False, speech=False)
    assert plan.llm.provider == "local" and plan.llm.why == "no OPENAI_API_KEY"
