"""Issue 4 acceptance: `voiceagent run agents/support.yaml --input caller.wav --output agent.wav
--events e.jsonl` with SMALLEST_API_KEY / SMALLEST_BASE_URL pointing at the fakes (Pulse and
Lightning on one port, the fake OpenAI server mounted as Electron under /waves/v1/chat). A real
subprocess runs the real Pulse, Electron and Lightning clients; the LLM is scripted to call a tool."""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_run_bank import cli_env, run_cli
from test_run_wav import loud_spans
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply, ToolCall, ToolCallReply

ROOT = Path(__file__).resolve().parents[2]
AGENTS, SAMPLES = ROOT / "agents", ROOT / "samples"
REPLY = "Your plan is Fiber 500 and your balance is settled."


def caller_speech_end_ms(path: Path) -> float:
    """End (ms) of the last loud stretch of a mono PCM16 recording."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return loud_spans(x, rate, threshold=500)[-1][1]


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2"), w.getframerate()


async def run_support(tmp_path: Path, agent: Path, sample: Path, transcript: str, *, fast: bool = True):
    """Run the agent on ``sample`` against the fakes; returns (code, err, events, fake, llm)."""
    from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

    wav_out, events_path = tmp_path / "agent.wav", tmp_path / "e.jsonl"
    async with FakeOpenAI() as llm:
        llm.script(ToolCallReply([ToolCall("get_account_info", {"account_id": "12345"})]), TextReply(REPLY))
        async with FakeSmallest(
            pulse=PulseOptions(transcripts=[transcript]), mounts={"/waves/v1/chat": llm.port}
        ) as fake:
            env = cli_env(tmp_path, SMALLEST_API_KEY=fake.api_key, SMALLEST_BASE_URL=fake.base_url)
            args = [str(agent), "--input", str(sample), "--output", str(wav_out), "--events", str(events_path)]
            code, _, err = await run_cli(args + (["--fast"] if fast else []), env, "")
    events = [json.loads(line) for line in events_path.read_text().splitlines()] if events_path.exists() else []
    return code, err, events, fake, llm


async def test_support_call_with_a_tool_through_pulse_electron_and_lightning(tmp_path):
    pytest.importorskip("voiceagent.providers.smallest.llm")
    sample = SAMPLES / "account_question.wav"
    code, err, events, fake, llm = await run_support(
        tmp_path, AGENTS / "support.yaml", sample, "Hi, can you check my account? The number is 12345."
    )
    assert code == 0, err
    for slot in ("stt: smallest pulse", "llm: smallest electron", "tts: smallest"):
        assert slot in err
    assert fake.api_key not in err

    # the turn went STT -> LLM (tool call) -> tool -> LLM -> TTS
    types = [e["type"] for e in events]
    assert types[0] == "session.start" and types[-1] == "session.end"
    assert [e["text"] for e in events if e["type"] == "user.transcript"] == [
        "Hi, can you check my account? The number is 12345."
    ]
    (call,) = [e for e in events if e["type"] == "tool.call"]
    (result,) = [e for e in events if e["type"] == "tool.result"]
    assert call["name"] == result["name"] == "get_account_info" and call["arguments"] == {"account_id": "12345"}
    assert result["ok"] is True
    assert any(e["type"] == "agent.text" and REPLY in e["text"] for e in events)
    assert sorted(e["turn"] for e in events if e["type"] == "agent.text") == [0, 1]  # one per turn

    # Electron: streamed with usage, tools offered, the tool result sent back; X-Request-Id kept
    reqs = llm.chat_requests
    assert len(reqs) == 2
    assert all(r.body["stream"] and r.body["stream_options"]["include_usage"] for r in reqs)
    assert "get_account_info" in {t["function"]["name"] for t in reqs[0].body["tools"]}
    assert reqs[1].body["messages"][-1]["role"] == "tool" and "Priya Sharma" in reqs[1].body["messages"][-1]["content"]
    (metrics,) = [e for e in events if e["type"] == "turn.metrics"]
    assert metrics["request_ids"] == [r.request_id for r in reqs] and metrics["request_id"] == reqs[1].request_id
    assert metrics["prompt_tokens"] > 0 and metrics["tool_calls"] == 1
    assert metrics["eou_to_first_token_ms"] >= 0 and metrics["eou_to_first_audio_ms"] >= 0

    # Pulse heard the caller in English; Lightning spoke the filler and the reply in the agent's voice
    assert fake.pulse.connections[0].params["language"] == "en"
    texts = [r.body["text"] for r in fake.lightning.requests]
    assert "Let me check your account." in texts and REPLY in texts
    assert {r.body["voice_id"] for r in fake.lightning.requests} == {"meher"}

    # agent audio in the WAV, the answer after the caller stopped speaking
    x, rate = read_wav(tmp_path / "agent.wav")
    spans = loud_spans(x, rate)
    speech_end = caller_speech_end_ms(sample)
    after = [(a, b) for a, b in spans if a >= speech_end]
    assert after, (spans, speech_end)
    assert sum(b - a for a, b in after) >= 40 * len(REPLY) - 30  # the whole reply (40 ms per char)


async def test_hindi_variant_sends_hindi_to_pulse_and_a_hindi_voice_to_lightning(tmp_path):
    pytest.importorskip("voiceagent.providers.smallest.llm")
    from voiceagent.providers.smallest.models import check_voice

    code, err, events, fake, _ = await run_support(
        tmp_path, AGENTS / "support.hi.yaml", SAMPLES / "account_question.hi.wav", "मेरा खाता नंबर 12345 है।"
    )
    assert code == 0, err
    assert {c.params["language"] for c in fake.pulse.connections} == {"hi"}
    bodies = [r.body for r in fake.lightning.requests]
    assert bodies and {b["language"] for b in bodies} == {"hi"}
    voices = {(b.get("model"), b["voice_id"]) for b in bodies}
    assert {v for _, v in voices} == {"meher"}
    assert check_voice("lightning_v3.1_pro", "meher", "hi") == []  # a Hindi-capable voice
    texts = [b["text"] for b in bodies]
    assert "मैं आपका खाता देख रही हूँ।" in texts  # the Hindi filler of the tool
    assert [e["text"] for e in events if e["type"] == "user.transcript"] == ["मेरा खाता नंबर 12345 है।"]
