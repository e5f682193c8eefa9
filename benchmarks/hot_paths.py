"""CPU cost of the runtime's hot paths, one at a time (microbenchmarks for the Profile section).

    .venv/bin/python benchmarks/hot_paths.py                    # writes results/hot_paths.json
    .venv/bin/python benchmarks/hot_paths.py --patch pulse-40ms

Each number is CPU time of THIS process (``time.process_time``: user + system, so loopback
``send`` syscalls count) divided by the operations done; the fake servers run in a child
process with every delay set to 0. Measured:

* ``pulse_push_us_per_frame``: ``PulseStream.push_audio`` of a 20 ms 16 kHz frame (re-chunking,
  resend buffer, lock, websockets framing + masking, the socket send); ``ws_send_us_per_frame``:
  a bare ``websockets`` client sending the same 640 bytes (the floor under it);
* ``tts_us_per_chunk``: ``LightningTTS.synthesize`` per received 100 ms chunk (24 kHz: JSON +
  base64 of 4800 bytes, AudioFrame);
* ``llm_ms_per_request``: one streamed ``OpenAICompatLLM`` request with 5 / 21 / 41 messages and
  the agent's tool (the reply is 5 words);
* ``event_emit_us``: ``EventLog.emit`` of a ``turn.metrics`` event through the ``Redactor``,
  in memory and to a file;
* ``resample_us_per_frame``: ``voiceagent.audio.Resampler`` 8 -> 16 kHz and 24 -> 8 kHz per 20 ms;
* ``system_prompt_us``: rendering the state's system prompt (``CompiledAgent.system_prompt``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from datetime import UTC

from fake_servers import FakeConfig, spawn_fakes
from harness import AGENT_PATH, RESULTS, synthetic_utterance
from patches import PATCHES, apply


def cpu_per(n: int, fn: Callable[[], None]) -> float:
    """CPU µs per call of ``fn`` over ``n`` calls."""
    t = time.process_time()
    for _ in range(n):
        fn()
    return 1e6 * (time.process_time() - t) / n


async def pulse_push(info: dict[str, Any], frames: int, patches: list[str]) -> dict[str, float]:
    """µs of CPU per 20 ms frame through PulseStream.push_audio, and through a bare websockets send."""
    from voiceagent.audio import AudioFrame
    from voiceagent.providers.smallest.stt import PulseSTT
    from websockets.asyncio.client import connect

    speech = synthetic_utterance(frames * 0.02 + 0.1, 1)
    chunks = [speech[i * 320 : (i + 1) * 320].tobytes() for i in range(frames)]
    stt = PulseSTT(api_key=info["api_key"], base_url=info["ws_base_url"], eou_timeout_ms=300)
    apply(patches, stt=stt)
    stream = await stt.open(language="en")
    for c in chunks[:50]:  # warm up
        await stream.push_audio(AudioFrame(c, 16000))
    t = time.process_time()
    for c in chunks:
        await stream.push_audio(AudioFrame(c, 16000))
    push = 1e6 * (time.process_time() - t) / frames
    await stream.aclose()
    url = stt.url("en")
    async with connect(url, additional_headers={"Authorization": f"Bearer {info['api_key']}"}) as ws:
        for c in chunks[:50]:
            await ws.send(c)
        t = time.process_time()
        for c in chunks:
            await ws.send(c)
        raw = 1e6 * (time.process_time() - t) / frames
    return {"pulse_push_us_per_frame": round(push, 1), "ws_send_us_per_frame": round(raw, 1)}


async def tts_chunks(info: dict[str, Any], rounds: int) -> dict[str, float]:
    """µs of CPU per received 100 ms Lightning chunk (24 kHz)."""
    from voiceagent.providers.smallest.tts import LightningTTS

    tts = LightningTTS(api_key=info["api_key"], base_url=info["ws_base_url"], sample_rate=24000)
    text = "This sentence is long enough to give the fake Lightning server many chunks to send."
    n = 0
    async for _ in tts.synthesize(text):  # warm up (connect)
        pass
    t = time.process_time()
    for _ in range(rounds):
        async for _ in tts.synthesize(text):
            n += 1
    per = 1e6 * (time.process_time() - t) / max(n, 1)
    await tts.aclose()
    return {"tts_us_per_chunk": round(per, 1), "tts_chunks": n}


async def llm_requests(info: dict[str, Any], rounds: int, patches: list[str]) -> dict[str, Any]:
    """Ms of CPU per streamed LLM request by history length."""
    from voiceagent.config.load import load_agent
    from voiceagent.engine.compiler import compile_agent
    from voiceagent.providers.base import ChatRequest
    from voiceagent.providers.smallest.llm import electron_llm

    compiled = compile_agent(load_agent(AGENT_PATH, env={}))
    tools = compiled.state(compiled.initial).llm_tools()
    llm = electron_llm(api_key=info["api_key"], base_url=info["llm_base_url"])
    out: dict[str, Any] = {}
    for pairs in (1, 5, 10):
        msgs: list[dict[str, Any]] = [{"role": "system", "content": "You are a benchmark agent. " * 8}]
        for _ in range(pairs):
            msgs += [
                {"role": "user", "content": "what are your opening hours"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_account_info", "arguments": '{"account_id": "12345"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"plan": "Pro"}'},
                {"role": "assistant", "content": "Sure, we open at nine."},
            ]
        req = ChatRequest(messages=msgs, tools=tools)
        async for _ in llm.stream(req):
            pass
        t = time.process_time()
        for _ in range(rounds):
            async for _ in llm.stream(req):
                pass
        out[f"{len(msgs)}_messages"] = round(1e3 * (time.process_time() - t) / rounds, 2)
    await llm.aclose()
    return {"llm_ms_per_request": out}


def local_paths(n: int) -> dict[str, Any]:
    """Event log, resampling and prompt rendering: no network."""
    import tempfile

    from voiceagent.audio import AudioFrame, Resampler
    from voiceagent.config.load import load_agent
    from voiceagent.engine.compiler import compile_agent
    from voiceagent.engine.events import EventLog
    from voiceagent.engine.redaction import Redactor
    from voiceagent.engine.state import SessionState, template_context

    fields = {
        "turn": 3,
        "eou_to_first_token_ms": 251.2,
        "eou_to_first_audio_ms": 431.0,
        "llm_ttfb_ms": 251.0,
        "tts_ttfb_ms": 176.4,
        "prompt_tokens": 120,
        "completion_tokens": 8,
        "cached_tokens": 0,
        "request_id": "req_0123456789abcdef",
        "request_ids": ["req_0123456789abcdef"],
        "llm_rounds": 1,
        "tool_calls": 0,
        "interrupted": False,
        "timed_out": False,
    }
    red = Redactor(["account_id", "dob"], env=dict(os.environ))
    red.add("12345")
    mem = EventLog(None, redactor=red)
    out: dict[str, Any] = {
        "event_emit_us": {
            "memory_no_redactor": round(cpu_per(n, lambda: EventLog.emit(plain, "turn.metrics", **fields)), 1)
            if (plain := EventLog(None))
            else 0,
            "memory_redactor": round(cpu_per(n, lambda: mem.emit("turn.metrics", **fields)), 1),
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        filed = EventLog(Path(tmp) / "call.jsonl", redactor=red)
        out["event_emit_us"]["file_redactor"] = round(cpu_per(n, lambda: filed.emit("turn.metrics", **fields)), 1)
        filed.close()
    f8 = AudioFrame(np.zeros(160, "<i2").tobytes(), 8000)
    f24 = AudioFrame(np.zeros(480, "<i2").tobytes(), 24000)
    up, down = Resampler(8000, 16000), Resampler(24000, 8000)
    out["resample_us_per_frame"] = {
        "8k_to_16k": round(cpu_per(n, lambda: up.process(f8)), 1),
        "24k_to_8k": round(cpu_per(n, lambda: down.process(f24)), 1),
        "one_shot_24k_to_8k": round(cpu_per(n // 10, lambda: f24.resampled(8000)), 1),
    }
    compiled = compile_agent(load_agent(AGENT_PATH, env={}))
    state = SessionState(state=compiled.initial, language="en")
    from datetime import datetime

    started = datetime.now(UTC)

    def prompt() -> None:
        compiled.system_prompt(state.state, template_context(state, dict(compiled.agent.variables), {}, started))

    out["system_prompt_us"] = round(cpu_per(n // 10, prompt), 1)
    return out


async def network_paths(info: dict[str, Any], frames: int, patches: list[str]) -> dict[str, Any]:
    """The three provider clients."""
    out: dict[str, Any] = {}
    out.update(await pulse_push(info, frames, patches))
    out.update(await tts_chunks(info, 10))
    out.update(await llm_requests(info, 20, patches))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every measurement, print them and write JSON."""
    p = argparse.ArgumentParser(description="CPU cost of the runtime's hot paths.")
    p.add_argument("--frames", type=int, default=3000)
    p.add_argument("--n", type=int, default=5000, help="repetitions of the local measurements")
    p.add_argument("--patch", action="append", choices=PATCHES, default=[])
    p.add_argument("--out", default=None, help="default results/hot_paths[-PATCHES].json")
    args = p.parse_args(argv)
    cfg = FakeConfig(pulse_delay_ms=0, llm_ttft_ms=0, tts_first_audio_ms=0, tts_chunk_interval_ms=0)
    with spawn_fakes(cfg) as fakes:
        result: dict[str, Any] = asyncio.run(network_paths(fakes.info, args.frames, args.patch))
    result.update(local_paths(args.n))
    result = {
        "benchmark": "hot_paths",
        "patches": args.patch,
        "command": " ".join(["benchmarks/hot_paths.py", *(argv if argv is not None else sys.argv[1:])]),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **result,
    }
    out = Path(args.out or RESULTS / ("hot_paths" + "".join("-" + x for x in args.patch) + ".json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for k, v in result.items():
        print(f"{k}: {v}")
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
