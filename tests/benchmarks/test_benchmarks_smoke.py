"""Each benchmark runs end to end with tiny parameters and writes valid JSON (no timing checks).

The benchmarks start the fake Pulse / Electron / Lightning servers (127.0.0.1, ephemeral ports)
in a child process and drive the real runtime; see benchmarks/*.py and docs/performance.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


def run(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run ``benchmarks/<script>`` with this interpreter; fail with its output on a bad exit."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_turn_latency_two_turns(tmp_path):
    out = tmp_path / "turn_latency.json"
    events = tmp_path / "call.jsonl"
    proc = run(
        "turn_latency.py",
        "--turns",
        "1",
        "--warmup",
        "0",
        "--synthetic",
        "--floor-n",
        "2",
        "--events",
        str(events),
        "--out",
        str(out),
    )
    data = json.loads(out.read_text())
    assert data["benchmark"] == "turn_latency"
    assert [t["kind"] for t in data["turns"]] == ["plain", "tool"]
    tool = data["turns"][1]
    # the answer after the tool comes after the filler, and after the injected provider delays
    assert tool["answer_ms"] > tool["first_ms"] > 0
    assert tool["answer_ms"] >= data["provider_delay_ms"]["answer_after_tool"]
    assert data["summary"]["plain_reply"]["latency_ms"]["n"] == 1
    assert data["error"] is None and data["caller_waits_timed_out"] == 0
    assert data["caller"] == "synthetic"
    assert "plain reply" in proc.stdout and str(out) in proc.stdout
    assert data["fake_floor_ms"]["llm"]["n"] == 2
    logged = [json.loads(line)["type"] for line in events.read_text().splitlines()]
    assert logged.count("user.transcript") == 2 and "tool.call" in logged


def test_concurrency_two_calls(tmp_path):
    out = tmp_path / "concurrency.json"
    run("concurrency.py", "--levels", "2", "--turns", "2", "--out", str(out))
    data = json.loads(out.read_text())
    (level,) = data["levels"]
    assert level["n"] == 2 and level["errors"] == 0
    assert level["turns"]["missing"] == 0 and level["turns"]["plain"] + level["turns"]["tool"] == 4
    assert level["overhead_ms"]["n"] >= 4
    assert level["cpu_s_per_call_minute"] > 0 and level["rss_peak_mb"] > 0
    assert data["largest_passing_n"] in (0, 2)


def test_validate_speed_small(tmp_path):
    out = tmp_path / "validate.json"
    run("validate_speed.py", "--files", "4", "--repeat", "1", "--out", str(out))
    data = json.loads(out.read_text())
    assert data["files"] == 4 and len(data["wall_s"]) == 1
    assert data["exit_codes"] == [0]


def test_hot_paths_small_with_patches(tmp_path):
    out = tmp_path / "hot.json"
    run("hot_paths.py", "--frames", "100", "--n", "200", "--patch", "pulse-40ms", "--out", str(out))
    data = json.loads(out.read_text())
    assert data["patches"] == ["pulse-40ms"]
    # every request streamed (a failure raises instead)
    assert set(data["llm_ms_per_request"]) == {"5_messages", "21_messages", "41_messages"}
    assert data["tts_chunks"] > 0 and data["pulse_push_us_per_frame"] > 0
    assert set(data["resample_us_per_frame"]) == {"8k_to_16k", "24k_to_8k", "one_shot_24k_to_8k"}


def test_session_cpu_runs_every_turn_and_writes_json(tmp_path):
    out = tmp_path / "session_cpu.json"
    proc = run("session_cpu.py", "--turns", "6", "--runs", "1", "--out", str(out), timeout=120)
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["turns"] == 6 and len(data["cpu_ms_per_turn"]) == 1
    assert data["cpu_ms_per_turn"][0] > 0 and "CPU per caller turn" in proc.stdout
