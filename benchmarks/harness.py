"""Shared pieces of the latency and concurrency benchmarks.

* :func:`caller_utterances`: the recorded caller (``samples/*.wav`` cut into utterances with the
  same 20 ms RMS rule the fake Pulse uses), or synthesized speech-like PCM when absent;
* :class:`PhoneLine`: a paced audio transport (``transports.base.Transport``): the caller side
  yields 20 ms PCM16 frames on absolute real-time deadlines, the agent side plays 20 ms per 20 ms
  and counts underruns;
* :class:`TappedTTS`: a pass-through TTS wrapper that tells the line which sentence each frame
  belongs to (so filler and answer audio can be told apart);
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

import asyncio
import os
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Literal

import numpy as np

from voiceagent.audio import AudioFrame, Resampler

ROOT = Path(__file__).resolve().parent.parent
AGENT_PATH = ROOT / "benchmarks" / "agents" / "bench.yaml"
RESULTS = ROOT / "benchmarks" / "results"
CALLER_RATE = 16000
FRAME_MS = 20
SPEECH_RMS = 300.0  # voiceagent.testing.fake_pulse.PulseOptions.speech_rms


# --------------------------------------------------------------------------- delays


@dataclass
class Delays:
    """Injected provider delays in ms (what the fakes and the tool are told to take)."""

    eou_ms: float = 300.0
    pulse_ms: float = 64.0
    llm_ttft_ms: float = 250.0
    tts_first_ms: float = 175.0
    tool_ms: float = 500.0

    def first_reply(self) -> float:
        """End of speech -> first audio of a plain reply, or of the filler of a tool turn."""
        return self.eou_ms + self.pulse_ms + self.llm_ttft_ms + self.tts_first_ms

    def answer_after_tool(self) -> float:
        """End of speech -> first audio of the answer after a tool: a second LLM round follows the tool."""
        return self.eou_ms + self.pulse_ms + 2 * self.llm_ttft_ms + self.tool_ms + self.tts_first_ms


# --------------------------------------------------------------------------- caller audio


def frame_rms(x: np.ndarray, frame: int) -> np.ndarray:
    """RMS of each whole ``frame``-sample frame of int16 ``x``."""
    n = len(x) // frame
    f = x[: n * frame].astype(np.float64).reshape(n, frame)
    return np.sqrt(np.mean(f * f, axis=1))


def split_utterances(x: np.ndarray, eou_ms: float, rate: int = CALLER_RATE) -> list[np.ndarray]:
    """Cut int16 mono ``x`` into utterances: runs of 20 ms frames with RMS >= SPEECH_RMS, split
    where the silence between two speech frames lasts >= ``eou_ms`` (the fake would send a final
    there). Each utterance starts and ends with a speech frame."""
    frame = rate * FRAME_MS // 1000
    speech = np.flatnonzero(frame_rms(x, frame) >= SPEECH_RMS)
    if speech.size == 0:
        return []
    gap = int(eou_ms // FRAME_MS)
    out, start, prev = [], speech[0], speech[0]
    for i in speech[1:]:
        if i - prev - 1 >= gap:
            out.append(x[start * frame:(prev + 1) * frame])
            start = i
        prev = i
    out.append(x[start * frame:(prev + 1) * frame])
    return [u for u in out if len(u) >= 10 * frame]  # >= 200 ms


def synthetic_utterance(seconds: float, seed: int, rate: int = CALLER_RATE) -> np.ndarray:
    """Speech-like int16 PCM: a 120-180 Hz voice with harmonics and a 4 Hz syllable envelope that
    never drops below the speech threshold (every 20 ms frame counts as speech)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 60 * rng.random()
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.random()) / k for k in range(1, 6))
    env = 0.45 + 0.35 * (1 + np.sin(2 * np.pi * 4 * t)) / 2
    return np.round(5000 * env * voice / 2.3).astype("<i2")


def caller_utterances(eou_ms: float, *, synthetic: bool = False) -> tuple[list[np.ndarray], str]:
    """The caller's utterances at 16 kHz and where they came from (``samples/*.wav`` cut by
    :func:`split_utterances`, else :func:`synthetic_utterance`)."""
    if not synthetic:
        clips: list[np.ndarray] = []
        files = sorted((ROOT / "samples").glob("*.wav"))
        for path in files:
            with wave.open(str(path), "rb") as w:
                if w.getsampwidth() != 2 or w.getnchannels() != 1:
                    continue
                x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
                if w.getframerate() != CALLER_RATE:
                    x = Resampler(w.getframerate(), CALLER_RATE).process(
                        AudioFrame(x.tobytes(), w.getframerate()), last=True).to_numpy()
            clips += split_utterances(x, eou_ms)
        if clips:
            return clips, "samples/" + ",".join(p.name for p in files)
    return [synthetic_utterance(0.8 + 0.2 * (i % 4), i) for i in range(8)], "synthetic"


# --------------------------------------------------------------------------- the line


@dataclass
class SegmentStart:
    """The first frame of one TTS sentence handed to ``play`` (``t``: time.monotonic s)."""

    t: float
    text: str


class PhoneLine:
    """A paced audio transport for one call (implements ``transports.base.Transport``).

    The caller side is fed by :meth:`tick` (one 20 ms PCM16 frame at 16 kHz per tick); the agent
    side plays 20 ms of queued agent audio (``out_rate`` Hz) per tick. An *underrun* is a tick
    where less than 20 ms is queued while a sentence is still being synthesised and its audio has
    started: the caller would hear a gap mid-utterance. Gaps between sentences are not counted.
    """

    kind: Literal["audio"] = "audio"
    plays_audio = True

    def __init__(self, out_rate: int = 24000) -> None:
        self.caller: dict[str, Any] = {"phone": "+15550100", "id": None, "metadata": {}}
        self.out_rate = out_rate
        self._need = out_rate * FRAME_MS // 1000 * 2
        self._in: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self._buf = bytearray()
        self._drained = asyncio.Event()
        self._drained.set()
        self._played_bytes = 0
        self._resampler: Resampler | None = None
        self.segment_text: str | None = None
        self.synth_active = False
        self._seg_played = False
        self._seg_recorded = False
        self._dry = False
        self.segments: list[SegmentStart] = []
        self.underruns = 0
        self.underrun_ms = 0.0
        self.frames_played = 0

    # ---- TappedTTS hooks
    def begin_segment(self, text: str) -> None:
        """A sentence's synthesis starts."""
        self.segment_text, self.synth_active = text, True
        self._seg_played = self._seg_recorded = False

    def end_segment(self) -> None:
        """The sentence's synthesis ended (all frames handed over, or cancelled)."""
        self.synth_active = False

    # ---- caller side
    def feed(self, pcm: bytes | None) -> None:
        """Deliver one caller frame (None: the caller hangs up)."""
        self._in.put_nowait(None if pcm is None else AudioFrame(pcm, CALLER_RATE))

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        while True:
            frame = await self._in.get()
            if frame is None:
                return
            yield frame

    def caller_text(self) -> AsyncIterator[str]:
        raise NotImplementedError("PhoneLine is an audio transport")

    # ---- agent side
    async def play(self, frame: AudioFrame) -> None:
        if not self._seg_recorded:
            self._seg_recorded = True
            self.segments.append(SegmentStart(time.monotonic(), self.segment_text or ""))
        if frame.sample_rate != self.out_rate:
            if self._resampler is None or self._resampler.in_rate != frame.sample_rate:
                self._resampler = Resampler(frame.sample_rate, self.out_rate)
            frame = self._resampler.process(frame)
        self._buf += frame.pcm
        self._drained.clear()

    def play_tick(self) -> None:
        """Play 20 ms of agent audio (called by the pacing task every 20 ms)."""
        if len(self._buf) >= self._need:
            del self._buf[: self._need]
            self._played_bytes += self._need
            self.frames_played += 1
            self._seg_played = True
            self._dry = False
        else:
            if self.synth_active and self._seg_played:
                if not self._dry:
                    self.underruns += 1
                self._dry = True
                self.underrun_ms += FRAME_MS * (1 - len(self._buf) / self._need)
            self._played_bytes += len(self._buf)
            self._buf.clear()
        if not self._buf:
            self._drained.set()

    def idle(self) -> bool:
        """Nothing queued and no sentence being synthesised."""
        return not self._buf and not self.synth_active

    async def clear(self) -> None:
        self._buf.clear()
        self._drained.set()

    async def wait_played(self) -> None:
        while self._buf:
            await self._drained.wait()

    def played_ms(self) -> float:
        return 1000.0 * self._played_bytes / 2 / self.out_rate

    async def show(self, role: str, text: str) -> None:
        return None

    async def aclose(self) -> None:
        self.feed(None)


class TappedTTS:
    """Wraps a TTS so the :class:`PhoneLine` knows which sentence each frame belongs to; frames
    pass through unchanged (one extra async-generator hop per frame)."""

    def __init__(self, inner: Any, line: PhoneLine) -> None:
        self.inner, self.line = inner, line
        self.name, self.sample_rate = inner.name, inner.sample_rate

    async def synthesize(self, text: str) -> AsyncIterator[AudioFrame]:
        self.line.begin_segment(text)
        frames = self.inner.synthesize(text)
        try:
            async for frame in frames:
                yield frame
        finally:
            self.line.end_segment()
            await frames.aclose()

    async def aclose(self) -> None:
        await self.inner.aclose()


# --------------------------------------------------------------------------- one call


@dataclass
class CallResult:
    """What one call measured. Times are ``time.monotonic`` seconds."""

    eos: list[float] = field(default_factory=list)        # end of caller speech per turn
    timeouts: int = 0                                     # turns the caller gave up waiting on
    segments: list[SegmentStart] = field(default_factory=list)
    underruns: int = 0
    underrun_ms: float = 0.0
    frames_played: int = 0
    late_ticks: int = 0                                   # caller ticks > 10 ms late
    max_tick_late_ms: float = 0.0
    events: list[dict[str, Any]] = field(default_factory=list)
    end_reason: str | None = None
    error: str | None = None
    started: float = 0.0
    ended: float = 0.0
    clock_offset_ms: float = 0.0                          # time.monotonic() ms - session clock ms


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


def load_shared(urls: dict[str, Any], delays: Delays, *, via_relay: bool = False,
                patches: list[str] | None = None) -> Shared:
    """Load and compile the benchmark agent and make one Electron client for every call
    (``patches``: names from ``benchmarks/patches.py`` to apply to it)."""
    from patches import apply
    from voiceagent.config.load import load_agent
    from voiceagent.engine.compiler import compile_agent
    from voiceagent.providers.smallest.llm import electron_llm

    os.environ["BENCH_TOOL_DELAY_MS"] = str(delays.tool_ms)
    loaded = load_agent(AGENT_PATH, env=dict(os.environ))
    urls = dict(urls)
    urls["speech_base_url"] = urls["smallest_base_url"] if via_relay else urls["ws_base_url"]
    llm = electron_llm(api_key=urls["api_key"], base_url=urls["llm_base_url"])
    apply(patches, llm=llm)
    filler = next(t.filler for t in loaded.agent.tools if t.name == "get_account_info")
    return Shared(loaded, compile_agent(loaded), llm, urls, delays, filler, dict(os.environ),
                  list(patches or []))


async def run_call(shared: Shared, utterances: list[np.ndarray], turns: int, *,
                   start_at: float | None = None, events_path: str | None = None,
                   gap_ms: float = 300.0, wait_timeout_s: float = 15.0) -> CallResult:
    """One call: greeting, then ``turns`` caller utterances (cycling through ``utterances``), each
    followed by silence until the agent's answer was played (plus ``gap_ms``), then hang up.

    The pacing task delivers one 20 ms caller frame and plays 20 ms of agent audio per tick, on
    absolute deadlines (a late tick catches up at once and is counted in ``late_ticks``).
    """
    from voiceagent.engine.events import EventLog
    from voiceagent.engine.guardrails import VerificationGuard
    from voiceagent.engine.redaction import Redactor
    from voiceagent.engine.session import Session
    from voiceagent.engine.tools import ToolRunner
    from voiceagent.providers.smallest.stt import PulseSTT
    from voiceagent.providers.smallest.tts import LightningTTS

    loop = asyncio.get_running_loop()
    if start_at is not None:
        await asyncio.sleep(max(0.0, start_at - loop.time()))
    agent, urls, d = shared.loaded.agent, shared.urls, shared.delays
    res = CallResult(started=time.monotonic())
    line = PhoneLine(out_rate=agent.tts.sample_rate)
    redactor = Redactor(agent.guardrails.redact, env=shared.env)
    events = EventLog(events_path, redactor=redactor)
    runner = ToolRunner(agent, base_dir=shared.loaded.base_dir, redactor=redactor)
    stt = PulseSTT(api_key=urls["api_key"], base_url=urls["speech_base_url"],
                   eou_timeout_ms=int(d.eou_ms))
    from patches import apply

    apply(shared.patches, stt=stt)
    tts = TappedTTS(LightningTTS(api_key=urls["api_key"], base_url=urls["speech_base_url"],
                                 voice_id=agent.voice.id if agent.voice else None,
                                 model=agent.tts.model or "lightning_v3.1",
                                 sample_rate=agent.tts.sample_rate), line)
    session = Session(shared.compiled, llm=shared.llm, transport=line, events=events, stt=stt,
                      tts=tts, tools=runner,
                      guard=VerificationGuard(agent.guardrails.verification, runner, redactor))
    task = asyncio.create_task(session.run(), name="session")
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

        await wait_quiet(0.0)                       # the greeting
        for k in range(turns):
            u = utterances[k % len(utterances)]
            for i in range(0, len(u) - frame + 1, frame):
                await step(u[i:i + frame].tobytes())
            res.eos.append(time.monotonic())        # the last speech frame was just delivered
            await wait_quiet(res.eos[-1])
            if task.done():
                break
        line.feed(None)                             # hang up
        while not task.done():                      # keep playing what is left
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
        await runner.aclose()
        events.close()
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
    first_ms: float | None              # plain reply, or the tool turn's filler
    answer_ms: float | None = None      # tool turns: the answer after the tool
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
            out.append(TurnLatency("tool", first, ans_ms, first - d.first_reply(),
                                   None if ans_ms is None else ans_ms - d.answer_after_tool()))
        else:
            out.append(TurnLatency("plain", first, None, first - d.first_reply()))
    return out


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """``n``, ``p50``, ``p95``, ``p99``, ``max``, ``mean`` (ms, rounded to 0.1; linear
    interpolation, so with 50 samples p99 lies between the two largest)."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    a = np.asarray(values, dtype=float)
    r = lambda v: round(float(v), 1)  # noqa: E731
    return {"n": int(a.size), "p50": r(np.percentile(a, 50)), "p95": r(np.percentile(a, 95)),
            "p99": r(np.percentile(a, 99)), "max": r(a.max()), "mean": r(a.mean())}


def session_breakdown(events: list[dict[str, Any]], d: Delays, res: CallResult | None = None
                      ) -> dict[str, list[float]]:
    """From the session's own events: ``stt_path_overhead`` (end of caller speech -> the turn's
    ``user.transcript`` event, minus EOU silence + Pulse delay; needs ``res``), and from
    ``turn.metrics``: final received -> first audio minus LLM + TTS delay (engine overhead after
    the final), LLM client TTFB minus the fake's delay, TTS TTFB minus it."""
    out: dict[str, list[float]] = {"stt_path_overhead": [], "final_to_first_audio_overhead": [],
                                   "llm_client_overhead": [], "tts_client_overhead": []}
    if res is not None:
        heard = [e["t_ms"] + res.clock_offset_ms for e in events if e.get("type") == "user.transcript"]
        for eos, t in zip(res.eos, heard):
            out["stt_path_overhead"].append(t - 1000 * eos - d.eou_ms - d.pulse_ms)
    for e in events:
        if e.get("type") != "turn.metrics" or e.get("interrupted"):
            continue
        if e.get("eou_to_first_audio_ms") is not None:
            out["final_to_first_audio_overhead"].append(
                e["eou_to_first_audio_ms"] - d.llm_ttft_ms - d.tts_first_ms)
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
