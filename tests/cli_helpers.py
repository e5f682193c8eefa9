"""``python -m voiceagent run ARGS`` as a real subprocess, shared by the CLI and fault tests."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def voiceagent_run(
    args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 60.0, cwd: Path = ROOT
) -> tuple[int, str, str, float]:
    """Run ``voiceagent run ARGS`` with exactly ``env``, feeding ``stdin``.

    Returns:
        (exit code, stdout, stderr, seconds it took).

    Raises:
        AssertionError: it did not finish within ``timeout`` seconds (it is killed; the message
            holds what it printed).
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceagent",
        "run",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(cwd),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"voiceagent run did not finish in {timeout} s:\n{out.decode()}\n{err.decode()}") from None
    return proc.returncode or 0, out.decode(), err.decode(), loop.time() - started
