"""Background model loads (``providers.local.models.warm_in_background``) end before the process does.

A daemon loader thread still inside CTranslate2's loader when the interpreter exited aborted the
process ("terminate called without an active exception", exit status 134): seen when a short test
run ended 0.15 s after a ``LocalSTT`` was built. The loader thread is therefore not a daemon, and
the interpreter waits for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RUNTIME = str(Path(__file__).resolve().parents[2] / "runtime")


def test_the_loader_thread_is_waited_for_at_exit(tmp_path):
    done_file = tmp_path / "loaded"
    code = (
        "import time\n"
        "from voiceagent.providers.local.models import warm_in_background\n"
        "def load(path):\n"
        "    time.sleep(0.5)\n"
        "    open(path, 'w').write('ok')\n"
        f"thread = warm_in_background(load, {str(done_file)!r})\n"
        "assert not thread.daemon\n"
    )  # the main thread ends at once, while the load sleeps
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (RUNTIME, os.environ.get("PYTHONPATH")) if p)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-500:]
    assert done_file.read_text() == "ok"
