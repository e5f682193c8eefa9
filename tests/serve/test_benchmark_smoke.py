"""benchmarks/serve_capacity.py runs end to end (2 calls, 1 turn) and writes its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_serve_capacity_smoke(tmp_path):
    out = tmp_path / "s.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "runtime")}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "serve_capacity.py"), "--levels", "2", "--turns", "1"]
    proc = subprocess.run(
        cmd + ["--gap-s", "3", "--out", str(out)], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.read_text())
    level = result["levels"][0]
    assert level["n"] == 2 and level["errors"] == 0 and level["unanswered"] == 0
    assert level["turns"] == 2 and level["overhead_ms"]["p50"] is not None
    assert level["cpu_s_per_call_minute"] > 0 and level["rss_per_call_mb"] >= 0
