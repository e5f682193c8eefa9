"""`voiceagent run --input caller.wav --output agent.wav --fast` through the whole voice pipeline:
real Pulse/Lightning/Electron clients in a subprocess against the local fake Smallest servers."""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_run_bank import cli_env, run_cli
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply

AGENT = """\
version: 1
name: hours
prompt: You tell callers the opening hours.
greeting: "Hello."
stt: {provider: smallest, eou_timeout_ms: 600}
llm: {provider: smallest}
tts: {provider: smallest, sample_rate: 24000}
voice: {id: sophia}
"""
REPLY = "We are open nine to five."


def caller_wav(path: Path, rate: int = 48000) -> Path:
    """Stereo 48 kHz: 1 s silence, 1 s of "speech" (a tone), 0.3 s silence."""
    t = np.arange(rate) / rate
    speech = np.round(0.3 * 32767 * np.sin(2 * np.pi * 300 * t)).astype("<i2")
    mono = np.concatenate([np.zeros(rate, "<i2"), speech, np.zeros(int(0.3 * rate), "<i2")])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(mono[:, None], 2, axis=1).tobytes())
    return path


def loud_spans(x: np.ndarray, rate: int, threshold: int = 1000, gap_ms: float = 50) -> list[tuple[float, float]]:
    """(start_ms, end_ms) of stretches above ``threshold``, merging gaps shorter than ``gap_ms``."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    if idx.size == 0:
        return []
    spans, start, prev = [], idx[0], idx[0]
    for i in idx[1:]:
        if i - prev > gap_ms * rate / 1000:
            spans.append((start, prev + 1))
            start = i
        prev = i
    spans.append((start, prev + 1))
    return [(1000 * a / rate, 1000 * b / rate) for a, b in spans]


async def test_recorded_caller_through_the_voice_pipeline(tmp_path):
    pytest.importorskip("voiceagent.engine.session")
    pytest.importorskip("voiceagent.providers.smallest.llm")
    from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

    agent = tmp_path / "hours.yaml"
    agent.write_text(AGENT)
    wav_in = caller_wav(tmp_path / "caller.wav")
    wav_out, rec, events_path = tmp_path / "agent.wav", tmp_path / "call.wav", tmp_path / "call.jsonl"
    async with FakeOpenAI() as llm:
        llm.script(TextReply(REPLY))
        async with FakeSmallest(
            pulse=PulseOptions(transcripts=["when are you open"]), mounts={"/waves/v1/chat": llm.port}
        ) as fake:
            env = cli_env(tmp_path, SMALLEST_API_KEY=fake.api_key, SMALLEST_BASE_URL=fake.base_url)
            code, out, err = await run_cli(
                [
                    str(agent),
                    "--input",
                    str(wav_in),
                    "--output",
                    str(wav_out),
                    "--fast",
                    "--recording",
                    str(rec),
                    "--events",
                    str(events_path),
                ],
                env,
                "",
            )
            assert code == 0, err
            # Pulse got the caller at 16 kHz mono, the key only as a Bearer header
            assert fake.pulse.connections[0].params["sample_rate"] == "16000"
            assert fake.pulse.connections[0].params["language"] == "en"

    assert "stt: smallest pulse — stt.provider: smallest in the agent" in err
    assert f"agent audio: {wav_out}" in err
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert [e["text"] for e in events if e["type"] == "user.transcript"] == ["when are you open"]
    assert any(e["type"] == "agent.text" and e["text"] == REPLY for e in events)

    with wave.open(str(wav_out), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    assert (rate, channels) == (24000, 1)
    # as long as the caller's timeline: 2.3 s recording + 1.5 s of appended silence
    assert 1000 * len(x) / rate >= 3800 - 25
    spans = loud_spans(x, rate)
    assert len(spans) == 2, spans  # the greeting, then the reply; silence elsewhere
    (g0, g1), (r0, r1) = spans
    assert g0 < 30 and abs((g1 - g0) - 240) < 30  # "Hello." = 6 chars x 40 ms
    assert r0 >= 2000  # the reply starts after the caller stopped speaking (2.0 s)
    assert abs((r1 - r0) - 40 * len(REPLY)) < 30

    with wave.open(str(rec), "rb") as w:
        assert w.getnchannels() == 2
        stereo = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2)
    caller_spans = loud_spans(stereo[:, 0], rate)
    assert len(caller_spans) == 1 and abs(caller_spans[0][0] - 1000) < 30 and abs(caller_spans[0][1] - 2000) < 30
    assert np.array_equal(stereo[:, 1], x)


async def test_real_time_keeps_the_agents_latency_on_the_timeline(tmp_path):
    pytest.importorskip("voiceagent.engine.session")
    pytest.importorskip("voiceagent.providers.smallest.llm")
    from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

    agent = tmp_path / "hours.yaml"
    agent.write_text(AGENT.replace('greeting: "Hello."\n', ""))
    rate = 16000
    mono = np.concatenate(
        [
            np.zeros(rate // 2),
            np.round(0.3 * 32767 * np.sin(2 * np.pi * 300 * np.arange(int(0.6 * rate)) / rate)),
            np.zeros(rate // 5),
        ]
    ).astype("<i2")  # speech 500-1100 ms
    wav_in = tmp_path / "caller.wav"
    with wave.open(str(wav_in), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(mono.tobytes())
    wav_out = tmp_path / "agent.wav"
    async with FakeOpenAI() as llm:
        llm.script(TextReply("Nine to five.", first_token_delay_s=0.8))
        async with FakeSmallest(pulse=PulseOptions(transcripts=["hours"]), mounts={"/waves/v1/chat": llm.port}) as fake:
            env = cli_env(tmp_path, SMALLEST_API_KEY=fake.api_key, SMALLEST_BASE_URL=fake.base_url)
            code, _, err = await run_cli([str(agent), "--input", str(wav_in), "--output", str(wav_out)], env, "")
    assert code == 0, err
    with wave.open(str(wav_out), "rb") as w:
        orate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    spans = loud_spans(x, orate)
    assert len(spans) == 1, spans
    start, end = spans[0]
    # EOU after 600 ms of silence (1700 ms) + 800 ms before the LLM's first token: >= 2500 ms
    assert start >= 2450
    assert abs((end - start) - 40 * len("Nine to five.")) < 30
    # the caller hung up at 2800 ms (1500 ms of appended silence); the agent's last words still count
    assert 1000 * len(x) / orate >= end


async def test_fast_multi_turn_recording_keeps_turn_taking(tmp_path):
    pytest.importorskip("voiceagent.engine.session")
    pytest.importorskip("voiceagent.providers.smallest.llm")
    from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

    sample = Path(__file__).resolve().parents[2] / "samples" / "multi_turn.wav"
    if not sample.exists():
        pytest.skip("samples/multi_turn.wav not generated")
    agent = tmp_path / "hours.yaml"
    agent.write_text(AGENT)
    events_path = tmp_path / "ev.jsonl"
    async with FakeOpenAI() as llm:
        llm.script(
            TextReply("Sure, what is the number?", first_token_delay_s=0.2),
            TextReply("Thanks, I found it.", first_token_delay_s=0.2),
        )
        async with FakeSmallest(
            pulse=PulseOptions(transcripts=["check my account", "it is 12345"]), mounts={"/waves/v1/chat": llm.port}
        ) as fake:
            env = cli_env(tmp_path, SMALLEST_API_KEY=fake.api_key, SMALLEST_BASE_URL=fake.base_url)
            code, _, err = await run_cli(
                [
                    str(agent),
                    "--input",
                    str(sample),
                    "--output",
                    str(tmp_path / "a.wav"),
                    "--fast",
                    "--output-rate",
                    "8000",
                    "--events",
                    str(events_path),
                ],
                env,
                "",
            )
    assert code == 0, err
    with wave.open(str(tmp_path / "a.wav"), "rb") as w:
        assert w.getframerate() == 8000  # --output-rate instead of the TTS rate (24000)
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert [e["text"] for e in events if e["type"] == "user.transcript"] == ["check my account", "it is 12345"]
    said = [(e["text"], e["interrupted"]) for e in events if e["type"] == "agent.text"]
    assert said == [("Hello.", False), ("Sure, what is the number?", False), ("Thanks, I found it.", False)]
    assert not [e for e in events if e["type"] == "agent.interrupted"]
