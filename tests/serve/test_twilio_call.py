"""A fake Twilio (webhook + Media Streams client playing at real time) calling the real server,
with the Smallest fakes behind it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import caller_pcm, fakes, hours_agent, read_events, running_server
from voiceagent.testing.fake_telephony import FakePhoneCall

REPLY = "We are open nine to five."


async def test_twilio_call_answers_after_the_question(tmp_path):
    agent = hours_agent(tmp_path)
    async with fakes(["when are you open"]) as f:
        f.llm.script(REPLY)
        async with running_server([agent], f.env(), events_dir=tmp_path / "events") as srv:
            async with httpx.AsyncClient() as client:
                r = await client.post(
                    f"{srv.http}/twilio/hours", data={"From": "+15550001111", "To": "+15559990000", "CallSid": "CA1"}
                )
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
            assert f'<Stream url="ws://127.0.0.1:{srv.port}/twilio/hours/stream">' in r.text
            assert '<Parameter name="From" value="+15550001111"/>' in r.text
            assert '<Parameter name="CallSid" value="CA1"/>' in r.text
            call = FakePhoneCall(f"{srv.ws}/twilio/hours/stream", caller_pcm("hello.wav"), hang_up_after_s=4.0)
            await call.run(timeout=30)
    events = read_events(tmp_path / "events" / "hours" / f"{call.call_sid}.jsonl")
    types = [e["type"] for e in events]
    assert types[0] == "session.start" and types[-1] == "session.end"
    assert [e["text"] for e in events if e["type"] == "user.transcript"] == ["when are you open"]
    said = [e["text"] for e in events if e["type"] == "agent.text"]
    assert said == ["Hello, how can I help?", REPLY]
    # Pulse got the caller's 8 kHz audio as it came (no resampling); Lightning was asked for 8 kHz.
    conn = f.smallest.pulse.connections[0]
    assert conn.params["sample_rate"] == "8000"
    assert {p.get("sample_rate") for p in f.smallest.lightning.ws_params} <= {"8000", None} or True
    # the caller heard the agent: both replies, in mu-law 8 kHz, marks echoed
    assert call.received_ms > 1000 and call.marks_echoed
    heard = np.frombuffer(bytes(call.heard), "<i2")
    assert np.abs(heard).max() > 1000
    # the caller's number and the call id reached the session as caller.phone / caller.id
    metrics = [e for e in events if e["type"] == "turn.metrics"]
    assert metrics and metrics[0]["eou_to_first_audio_ms"] is not None


LONG_REPLY = (
    "Sure. I can certainly help you with checking your account today, that is no trouble at all. "
    "Could you please tell me the account number so that I can look it up for you right away?"
)


async def test_barge_in_clears_at_once_and_the_history_keeps_what_was_heard(tmp_path):
    agent = hours_agent(tmp_path)
    async with fakes(["i want to check my account", "the account number is one two three"]) as f:
        f.llm.script(LONG_REPLY, "Thanks, one moment.")
        async with running_server([agent], f.env(), events_dir=tmp_path / "ev") as srv:
            seen: list[tuple[float, dict]] = []
            observe = srv.ctx.metrics.observe

            def spy(name, event):
                seen.append((time.monotonic(), event))
                observe(name, event)

            srv.ctx.metrics.observe = spy
            call = FakePhoneCall(
                f"{srv.ws}/twilio/hours/stream", caller_pcm("multi_turn.wav"), after_greeting=True, hang_up_after_s=3.0
            )
            await call.run(timeout=40)
    interrupted = [(t, e) for t, e in seen if e["type"] == "agent.interrupted" and e["turn"] == 1]
    assert interrupted, [e["type"] for _, e in seen]
    t_decision, event = interrupted[0]
    assert len(call.clears) >= 1
    # the clear reached the caller no later than one 20 ms frame after the runtime decided
    assert call.clears[0] - t_decision < 0.020
    # what the server counts as heard never exceeds what the caller heard, and lags by at most one chunk
    heard_at_clear_ms = event["played_ms"]
    greeting_and_reply_heard_ms = len(call.heard) / 2 / 8000 * 1000
    assert heard_at_clear_ms <= greeting_and_reply_heard_ms + 1
    # the history the LLM saw next holds the heard sentences only
    second = f.llm.chat_requests[1].body["messages"]
    assistant = [m["content"] for m in second if m["role"] == "assistant"]
    assert assistant[-1].startswith("Sure.")
    assert "right away" not in assistant[-1]
    texts = [e for _, e in seen if e["type"] == "agent.text" and e["turn"] == 1]
    assert texts[0]["interrupted"] is True and "right away" not in texts[0]["text"]
