"""Shared pieces of the serve tests: the Smallest + Electron fakes, the real server on uvicorn
(127.0.0.1, ephemeral port) in-process, and caller audio from samples/."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from voiceagent.serve.app import create_app
from voiceagent.serve.calls import CallRegistry
from voiceagent.serve.catalogue import Catalogue
from voiceagent.serve.metrics import ServeMetrics
from voiceagent.serve.runner import ServeContext
from voiceagent.serve.server import _Server
from voiceagent.testing.fake_openai import FakeOpenAI
from voiceagent.testing.fake_smallest import FakeSmallest, LightningOptions, PulseOptions
from voiceagent.transports.wav import read_wav

ROOT = Path(__file__).resolve().parents[2]
AGENTS = ROOT / "agents"
SAMPLES = ROOT / "samples"

HOURS_AGENT = """\
version: 1
name: hours
language: en
prompt: You tell callers the opening hours.
greeting: "Hello, how can I help?"
stt: {{provider: smallest, eou_timeout_ms: 600}}
llm: {{provider: smallest}}
tts: {{provider: smallest, sample_rate: 24000}}
voice: {{id: sophia}}
{extra}
"""


def hours_agent(folder: Path, name: str = "hours", extra: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(HOURS_AGENT.format(extra=extra).replace("name: hours", f"name: {name}"))
    return path


def caller_pcm(sample: str = "account_question.wav", rate: int = 8000) -> bytes:
    return read_wav(SAMPLES / sample, rate).pcm


@dataclass
class Fakes:
    llm: FakeOpenAI
    smallest: FakeSmallest

    def env(self, **extra: str) -> dict[str, str]:
        return {"SMALLEST_API_KEY": self.smallest.api_key, "SMALLEST_BASE_URL": self.smallest.base_url, **extra}


@contextlib.asynccontextmanager
async def fakes(transcripts: list[str], *, first_audio_delay_ms: float = 0.0) -> AsyncIterator[Fakes]:
    async with (
        FakeOpenAI() as llm,
        FakeSmallest(
            pulse=PulseOptions(transcripts=transcripts),
            lightning=LightningOptions(first_audio_delay_ms=first_audio_delay_ms),
            mounts={"/waves/v1/chat": llm.port},
        ) as smallest,
    ):
        yield Fakes(llm, smallest)


@dataclass
class Running:
    ctx: ServeContext
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def running_server(
    paths: list[Path],
    env: dict[str, str],
    *,
    max_calls: int | None = None,
    events_dir: Path | None = None,
    reload: bool = False,
    public_url: str | None = None,
    auth_token: str | None = None,
) -> AsyncIterator[Running]:
    catalogue = Catalogue(paths, env)
    catalogue.load_all()
    ctx = ServeContext(
        catalogue=catalogue,
        registry=CallRegistry(max_calls),
        metrics=ServeMetrics(),
        env=env,
        events_dir=events_dir,
        public_url=public_url,
        auth_token=auth_token,
    )
    app = create_app(ctx, reload=reload)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", ws_per_message_deflate=False
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Running(ctx, port)
    finally:
        await ctx.registry.wait_empty(10)
        for call in list(ctx.registry.active.values()):
            call.end_now.set()
        await ctx.registry.wait_empty(15)
        server.should_exit = True
        await task


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
