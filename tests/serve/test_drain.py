"""SIGTERM on a real `voiceagent serve` process: /healthz 503 at once, new calls refused, the
running call ends with the goodbye after --drain-timeout, exit 0, the event log complete."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import ROOT, caller_pcm, fakes, hours_agent
from voiceagent.serve.runner import GOODBYES
from voiceagent.testing.fake_telephony import FakePhoneCall


async def start_server(args, env):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voiceagent", "serve", *args, "--port", "0",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    lines = []
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line, "server exited: " + "".join(lines)
        lines.append(line)
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1), lines


async def test_sigterm_drains_then_ends_the_call_with_words(tmp_path):
    agent = hours_agent(tmp_path)
    events_dir = tmp_path / "ev"
    async with fakes(["when are you open"]) as f:
        env = {**os.environ, **f.env(), "PYTHONPATH": str(ROOT / "runtime")}
        proc, base, lines = await start_server(
            [str(agent), "--events-dir", str(events_dir), "--drain-timeout", "1"], env
        )
        ws = base.replace("http://", "ws://")
        # a caller who keeps the line open (silence after the question, never hangs up)
        call = FakePhoneCall(f"{ws}/twilio/hours/stream", caller_pcm("hello.wav") + b"\x00" * 8000 * 2 * 30)
        running = asyncio.create_task(call.run(timeout=40))
        async with httpx.AsyncClient(base_url=base) as c:
            for _ in range(300):
                if (await c.get("/healthz")).json()["calls"] == 1 and call.received_ms > 500:
                    break
                await asyncio.sleep(0.05)
            heard_before = call.received_ms
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            health = await c.get("/healthz")
            assert health.status_code == 503 and health.json()["status"] == "draining"
            busy = await c.post("/twilio/hours", data={"CallSid": "CA2"})
            assert "<Hangup/>" in busy.text and "<Stream" not in busy.text
        await running
        code = await asyncio.wait_for(proc.wait(), 30)
        err = "".join(lines) + (await proc.stderr.read()).decode()
    assert code == 0, err
    assert call.close_code == 1000
    # the caller heard the goodbye after the drain timeout (the fake TTS: 40 ms per character)
    goodbye_ms = len(GOODBYES["en"]) * 40
    assert call.received_ms - heard_before >= goodbye_ms - 100
    assert np.abs(np.frombuffer(bytes(call.heard), "<i2")).max() > 1000
    # the event log is complete: every line JSON, session.end then the goodbye
    path = events_dir / "hours" / f"{call.call_sid}.jsonl"
    raw = path.read_text()
    assert raw.endswith("\n")
    events = [json.loads(line) for line in raw.splitlines()]
    types = [e["type"] for e in events]
    assert types[0] == "session.start"
    assert types[-2:] == ["session.end", "server.goodbye"]
    assert events[-2]["reason"] == "shutdown"
    # one structured log line per call start and end
    starts = [json.loads(m) for m in re.findall(r"voiceagent.serve: (\{\"event\": \"call.start\".*\})", err)]
    ends = [json.loads(m) for m in re.findall(r"voiceagent.serve: (\{\"event\": \"call.end\".*\})", err)]
    assert len(starts) == 1 and len(ends) == 1
    assert ends[0]["outcome"] == "shutdown" and ends[0]["call_id"] == call.call_sid


async def test_invalid_files_are_reported_and_skipped_and_the_server_starts(tmp_path):
    hours_agent(tmp_path)
    (tmp_path / "broken.yaml").write_text("version: 1\nname: broken\nprompt: [unclosed\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "runtime"), "SMALLEST_API_KEY": "sk_dummy"}
    proc, base, lines = await start_server([str(tmp_path), "--no-reload"], env)
    try:
        async with httpx.AsyncClient(base_url=base) as c:
            assert (await c.get("/healthz")).json()["agents"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    out = "".join(lines)
    assert "broken.yaml:4:1: error: YAML syntax error" in out
    assert "(agents: hours)" in out and "Traceback" not in out
    assert code == 0


async def test_a_bad_public_url_is_a_usage_error(tmp_path):
    agent = hours_agent(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "runtime")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voiceagent", "serve", str(agent), "--public-url", "voice.example",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "'voice.example' is not an http(s) URL" in err.decode()
