"""LightningTTS against the local fake Lightning server (real WebSocket + HTTP wire protocol)."""

from __future__ import annotations

import asyncio

import pytest
from voiceagent.audio import AudioFrame
from voiceagent.providers.base import TTS, ProviderError
from voiceagent.providers.smallest import LightningTTS
from voiceagent.testing.fake_smallest import FakeSmallest, LightningOptions


def tts_for(fake: FakeSmallest, **kw) -> LightningTTS:
    kw.setdefault("voice_id", "sophia")
    return LightningTTS(api_key=fake.api_key, base_url=fake.base_url, **kw)


async def synth(tts: LightningTTS, text: str) -> list[AudioFrame]:
    return [f async for f in tts.synthesize(text)]


def pcm(frames: list[AudioFrame]) -> bytes:
    return b"".join(f.pcm for f in frames)


async def test_chunks_then_complete_with_request_fields() -> None:
    async with FakeSmallest() as fake:
        tts = tts_for(fake, voice_id="meher", model="lightning_v3.1_pro", language="hi", sample_rate=16000, speed=1.2)
        assert isinstance(tts, TTS)
        frames = await synth(tts, "Namaste, main aapki kaise madad kar sakti hoon?")
        await tts.aclose()
    assert len(frames) > 1 and all(f.sample_rate == 16000 for f in frames)
    assert pcm(frames) == fake.lightning.audio_for("Namaste, main aapki kaise madad kar sakti hoon?", 16000)
    body = fake.lightning.requests[0].body
    assert body["voice_id"] == "meher" and body["language"] == "hi"
    assert body["model"] == "lightning_v3.1_pro" and body["sample_rate"] == 16000
    assert body["speed"] == 1.2 and body["request_id"].startswith("va_")
    assert "continue" not in body and "flush" not in body
    assert fake.lightning.completes_sent == 1


async def test_socket_reused_across_calls() -> None:
    async with FakeSmallest() as fake:
        tts = tts_for(fake)
        a = await synth(tts, "First sentence.")
        b = await synth(tts, "Second one.")
        await tts.aclose()
    assert pcm(a) == fake.lightning.audio_for("First sentence.", 24000)
    assert pcm(b) == fake.lightning.audio_for("Second one.", 24000)
    assert fake.lightning.ws_connections == 1 and tts.connects == 1


async def test_server_closing_after_complete_reconnects_transparently() -> None:
    async with FakeSmallest(lightning=LightningOptions(close_after_complete=True)) as fake:
        tts = tts_for(fake)
        await synth(tts, "One.")
        await asyncio.sleep(0.05)
        b = await synth(tts, "Two.")
        c = await synth(tts, "Three.")  # even without a pause
        await tts.aclose()
    assert pcm(b) == fake.lightning.audio_for("Two.", 24000)
    assert pcm(c) == fake.lightning.audio_for("Three.", 24000)
    assert fake.lightning.ws_connections == 3


async def test_idle_timeout_frame_then_next_call_reconnects() -> None:
    async with FakeSmallest() as fake:
        tts = tts_for(fake, idle_timeout_s=1)
        await synth(tts, "Before the pause.")
        await asyncio.sleep(1.3)  # the fake sends the documented timeout frame and closes
        frames = await synth(tts, "After the pause.")
        await tts.aclose()
    assert fake.lightning.ws_params[0] == {"timeout": "1"}
    assert pcm(frames) == fake.lightning.audio_for("After the pause.", 24000)
    assert fake.lightning.ws_connections == 2


@pytest.mark.parametrize("shape", ["nested", "flat"])
async def test_ws_error_frames_both_shapes(shape: str) -> None:
    opts = LightningOptions(error_when_text_contains="BOOM", error_shape=shape)
    async with FakeSmallest(lightning=opts) as fake:
        tts = tts_for(fake)
        with pytest.raises(ProviderError, match="Synthesis failed"):
            await synth(tts, "This goes BOOM.")
        frames = await synth(tts, "Still working.")  # the provider recovers
        await tts.aclose()
    assert pcm(frames) == fake.lightning.audio_for("Still working.", 24000)


async def test_invalid_voice_error_frame() -> None:
    async with FakeSmallest(lightning=LightningOptions(known_voices={"sophia"})) as fake:
        tts = tts_for(fake, voice_id="nobody")
        with pytest.raises(ProviderError, match="Invalid Voice ID"):
            await synth(tts, "Hello.")
        await tts.aclose()


async def test_cancel_mid_stream_then_clean_next_synthesis() -> None:
    opts = LightningOptions(chunk_ms=20, chunk_interval_ms=5)
    async with FakeSmallest(lightning=opts) as fake:
        tts = tts_for(fake)
        long_text = "This is a long answer that the caller interrupts half way through."
        gen = tts.synthesize(long_text)
        got = [await gen.__anext__() for _ in range(3)]
        await gen.aclose()  # barge-in
        frames = await synth(tts, "Sorry, go ahead.")
        await tts.aclose()
    assert len(got) == 3
    assert pcm(frames) == fake.lightning.audio_for("Sorry, go ahead.", 24000)
    assert fake.lightning.ws_connections == 1  # drained, not reconnected


async def test_cancelled_task_mid_stream_then_clean_next_synthesis() -> None:
    opts = LightningOptions(chunk_ms=20, chunk_interval_ms=10)
    async with FakeSmallest(lightning=opts) as fake:
        tts = tts_for(fake)
        started = asyncio.Event()

        async def speak() -> None:
            async for _ in tts.synthesize("A fairly long sentence to be cut off by the caller."):
                started.set()

        task = asyncio.create_task(speak())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        frames = await synth(tts, "Next.")
        await tts.aclose()
    assert pcm(frames) == fake.lightning.audio_for("Next.", 24000)


async def test_whitespace_sends_nothing_and_long_text_is_split() -> None:
    async with FakeSmallest() as fake:
        tts = tts_for(fake)
        assert await synth(tts, "   ") == []
        sentence = "This sentence has exactly enough words to matter here. "
        frames = await synth(tts, sentence * 6)
        await tts.aclose()
    texts = [r.body["text"] for r in fake.lightning.requests]
    assert len(texts) >= 2 and all(len(t) <= 250 for t in texts)
    assert " ".join(texts) == (sentence * 6).strip()
    assert pcm(frames) == b"".join(fake.lightning.audio_for(t, 24000) for t in texts)


async def test_ws_401_names_variable_without_key() -> None:
    async with FakeSmallest() as fake:
        tts = LightningTTS(api_key="sk_not_valid_abcdef", base_url=fake.base_url, voice_id="sophia")
        with pytest.raises(ProviderError) as info:
            await synth(tts, "Hello.")
        await tts.aclose()
    assert info.value.status == 401 and "SMALLEST_API_KEY" in str(info.value)
    assert "sk_not_valid_abcdef" not in str(info.value)


# ------------------------------------------------------------------ HTTP one-shot


@pytest.mark.parametrize("fmt", ["wav", "pcm"])
async def test_http_one_shot(fmt: str) -> None:
    async with FakeSmallest() as fake:
        tts = tts_for(fake, sample_rate=16000)
        frame = await tts.synthesize_http("Hello over HTTP.", output_format=fmt)
        await tts.aclose()
    assert frame.sample_rate == 16000
    assert frame.pcm == fake.lightning.audio_for("Hello over HTTP.", 16000)
    rec = fake.lightning.requests[0]
    assert rec.transport == "http" and rec.body["output_format"] == fmt
    assert rec.headers["accept"] == "audio/wav" and "authorization" not in rec.headers


@pytest.mark.parametrize(
    "reply, expected",
    [
        (
            (400, {"error": "InvalidRequest", "message": "The 'text' field is required."}),
            "InvalidRequest: The 'text' field is required.",
        ),
        (
            (400, {"error": [{"code": "custom", "path": ["voice_id"], "message": "Invalid Voice ID"}]}),
            "voice_id: Invalid Voice ID",
        ),
    ],
)
async def test_http_error_bodies_both_shapes(reply: tuple, expected: str) -> None:
    async with FakeSmallest(lightning=LightningOptions(http_error=reply)) as fake:
        tts = tts_for(fake)
        with pytest.raises(ProviderError) as info:
            await tts.synthesize_http("Hello.")
        await tts.aclose()
    assert info.value.status == 400 and expected in str(info.value)


async def test_http_unknown_voice_from_validation() -> None:
    async with FakeSmallest(lightning=LightningOptions(known_voices={"sophia"})) as fake:
        tts = tts_for(fake, voice_id="ghost")
        with pytest.raises(ProviderError, match="Invalid Voice ID"):
            await tts.synthesize_http("Hello.")
        await tts.aclose()


async def test_http_401() -> None:
    async with FakeSmallest() as fake:
        tts = LightningTTS(api_key="sk_bad_http_key_999", base_url=fake.base_url, voice_id="sophia")
        with pytest.raises(ProviderError) as info:
            await tts.synthesize_http("Hello.")
        await tts.aclose()
    assert info.value.status == 401 and "SMALLEST_API_KEY" in str(info.value)
    assert "sk_bad_http_key_999" not in str(info.value)


async def test_fake_sse_stream_matches_documented_frames() -> None:
    import base64
    import json

    import httpx

    async with FakeSmallest() as fake, httpx.AsyncClient() as http:
        r = await http.post(
            f"{fake.base_url}/tts/live",
            headers={"Authorization": f"Bearer {fake.api_key}", "Accept": "text/event-stream"},
            json={"text": "Streaming words.", "voice_id": "sophia", "sample_rate": 8000},
        )
    assert r.headers["content-type"] == "text/event-stream"
    datas = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]
    assert datas[-1] == {"status": "200", "done": True}
    audio = b"".join(base64.b64decode(d["audio"]) for d in datas[:-1])
    assert audio == fake.lightning.audio_for("Streaming words.", 8000)
    assert r.text.count("event: audio") == len(datas) - 1
