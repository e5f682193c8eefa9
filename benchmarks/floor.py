"""The fakes' own latency floor: the same three exchanges made by bare protocol clients.

What the runtime's measured overhead cannot go below on this machine: loopback networking plus
the fake servers' own processing (JSON, base64, numpy RMS, asyncio timers) beyond the delay
they were told to take. Each exchange, with ``websockets`` / ``httpx`` directly (no runtime code):

* ``pulse``: send 0.5 s of speech and ``eou_ms`` of silence as fast as possible; time from the
  last silence frame sent to the final transcript received, minus the Pulse delay;
* ``llm``: one streamed chat-completions POST (the benchmark agent's first request shape); time
  to the first ``content`` delta, minus the LLM first-token delay;
* ``tts``: one Lightning WebSocket request; time to the first ``chunk``, minus the first-audio delay.

Used by turn_latency.py (``fake_floor_ms`` in its JSON). Times in ms.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from harness import CALLER_RATE, Delays, percentiles, synthetic_utterance


async def _pulse(info: dict[str, Any], d: Delays) -> float:
    from websockets.asyncio.client import connect

    url = (
        info["ws_base_url"].replace("http://", "ws://") + "/stt/live?model=pulse&language=en"
        f"&sample_rate={CALLER_RATE}&encoding=linear16&eou_timeout_ms={int(d.eou_ms)}"
    )
    speech = synthetic_utterance(0.5, 3)
    frame = CALLER_RATE // 50
    silence = np.zeros(frame, "<i2").tobytes()
    async with connect(url, additional_headers={"Authorization": f"Bearer {info['api_key']}"}) as ws:
        for i in range(0, len(speech) - frame + 1, frame):
            await ws.send(speech[i : i + frame].tobytes())
        for _ in range(int(d.eou_ms // 20)):
            await ws.send(silence)
        t = time.monotonic()
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("is_final"):
                return 1000 * (time.monotonic() - t) - d.pulse_ms


async def _llm(client: Any, info: dict[str, Any], d: Delays) -> float:
    body = {
        "model": "electron",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "You are a benchmark agent."},
            {"role": "user", "content": "what are your opening hours"},
        ],
    }
    t = time.monotonic()
    async with client.stream(
        "POST",
        info["llm_base_url"] + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {info['api_key']}"},
    ) as resp:
        async for line in resp.aiter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                return 1000 * (time.monotonic() - t) - d.llm_ttft_ms
    raise RuntimeError("no content from the fake LLM")


async def _tts(ws: Any, d: Delays, i: int) -> float:
    t = time.monotonic()
    await ws.send(
        json.dumps(
            {
                "voice_id": "meher",
                "text": f"Sure, we open at nine {i}.",
                "sample_rate": 24000,
                "request_id": f"floor{i}",
            }
        )
    )
    first = None
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("status") == "chunk" and first is None:
            first = 1000 * (time.monotonic() - t) - d.tts_first_ms
        if msg.get("status") in ("complete", "error"):
            return first if first is not None else float("nan")


async def measure_floor(info: dict[str, Any], d: Delays, n: int = 20) -> dict[str, Any]:
    """Percentiles (ms) of each exchange's time beyond its injected delay, over ``n`` tries
    (after one warm-up each), and the sum of the three p50s (a plain turn's floor).
    """
    import httpx
    from websockets.asyncio.client import connect

    out: dict[str, list[float]] = {"pulse": [], "llm": [], "tts": []}
    for i in range(n + 1):
        v = await _pulse(info, d)
        if i:
            out["pulse"].append(v)
    async with httpx.AsyncClient(timeout=10) as client:
        for i in range(n + 1):
            v = await _llm(client, info, d)
            if i:
                out["llm"].append(v)
    url = info["ws_base_url"].replace("http://", "ws://") + "/tts/live"
    async with connect(url, additional_headers={"Authorization": f"Bearer {info['api_key']}"}) as ws:
        for i in range(n + 1):
            v = await _tts(ws, d, i)
            if i:
                out["tts"].append(v)
    stats = {k: percentiles(v) for k, v in out.items()}
    plain = sum(float(s["p50"] or 0) for s in stats.values())
    return {**stats, "plain_turn_p50_sum": round(plain, 1)}
