"""Voice/model/language checks, URL derivation and error-body parsing for the Smallest providers."""

from __future__ import annotations

import httpx
import pytest
from voiceagent.providers.base import ProviderError
from voiceagent.providers.smallest import LightningTTS, PulseSTT
from voiceagent.providers.smallest._common import (
    error_text,
    resolve_api_key,
    resolve_base_url,
    split_text,
    ws_url,
)
from voiceagent.providers.smallest.models import (
    HINDI_CAPABLE_VOICES,
    check_voice,
    default_voice,
)


def test_pro_voice_needs_pro_model() -> None:
    problems = check_voice("lightning_v3.1", "meher", "en")
    assert len(problems) == 1 and "lightning_v3.1_pro" in problems[0]
    assert check_voice("lightning_v3.1_pro", "meher", "en") == []


def test_standard_voice_on_pro_model_is_flagged() -> None:
    assert any("standard" in p for p in check_voice("lightning_v3.1_pro", "sophia", "en"))


def test_hindi_agent_needs_hindi_capable_voice() -> None:
    assert any("Hindi" in p for p in check_voice("lightning_v3.1", "sophia", "hi"))
    assert check_voice("lightning_v3.1", "aanya", "hi") == []
    assert check_voice("lightning_v3.1_pro", "meher", "hi-IN") == []
    assert any("Hindi" in p for p in check_voice("lightning_v3.1_pro", "kaitlyn", "hi"))


def test_unknown_model_and_language() -> None:
    assert any("unknown Lightning model" in p for p in check_voice("lightning-v2", "sophia", "en"))
    assert any("not supported" in p for p in check_voice("lightning_v3.1", "sophia", "xx"))


@pytest.mark.parametrize("model", ["lightning_v3.1", "lightning_v3.1_pro"])
@pytest.mark.parametrize("language", ["en", "hi", "ta", "mr", "es", "fr"])
def test_default_voice_passes_its_own_check(model: str, language: str) -> None:
    voice = default_voice(model, language)
    assert check_voice(model, voice, language) == []
    if language == "hi":
        assert voice in HINDI_CAPABLE_VOICES


def test_base_url_resolution_and_ws_derivation() -> None:
    assert resolve_base_url(None, env={}) == "https://api.smallest.ai/waves/v1"
    assert resolve_base_url(None, env={"SMALLEST_BASE_URL": "http://x:1/waves/v1/"}) == "http://x:1/waves/v1"
    assert (
        resolve_base_url("https://api.us.smallest.ai/waves/v1", env={"SMALLEST_BASE_URL": "http://ignored"})
        == "https://api.us.smallest.ai/waves/v1"
    )
    assert ws_url("https://api.smallest.ai/waves/v1") == "wss://api.smallest.ai/waves/v1"
    assert ws_url("http://127.0.0.1:9/waves/v1") == "ws://127.0.0.1:9/waves/v1"
    with pytest.raises(ValueError):
        ws_url("ftp://nope")


def test_clients_build_urls_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMALLEST_API_KEY", "sk_env_key_000000")
    monkeypatch.setenv("SMALLEST_BASE_URL", "https://example.test/waves/v1")
    stt = PulseSTT(extra_params={"keywords": "Acme:2", "punctuate": False})
    url = stt.url("hi")
    assert url.startswith("wss://example.test/waves/v1/stt/live?model=pulse&language=hi")
    assert "sample_rate=16000" in url and "encoding=linear16" in url
    assert "eou_timeout_ms=800" in url and "vad_events=true" in url
    assert "punctuate=false" in url and "keywords=Acme%3A2" in url
    tts = LightningTTS(language="hi")
    assert tts.ws_endpoint == "wss://example.test/waves/v1/tts/live"
    assert tts.voice_id == default_voice("lightning_v3.1", "hi")
    assert "sk_env_key_000000" not in repr(stt) + repr(tts)


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMALLEST_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="SMALLEST_API_KEY"):
        resolve_api_key(None)
    with pytest.raises(ProviderError, match="SMALLEST_API_KEY"):
        PulseSTT()


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        PulseSTT(api_key="k", sample_rate=11025)
    with pytest.raises(ValueError):
        PulseSTT(api_key="k", eou_timeout_ms=0)
    with pytest.raises(ValueError):
        LightningTTS(api_key="k", sample_rate=48000)
    with pytest.raises(ValueError):
        LightningTTS(api_key="k", speed=3.0)


@pytest.mark.parametrize(
    "payload, expected",
    [
        (
            {"error": "InvalidRequest", "message": "The 'text' field is required."},
            "InvalidRequest: The 'text' field is required.",
        ),
        (
            {"error": [{"code": "custom", "path": ["voice_id"], "message": "Invalid Voice ID"}]},
            "voice_id: Invalid Voice ID",
        ),
        ({"status": "error", "error": {"message": "Bad voice", "code": "invalid_voice"}}, "Bad voice (invalid_voice)"),
        (
            {"status": "error", "message": "Connection timed out after 60 seconds of inactivity"},
            "Connection timed out after 60 seconds of inactivity",
        ),
        ({"message": "Unauthorized: No tokens provided"}, "Unauthorized: No tokens provided"),
        (
            b'{"errors":"Audio data too large","status":"error","message":"Error handling audio data"}',
            "Audio data too large: Error handling audio data",
        ),
        (b"plain text failure", "plain text failure"),
    ],
)
def test_error_text_shapes(payload: object, expected: str) -> None:
    assert error_text(payload) == expected


def test_split_text_prefers_sentence_ends() -> None:
    text = ("a" * 100 + ". ") * 4
    pieces = split_text(text, 250)
    assert all(len(p) <= 250 for p in pieces) and pieces[0].endswith(".")
    assert split_text("  \n ") == []
    assert split_text("x" * 600, 250) == ["x" * 250, "x" * 250, "x" * 100]


async def test_fake_mounts_another_http_server_on_the_same_port() -> None:
    from voiceagent.testing.fake_openai import FakeOpenAI
    from voiceagent.testing.fake_smallest import FakeSmallest

    async with FakeOpenAI(api_key="sk_test_fake") as llm:
        llm.script("hi there.")
        async with FakeSmallest(mounts={"/waves/v1/chat": llm.port}) as fake, httpx.AsyncClient() as http:
            r = await http.post(
                f"{fake.base_url}/chat/completions",
                headers={"Authorization": f"Bearer {fake.api_key}"},
                json={"model": "electron", "messages": [{"role": "user", "content": "hi"}]},
            )
            tts = await http.post(
                f"{fake.base_url}/tts",
                headers={"Authorization": f"Bearer {fake.api_key}"},
                json={"text": "ok", "voice_id": "sophia"},
            )
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "hi there."
    assert tts.status_code == 200 and tts.headers["content-type"] == "audio/wav"


def test_indic_language_with_a_known_voice_of_another_language_cannot_speak():
    problems = check_voice("lightning_v3.1", "rajeshwari", "te")  # a Tamil voice for Telugu
    assert any("cannot speak 'te'" in p and "padmaja" in p for p in problems)
    assert any("cannot speak" in p for p in check_voice("lightning_v3.1", "sophia", "ta"))
    assert any("cannot speak" in p for p in check_voice("lightning_v3.1_pro", "nila", "mr"))


def test_indic_language_with_its_own_voice_is_fine_and_unknown_voices_pass():
    for model, voice, lang in [
        ("lightning_v3.1", "rajeshwari", "ta"),
        ("lightning_v3.1", "padmaja", "te"),
        ("lightning_v3.1", "deepashri", "kn"),
        ("lightning_v3.1", "rupali", "mr"),
        ("lightning_v3.1", "niharika", "gu"),
        ("lightning_v3.1_pro", "rajib", "bn"),
        ("lightning_v3.1", "some-new-voice", "ta"),  # the roster is partial: unknown ids are not judged
    ]:
        assert check_voice(model, voice, lang) == [], (model, voice, lang)
