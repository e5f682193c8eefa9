"""The runtime's fixed lines (fillers, the fallback) are synthesised once per call and played again
from memory; a failed, cut or interrupted synthesis is never kept, and ordinary sentences are
always synthesised."""

from __future__ import annotations

import asyncio

from voiceagent.engine import speaker as speaker_module
from voiceagent.engine.speaker import Speaker
from voiceagent.testing.fakes import FakeTransport, FakeTTS

FILLER = "Let me check your account."


def _speaker(tts: FakeTTS, transport: FakeTransport, errors: list | None = None) -> Speaker:
    return Speaker(transport, tts, clock_ms=lambda: 0.0, on_error=(errors if errors is not None else []).append)


def _pcm(transport: FakeTransport, start: int = 0) -> bytes:
    return b"".join(p.frame.pcm for p in transport.played[start:])


async def test_a_fixed_line_is_synthesised_once_and_played_again_from_memory():
    tts, transport = FakeTTS(), FakeTransport("audio")
    speaker = _speaker(tts, transport)
    first = await speaker.say(FILLER, keep=True)
    await speaker.drain()
    played = len(transport.played)
    await speaker.say("Your balance is 42 dollars.")
    second = await speaker.say(FILLER, keep=True)
    await speaker.drain()
    assert tts.texts == [FILLER, "Your balance is 42 dollars."]  # the filler was not asked for again
    assert _pcm(transport, len(transport.played) - played) == tts.pcm_for(FILLER)  # the same audio, in full
    assert first is not None and second is not None and second.done and second.dur_ms == first.dur_ms
    assert second.start_ms is not None and second.start_ms > first.start_ms  # its own place on the timeline


async def test_ordinary_sentences_are_synthesised_every_time():
    tts, transport = FakeTTS(), FakeTransport("audio")
    speaker = _speaker(tts, transport)
    for _ in range(2):
        await speaker.say(FILLER)
    await speaker.drain()
    assert tts.texts == [FILLER, FILLER]


async def test_a_failed_synthesis_is_not_kept():
    tts, transport, errors = FakeTTS(fail_on=[FILLER]), FakeTransport("audio"), []
    speaker = _speaker(tts, transport, errors)
    await speaker.say(FILLER, keep=True)
    await speaker.drain()
    tts.fail_on.clear()  # the TTS is back
    await speaker.say(FILLER, keep=True)
    await speaker.drain()
    assert len(errors) == 1 and tts.texts == [FILLER, FILLER]  # synthesised again, nothing replayed
    assert _pcm(transport) == tts.pcm_for(FILLER)


async def test_a_line_cut_by_barge_in_is_not_kept():
    tts = FakeTTS(chunk_delay=0.02)
    transport = FakeTransport("audio")
    speaker = _speaker(tts, transport)
    await speaker.say(FILLER, keep=True)
    await asyncio.sleep(0.05)
    await speaker.stop()  # the caller spoke over it
    await speaker.say(FILLER, keep=True)
    await speaker.drain()
    assert tts.texts == [FILLER, FILLER]
    assert tts.requests[1].finished


async def test_at_most_the_newest_kept_lines_are_held(monkeypatch):
    monkeypatch.setattr(speaker_module, "KEPT_LINES", 2)
    tts, transport = FakeTTS(), FakeTransport("audio")
    speaker = _speaker(tts, transport)
    for text in ["One.", "Two.", "Three.", "Three.", "One."]:
        await speaker.say(text, keep=True)
    await speaker.drain()
    assert tts.texts == ["One.", "Two.", "Three.", "One."]  # "One." was dropped for "Three."


async def test_the_fallback_is_a_fixed_line_wherever_it_is_said():
    fallback = "Sorry, could you repeat that?"
    tts, transport = FakeTTS(fail_on=["Your balance is 42 dollars."]), FakeTransport("audio")
    speaker = Speaker(transport, tts, clock_ms=lambda: 0.0, on_error=[].append, fallback=fallback)
    await speaker.say("Your balance is 42 dollars.")  # fails: the fallback is said instead
    await speaker.say(fallback)  # the session's own fallback later in the call
    await speaker.drain()
    assert tts.texts == ["Your balance is 42 dollars.", fallback]  # synthesised once, heard twice
    assert _pcm(transport) == tts.pcm_for(fallback) * 2
