"""End to end on the embedded offline stack, through the real CLI, with no API key.

caller WAV (espeak-ng and flite voices, not the agent's Piper voice) -> faster-whisper tiny.en +
Silero VAD -> Qwen2.5-0.5B on llama.cpp (tool call for an account question) -> Piper -> agent
WAV, as ``README`` tells a new user to run it::

    voiceagent run agents/support.yaml --input samples/account_question.espeak.wav \\
        --output OUT.wav --events E.jsonl --fast

Slow (the models load; a cold prompt is evaluated once, then kept on disk): marked
``local_models``; bounded by a subprocess timeout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from voiceagent.audio import AudioFrame, rms_dbfs

pytestmark = [pytest.mark.local_models, pytest.mark.needs_local()]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
RUN_TIMEOUT_S = 150
WINDOW_MS = 50
SPEECH_DBFS = -40.0
"""A 50 ms window louder than this is speech (Piper speech sits around -20 dBFS; silence is
digital zero or near it)."""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SMALLEST_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _voiceagent(*args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """``voiceagent ARGS`` as a user runs it (the console script next to this interpreter)."""
    return subprocess.run(
        [sys.executable, "-m", "voiceagent", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _windows(path: Path) -> tuple[list[float], int]:
    """(dBFS of each 50 ms window, sample rate) of a mono PCM16 WAV."""
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    step = rate * WINDOW_MS // 1000
    return [rms_dbfs(AudioFrame(pcm[i : i + step].tobytes(), rate)) for i in range(0, len(pcm), step)], rate


@pytest.mark.parametrize(
    "sample",
    # callers in two voices other than the agent's own TTS voice (Piper joe): the recognizer must
    # hear a voice it was not tuned on (espeak-ng's "account" was heard as "count" before the
    # agent's vocabulary was given to Whisper)
    ["account_question.espeak.wav", "account_question.flite.wav"],
)
def test_account_question_is_answered_aloud_with_the_tool_called(tmp_path, sample):
    out, log = tmp_path / "agent.wav", tmp_path / "events.jsonl"
    proc = _voiceagent(
        "run",
        "agents/support.yaml",
        "--input",
        str(SAMPLES / sample),
        "--output",
        str(out),
        "--events",
        str(log),
        "--fast",
    )
    assert proc.returncode == 0, proc.stderr
    assert "llm: local" in proc.stderr and "no SMALLEST_API_KEY" in proc.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session.start" and kinds[-1] == "session.end", kinds
    assert all("t_ms" in e for e in events)

    said = [e["text"] for e in events if e["type"] == "user.transcript"]
    assert len(said) == 1, events
    assert "account" in said[0].lower() and "12345" in re.sub(r"[\s,.-]", "", said[0]), said  # "1-2-3-4-5" too

    call = next((i for i, e in enumerate(events) if e["type"] == "tool.call"), None)
    assert call is not None, events
    assert events[call]["name"] == "get_account_info"
    assert events[call]["arguments"] == {"account_id": "12345"}
    result = next(e for e in events[call:] if e["type"] == "tool.result")
    assert result["ok"] is True and result["result"]["name"] == "Priya Sharma", result

    answers = [e["text"] for e in events[call:] if e["type"] == "agent.text" and e["text"]]
    facts = ("priya", "sharma", "42.5", "pro plan", "active", "december 1", "2026-12-01")
    assert any(f in t.lower() for t in answers for f in facts), answers
    assert not any(e["type"] == "turn.timeout" for e in events), events

    caller, in_rate = _windows(SAMPLES / sample)
    speech_end = max(i for i, db in enumerate(caller) if db > SPEECH_DBFS) + 1
    agent, out_rate = _windows(out)
    after = agent[speech_end:]
    loud = [db for db in after if db > SPEECH_DBFS]
    assert len(loud) * WINDOW_MS >= 1500, (  # at least 1.5 s of agent speech after the caller's
        f"{len(loud) * WINDOW_MS} ms of agent audio after the caller stopped at "
        f"{speech_end * WINDOW_MS} ms (in {in_rate} Hz, out {out_rate} Hz)"
    )


def test_hindi_agent_without_a_key_stops_before_the_call_with_a_plain_reason(tmp_path):
    out = tmp_path / "agent.wav"
    proc = _voiceagent(
        "run",
        "agents/support.hi.yaml",
        "--input",
        str(SAMPLES / "account_question.hi.wav"),
        "--output",
        str(out),
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    message = proc.stderr.strip()
    assert "Traceback" not in message and not out.exists()
    assert "SMALLEST_API_KEY" in message and "--text" in message, message
    assert "English" in message  # says why: the offline recognizer is English only
