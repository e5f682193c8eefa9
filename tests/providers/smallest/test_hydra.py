"""Hydra speech-to-speech client against the fake Hydra (real WebSocket on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import math

import numpy as np
import pytest
from voiceagent.audio import AudioFrame, silence
from voiceagent.providers.base import ProviderError
from voiceagent.providers.smallest.hydra import (
    HydraAudio,
    HydraAudioDone,
    HydraClosed,
    HydraConfig,
    HydraResponseDone,
    HydraResponseStarted,
    HydraS2S,
    HydraSpeechStarted,
    HydraSpeechStopped,
    HydraToolCall,
    check_hydra_voice,
    flat_tools,
)
from voiceagent.testing.fake_smallest import FakeSmallest, HydraOptions, HydraTurn

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_account_info",
            "description": "Look up an account.",
            "parameters": {"type": "object", "properties": {"account_id": {"type": "string"}}},
        },
    }
]


def tone(ms: float, rate: int = 16000, amp: float = 8000.0) -> AudioFrame:
    n = int(rate * ms / 1000)
    t = np.arange(n) / rate
    return AudioFrame(np.round(amp * np.sin(2 * math.pi * 440 * t)).astype("<i2").tobytes(), rate)


async def speak(session, speech_ms: float = 300, pause_ms: float = 700, rate: int = 16000) -> None:
    """An utterance then silence, in 20 ms frames, as fast as the socket takes them."""
    for frame_ms, loud in ((speech_ms, True), (pause_ms, False)):
        for _ in range(int(frame_ms // 20)):
            await session.send_audio(tone(20, rate) if loud else silence(20, rate))


async def collect(session, until, timeout: float = 5.0) -> list:
    out = []
    async with asyncio.timeout(timeout):
        async for event in session.events():
            out.append(event)
            if until(event):
                return out
    return out


async def until_received(fake: FakeSmallest, n_bytes: int) -> None:
    async with asyncio.timeout(5):
        while fake.hydra.connections[0].audio_bytes < n_bytes:
            await asyncio.sleep(0.01)


def client(fake: FakeSmallest, **kw) -> HydraS2S:
    return HydraS2S(api_key=fake.api_key, base_url=fake.base_url, **kw)


async def test_configure_sends_instructions_voice_and_flat_tools_before_any_audio():
    async with FakeSmallest() as fake:
        session = await client(fake).connect(HydraConfig("Be brief.", voice="zoe", tools=TOOLS))
        await speak(session, 100, 100)
        await until_received(fake, 200 * 32)
        await session.aclose()
    conn = fake.hydra.connections[0]
    assert conn.params["model"] == "hydra-v1.1" and "api_key" not in conn.params
    assert conn.configure == {
        "instructions": "Be brief.",
        "voice": "zoe",
        "tools": [
            {
                "type": "function",
                "name": "get_account_info",
                "description": "Look up an account.",
                "parameters": {"type": "object", "properties": {"account_id": {"type": "string"}}},
            }
        ],
        "generate_initial_response": False,
    }
    assert conn.audio_before_configured == 0 and conn.audio_bytes == 200 * 32  # 200 ms at 16 kHz PCM16
    assert session.session_id


@pytest.mark.parametrize("rate", [8000, 24000, 48000])
async def test_audio_at_any_rate_is_sent_as_20_ms_chunks_of_16_khz(rate):
    async with FakeSmallest() as fake:
        session = await client(fake).connect(HydraConfig("x"))
        for _ in range(25):
            await session.send_audio(silence(20, rate))
        await until_received(fake, 20 * 640)
        await asyncio.sleep(0.05)
        await session.aclose()
    sizes = fake.hydra.connections[0].chunk_sizes
    assert sizes and set(sizes) == {640}
    assert 0.8 * 25 * 640 <= sum(sizes) <= 25 * 640


async def test_a_turn_yields_speech_events_then_48_khz_audio_then_done():
    opts = HydraOptions(turns=[HydraTurn(say="Your balance is 42 dollars.")], realtime=False)
    async with FakeSmallest(hydra=opts) as fake:
        session = await client(fake).connect(HydraConfig("x"))
        await speak(session)
        events = await collect(session, lambda e: isinstance(e, HydraResponseDone))
        await session.aclose()
    kinds = [type(e) for e in events]
    assert kinds.index(HydraSpeechStarted) < kinds.index(HydraSpeechStopped) < kinds.index(HydraResponseStarted)
    audio = [e for e in events if isinstance(e, HydraAudio)]
    assert audio and all(e.frame.sample_rate == 48000 for e in audio)
    assert abs(sum(e.frame.duration_ms for e in audio) - len("Your balance is 42 dollars.") * 40) < 1
    assert HydraAudioDone(audio[0].response_id) in events and events[-1].status == "completed"


async def test_tool_call_then_outputs_get_one_debounced_response_create_and_a_narration():
    turn = HydraTurn(tool_call={"name": "get_account_info", "arguments": {"account_id": "12345"}}, then_say="Done.")
    async with FakeSmallest(hydra=HydraOptions(turns=[turn], realtime=False)) as fake:
        session = await client(fake).connect(HydraConfig("x", tools=TOOLS))
        await speak(session)
        events = await collect(session, lambda e: isinstance(e, HydraToolCall))
        call = events[-1]
        assert (call.name, json.loads(call.arguments)) == ("get_account_info", {"account_id": "12345"})
        await session.send_tool_output(call.call_id, '{"balance": 42.5}')
        await session.send_tool_output(call.call_id, '{"note": "second output, same turn"}')
        narration = await collect(session, lambda e: isinstance(e, HydraAudioDone))
        await session.aclose()
    conn = fake.hydra.connections[0]
    assert [o["output"] for o in conn.tool_outputs] == ['{"balance": 42.5}', '{"note": "second output, same turn"}']
    assert all(o["type"] == "function_call_output" and o["call_id"] == call.call_id for o in conn.tool_outputs)
    assert conn.response_creates == 1
    assert any(isinstance(e, HydraAudio) for e in narration)


async def test_barge_in_cancels_the_response_in_flight():
    opts = HydraOptions(turns=[HydraTurn(say="A long answer " * 10)], realtime=True)
    async with FakeSmallest(hydra=opts) as fake:
        session = await client(fake).connect(HydraConfig("x"))
        await speak(session)
        await collect(session, lambda e: isinstance(e, HydraAudio))
        await speak(session, 200, 0)  # the caller talks over the reply
        events = await collect(session, lambda e: isinstance(e, HydraResponseDone))
        await session.aclose()
    done = events[-1]
    assert (done.status, done.reason) == ("cancelled", "interrupted")


async def test_update_tools_sends_only_tools():
    async with FakeSmallest() as fake:
        session = await client(fake).connect(HydraConfig("x"))
        await session.update_tools(TOOLS)
        await asyncio.sleep(0.1)
        await session.aclose()
    assert fake.hydra.connections[0].updates == [{"tools": flat_tools(TOOLS)}]
    assert not fake.hydra.connections[0].errors


async def test_bad_key_is_a_401_naming_the_variable_never_the_key():
    async with FakeSmallest() as fake:
        with pytest.raises(ProviderError) as info:
            await HydraS2S(api_key="sk_wrong_key_123456", base_url=fake.base_url).connect(HydraConfig("x"))
    assert info.value.status == 401 and "SMALLEST_API_KEY" in str(info.value)
    assert "sk_wrong_key_123456" not in str(info.value)


async def test_server_full_is_a_retryable_error_at_connect():
    async with FakeSmallest(hydra=HydraOptions(server_full=True)) as fake:
        with pytest.raises(ProviderError) as info:
            await client(fake).connect(HydraConfig("x"))
    assert info.value.retryable and "server_full" in str(info.value)


async def test_unknown_voice_is_refused_at_connect():
    async with FakeSmallest() as fake:
        with pytest.raises(ProviderError, match="unknown voice"):
            await client(fake).connect(HydraConfig("x", voice="sterling"))  # a v1.0 voice on v1.1


async def test_deprecated_model_warning_is_kept():
    async with FakeSmallest() as fake:
        session = await client(fake, model="hydra").connect(HydraConfig("x"))
        await session.aclose()
    assert session.warnings and "deprecated" in session.warnings[0]


async def test_idle_close_ends_the_events_with_code_1000():
    async with FakeSmallest(hydra=HydraOptions(idle_timeout_s=0.2)) as fake:
        session = await client(fake).connect(HydraConfig("x"))
        events = await collect(session, lambda e: isinstance(e, HydraClosed))
    assert events[-1] == HydraClosed(1000, "idle timeout", by_client=False)


async def test_greeting_with_generate_initial_response():
    async with FakeSmallest(hydra=HydraOptions(realtime=False)) as fake:
        session = await client(fake).connect(HydraConfig("x", generate_initial_response=True))
        events = await collect(session, lambda e: isinstance(e, HydraResponseDone))
        await session.aclose()
    assert any(isinstance(e, HydraAudio) for e in events) and not any(isinstance(e, HydraSpeechStarted) for e in events)


def test_voice_check_refuses_a_voice_of_another_model():
    assert check_hydra_voice("hydra-v1.1", "zoe") is None
    assert check_hydra_voice("hydra-v1.1", None) is None
    problem = check_hydra_voice("hydra-v1.1", "sterling")
    assert problem and "hydra-v1.0 voice" in problem and "zoe" in problem
    assert "unknown Hydra model" in (check_hydra_voice("hydra-v9", "zoe") or "")


def test_unknown_model_is_refused_by_the_client():
    with pytest.raises(ValueError, match="unknown Hydra model"):
        HydraS2S(api_key="k", model="hydra-v9")
