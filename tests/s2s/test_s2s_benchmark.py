"""benchmarks/s2s_latency.py runs (smoke: one plain and one tool turn) and its numbers add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_s2s_latency_smoke(tmp_path):
    out = tmp_path / "s2s.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "s2s_latency.py"), "--turns", "1", "--warmup", "0"]
    proc = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["benchmark"] == "s2s_latency"
    assert data["assumed_delays_ms"] == {"hydra_end_of_speech": 500.0, "hydra_response_delay": 200.0}
    plain, tool = data["plain_answer"], data["tool_answer"]
    assert plain["latency_ms"]["n"] == 1 and tool["latency_ms"]["n"] == 1
    # the answer cannot come before the model's own delays, and the runtime adds little
    assert 680 <= plain["latency_ms"]["p50"] < 1000
    assert tool["latency_ms"]["p50"] > plain["latency_ms"]["p50"] + 350  # debounce + a second response
    assert data["downlink_overhead_ms"]["max"] < 100
    assert "plain answer overhead" in proc.stdout
