"""Fake Pulse + Lightning + Electron servers for the benchmarks, in their own process.

Run by the benchmarks (``spawn_fakes``), or by hand::

    .venv/bin/python benchmarks/fake_servers.py --pulse-delay-ms 64 --llm-ttft-ms 250 \
        --tts-first-audio-ms 175

It prints ONE JSON line ``{"smallest_base_url", "ws_base_url", "llm_base_url", "pid"}`` and
serves until its stdin closes. Running the fakes in a separate process keeps their CPU out of
the runtime's ``getrusage`` numbers (they are measured separately from ``/proc/PID/stat``).

What the fakes do (voiceagent.testing.fake_smallest / fake_openai, real wire protocols):

* Pulse (``/waves/v1/stt/live``): endpointing after ``eou_timeout_ms`` (taken from the client's
  URL) of received silence, then the final ``--pulse-delay-ms`` later (default 64 ms, Pulse's
  documented latency). Transcripts cycle through ``--transcripts`` (default: a plain question,
  then an account question that makes the LLM call the tool).
* Electron (``/waves/v1/chat/completions``): first token ``--llm-ttft-ms`` after the request
  (default 250 ms). The last message decides the reply: a user message mentioning "account"
  gets a ``get_account_info`` tool call (no text: the agent speaks the tool's filler); a tool
  result gets ``--answer``; anything else gets ``--reply``.
* Lightning (``/waves/v1/tts/live``): first audio ``--tts-first-audio-ms`` after the request
  (default 175 ms), then 100 ms chunks every ``--tts-chunk-interval-ms`` (default 50 ms: twice
  real time), 40 ms of audio per character.

``ws_base_url`` points at the fake's internal WebSocket listener (FakeSmallest's private
``_ws_port``), skipping the single-port relay that would double the fake's per-frame work;
``smallest_base_url`` is the public port (``--via-relay`` in the benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_KEY = "sk_test_fake"
DEFAULT_TRANSCRIPTS = ["what are your opening hours", "can you check my account"]
DEFAULT_REPLY = "Sure, we open at nine."
DEFAULT_ANSWER = "Your plan is Pro."


# The providers' documented figures (ms), the benchmarks' default delays: Pulse final transcript
# after end of speech, Electron first token, Lightning first audio (see docs/performance.md).
PULSE_FINAL_MS = 64.0
ELECTRON_TTFT_MS = 250.0
LIGHTNING_FIRST_AUDIO_MS = 175.0


@dataclass
class FakeConfig:
    """Provider delays (ms) and scripted texts of the fakes."""

    pulse_delay_ms: float = PULSE_FINAL_MS
    llm_ttft_ms: float = ELECTRON_TTFT_MS
    tts_first_audio_ms: float = LIGHTNING_FIRST_AUDIO_MS
    tts_chunk_interval_ms: float = 50.0
    tts_chunk_ms: float = 100.0
    transcripts: list[str] = field(default_factory=lambda: list(DEFAULT_TRANSCRIPTS))
    reply: str = DEFAULT_REPLY
    answer: str = DEFAULT_ANSWER

    def argv(self) -> list[str]:
        """These settings as this script's command-line options."""
        return [
            "--pulse-delay-ms",
            str(self.pulse_delay_ms),
            "--llm-ttft-ms",
            str(self.llm_ttft_ms),
            "--tts-first-audio-ms",
            str(self.tts_first_audio_ms),
            "--tts-chunk-interval-ms",
            str(self.tts_chunk_interval_ms),
            "--tts-chunk-ms",
            str(self.tts_chunk_ms),
            "--transcripts",
            json.dumps(self.transcripts),
            "--reply",
            self.reply,
            "--answer",
            self.answer,
        ]


def llm_reply(cfg: FakeConfig, body: dict[str, Any]) -> Any:
    """The scripted Electron reply for one chat request body (see the module docstring)."""
    from voiceagent.testing.fake_openai import TextReply, ToolCall, ToolCallReply

    ttft = cfg.llm_ttft_ms / 1000.0
    last = (body.get("messages") or [{}])[-1]
    if last.get("role") == "tool":
        return TextReply(cfg.answer, first_token_delay_s=ttft)
    if last.get("role") == "user" and "account" in str(last.get("content") or "").lower():
        return ToolCallReply([ToolCall("get_account_info", {"account_id": "12345"})], first_token_delay_s=ttft)
    return TextReply(cfg.reply, first_token_delay_s=ttft)


async def serve(cfg: FakeConfig, ready: Any) -> None:
    """Start the fakes, call ``ready(info_dict)``, and serve until cancelled."""
    from voiceagent.testing.fake_openai import FakeOpenAI
    from voiceagent.testing.fake_smallest import FakeSmallest, LightningOptions, PulseOptions

    pulse = PulseOptions(final_delay_ms=cfg.pulse_delay_ms)
    lightning = LightningOptions(
        first_audio_delay_ms=cfg.tts_first_audio_ms,
        chunk_interval_ms=cfg.tts_chunk_interval_ms,
        chunk_ms=cfg.tts_chunk_ms,
    )
    async with (
        FakeOpenAI(api_key=API_KEY) as llm,
        FakeSmallest(api_key=API_KEY, pulse=pulse, lightning=lightning) as smallest,
    ):
        llm.default = lambda rec: llm_reply(cfg, rec.body)
        cycle = itertools.cycle(cfg.transcripts)
        smallest.pulse.next_transcript = lambda: next(cycle)  # type: ignore[method-assign]
        # Nothing reads these records in a benchmark: do not let them grow for hours.
        ws_port = getattr(smallest, "_ws_port", 0) or smallest.port
        ready(
            {
                "smallest_base_url": smallest.base_url,
                "ws_base_url": f"http://127.0.0.1:{ws_port}/waves/v1",
                "llm_base_url": llm.electron_base_url,
                "pid": os.getpid(),
                "api_key": API_KEY,
            }
        )
        trim = asyncio.create_task(_trim_records(llm, smallest))
        try:
            await asyncio.Event().wait()
        finally:
            trim.cancel()


async def _trim_records(llm: Any, smallest: Any) -> None:
    """The fakes keep every request/frame for tests; drop them now and then (memory)."""
    while True:
        await asyncio.sleep(2.0)
        llm.requests.clear()
        smallest.lightning.requests.clear()
        for conn in smallest.pulse.connections:
            conn.sent.clear()
            conn.controls.clear()


class FakeProcess:
    """The fakes running in a child process (see :func:`spawn_fakes`). ``info`` holds the URLs;
    :meth:`cpu_s` the child's CPU seconds so far; :meth:`stop` ends it.
    """

    def __init__(self, proc: subprocess.Popen[str], info: dict[str, Any]) -> None:
        self.proc = proc
        self.info = info

    def cpu_s(self) -> float:
        """User + system CPU seconds of the fake process (Linux ``/proc/PID/stat``)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return float("nan")

    def stop(self) -> None:
        """Close the child's stdin (it exits), wait briefly, kill it if needed."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn_fakes(cfg: FakeConfig) -> FakeProcess:
    """Start this script as a child process with ``cfg``; returns once it printed its URLs.

    Raises:
        RuntimeError: the child exited before printing them.
    """
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *cfg.argv()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        raise RuntimeError(f"fake servers exited with {proc.returncode} before starting")
    return FakeProcess(proc, json.loads(line))


def parse_args(argv: list[str] | None = None) -> FakeConfig:
    """Command line -> :class:`FakeConfig`."""
    d = FakeConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pulse-delay-ms", type=float, default=d.pulse_delay_ms)
    p.add_argument("--llm-ttft-ms", type=float, default=d.llm_ttft_ms)
    p.add_argument("--tts-first-audio-ms", type=float, default=d.tts_first_audio_ms)
    p.add_argument("--tts-chunk-interval-ms", type=float, default=d.tts_chunk_interval_ms)
    p.add_argument("--tts-chunk-ms", type=float, default=d.tts_chunk_ms)
    p.add_argument("--transcripts", default=json.dumps(d.transcripts), help="JSON list")
    p.add_argument("--reply", default=d.reply)
    p.add_argument("--answer", default=d.answer)
    a = p.parse_args(argv)
    return FakeConfig(
        a.pulse_delay_ms,
        a.llm_ttft_ms,
        a.tts_first_audio_ms,
        a.tts_chunk_interval_ms,
        a.tts_chunk_ms,
        json.loads(a.transcripts),
        a.reply,
        a.answer,
    )


def main() -> None:
    """Serve until stdin closes."""
    cfg = parse_args()

    async def run() -> None:
        loop = asyncio.get_running_loop()

        def ready(info: dict[str, Any]) -> None:
            print(json.dumps(info), flush=True)

        server = asyncio.create_task(serve(cfg, ready))
        await loop.run_in_executor(None, sys.stdin.read)  # returns at EOF
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)

    asyncio.run(run())


if __name__ == "__main__":
    main()
