"""Helpers of the speech-to-speech tests: caller recordings made of tone and silence, and one
in-process call (load_agent -> resolve_providers -> build_call) through a real-time WAV transport
against the fake Smallest (Hydra, Pulse) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import textwrap
import wave
from pathlib import Path
from typing import Any

import numpy as np
from voiceagent.config.load import load_agent
from voiceagent.engine.call import build_call
from voiceagent.providers.registry import resolve_providers
from voiceagent.testing.fake_smallest import FakeSmallest
from voiceagent.transports.wav import WavTransport

RATE = 16000

TOOLS_PY = """
import asyncio

def get_account_info(account_id, ctx=None):
    return {"found": True, "account_id": account_id, "plan": "Pro", "holder": "Priya Sharma"}

def lookup_customer(ctx=None):
    return {"found": True, "dob": "1990-01-01"}

def get_balance(ctx=None):
    return {"balance": 42.5}

async def slow_lookup(account_id, ctx=None):
    await asyncio.sleep(0.6)
    return {"found": True}
"""


def caller_wav(path: Path, segments: list[tuple[str, float]]) -> Path:
    """A 16 kHz mono WAV of ``("speech", ms)`` (a loud 300 Hz tone) and ``("silence", ms)`` pieces."""
    parts = []
    for kind, ms in segments:
        n = int(RATE * ms / 1000)
        t = np.arange(n) / RATE
        parts.append(np.round(8000 * np.sin(2 * np.pi * 300 * t)) if kind == "speech" else np.zeros(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.concatenate(parts).astype("<i2").tobytes())
    return path


def agent_file(tmp_path: Path, yaml_text: str) -> Path:
    (tmp_path / "s2stools.py").write_text(TOOLS_PY)
    path = tmp_path / "agent.yaml"
    path.write_text(textwrap.dedent(yaml_text))
    return path


async def run_call(
    tmp_path: Path,
    fake: FakeSmallest,
    agent: Path,
    segments: list[tuple[str, float]],
    *,
    timeout: float = 40,
    **env: str,
) -> tuple[Any, WavTransport, str]:
    """One call of ``agent`` with the recording ``segments``; returns (call, transport, end reason)."""
    environ = {"SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url, **env}
    loaded = load_agent(agent, env=environ)
    providers = resolve_providers(loaded.agent, env=environ, audio=True)
    transport = WavTransport(caller_wav(tmp_path / "caller.wav", segments), tmp_path / "agent.wav")
    try:
        async with build_call(loaded, providers, transport, env=environ) as call:
            reason = await asyncio.wait_for(call.run(), timeout)
    finally:
        await transport.aclose()
        await providers.aclose()
    return call, transport, reason


def of(call: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in call.events.events if e["type"] == kind]


def loud_ms(path: Path, start_ms: float = 0.0, end_ms: float | None = None, threshold: int = 1000) -> float:
    """Milliseconds of loud samples in ``path`` between ``start_ms`` and ``end_ms``."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    x = x[int(start_ms * rate / 1000) : None if end_ms is None else int(end_ms * rate / 1000)]
    return 1000.0 * int(np.count_nonzero(np.abs(x) > threshold)) / rate
