"""Shared pieces of the latency and concurrency benchmarks.

* the caller and the paced line (:mod:`line`: ``caller_utterances``, ``PhoneLine`` with its
  underrun count, ``TappedTTS``; re-exported here);
* :func:`run_call`: one whole call through the real ``Session``, ``PulseSTT``, Electron client
  (``OpenAICompatLLM``) and ``LightningTTS`` against the fakes of ``fake_servers.py``;
* :func:`turn_latencies` and :func:`percentiles`: per-turn numbers and summaries.

Definitions (docs/performance.md): *end of caller speech* is the moment the line delivered the
caller's last 20 ms frame whose RMS is >= 300 (the fake Pulse's speech threshold) to the
runtime. *Latency* runs from there to the moment the first frame of the agent's answer was
handed to ``transport.play``. *Provider delay* is what the fakes were told to take (EOU silence +
Pulse delay + LLM first token + TTS first audio, + tool time + a second LLM first token for the
answer after a tool); *overhead* = latency - provider delay: the runtime's own time, plus
loopback networking, the fake's own processing and the line's 20 ms tick granularity.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fake_servers import ELECTRON_TTFT_MS, LIGHTNING_FIRST_AUDIO_MS, PULSE_FINAL_MS
from line import (  # noqa: F401 - re-exported for the benchmark scripts
    CALLER_RATE,
    FRAME_MS,
    ROOT,
    SPEECH_RMS,
    PhoneLine,
    SegmentStart,
    TappedTTS,
    caller_utterances,
    split_utterances,
    synthetic_utterance,
)

AGENT_PATH = ROOT / "benchmarks" / "agents" / "bench.yaml"
RESULTS = ROOT / "benchmarks" / "results"


# --------------------------------------------------------------------------- delays


@dataclass
class Delays:
    """Injected provider delays in ms (what the fakes and the tool are told to take)."""

    eou_ms: float = 300.0
    pulse_ms: float = PULSE_FINAL_MS
    llm_ttft_ms: float = ELECTRON_TTFT_MS
    tts_first_ms: float = LIGHTNING_FIRST_AUDIO_MS
    tool_ms: float = 500.0

    def first_reply(self) -> float:
        """End of speech -> first audio of a plain reply, or of the filler of a tool turn."""
        return self.eou_ms + self.pulse_ms + self.llm_ttft_ms + self.tts_first_ms

    def answer_after_tool(self) -> float:
        """End of speech -> first audio of the answer after a tool: a second LLM round follows the tool."""
        return self.eou_ms + self.pulse_ms + 2 * self.llm_ttft_ms + self.tool_ms + self.tts_first_ms


def add_provider_args(p: argparse.ArgumentParser, patches: list[str]) -> None:
    """The flags every latency benchmark shares: the fakes' injected delays (ms), experiment
    patches, uvloop and the synthetic caller. Defaults are the providers' documented figures.
    """
    d = Delays()
    p.add_argument("--eou-ms", type=float, default=d.eou_ms, help="STT end-of-utterance silence")
    p.add_argument(
        "--pulse-delay-ms", type=float, default=d.pulse_ms, help="Pulse final transcript after the EOU silence"
    )
    p.add_argument("--llm-ttft-ms", type=float, default=d.llm_ttft_ms, help="Electron first token")
    p.add_argument("--tts-first-audio-ms", type=float, default=d.tts_first_ms, help="Lightning first audio chunk")
    p.add_argument(
        "--tts-chunk-interval-ms", type=float, default=50.0, help="Lightning: time between 100 ms audio chunks"
    )
    p.add_argument("--tool-ms", type=float, default=d.tool_ms, help="duration of the benchmark tool")
    p.add_argument(
        "--patch", action="append", choices=patches, default=[], help="apply an experiment from benchmarks/patches.py"
    )
    p.add_argument(
        "--uvloop", action="store_true", help="run the runtime on uvloop (must be importable; not a project dependency)"
    )
    p.add_argument("--synthetic", action="store_true", help="synthetic caller even if samples/ exist")


# --------------------------------------------------------------------------- one call


@dataclass
class CallResult:
    """What one call measured. Times are ``time.monotonic`` seconds."""

    eos: list[float] = field(default_factory=list)  # end of caller speech per turn
    timeouts: int = 0  # turns the caller gave up waiting on
    segments: list[SegmentStart] = field(default_factory=list)
    underruns: int = 0
    underrun_ms: float = 0.0
    frames_played: int = 0
    late_ticks: int = 0  # caller ticks > 10 ms late
    max_tick_late_ms: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    end_reason: str | None = None
    error: str | None = None
    started: float = 0.0
    ended: float = 0.0
    clock_offset_ms: float = 0.0  # time.monotonic() ms - session clock ms


@dataclass
class Shared:
    """Per-process objects shared by all calls: the loaded + compiled agent and the LLM client."""

    loaded: Any
    compiled: Any
    llm: Any
    urls: dict[str, Any]
    delays: Delays
    filler: str
    env: dict[str, str]
    patches: list[str] = field(default_factory=list)


def load_shared(
    urls: dict[str, Any], delays: Delays, *, via_relay: bool = False, patches: list[str] | None = None
) -> Shared:
    """Load and compile the benchmark agent and make one Electron client for every call
    (``patches``: experiment names from ``benchmarks/patches.py``, applied per call).
    """
    from voiceagent.config.load import load_agent
    from voiceagent.engine.compiler import compile_agent
    from voiceagent.providers.smallest.llm import electron_llm

    os.environ["BENCH_TOOL_DELAY_MS"] = str(delays.tool_ms)
    loaded = load_agent(AGENT_PATH, env=dict(os.environ))
    urls = dict(urls)
    urls["speech_base_url"] = urls["smallest_base_url"] if via_relay else urls["ws_base_url"]
    llm = electron_llm(api_key=urls["api_key"], base_url=urls["llm_base_url"])
    filler = next(t.filler for t in loaded.agent.tools if t.name == "get_account_info")
    return Shared(loaded, compile_agent(loaded), llm, urls, delays, filler, dict(os.environ), list(patches or []))


async def run_call(
    shared: Shared,
    utterances: list[np.ndarray],
    turns: int,
    *,
    start_at: float | None = None,
    events_path: str | None = None,
    gap_ms: float = 300.0,
    wait_timeout_s: float = 15.0,
) -> CallResult:
    """One call: greeting, then ``turns`` caller utterances (cycling through ``utterances``), each
    followed by silence until the agent's answer was played (plus ``gap_ms``), then hang up.

    The pacing task delivers one 20 ms caller frame and plays 20 ms of agent audio per tick, on
    absolute deadlines (a late tick catches up at once and is counted in ``late_ticks``).
    """
    from voiceagent.engine.call import Providers, build_call
    from voiceagent.providers.smallest.stt import PulseSTT
    from voiceagent.providers.smallest.tts import LightningTTS

    loop = asyncio.get_running_loop()
    if start_at is not None:
        await asyncio.sleep(max(0.0, start_at - loop.time()))
    agent, urls, d = shared.loaded.agent, shared.urls, shared.delays
    res = CallResult(started=time.monotonic())
    line = PhoneLine(out_rate=agent.tts.sample_rate)
    stt = PulseSTT(api_key=urls["api_key"], base_url=urls["speech_base_url"], eou_timeout_ms=int(d.eou_ms))
    from patches import apply

    apply(shared.patches, stt=stt)
    tts = TappedTTS(
        LightningTTS(
            api_key=urls["api_key"],
            base_url=urls["speech_base_url"],
            voice_id=agent.voice.id if agent.voice else None,
            model=agent.tts.model or "lightning_v3.1",
            sample_rate=agent.tts.sample_rate,
        ),
        line,
    )
    call = build_call(
        shared.loaded,
        Providers(llm=shared.llm, stt=stt, tts=tts),
        line,
        events_path=events_path,
        env=shared.env,
        compiled=shared.compiled,
    )
    events = call.events
    task = asyncio.create_task(call.run(), name="session")
    frame = CALLER_RATE * FRAME_MS // 1000
    silence = bytes(frame * 2)

    def waiting_done(since: float) -> bool:
        """The agent answered (a non-filler sentence started after ``since``) and went quiet."""
        answered = any(s.t > since and s.text != shared.filler for s in line.segments)
        return answered and line.idle()

    async def pace() -> None:
        tick = FRAME_MS / 1000.0
        deadline = loop.time()

        async def step(pcm: bytes) -> None:
            nonlocal deadline
            deadline += tick
            late = loop.time() - deadline
            if late > 0.010:
                res.late_ticks += 1
                res.max_tick_late_ms = max(res.max_tick_late_ms, 1000 * late)
            if late < 0:
                await asyncio.sleep(-late)
            line.feed(pcm)
            line.play_tick()

        async def wait_quiet(since: float) -> None:
            limit = loop.time() + wait_timeout_s
            while not waiting_done(since):
                if loop.time() > limit or task.done():
                    res.timeouts += 1
                    return
                await step(silence)
            for _ in range(int(gap_ms // FRAME_MS)):
                await step(silence)

        await wait_quiet(0.0)  # the greeting
        for k in range(turns):
            u = utterances[k % len(utterances)]
            for i in range(0, len(u) - frame + 1, frame):
                await step(u[i : i + frame].tobytes())
            res.eos.append(time.monotonic())  # the last speech frame was just delivered
            await wait_quiet(res.eos[-1])
            if task.done():
                break
        line.feed(None)  # hang up
        while not task.done():  # keep playing what is left
            await step(silence)

    pacer = asyncio.create_task(pace(), name="line")
    try:
        res.end_reason = await task
    except Exception as exc:  # noqa: BLE001 - reported, the benchmark goes on
        res.error = f"{type(exc).__name__}: {exc}"
    finally:
        pacer.cancel()
        await asyncio.gather(pacer, return_exceptions=True)
        await tts.aclose()
        await call.aclose()  # the tool runner's clients and the event log
    errors = [e for e in events.events if e["type"] == "error"]
    if errors and res.error is None:
        res.error = f"{len(errors)} error event(s): {errors[0].get('message')}"
    res.clock_offset_ms = time.monotonic() * 1000.0 - events.now_ms()
    res.segments, res.events = line.segments, events.events
    res.underruns, res.underrun_ms, res.frames_played = line.underruns, line.underrun_ms, line.frames_played
    res.ended = time.monotonic()
    return res


# --------------------------------------------------------------------------- numbers


@dataclass
class TurnLatency:
    """One caller turn: ``kind`` "plain" or "tool"; latencies in ms from end of caller speech."""

    kind: str
    first_ms: float | None  # plain reply, or the tool turn's filler
    answer_ms: float | None = None  # tool turns: the answer after the tool
    first_overhead_ms: float | None = None
    answer_overhead_ms: float | None = None


def turn_latencies(res: CallResult, shared: Shared) -> list[TurnLatency]:
    """Per turn of ``res``: first agent audio and (tool turns) answer audio after end of speech."""
    out: list[TurnLatency] = []
    d = shared.delays
    for k, eos in enumerate(res.eos):
        end = res.eos[k + 1] if k + 1 < len(res.eos) else float("inf")
        segs = [s for s in res.segments if eos < s.t < end]
        if not segs:
            out.append(TurnLatency("missing", None))
            continue
        first = 1000 * (segs[0].t - eos)
        if segs[0].text == shared.filler:
            ans = next((s for s in segs[1:] if s.text != shared.filler), None)
            ans_ms = None if ans is None else 1000 * (ans.t - eos)
            out.append(
                TurnLatency(
                    "tool",
                    first,
                    ans_ms,
                    first - d.first_reply(),
                    None if ans_ms is None else ans_ms - d.answer_after_tool(),
                )
            )
        else:
            out.append(TurnLatency("plain", first, None, first - d.first_reply()))
    return out


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """``n``, ``p50``, ``p95``, ``p99``, ``max``, ``mean`` (ms, rounded to 0.1; linear
    interpolation, so with 50 samples p99 lies between the two largest).
    """
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    a = np.asarray(values, dtype=float)
    r = lambda v: round(float(v), 1)  # noqa: E731
    return {
        "n": int(a.size),
        "p50": r(np.percentile(a, 50)),
        "p95": r(np.percentile(a, 95)),
        "p99": r(np.percentile(a, 99)),
        "max": r(a.max()),
        "mean": r(a.mean()),
    }


def session_breakdown(events: list[dict[str, Any]], d: Delays, res: CallResult | None = None) -> dict[str, list[float]]:
    """From the session's own events: ``stt_path_overhead`` (end of caller speech -> the turn's
    ``user.transcript`` event, minus EOU silence + Pulse delay; needs ``res``), and from
    ``turn.metrics``: final received -> first audio minus LLM + TTS delay (engine overhead after
    the final), LLM client TTFB minus the fake's delay, TTS TTFB minus it.
    """
    out: dict[str, list[float]] = {
        "stt_path_overhead": [],
        "final_to_first_audio_overhead": [],
        "llm_client_overhead": [],
        "tts_client_overhead": [],
    }
    if res is not None:
        heard = [e["t_ms"] + res.clock_offset_ms for e in events if e.get("type") == "user.transcript"]
        for eos, t in zip(res.eos, heard, strict=False):  # a turn may have no transcript
            out["stt_path_overhead"].append(t - 1000 * eos - d.eou_ms - d.pulse_ms)
    for e in events:
        if e.get("type") != "turn.metrics" or e.get("interrupted"):
            continue
        if e.get("eou_to_first_audio_ms") is not None:
            out["final_to_first_audio_overhead"].append(e["eou_to_first_audio_ms"] - d.llm_ttft_ms - d.tts_first_ms)
        if e.get("llm_ttfb_ms") is not None:
            out["llm_client_overhead"].append(e["llm_ttfb_ms"] - d.llm_ttft_ms)
        if e.get("tts_ttfb_ms") is not None:
            out["tts_client_overhead"].append(e["tts_ttfb_ms"] - d.tts_first_ms)
    return out


def rss_mb() -> float:
    """Resident set size of this process now (MB, Linux ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")
