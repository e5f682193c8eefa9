"""The Indic variants of support.yaml: each speaks its language everywhere, with a voice that does.

Scripts are checked by Unicode block, so a variant left in English (or in another script) fails;
the voice is checked against the Lightning rosters; the tools set only what is local.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from voiceagent.config.load import load_agent
from voiceagent.config.validate import validate_paths
from voiceagent.providers.registry import plan_providers
from voiceagent.providers.smallest.models import STT_LANGUAGES, TTS_LANGUAGES, check_voice

AGENTS = Path(__file__).resolve().parents[2] / "agents"
SCRIPTS = {
    "hi": re.compile(r"[\u0900-\u097F]"),  # Devanagari
    "mr": re.compile(r"[\u0900-\u097F]"),  # Devanagari
    "ta": re.compile(r"[\u0B80-\u0BFF]"),  # Tamil
    "te": re.compile(r"[\u0C00-\u0C7F]"),  # Telugu
    "kn": re.compile(r"[\u0C80-\u0CFF]"),  # Kannada
    "gu": re.compile(r"[\u0A80-\u0AFF]"),  # Gujarati
}
VARIANTS = sorted(p for p in AGENTS.glob("support.*.yaml") if re.fullmatch(r"[a-z]{2,3}", p.name.split(".")[1]))
"""One-language variants only (support.hinglish.yaml: tests/cli/test_hinglish_smallest.py)."""


def test_at_least_four_indic_variants_besides_hindi():
    langs = {p.name.split(".")[1] for p in VARIANTS}
    assert len(langs - {"hi"}) >= 4 and langs <= set(SCRIPTS)


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.name)
def test_variant_validates_and_speaks_its_language_everywhere(path):
    assert validate_paths([path]) == []
    lang = path.name.split(".")[1]
    agent = load_agent(path, env={}).agent
    assert agent.language == lang and lang in STT_LANGUAGES and lang in TTS_LANGUAGES
    script = SCRIPTS[lang]
    spoken = [agent.greeting, agent.prompt, agent.behaviour.fallback, agent.behaviour.filler]
    spoken += [t.filler for t in agent.tools if t.filler]
    for text in spoken:
        letters = [c for c in text if c.isalpha() and c.isascii()]
        native = script.findall(text)
        assert native and len(native) > len(letters), f"{path.name}: not written in {lang}: {text[:60]!r}"


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.name)
def test_variant_voice_speaks_its_language_and_the_plan_accepts_it(path):
    agent = load_agent(path, env={}).agent
    assert check_voice(agent.tts.model, agent.voice.id, agent.language) == []
    plan = plan_providers(agent, env={"SMALLEST_API_KEY": "sk-test-0000"}, audio=True)
    assert plan.tts is not None and agent.voice.id in plan.tts.what


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.name)
def test_variant_tools_keep_the_base_tools_and_copy_no_field(path):
    base_agent = load_agent(AGENTS / "support.yaml", env={}).agent
    agent = load_agent(path, env={}).agent
    assert [t.name for t in agent.tools] == [t.name for t in base_agent.tools]
    assert agent.tool("get_account_info").python == base_agent.tool("get_account_info").python
    base = {t["name"]: t for t in yaml.safe_load((AGENTS / "support.yaml").read_text(encoding="utf-8"))["tools"]}
    for tool in yaml.safe_load(path.read_text(encoding="utf-8")).get("tools", []):
        for key, value in tool.items():
            if key != "name" and not isinstance(value, dict):
                assert base[tool["name"]].get(key) != value, f"{path.name}: {tool['name']}.{key} copies support.yaml"
