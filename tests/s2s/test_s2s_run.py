"""`voiceagent run agents/support.hydra.yaml --input ... --output ... --events ...` in a subprocess,
against the fake Smallest (Hydra + Pulse on 127.0.0.1): the recorded account question is answered
by the speech-to-speech model, with the tool call run by the runtime."""

from __future__ import annotations

import json
import os
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from voiceagent.testing.fake_smallest import FakeSmallest, HydraOptions, HydraTurn, PulseOptions

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cli"))
from test_run_bank import run_cli  # noqa: E402

AGENT = ROOT / "agents" / "support.hydra.yaml"
SAMPLE = ROOT / "samples" / "account_question.wav"
QUESTION = "Hi, can you check my account? The number is 12345."
ACCOUNT_TURN = HydraTurn(
    say="Sure, let me look that up.",
    tool_call={"name": "get_account_info", "arguments": {"account_id": "12345"}},
    then_say="You are on the Pro plan with forty two fifty due.",
)


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMALLEST_", "OPENAI_", "LLM_"))}
    env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT / "runtime"), **extra)
    return env


def loud_ms(path: Path, threshold: int = 1000) -> float:
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return 1000.0 * int(np.count_nonzero(np.abs(x) > threshold)) / rate


async def test_recorded_account_question_is_answered_through_hydra_with_the_runtime_running_the_tool(tmp_path):
    out, events_path = tmp_path / "out.wav", tmp_path / "e.jsonl"
    fakes = {"hydra": HydraOptions(turns=[ACCOUNT_TURN]), "pulse": PulseOptions(transcripts=[QUESTION])}
    async with FakeSmallest(**fakes) as fake:
        env = env_for(tmp_path, SMALLEST_API_KEY=fake.api_key, SMALLEST_BASE_URL=fake.base_url)
        args = [str(AGENT), "--input", str(SAMPLE), "--output", str(out), "--events", str(events_path)]
        code, stdout, err = await run_cli(args, env, "", timeout=90)
    assert code == 0, err
    # the startup lines say what runs instead of stt -> llm -> tts; the key never appears
    assert "s2s: smallest hydra-v1.1 voice zoe — speech_to_speech in the agent" in err
    assert "stt: smallest pulse" in err and "llm, tts: off — speech_to_speech answers" in err
    assert fake.api_key not in err + stdout

    # Hydra was configured once, with the rendered prompt, the greeting order and flat tools
    (conn,) = fake.hydra.connections
    assert conn.params["model"] == "hydra-v1.1"
    assert conn.configure is not None and conn.configure["voice"] == "zoe"
    assert "friendly phone support agent for Acme Corp" in conn.configure["instructions"]
    assert "Hi, this is Acme Corp support. How can I help?" in conn.configure["instructions"]
    assert conn.configure["generate_initial_response"] is True
    names = [t["name"] for t in conn.configure["tools"]]
    assert names == ["get_account_info", "create_ticket", "transfer_to_human", "end_call"]
    assert all("function" not in t and t["type"] == "function" for t in conn.configure["tools"])
    # continuous 16 kHz audio in 20 ms chunks, none before session.configured
    assert conn.audio_before_configured == 0 and set(conn.chunk_sizes) == {640}
    assert conn.audio_bytes >= 32 * 5870  # the whole recording (5.87 s) and more

    # the tool ran in the runtime (python tool of agents/tools/acme.py), its result went back
    (output,) = conn.tool_outputs
    assert output["type"] == "function_call_output"
    assert json.loads(output["output"])["name"] == "Priya Sharma"
    assert conn.response_creates == 1

    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    types = [e["type"] for e in events]
    for kind in ("session.start", "state.enter", "user.transcript", "tool.call", "tool.result", "agent.text"):
        assert kind in types, kind
    assert types[-2:] == ["call.end", "session.end"]
    start = events[0]
    assert start["mode"] == "speech_to_speech" and start["s2s"] == "smallest-hydra" and start["transcripts"] == "stt"
    assert next(e for e in events if e["type"] == "user.transcript")["text"] == QUESTION
    call = next(e for e in events if e["type"] == "tool.call")
    assert call["name"] == "get_account_info" and call["arguments"] == {"account_id": "12345"}
    result = next(e for e in events if e["type"] == "tool.result")
    assert result["ok"] is True and result["result"]["plan"] == "Pro"
    answer = [e for e in events if e["type"] == "agent.text" and e["turn"] == 1]
    assert len(answer) == 1 and answer[0]["interrupted"] is False
    assert answer[0]["text_source"] == "audio_only" and answer[0]["text"] is None
    assert answer[0]["audio_ms"] == pytest.approx(40 * (len(ACCOUNT_TURN.say) + len(ACCOUNT_TURN.then_say)), abs=50)
    (metrics,) = [e for e in events if e["type"] == "turn.metrics"]
    assert metrics["turn"] == 1 and metrics["tool_calls"] == 1 and metrics["responses"] == 2
    assert metrics["eou_to_first_audio_ms"] is not None and metrics["eou_to_first_audio_ms"] >= 0
    assert events[-1]["reason"] == "caller_ended" and events[-1]["turns"] == 1

    # the agent's answer (both responses, ~2.5 s of tone) is in the recording of the agent side
    assert loud_ms(out) >= 0.9 * answer[0]["audio_ms"]


async def test_without_a_key_the_run_stops_before_the_call_naming_the_variable(tmp_path):
    code, out, err = await run_cli(
        [str(AGENT), "--input", str(SAMPLE), "--output", str(tmp_path / "o.wav")], env_for(tmp_path), ""
    )
    assert code == 1
    assert "speech_to_speech.provider is smallest but SMALLEST_API_KEY is not set" in err
    assert "Traceback" not in err and not (tmp_path / "o.wav").exists()
