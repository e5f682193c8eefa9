"""Helpers for the fault tests: write an agent folder, run a real call through ``build_call``."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def write_agent(folder: Path, yaml_text: str, **modules: str) -> Path:
    """``folder/agent.yaml`` plus ``folder/<name>.py`` for each module; returns the agent path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source)
    path = folder / "agent.yaml"
    path.write_text(yaml_text)
    return path


async def run_call(
    agent_path: Path, *, llm: Any, transport: Any, stt: Any = None, tts: Any = None, timeout: float = 15.0
) -> tuple[Any, str]:
    """Load ``agent_path``, build the call with ``build_call`` and run it; returns (call, reason)."""
    from voiceagent.config.load import load_agent
    from voiceagent.engine.call import build_call

    loaded = load_agent(agent_path, env={})
    providers = SimpleNamespace(stt=stt, llm=llm, tts=tts)
    async with build_call(loaded, providers, transport, env={}) as call:
        reason = await asyncio.wait_for(call.run(), timeout)
    return call, reason


async def run_cli(
    args: list[str], *, env: dict[str, str] | None = None, stdin: str = "", timeout: float = 60.0, cwd: Path = ROOT
) -> tuple[int, str, str, float]:
    """``python -m voiceagent run ARGS`` as a subprocess; returns (code, stdout, stderr, seconds)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SMALLEST_", "OPENAI_", "LLM_"))}
    base.update(PYTHONUNBUFFERED="1", **(env or {}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "voiceagent",
        "run",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=base,
        cwd=str(cwd),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError(f"voiceagent run did not finish in {timeout} s:\n{out.decode()}\n{err.decode()}") from None
    return proc.returncode or 0, out.decode(), err.decode(), loop.time() - started
