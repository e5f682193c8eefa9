"""Smallest providers for agents with several ``languages``: the one Pulse code that recognises
them all (Pulse model card: Indic single codes handle code-switching with English, aggregators
for groups), and a Lightning ``language`` per request."""

from __future__ import annotations

import pytest
from voiceagent.providers.smallest.models import check_voice, pulse_language_for
from voiceagent.providers.smallest.stt import PulseSTT
from voiceagent.providers.smallest.tts import LightningTTS


@pytest.mark.parametrize(
    ("languages", "code"),
    [
        (["hi", "en"], "hi"),  # Hinglish: the Hindi model covers English
        (["en-IN", "hi-IN"], "hi"),
        (["ta", "en"], "ta"),
        (["hi"], "hi"),
        (["hi", "mr"], "north_indic"),
        (["hi", "mr", "en"], "north_indic"),
        (["ta", "te"], "multi-south-indic"),
        (["zh", "ja"], "multi-asian"),
        (["hi", "ta"], None),  # north and south: no one stream
        (["en", "es"], None),  # Spanish is not a code-switching Indic code
        (["xx"], None),
        ([], None),
    ],
)
def test_pulse_language_for(languages, code):
    assert pulse_language_for(languages) == code


def test_pulse_opens_the_code_that_covers_every_language():
    stt = PulseSTT(api_key="sk_test", base_url="http://127.0.0.1:9/waves/v1", languages=["hi", "en"])
    assert "language=hi&" in stt.url(pulse_language_for(stt.languages or ()) or "")
    with pytest.raises(ValueError, match="Pulse cannot stream hi, ta"):
        PulseSTT(api_key="sk_test", languages=["hi", "ta"])


def test_lightning_language_per_request():
    tts = LightningTTS(api_key="sk_test", model="lightning_v3.1_pro", voice_id="meher", language="hi")
    assert tts.request_body("Hello.")["language"] == "hi"
    assert tts.request_body("Hello.", "en")["language"] == "en"
    assert tts.request_body("Hello.", "en-IN")["language"] == "en"
    assert tts.request_body("Hello.", "xx")["language"] == "hi"  # not a Lightning code: its own
    assert tts.request_body("नमस्ते", "hi")["voice_id"] == "meher"


def test_english_is_checked_like_the_other_languages():
    assert check_voice("lightning_v3.1_pro", "meher", "en") == []
    assert check_voice("lightning_v3.1", "aanya", "en") == []  # Hindi/English voices speak both
    assert check_voice("lightning_v3.1", "sophia", "en") == []
    (problem,) = check_voice("lightning_v3.1", "daniella", "en")  # a Spanish voice
    assert "cannot speak English" in problem
    assert check_voice("lightning_v3.1", "my-own-voice", "en") == []  # unknown: left to the server


def test_the_plan_names_the_pulse_code_and_refuses_what_no_stack_can_hear():
    from pathlib import Path

    from voiceagent.config.load import load_agent
    from voiceagent.config.models import Agent
    from voiceagent.providers.registry import ProviderSetupError, plan_providers

    agent = load_agent(Path(__file__).resolve().parents[3] / "agents" / "support.hinglish.yaml", env={}).agent
    plan = plan_providers(agent, env={"SMALLEST_API_KEY": "sk-test-0000"}, audio=True)
    assert "language=hi" in plan.stt.what and "meher" in plan.tts.what
    with pytest.raises(ProviderSetupError, match=r"'hi' and 'en'.*English only"):
        plan_providers(agent, env={}, audio=True)  # the offline recognizer: English only
    english_first = Agent.model_validate({"name": "x", "prompt": "p", "languages": ["en", "hi"]})
    with pytest.raises(ProviderSetupError, match="English only"):
        plan_providers(english_first, env={}, audio=True)  # en first does not hide the hi
    north_south = Agent.model_validate({"name": "x", "prompt": "p", "language": "hi", "languages": ["hi", "ta"]})
    with pytest.raises(ProviderSetupError, match="cannot recognise hi, ta on one stream"):
        plan_providers(north_south, env={"SMALLEST_API_KEY": "sk-test-0000"}, audio=True)
