"""Helpers for the fault tests: write an agent folder, run a real call through ``build_call``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cli_helpers import voiceagent_run

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
    """``python -m voiceagent run ARGS`` as a subprocess with no provider keys set (plus ``env``);
    returns (code, stdout, stderr, seconds)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SMALLEST_", "OPENAI_", "LLM_"))}
    base.update(PYTHONUNBUFFERED="1", **(env or {}))
    return await voiceagent_run(args, base, stdin, timeout, cwd)
