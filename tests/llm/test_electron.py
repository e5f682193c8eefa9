"""electron_llm: base URL / key / model resolution, and a call on Electron's path."""

from __future__ import annotations

import pytest
from llm_helpers import chat, collect, text_of
from voiceagent.providers.base import ProviderError
from voiceagent.providers.smallest.llm import electron_llm
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply


async def test_defaults(monkeypatch):
    monkeypatch.delenv("SMALLEST_BASE_URL", raising=False)
    monkeypatch.setenv("SMALLEST_API_KEY", "sk_env_key")
    llm = electron_llm()
    assert llm.base_url == "https://api.smallest.ai/waves/v1"
    assert llm.model == "electron" and llm.name == "smallest"
    assert "sk_env_key" not in repr(llm)
    await llm.aclose()


async def test_env_base_url_and_argument_precedence(monkeypatch):
    monkeypatch.setenv("SMALLEST_BASE_URL", "http://127.0.0.1:9/waves/v1/")
    monkeypatch.setenv("SMALLEST_API_KEY", "sk_env")
    llm = electron_llm()
    assert llm.base_url == "http://127.0.0.1:9/waves/v1"
    llm2 = electron_llm(base_url="http://127.0.0.1:8/x/v1", model="electron-2")
    assert llm2.base_url == "http://127.0.0.1:8/x/v1" and llm2.model == "electron-2"
    assert electron_llm(model=None).model == "electron"
    await llm.aclose()
    await llm2.aclose()


async def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("SMALLEST_API_KEY", raising=False)
    with pytest.raises(ProviderError, match="SMALLEST_API_KEY"):
        electron_llm()


async def test_streams_from_the_waves_path_with_the_key(monkeypatch):
    async with FakeOpenAI(api_key="sk_live_electron") as srv:
        monkeypatch.setenv("SMALLEST_BASE_URL", srv.electron_base_url)
        monkeypatch.setenv("SMALLEST_API_KEY", "sk_live_electron")
        srv.script(TextReply("Namaste! Kaise madad karun?"))
        llm = electron_llm()
        events, _, usages = await collect(llm, chat("hi"))
        await llm.aclose()
        assert text_of(events) == "Namaste! Kaise madad karun?"
        req = srv.requests[0]
        assert req.path == "/waves/v1/chat/completions"
        assert req.body["model"] == "electron"
        assert req.headers["authorization"] == "Bearer sk_live_electron"
        assert usages[0].request_id == req.request_id
