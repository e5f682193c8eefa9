"""``stt.keywords``: checked at their line, and given to both recognizers (Pulse and the embedded one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from config_helpers import where
from voiceagent.audio import AudioFrame
from voiceagent.config.load import load_agent
from voiceagent.providers.registry import Choice
from voiceagent.testing.fake_smallest import FakeSmallest

AGENTS = Path(__file__).resolve().parents[2] / "agents"


def test_bad_keywords_are_named_at_their_line_with_the_fix(check):
    diags = check('name: a\nprompt: hi\nstt:\n  keywords: [Pune, "Pune:2", "a, b", "  "]\n')
    assert [(line, msg.split(":")[0]) for line, _, msg in where(diags)] == [
        (4, "stt.keywords[1]"),
        (4, "stt.keywords[2]"),
        (4, "stt.keywords[3]"),
    ]
    assert all("without commas or colons" in msg for _, _, msg in where(diags))
    diags = check("name: a\nprompt: hi\nstt:\n  keywords: [" + ", ".join(["w"] * 101) + "]\n")
    assert [line for line, _, _ in where(diags)] == [4]
    assert check("name: a\nprompt: hi\nstt: {keywords: ['Northwind  Bank', Pune]}\n") == []


def test_keywords_come_first_in_the_embedded_recognizers_prompt(tmp_path):
    from voiceagent.providers.local.setup import agent_vocabulary, build_stt

    bank = agent_vocabulary(load_agent(AGENTS / "bank.yaml", env={}).agent)
    assert bank.startswith("Pune, Mumbai, Delhi,") and ", customer, account," in bank
    path = tmp_path / "a.yaml"
    path.write_text(
        "name: a\nprompt: hi\nstt: {keywords: [Account, 'Northwind  Bank', Account]}\n"
        "tools: [{name: get_account, description: d, builtin: end_call}]\n"
    )
    agent = load_agent(path, env={}).agent
    assert agent_vocabulary(agent) == "Account, Northwind Bank."  # no repeats, spaces tidied
    assert build_stt(Choice("stt", "local", "local", "test"), agent, {}).vocabulary == "Account, Northwind Bank."
    path.write_text("name: a\nprompt: hi\nstt: {keywords: [Pune]}\n")
    assert agent_vocabulary(load_agent(path, env={}).agent) == "Pune."


async def test_pulse_is_opened_with_the_agents_keywords():
    from voiceagent.providers.smallest.setup import KEY, build_stt

    agent = load_agent(AGENTS / "bank.yaml", env={}).agent
    async with FakeSmallest() as fake:
        stt = build_stt(
            Choice("stt", "smallest", "smallest", "test"),
            agent,
            {KEY: fake.api_key, "SMALLEST_BASE_URL": fake.base_url},
        )
        stream = await stt.open(language="en")
        await stream.push_audio(AudioFrame(np.zeros(1600, dtype="<i2").tobytes(), 16000))
        await stream.aclose()
    assert fake.pulse.connections[0].params["keywords"] == "Pune,Mumbai,Delhi,Bengaluru,Chennai,Hyderabad,Kolkata"
    support = load_agent(AGENTS / "support.yaml", env={}).agent
    assert "keywords" not in build_stt(Choice("stt", "smallest", "smallest", "t"), support, {KEY: "k"}).url("en")
