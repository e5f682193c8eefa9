"""Issue 10 class 8: ``voiceagent run`` never overwrites what it reads, and says clearly when it
cannot write (a real subprocess: the process's exit code and output are the point).
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest
from faults_helpers import run_cli

AGENT = """\
version: 1
name: paths
prompt: You help callers.
llm: {provider: openai, base_url: "http://127.0.0.1:9/v1", model: tiny}
"""


def agent_file(tmp_path: Path) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(AGENT)
    return path


def caller_wav(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.zeros(int(seconds * rate), "<i2").tobytes())
    return path


def one_line_error(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("spelling", ["same", "relative", "symlink", "hardlink"])
async def test_output_equal_to_input_is_refused_and_the_recording_survives(tmp_path, spelling):
    agent = agent_file(tmp_path)
    wav = caller_wav(tmp_path / "caller.wav")
    before = wav.read_bytes()
    if spelling == "same":
        out = str(wav)
    elif spelling == "relative":
        (tmp_path / "sub").mkdir()
        out = str(tmp_path / "sub" / ".." / "caller.wav")
    elif spelling == "symlink":
        os.symlink(wav, tmp_path / "agent_out.wav")
        out = str(tmp_path / "agent_out.wav")
    else:
        os.link(wav, tmp_path / "agent_out.wav")
        out = str(tmp_path / "agent_out.wav")
    code, out_text, err, _ = await run_cli([str(agent), "--input", str(wav), "--output", out], timeout=30)
    assert code == 2
    assert "--output" in one_line_error(err) and "would be overwritten" in err
    assert wav.read_bytes() == before
    assert "agent:" not in out_text


@pytest.mark.parametrize("target", ["agent", "agent_relative", "input"])
async def test_events_equal_to_an_input_is_refused(tmp_path, target):
    agent = agent_file(tmp_path)
    wav = caller_wav(tmp_path / "caller.wav")
    yaml_before, wav_before = agent.read_bytes(), wav.read_bytes()
    events = {"agent": str(agent), "agent_relative": "agent.yaml", "input": str(wav)}[target]
    code, _, err, _ = await run_cli(
        [str(agent), "--input", str(wav), "--output", str(tmp_path / "out.wav"), "--events", events],
        timeout=30,
        cwd=tmp_path,
    )
    assert code == 2
    assert "--events" in one_line_error(err)
    assert agent.read_bytes() == yaml_before and wav.read_bytes() == wav_before


async def test_events_equal_to_the_agent_file_in_text_mode_too(tmp_path):
    agent = agent_file(tmp_path)
    before = agent.read_bytes()
    code, _, err, _ = await run_cli([str(agent), "--text", "--events", str(agent)], stdin="hi\n", timeout=30)
    assert code == 2 and "the agent file" in one_line_error(err)
    assert agent.read_bytes() == before


async def test_two_outputs_on_one_file_are_refused(tmp_path):
    agent = agent_file(tmp_path)
    wav = caller_wav(tmp_path / "caller.wav")
    out = tmp_path / "out.wav"
    code, _, err, _ = await run_cli(
        [str(agent), "--input", str(wav), "--output", str(out), "--recording", str(out)], timeout=30
    )
    assert code == 2 and "same file" in one_line_error(err)


@pytest.mark.parametrize(
    "events",
    ["/proc/voiceagent-no-such-dir/e.jsonl", "/sys/e.jsonl", "{agent}/e.jsonl", "/dev/full"],
)
async def test_events_at_an_unwritable_path_is_one_line_and_exit_1(tmp_path, events):
    agent = agent_file(tmp_path)
    events = events.format(agent=agent)
    code, out, err, _ = await run_cli([str(agent), "--text", "--events", events], stdin="hi\n", timeout=30)
    assert code == 1, err
    line = one_line_error(err) if events != "/dev/full" else err
    assert "Traceback" not in err
    assert events.split("/")[1] in line or "space" in line.lower()
