#!/usr/bin/env python3
"""Embedded (offline) stack latency: end of the caller's speech -> first agent audio.

For each recorded caller turn, the pieces the session runs, in its order, on this machine:

- ``vad_eou_ms``: last speech sample -> the VAD's end-of-utterance decision (``eou_timeout_ms``
  of silence, 600 ms in agents/support.yaml, plus the VAD's own lag);
- ``stt_ms``: EOU decision -> the ``final`` transcript (Whisper base; usually a speculative
  pass started at the first pause is reused);
- ``llm_ms``: request -> the first complete sentence (engine ``SentenceSplitter``) or the tool
  call (then the tool's filler is what is spoken first), on the local Qwen2.5-0.5B with the
  agent's real prompt, greeting and tools, the prompt prefix already warm (as after the session's
  warm-up);
- ``tts_ms``: that text -> the first Piper audio frame (the agent's ``behaviour.fallback`` when
  nothing of the reply may be spoken, as the session then says it);
- ``first_audio_ms``: their sum, end of speech -> first agent audio; for tool turns also
  ``answer_audio_ms``: end of speech -> first audio of the answer after the tool result.

Audio is pushed in real time (20 ms frames) so the VAD/EOU numbers are wall-clock true; turns run
one after another on one warm set of models, and between turns the caller hears the agent's
whole reply (its audio duration passes) before speaking again, as on a call. Turns: the English
``samples/*.wav`` with one utterance, plus phrases synthesized into a temp dir (Piper, and
espeak-ng's English voice when installed). Prints a table, writes ``benchmarks/results/embedded_latency.json``.

Usage: ``.venv/bin/python benchmarks/embedded_latency.py [--repeat N] [--agent agents/support.yaml]``
Numbers on a shared machine are noisy: the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "runtime"))

from voiceagent.audio import AudioFrame, rms_dbfs  # noqa: E402

RATE = 16000
FRAME_MS = 20
SPEECH_DBFS = -40.0
SAMPLE_FILES = ("account_question.wav", "hello.wav")
PHRASES = [  # (text, engine); account numbers read digit by digit, as callers do
    ("What's my balance? My account number is 6 7 8 9 0.", "piper"),
    ("My account is 2 4 6 8 0, what plan am I on?", "piper"),
    ("Hi there, how are you today?", "piper"),
    ("My internet has been down since this morning.", "piper"),
    ("Can I talk to a real person, please?", "piper"),
    ("Thanks, that's all. Goodbye.", "piper"),
    ("Please check account 9 0 0 1 for me.", "espeak"),
    ("I have a question about my bill.", "espeak"),
]


# --------------------------------------------------------------------------- recordings


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        rate = w.getframerate()
    return AudioFrame(pcm.tobytes(), rate).resampled(RATE).to_numpy()


def _piper(text: str) -> np.ndarray:
    from piper import PiperVoice, SynthesisConfig
    from voiceagent.providers.local.models import piper_voice_paths

    voice = _piper.voice = getattr(_piper, "voice", None) or PiperVoice.load(*piper_voice_paths())
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.0)
    pcm = b"".join(c.audio_int16_bytes for c in voice.synthesize(text, syn_config=cfg))
    return AudioFrame(pcm, voice.config.sample_rate).resampled(RATE).to_numpy()


def _espeak(text: str) -> np.ndarray:
    from voiceagent.providers.local.models import espeak_binary

    wav = subprocess.run(
        [espeak_binary(), "-v", "en-us", "-s", "150", "--stdin", "--stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    with wave.open(__import__("io").BytesIO(wav[:44])) as w:
        rate = w.getframerate()
    return AudioFrame(wav[44 : 44 + (len(wav) - 44) // 2 * 2], rate).resampled(RATE).to_numpy()


def recordings(tmp: Path) -> list[tuple[str, np.ndarray]]:
    """(name, 16 kHz int16 audio with 0.5 s lead and 1.5 s trailing silence) for every turn."""
    out = [(f"samples/{n}", _read_wav(ROOT / "samples" / n)) for n in SAMPLE_FILES]
    lead, trail = np.zeros(RATE // 2, "<i2"), np.zeros(RATE * 3 // 2, "<i2")
    for i, (text, engine) in enumerate(PHRASES):
        try:
            speech = _piper(text) if engine == "piper" else _espeak(text)
        except Exception as exc:  # noqa: BLE001 - espeak-ng may be missing
            print(f"skipping {engine} phrase {text!r}: {exc}", file=sys.stderr)
            continue
        audio = np.concatenate([lead, speech, trail]).astype("<i2")
        path = tmp / f"turn{i:02d}-{engine}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE)
            w.writeframes(audio.tobytes())
        out.append((f"{engine}: {text}", audio))
    return out


def speech_end_s(audio: np.ndarray) -> float:
    """Seconds from the start to the end of the last 20 ms window louder than -40 dBFS."""
    step = RATE * FRAME_MS // 1000
    loud = [
        i for i in range(0, len(audio), step) if rms_dbfs(AudioFrame(audio[i : i + step].tobytes(), RATE)) > SPEECH_DBFS
    ]
    return (loud[-1] + step) / RATE if loud else 0.0


# --------------------------------------------------------------------------- one turn


class Stack:
    """The agent's compiled prompt and the three local providers, built and warmed once."""

    def __init__(self, agent_path: Path, *, llm_threads: int | None = None, burst_threads: int | None = None) -> None:
        from voiceagent import templating
        from voiceagent.config.load import load_agent
        from voiceagent.engine.compiler import compile_agent
        from voiceagent.engine.redaction import Redactor
        from voiceagent.engine.state import SessionState, template_context
        from voiceagent.engine.tools import ToolRunner
        from voiceagent.providers.local.llm import LocalLLM
        from voiceagent.providers.local.setup import agent_vocabulary
        from voiceagent.providers.local.stt import LocalSTT
        from voiceagent.providers.local.tts import local_tts_for

        loaded = load_agent(agent_path, env=dict(os.environ))
        self.agent = loaded.agent
        compiled = compile_agent(loaded)
        ctx = template_context(
            SessionState(compiled.initial),
            dict(self.agent.variables),
            {"phone": None, "id": None, "metadata": {}},
            datetime.now(UTC),
        )
        self.system = compiled.system_prompt(compiled.initial, ctx)
        self.greeting = compiled.greeting(ctx) or ""
        self.tools = compiled.state(compiled.initial).llm_tools()
        # the request fields the session's Prompt sets (engine/prompt.py)
        self.instructions = compiled.state(compiled.initial).instructions
        self.closing = compiled.closing_functions(compiled.initial)
        self.handoffs = compiled.builtin_tools(compiled.initial, "transfer")
        self.fallback = self.agent.behaviour.fallback  # said for an empty reply (engine/turn.py)
        self.builtins = {name for name, tool in compiled.tools.items() if tool.builtin is not None}
        self.last_words = {  # a builtin's `say`, rendered as the dispatcher does
            name: templating.render(tool.say, ctx) for name, tool in compiled.tools.items() if tool.builtin and tool.say
        }
        # as providers/local/setup.build_stt makes it (the agent's words as Whisper's prompt)
        self.stt = LocalSTT(
            eou_timeout_ms=self.agent.stt.eou_timeout_ms,
            vocabulary=agent_vocabulary(self.agent),
            complete_eou_ms=self.agent.stt.sentence_eou_ms,
        )
        self.llm = LocalLLM(n_threads=llm_threads, burst_threads=burst_threads)
        self.llm.prestart()
        self.tts = local_tts_for(self.agent.language)
        self.runner = ToolRunner(
            self.agent, base_dir=loaded.base_dir, redactor=Redactor(self.agent.guardrails.redact, env={})
        )

    def messages(self, user: str) -> list[dict[str, Any]]:
        first = [{"role": "system", "content": self.system}]
        if self.greeting:
            first.append({"role": "assistant", "content": self.greeting})
        return first + [{"role": "user", "content": user}]

    def request(self, messages: list[dict[str, Any]]) -> Any:
        """The session's request for ``messages`` in the initial state."""
        from voiceagent.providers.base import ChatRequest

        return ChatRequest(
            messages=messages,
            tools=self.tools,
            temperature=self.agent.llm.temperature,
            max_tokens=self.agent.llm.max_tokens,
            instructions=self.instructions,
            closing=self.closing,
            handoffs=self.handoffs,
        )

    def filler(self, tool: str) -> str:
        if tool in self.builtins:  # a hang-up or transfer has no filler: the next round's words come first
            return ""
        spec = next((t for t in self.agent.tools if t.name == tool), None)
        return (spec.filler if spec and spec.filler is not None else self.agent.behaviour.filler) or ""

    async def warm(self) -> float:

        t0 = time.monotonic()
        await self.stt.preload()
        await self.llm.warm_up(self.request(self.messages("Hello.")[:-1]))
        async for _ in self.tts.synthesize("Warming up."):
            pass
        return time.monotonic() - t0

    async def aclose(self) -> None:
        await self.llm.aclose()
        await self.tts.aclose()
        await self.runner.aclose()


async def _first_text(stack: Stack, request: Any) -> tuple[str, Any, float, str]:
    """(first sentence or filler, the tool call or None, ms to it, the whole reply) of one LLM
    round. The stream is read to its end, as the session reads it (the local LLM re-warms its
    prompt after an answer to a tool result; a stream closed early would skip that).
    """
    from voiceagent.engine.speech import SentenceSplitter
    from voiceagent.providers.base import TextDelta, ToolCallRequest

    t0 = time.monotonic()
    splitter = SentenceSplitter()
    first: tuple[str, Any, float] | None = None
    whole = ""
    async for event in stack.llm.stream(request):
        if isinstance(event, TextDelta):
            whole += event.text
            done = splitter.feed(event.text)
            if done and first is None:
                first = (done[0], None, (time.monotonic() - t0) * 1000)
        elif isinstance(event, ToolCallRequest) and first is None:
            first = (stack.filler(event.name), event, (time.monotonic() - t0) * 1000)
    if first is None:
        rest = splitter.flush()
        first = ((rest[0] if rest else ""), None, (time.monotonic() - t0) * 1000)
    return (*first, whole.strip())


async def _listen(stack: Stack, text: str, since: float) -> None:
    """The caller hears ``text`` to its end (synthesised as the session would) before speaking again:
    sleep until its audio duration has passed since ``since`` (monotonic s).
    """
    if not text:
        return
    samples = 0
    rate = 22050
    async for frame in stack.tts.synthesize(text):
        samples += len(frame.pcm) // 2
        rate = frame.sample_rate
    await asyncio.sleep(max(0.0, since + samples / rate - time.monotonic()))


def _round_counts(stack: Stack) -> dict[str, int]:
    """The structured rounds' counters (repeats, dropped calls, intents...): what each turn cost."""
    rounds = stack.llm.rounds
    names = ("repeats", "dropped_calls", "verify_calls", "invented", "invalid", "intent_calls")
    return {**{n: getattr(rounds, n) for n in names}, "direct_calls": stack.llm.direct_calls}


def _after(messages: list[dict[str, Any]], said: str, call: Any, content: str) -> list[dict[str, Any]]:
    """``messages`` + the round's assistant message with ``call`` + its tool result, as the session adds them."""
    tool_call = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
    return [
        *messages,
        {"role": "assistant", "content": said or None, "tool_calls": [tool_call]},
        {"role": "tool", "tool_call_id": call.id, "content": content},
    ]


async def _tts_first_ms(stack: Stack, text: str) -> float | None:
    if not text:
        return None
    t0 = time.monotonic()
    gen = stack.tts.synthesize(text)
    try:
        async for _ in gen:
            return (time.monotonic() - t0) * 1000
    finally:
        await gen.aclose()
    return None


async def measure(stack: Stack, name: str, audio: np.ndarray, *, prefill: bool = False) -> dict[str, Any]:
    """Push ``audio`` in real time through STT, then LLM and TTS; the timings of one turn.

    prefill: on each STT ``interim`` start ``LocalLLM.prefill`` with the request that transcript
    would make (the session hook proposed in docs/offline.md), so the final request finds the
    caller's words already evaluated when the transcript did not change.
    """
    from voiceagent.engine.tools import ToolContext
    from voiceagent.providers.base import ChatRequest

    stream = await stack.stt.open(language=stack.agent.language)
    step = RATE * FRAME_MS // 1000
    finals: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

    prefills: list[asyncio.Task[Any]] = []

    async def listen() -> None:
        async for ev in stream.events():
            if ev.kind == "final":
                finals.put_nowait((time.monotonic(), ev.text))
            elif ev.kind == "interim" and prefill and ev.text:
                prefills.append(
                    asyncio.create_task(
                        stack.llm.prefill(ChatRequest(messages=stack.messages(ev.text), tools=stack.tools))
                    )
                )

    async def push(t0: float) -> None:
        for k, i in enumerate(range(0, len(audio), step)):
            await asyncio.sleep(max(0.0, t0 + (k + 1) * FRAME_MS / 1000 - time.monotonic()))
            await stream.push_audio(AudioFrame(audio[i : i + step].tobytes(), RATE))

    listener = asyncio.create_task(listen())
    t0 = time.monotonic()
    pusher = asyncio.create_task(push(t0))
    row: dict[str, Any] = {"turn": name}
    before = _round_counts(stack)
    try:
        t_end = t0 + speech_end_s(audio)
        got, text = await asyncio.wait_for(finals.get(), timeout=len(audio) / RATE + 30)
        stt_ms = stream.metrics[-1]["eou_to_final_ms"] if stream.metrics else 0.0
        row.update(transcript=text, stt_ms=round(stt_ms, 1), vad_eou_ms=round((got - t_end) * 1000 - stt_ms, 1))
        request = stack.request(stack.messages(text))
        first, call, llm_ms, reply = await _first_text(stack, request)
        builtin = call is not None and call.name in stack.builtins
        if builtin and stack.last_words.get(call.name):  # the tool's own `say` (engine/turn.py)
            first = reply = stack.last_words[call.name]
        elif builtin:  # the session runs the hang-up / transfer, then asks for the last words
            words, _, more_ms, reply = await _first_text(
                stack, stack.request(_after(request.messages, first, call, "{}"))
            )
            first, llm_ms = words, llm_ms + more_ms
        if not first.strip() and call is None:  # nothing to say (a refusal dropped): the fallback
            first = reply = stack.fallback
        tts_ms = await _tts_first_ms(stack, first)
        heard_from = time.monotonic()
        row.update(
            first_text=first,
            llm_ms=round(llm_ms, 1),
            tts_ms=None if tts_ms is None else round(tts_ms, 1),
            tool=call.name if call else None,
            first_audio_ms=round((time.monotonic() - t_end) * 1000, 1),
        )
        if call is not None and not builtin:  # the answer after the tool, as the session's next round
            result = await stack.runner.run(call.name, call.arguments, ToolContext())
            content = json.dumps(result.result if result.ok else {"error": result.error}, default=str)
            answer, _, _, reply = await _first_text(
                stack, stack.request(_after(request.messages, first, call, content))
            )
            await _tts_first_ms(stack, answer)
            heard_from = time.monotonic()
            row.update(
                tool_arguments=json.loads(call.arguments),
                answer_text=answer,
                answer_audio_ms=round((time.monotonic() - t_end) * 1000, 1),
            )
        await _listen(stack, reply, heard_from)
    finally:
        await asyncio.gather(*prefills, return_exceptions=True)
        row["prefills"] = len(prefills)
        after = _round_counts(stack)
        row["rounds"] = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        pusher.cancel()
        await asyncio.gather(pusher, return_exceptions=True)
        await stream.aclose()
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    return row


# --------------------------------------------------------------------------- report


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 1)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("vad_eou_ms", "stt_ms", "llm_ms", "tts_ms", "first_audio_ms", "answer_audio_ms")
    out = {}
    for k in keys:
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = {"p50": _pct(vals, 50), "p90": _pct(vals, 90), "n": len(vals)}
    return out


def print_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    cols = ("vad_eou_ms", "stt_ms", "llm_ms", "tts_ms", "first_audio_ms", "answer_audio_ms")
    heads = ("VAD/EOU", "STT", "LLM 1st", "TTS 1st", "=> 1st audio", "answer audio")
    print(f"{'turn':44} " + " ".join(f"{h:>12}" for h in heads))
    for r in rows:
        cells = [("" if r.get(c) is None else f"{r[c]:.0f}") for c in cols]
        print(f"{r['turn'][:44]:44} " + " ".join(f"{c:>12}" for c in cells))
    for q in ("p50", "p90"):
        cells = [("" if summary[c][q] is None else f"{summary[c][q]:.0f}") for c in cols]
        print(f"{q:44} " + " ".join(f"{c:>12}" for c in cells))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    stack = Stack(Path(args.agent), llm_threads=args.llm_threads, burst_threads=args.burst_threads)
    rows: list[dict[str, Any]] = []
    try:
        warm_s = await stack.warm()
        with tempfile.TemporaryDirectory(prefix="embedded-latency-") as tmp:
            turns = recordings(Path(tmp))
            for _ in range(args.repeat):
                for name, audio in turns:
                    row = await measure(stack, name, audio, prefill=args.prefill_interim)
                    rows.append(row)
                    print(
                        f"  {name[:60]!r}: {row.get('transcript')!r} -> "
                        f"{row.get('tool') or row.get('first_text')!r} "
                        f"{row.get('first_audio_ms')} ms {row.get('rounds')}",
                        file=sys.stderr,
                    )
        direct = stack.llm.direct_calls
    finally:
        await stack.aclose()
    summary = summarize(rows)
    print_table(rows, summary)
    return {
        "benchmark": "embedded_latency",
        "agent": args.agent,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "warm_up_s": round(warm_s, 2),
        "repeat": args.repeat,
        "prefill_interim": args.prefill_interim,
        "llm_threads": stack.llm.n_threads,
        "burst_threads": stack.llm.burst_threads,
        "direct_tool_calls": direct,
        "summary_ms": summary,
        "turns": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default=str(ROOT / "agents" / "support.yaml"))
    parser.add_argument("--repeat", type=int, default=1, help="passes over the turn set")
    parser.add_argument(
        "--llm-threads", type=int, default=None, help="llama.cpp decoding threads (default: LocalLLM's, half the cores)"
    )
    parser.add_argument(
        "--burst-threads",
        type=int,
        default=None,
        help="decoding threads for each completion's first sentence (default: LocalLLM's; 0: off)",
    )
    parser.add_argument(
        "--prefill-interim", action="store_true", help="prefill the LLM with each STT interim (proposed session hook)"
    )
    parser.add_argument("--out", default=None, help="default benchmarks/results/embedded_latency[-prefill].json")
    args = parser.parse_args()
    os.environ.pop("SMALLEST_API_KEY", None)
    if args.out is None:
        name = "embedded_latency-prefill.json" if args.prefill_interim else "embedded_latency.json"
        args.out = str(ROOT / "benchmarks" / "results" / name)
    result = asyncio.run(run(args))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
