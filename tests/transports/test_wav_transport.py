"""WavTransport: caller frames paced or fast, agent audio time-aligned on the caller's timeline."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from transport_helpers import read_mono, tone
from voiceagent.audio import AudioFrame, rms_dbfs
from voiceagent.transports.base import Transport
from voiceagent.transports.wav import WavTransport


def agent_tone(ms: float, rate: int = 24000) -> AudioFrame:
    x = np.round(tone(ms, rate, freq=800, amp=0.3) * 32767).astype("<i2")
    return AudioFrame(x.tobytes(), rate)


def first_loud_ms(x: np.ndarray, rate: int) -> float:
    idx = np.flatnonzero(np.abs(x) > 1000)
    return 1000.0 * idx[0] / rate if idx.size else float("inf")


def last_loud_ms(x: np.ndarray, rate: int) -> float:
    idx = np.flatnonzero(np.abs(x) > 1000)
    return 1000.0 * (idx[-1] + 1) / rate if idx.size else float("-inf")


@pytest.fixture
def caller_wav(tmp_wav):
    # 600 ms of "speech" at 44.1 kHz stereo, then 200 ms of silence
    speech = np.concatenate([tone(600, 44100, freq=300), np.zeros(int(0.2 * 44100))])
    return tmp_wav("caller.wav", speech, 44100, channels=2)


def test_is_an_audio_transport(caller_wav, tmp_path):
    t = WavTransport(caller_wav, tmp_path / "agent.wav")
    assert isinstance(t, Transport)
    assert t.kind == "audio" and t.plays_audio


async def test_frames_are_20ms_at_16k_and_include_trailing_silence(caller_wav, tmp_path):
    t = WavTransport(caller_wav, tmp_path / "agent.wav", fast=True, trailing_silence_ms=1500, hold_after_ms=None)
    frames = [f async for f in t.caller_audio()]
    assert all(f.sample_rate == 16000 for f in frames)
    assert all(f.samples == 320 for f in frames[:-1])
    total_ms = sum(f.duration_ms for f in frames)
    assert abs(total_ms - (800 + 1500)) <= 20
    # the appended tail is digital silence; the recording's start is not
    assert rms_dbfs(frames[-1]) == float("-inf")
    assert rms_dbfs(frames[5]) > -20
    await t.aclose()


async def test_fast_mode_virtual_clock_is_audio_consumed(caller_wav, tmp_path):
    t = WavTransport(caller_wav, tmp_path / "agent.wav", fast=True)
    seen = 0.0
    async for f in t.caller_audio():
        seen += f.duration_ms
        assert t.position_ms() == pytest.approx(seen)
        if seen >= 400:
            break
    await t.aclose()


async def test_real_time_pacing_follows_the_wall_clock(tmp_wav, tmp_path):
    path = tmp_wav("tiny.wav", tone(200, 16000), 16000)
    t = WavTransport(path, tmp_path / "agent.wav", trailing_silence_ms=100)
    start = time.monotonic()
    n = 0
    async for _ in t.caller_audio():
        n += 1
    elapsed_ms = 1000 * (time.monotonic() - start)
    assert n == 15
    # each frame is released only once its end time has passed: 300 ms of audio takes >= ~300 ms
    assert elapsed_ms >= 290
    await t.aclose()


async def test_agent_reply_is_placed_after_caller_speech_with_silence_elsewhere(caller_wav, tmp_path):
    out = tmp_path / "agent.wav"
    rec = tmp_path / "call.wav"
    t = WavTransport(caller_wav, out, fast=True, recording_path=rec, hold_after_ms=None)
    replied = False
    async for _ in t.caller_audio():
        # a "session": reply once 700 ms of caller audio (speech ends at 600) have been heard
        if not replied and t.position_ms() >= 700:
            replied = True
            for _ in range(25):  # 500 ms of agent audio in 20 ms TTS frames
                await t.play(agent_tone(20))
    await t.wait_played()
    assert t.played_ms() == pytest.approx(500, abs=1)
    await t.aclose()

    x, rate, ch = read_mono(out)
    assert rate == 24000 and ch == 1  # the TTS rate
    # as long as the caller timeline: 800 ms recording + 1500 ms trailing silence
    assert abs(1000 * len(x) / rate - 2300) < 25
    assert first_loud_ms(x, rate) == pytest.approx(700, abs=2)
    assert last_loud_ms(x, rate) == pytest.approx(1200, abs=2)
    assert np.all(x[: int(0.69 * rate)] == 0) and np.all(x[int(1.21 * rate) :] == 0)

    stereo, rate2, ch2 = read_mono(rec)
    assert ch2 == 2 and rate2 == 24000
    left, right = stereo.reshape(-1, 2).T
    assert first_loud_ms(left, rate) < 5 and last_loud_ms(left, rate) == pytest.approx(600, abs=5)
    assert np.array_equal(right, x)


async def test_back_to_back_replies_do_not_overlap(caller_wav, tmp_path):
    out = tmp_path / "agent.wav"
    t = WavTransport(caller_wav, out, fast=True, trailing_silence_ms=0)
    it = t.caller_audio().__aiter__()
    for _ in range(5):  # 100 ms into the call
        await it.__anext__()
    await t.play(agent_tone(300))
    await t.play(agent_tone(300))  # queued behind the first, not at the caller position
    await t.aclose()
    x, rate, _ = read_mono(out)
    assert first_loud_ms(x, rate) == pytest.approx(100, abs=2)
    assert last_loud_ms(x, rate) == pytest.approx(700, abs=2)


async def test_barge_in_clear_drops_audio_not_yet_played(caller_wav, tmp_path):
    out = tmp_path / "agent.wav"
    t = WavTransport(caller_wav, out, fast=True, trailing_silence_ms=0)
    it = t.caller_audio().__aiter__()
    await t.play(agent_tone(1000))  # greeting placed at 0..1000 ms
    for _ in range(15):  # caller speaks over it; at 300 ms the session barges in
        await it.__anext__()
    assert t.played_ms() == pytest.approx(300, abs=1)
    await t.clear()
    assert t.played_ms() == pytest.approx(300, abs=1)
    for _ in range(5):
        await it.__anext__()
    await t.play(agent_tone(100))  # the next reply starts at the caller position, 400 ms
    await t.aclose()
    x, rate, _ = read_mono(out)
    loud = np.abs(x) > 1000
    assert np.mean(loud[: int(0.29 * rate)]) > 0.9  # the greeting up to the barge-in
    assert not loud[int(0.305 * rate) : int(0.395 * rate)].any()
    assert last_loud_ms(x, rate) == pytest.approx(500, abs=2)


async def test_real_time_played_ms_follows_the_clock(tmp_wav, tmp_path):
    path = tmp_wav("tiny.wav", tone(100, 16000), 16000)
    t = WavTransport(path, tmp_path / "agent.wav", trailing_silence_ms=0)
    await t.play(agent_tone(150))
    assert t.played_ms() < 150  # queued, not yet heard
    await t.wait_played()
    assert t.played_ms() == pytest.approx(150, abs=1)
    await t.aclose()


async def test_wait_played_in_fast_mode_does_not_hang_when_nobody_reads(caller_wav, tmp_path):
    t = WavTransport(caller_wav, tmp_path / "agent.wav", fast=True)
    await t.play(agent_tone(2000))
    await asyncio.wait_for(t.wait_played(), 5)
    await t.aclose()


async def test_output_rate_can_be_chosen(caller_wav, tmp_path):
    out = tmp_path / "agent.wav"
    t = WavTransport(caller_wav, out, fast=True, output_rate=8000)
    await t.play(agent_tone(200))
    await t.aclose()
    x, rate, _ = read_mono(out)
    assert rate == 8000 and last_loud_ms(x, rate) == pytest.approx(200, abs=3)


async def test_fast_mode_holds_the_virtual_clock_while_the_agent_replies(tmp_wav, tmp_path):
    rate = 16000
    speech = np.concatenate([tone(400, rate), np.zeros(rate), tone(400, rate)])  # 0-400, 1400-1800 ms
    path = tmp_wav("two_turns.wav", speech, rate)
    out = tmp_path / "agent.wav"
    t = WavTransport(path, out, fast=True, hold_after_ms=600, hold_timeout_s=0.5, trailing_silence_ms=1000)
    eou = asyncio.Event()

    async def pump():  # the STT side: consume frames, report the first end of utterance
        async for _ in t.caller_audio():
            if t.position_ms() >= 400 + 600:
                eou.set()

    async def reply():  # the session side: think (wall time), speak, wait until played
        await eou.wait()
        await asyncio.sleep(0.3)
        for _ in range(10):
            await t.play(agent_tone(50))
        await t.wait_played()

    await asyncio.wait_for(asyncio.gather(pump(), reply()), 10)
    await t.aclose()
    assert t.holds == 2  # after each of the two utterances
    x, orate, _ = read_mono(out)
    # the reply sits where the clock held (1000 ms), not where a free-running clock would be
    assert first_loud_ms(x, orate) == pytest.approx(1000, abs=25)
    assert last_loud_ms(x, orate) == pytest.approx(1500, abs=25)


async def test_fast_mode_can_hold_at_start_for_the_greeting(tmp_wav, tmp_path):
    path = tmp_wav("late.wav", np.concatenate([np.zeros(8000), tone(300, 16000)]), 16000)  # speech at 500 ms
    out = tmp_path / "agent.wav"
    t = WavTransport(path, out, fast=True, hold_at_start=True, hold_after_ms=None)
    frames: list[AudioFrame] = []

    async def pump():
        async for f in t.caller_audio():
            frames.append(f)

    pumped = asyncio.create_task(pump())
    await asyncio.sleep(0.2)  # the greeting is being synthesized: the caller must not move on
    assert frames == [] and t.position_ms() == 0
    await t.play(agent_tone(400))
    await t.wait_played()  # the session ends the greeting turn
    await asyncio.wait_for(pumped, 5)
    await t.aclose()
    assert t.holds == 1
    x, rate, _ = read_mono(out)
    assert first_loud_ms(x, rate) == pytest.approx(0, abs=2)
    assert last_loud_ms(x, rate) == pytest.approx(400, abs=2)  # before the caller speaks at 500 ms


async def test_wait_played_cancelled_as_the_clock_reaches_the_end_stays_cancelled(caller_wav, tmp_path):
    """A barge-in cancels ``wait_played`` in the same loop step as the caller audio that ends the
    agent's playback: the cancellation must not be swallowed (``asyncio.wait_for`` on 3.11 did,
    and the session then logged the turn twice)."""
    t = WavTransport(caller_wav, tmp_path / "agent.wav", fast=True, hold_after_ms=None)
    frames = t.caller_audio()
    await frames.__anext__()
    await t.play(agent_tone(40))  # ends one frame after the caller position (20 ms)
    waiting = asyncio.create_task(t.wait_played())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    await frames.__anext__()  # the clock reaches the end of the agent audio (wakes the waiter) ...
    waiting.cancel()  # ... and the caller barges in in the same step
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await frames.aclose()
    await t.aclose()
