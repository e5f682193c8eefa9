"""Speech-to-speech turn latency: end of caller speech -> first agent audio, and the runtime's overhead.

    .venv/bin/python benchmarks/s2s_latency.py                      # 20 plain + 20 tool turns
    .venv/bin/python benchmarks/s2s_latency.py --turns 2 --out /tmp/s.json   # smoke run

One call of ``agents/support.hydra.yaml`` through the real runtime (``build_call`` ->
``SpeechToSpeechSession``, the real ``HydraS2S`` client over a WebSocket) against the fake Hydra of
``voiceagent.testing`` on 127.0.0.1. The caller is synthetic speech (a 400 ms tone, RMS far above
the fake's VAD threshold) paced in real time in 20 ms frames at 16 kHz. Turns alternate a plain
question (the model answers at once) and an account question (the model calls
``get_account_info``, which the runtime runs, then narrates the result).

Hydra's delays (Smallest publishes no figure; assumed, and settable):

* ``--eos-ms`` (default 500): the silence Hydra's turn detection waits before ``speech_stopped``
  (the fake's ``end_of_speech_ms``; a typical server VAD silence window);
* ``--response-delay-ms`` (default 200): ``speech_stopped`` (or a tool output) -> first audio
  delta. Speech-to-speech stacks reach sub-300 ms turns in public comparisons; 200 ms of model
  time after the end-of-turn decision is consistent with that.

Definitions: *end of caller speech* is when the runtime was handed the caller's last loud frame
(its end). *Latency* runs from there to the first frame of the answer handed to
``transport.play``. *Provider delay* is ``eos_ms + response_delay_ms`` (a tool turn's answer adds
the tool and the client's 200 ms ``response.create`` debounce, reported apart). *Overhead* =
latency - provider delay (for a tool turn it includes running the tool, a python
function of a few ms): the runtime's uplink (resample, 20 ms chunking, base64, the socket)
and downlink (decode, the session's event queue, ``play``), plus the fake's own work.
*Downlink* alone is first audio delta sent by the fake -> ``play``, on the same clock. The fake
runs in the runtime's process and event loop, so the overhead figures are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "runtime"))

from voiceagent.audio import AudioFrame  # noqa: E402
from voiceagent.config.load import LoadedAgent, load_agent  # noqa: E402
from voiceagent.engine.call import build_call  # noqa: E402
from voiceagent.providers.registry import resolve_providers  # noqa: E402
from voiceagent.providers.smallest.hydra import RESPONSE_DEBOUNCE_S  # noqa: E402
from voiceagent.testing.fake_smallest import FakeSmallest, HydraOptions, HydraTurn  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
RATE, FRAME_MS = 16000, 20
PLAIN = HydraTurn(say="Sure, we open at nine.")
TOOL = HydraTurn(
    tool_call={"name": "get_account_info", "arguments": {"account_id": "12345"}}, then_say="Your plan is Pro."
)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description="Speech-to-speech turn latency through the real runtime.")
    p.add_argument("--turns", type=int, default=20, help="plain turns (and as many tool turns)")
    p.add_argument("--warmup", type=int, default=2, help="first turns left out of the statistics")
    p.add_argument("--eos-ms", type=float, default=500.0, help="Hydra's end-of-speech silence window")
    p.add_argument("--response-delay-ms", type=float, default=200.0, help="end of turn -> first audio delta")
    p.add_argument("--out", default=str(RESULTS / "s2s_latency.json"))
    return p.parse_args(argv)


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """``n``, ``p50``, ``p95``, ``p99``, ``max``, ``mean`` (ms, rounded to 0.1)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    a = np.asarray(values, dtype=float)
    return {
        "n": int(a.size),
        **{f"p{q}": round(float(np.percentile(a, q)), 1) for q in (50, 95, 99)},
        "max": round(float(a.max()), 1),
        "mean": round(float(a.mean()), 1),
    }


class Line:
    """A caller paced in real time: an utterance, then silence until the agent answered (and its
    audio would have been heard), then the next. Records the times the benchmark measures.
    """

    kind: Literal["audio"] = "audio"
    plays_audio = True

    def __init__(self, turns: int, answer_ms: float) -> None:
        self.caller: dict[str, Any] = {"phone": None, "id": None, "metadata": {}}
        self.turns, self.answer_ms = turns, answer_ms
        self.eos: list[float] = []  # monotonic end of each utterance's last loud frame
        self.plays: list[float] = []  # monotonic time of every play()
        self._played_ms = 0.0
        self._answered = asyncio.Event()
        self._closed = False

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """Utterances and silences as 20 ms frames."""
        n = RATE * FRAME_MS // 1000
        t = np.arange(n) / RATE
        loud = AudioFrame(np.round(8000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes(), RATE)
        quiet = AudioFrame(bytes(2 * n), RATE)
        next_at = time.monotonic()

        async def frame(f: AudioFrame) -> AudioFrame:
            nonlocal next_at
            next_at += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            return f

        for _ in range(15):
            yield await frame(quiet)
        for _ in range(self.turns):
            for _ in range(400 // FRAME_MS):
                yield await frame(loud)
            self.eos.append(time.monotonic())
            self._answered.clear()
            played_before = len(self.plays)
            deadline = time.monotonic() + 10
            while not self._closed and time.monotonic() < deadline:
                if len(self.plays) > played_before and self._answered.is_set():
                    break
                yield await frame(quiet)
            for _ in range(int((self.answer_ms + 300) // FRAME_MS)):  # let the answer play out
                yield await frame(quiet)

    def caller_text(self) -> AsyncIterator[str]:
        """Not a text call."""
        raise RuntimeError("audio only")

    async def play(self, frame: AudioFrame) -> None:
        """Record when agent audio was handed over."""
        self.plays.append(time.monotonic())
        self._played_ms += frame.duration_ms

    def answered(self) -> None:
        """The scripted answer of the current utterance is complete."""
        self._answered.set()

    async def clear(self) -> None:
        """Nothing is queued: playback is instant."""

    async def wait_played(self) -> None:
        """Instant playback."""

    def played_ms(self) -> float:
        """Agent audio handed over so far, ms."""
        return self._played_ms

    async def show(self, role: str, text: str) -> None:
        """Audio only."""

    async def aclose(self) -> None:
        """Stop the caller."""
        self._closed = True


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """One call of ``2 * args.turns`` caller turns; returns the results document."""
    turns = [t for _ in range(args.turns) for t in (PLAIN, TOOL)]
    opts = HydraOptions(
        turns=list(turns), end_of_speech_ms=args.eos_ms, response_delay_ms=args.response_delay_ms, greeting=""
    )
    loaded = load_agent(ROOT / "agents" / "support.hydra.yaml", env={})
    s2s = loaded.agent.speech_to_speech
    assert s2s is not None
    agent = loaded.agent.model_copy(update={"speech_to_speech": s2s.model_copy(update={"transcripts": "none"})})
    agent = agent.model_copy(update={"greeting": None})
    loaded = LoadedAgent(agent=agent, path=loaded.path, base_dir=loaded.base_dir)
    async with FakeSmallest(hydra=opts) as fake:
        env = {"SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url}
        providers = resolve_providers(agent, env=env, audio=True)
        line = Line(len(turns), answer_ms=40 * max(len(PLAIN.say or ""), len(TOOL.then_say or "")))
        call = build_call(loaded, providers, line, env=env)

        def watch(event: dict[str, Any]) -> None:
            if event["type"] == "agent.text":
                line.answered()

        emit = call.events.emit

        def emit_and_watch(type: str, **fields: Any) -> dict[str, Any]:
            event = emit(type, **fields)
            watch(event)
            return event

        call.events.emit = emit_and_watch  # type: ignore[method-assign]
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(call.run(), timeout=30 + 4 * len(turns))
        finally:
            await call.aclose()
            await providers.aclose()
        conn = fake.hydra.connections[0]
    wall_s = time.monotonic() - t0
    return summarize(args, turns, line, conn, wall_s)


def summarize(args: argparse.Namespace, turns: list[HydraTurn], line: Line, conn: Any, wall_s: float) -> dict[str, Any]:
    """Per-turn numbers and their percentiles."""
    sent = list(zip(conn.sent, conn.sent_at, strict=True))
    deltas = [at for msg, at in sent if msg["type"] == "response.output_audio.delta"]
    provider = args.eos_ms + args.response_delay_ms
    # a tool turn: the tool's response, the client's response.create debounce, the narration's delay
    tool_provider = args.eos_ms + 2 * args.response_delay_ms + 1000 * RESPONSE_DEBOUNCE_S
    rows: list[dict[str, Any]] = []
    for i, (eos, turn) in enumerate(zip(line.eos, turns, strict=False)):
        nxt = line.eos[i + 1] if i + 1 < len(line.eos) else float("inf")
        plays = [p for p in line.plays if eos < p < nxt]
        firsts = [d for d in deltas if eos < d < nxt]
        if not plays or not firsts:
            continue
        latency = 1000 * (plays[0] - eos)
        rows.append(
            {
                "turn": i + 1,
                "kind": "tool" if turn.tool_call else "plain",
                "latency_ms": round(latency, 1),
                "overhead_ms": round(latency - (tool_provider if turn.tool_call else provider), 1),
                "downlink_ms": round(1000 * (plays[0] - firsts[0]), 2),
            }
        )
    used = rows[args.warmup :]
    plain = [r for r in used if r["kind"] == "plain"]
    tool = [r for r in used if r["kind"] == "tool"]
    return {
        "benchmark": "s2s_latency",
        "assumed_delays_ms": {"hydra_end_of_speech": args.eos_ms, "hydra_response_delay": args.response_delay_ms},
        "plain_answer": {
            "latency_ms": percentiles([r["latency_ms"] for r in plain]),
            "overhead_ms": percentiles([r["overhead_ms"] for r in plain]),
        },
        "tool_answer": {
            "latency_ms": percentiles([r["latency_ms"] for r in tool]),
            "overhead_ms": percentiles([r["overhead_ms"] for r in tool]),
            "provider_delay": "end of speech + response delay + 200 ms response.create debounce + response delay",
        },
        "downlink_overhead_ms": percentiles([r["downlink_ms"] for r in used]),
        "turns": rows,
        "wall_s": round(wall_s, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }


def main(argv: list[str] | None = None) -> None:
    """Run, print a table, write the JSON."""
    args = parse(argv)
    result = asyncio.run(run(args))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"assumed Hydra delays: end of speech {args.eos_ms:g} ms + first audio {args.response_delay_ms:g} ms")
    print(f"{'path':<28}{'n':>4}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    for label, stats in (
        ("plain answer latency", result["plain_answer"]["latency_ms"]),
        ("plain answer overhead", result["plain_answer"]["overhead_ms"]),
        ("tool answer latency", result["tool_answer"]["latency_ms"]),
        ("tool answer overhead", result["tool_answer"]["overhead_ms"]),
        ("downlink overhead", result["downlink_overhead_ms"]),
    ):
        cells = "".join(f"{stats[k]:>9}" if stats[k] is not None else f"{'-':>9}" for k in ("p50", "p95", "p99", "max"))
        print(f"{label:<28}{stats['n']:>4}{cells}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
