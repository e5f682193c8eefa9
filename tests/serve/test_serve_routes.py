"""Every route of the spec on the real server: health, metrics, agents, pages, unknown agents,
the Twilio webhook's signature check, capacity refusal, transfer and hang-up through a fake
Twilio REST API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import caller_pcm, fakes, hours_agent, read_events, running_server
from voiceagent.serve.twilio_web import compute_signature
from voiceagent.testing.fake_openai_replies import ToolCall, ToolCallReply
from voiceagent.testing.fake_telephony import FakePhoneCall, FakeTwilioRest

TOOLS = """\
tools:
  - name: transfer_to_human
    description: Transfer the call to a person.
    parameters: {reason: {type: string, description: why}}
    builtin: transfer
    to: "+15550100"
  - name: end_call
    description: Hang up after saying goodbye.
    parameters: {}
    builtin: end_call
"""


async def close_code(url: str) -> int | None:
    async with connect(url) as ws:
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        return ws.close_code


async def test_health_agents_index_metrics_and_unknown_agents(tmp_path):
    hours_agent(tmp_path)
    (tmp_path / "broken.yaml").write_text("version: 1\nname: broken\nprompt: [unclosed\n")
    async with fakes([]) as f, running_server([tmp_path], f.env(), max_calls=3) as srv:
        async with httpx.AsyncClient(base_url=srv.http) as c:
            health = await c.get("/healthz")
            assert health.status_code == 200
            assert health.json() == {"status": "ok", "calls": 0, "max_calls": 3, "agents": 1}
            agents = {Path(a["file"]).name: a for a in (await c.get("/agents")).json()}
            assert agents["hours.yaml"] | {"file": None} == {
                "name": "hours", "file": None, "language": "en", "valid": True, "error": None,
                "version": 1, "serving": True,
            }  # fmt: skip
            assert (
                agents["broken.yaml"]["valid"] is False
                and "broken.yaml:4:1: error: YAML syntax error" in agents["broken.yaml"]["error"]
            )
            index = await c.get("/")
            assert index.status_code == 200 and 'href="/call/hours"' in index.text and "broken.yaml" in index.text
            page = await c.get("/call/hours")
            assert 'data-action="call"' in page.text and 'data-action="hangup"' in page.text
            assert (await c.get("/static/call.js")).status_code == 200
            assert (await c.get("/static/worklet.js")).status_code == 200
            metrics = (await c.get("/metrics")).text
            assert "voiceagent_calls_active 0.0" in metrics
            assert "voiceagent_turn_latency_seconds" in metrics
            assert (await c.get("/call/nobody")).status_code == 404
            assert (await c.post("/twilio/nobody", data={"CallSid": "CA1"})).status_code == 404
        for path in ("/twilio/nobody/stream", "/exotel/nobody", "/ws/nobody", "/twilio/broken/stream"):
            assert await close_code(srv.ws + path) == 1008, path


async def test_webhook_signature_is_required_when_the_auth_token_is_set(tmp_path):
    agent = hours_agent(tmp_path)
    form = {"CallSid": "CA9", "From": "+15550001111", "To": "+15559990000"}
    async with fakes([]) as f:
        env = f.env(TWILIO_AUTH_TOKEN="tok-secret-123")
        async with (
            running_server([agent], env, public_url="https://voice.example") as srv,
            httpx.AsyncClient(base_url=srv.http) as c,
        ):
            missing = await c.post("/twilio/hours", data=form)
            assert missing.status_code == 403 and "tok-secret" not in missing.text
            wrong = await c.post("/twilio/hours", data=form, headers={"X-Twilio-Signature": "AAAA"})
            assert wrong.status_code == 403
            # signed for the public URL Twilio calls (not the local address)
            local = compute_signature("tok-secret-123", f"{srv.http}/twilio/hours", form)
            assert (await c.post("/twilio/hours", data=form, headers={"X-Twilio-Signature": local})).status_code == 403
            sig = compute_signature("tok-secret-123", "https://voice.example/twilio/hours", form)
            ok = await c.post("/twilio/hours", data=form, headers={"X-Twilio-Signature": sig})
            assert ok.status_code == 200
            assert '<Stream url="wss://voice.example/twilio/hours/stream">' in ok.text
            tampered = await c.post(
                "/twilio/hours", data={**form, "From": "+1999"}, headers={"X-Twilio-Signature": sig}
            )
            assert tampered.status_code == 403


async def test_forwarded_headers_build_the_wss_url(tmp_path):
    agent = hours_agent(tmp_path)
    async with fakes([]) as f, running_server([agent], f.env()) as srv, httpx.AsyncClient(base_url=srv.http) as c:
        r = await c.post(
            "/twilio/hours",
            data={"CallSid": "CA1"},
            headers={"X-Forwarded-Proto": "https", "Host": "abc.trycloudflare.com"},
        )
    assert '<Stream url="wss://abc.trycloudflare.com/twilio/hours/stream">' in r.text


async def test_capacity_refuses_at_once_with_busy_twiml_and_1013(tmp_path):
    agent = hours_agent(tmp_path)
    async with fakes(["hello"]) as f, running_server([agent], f.env(), max_calls=1, events_dir=tmp_path / "ev") as srv:
        first = FakePhoneCall(f"{srv.ws}/twilio/hours/stream", caller_pcm("hello.wav"), hang_up_after_s=1.0)
        task = asyncio.create_task(first.run(timeout=30))
        for _ in range(200):
            if len(srv.ctx.registry):
                break
            await asyncio.sleep(0.02)
        assert len(srv.ctx.registry) == 1
        async with httpx.AsyncClient(base_url=srv.http) as c:
            t0 = asyncio.get_running_loop().time()
            busy = await c.post("/twilio/hours", data={"CallSid": "CA2"})
            assert asyncio.get_running_loop().time() - t0 < 1.0
            assert "<Say>" in busy.text and "<Hangup/>" in busy.text and "<Stream" not in busy.text
            health = (await c.get("/healthz")).json()
            assert health["calls"] == 1 and health["max_calls"] == 1
        for path in ("/twilio/hours/stream", "/exotel/hours", "/ws/hours"):
            assert await close_code(srv.ws + path) == 1013, path
        await task
        assert await srv.ctx.registry.wait_empty(10)
        async with httpx.AsyncClient(base_url=srv.http) as c:
            metrics = (await c.get("/metrics")).text
    assert 'voiceagent_calls_total{agent="hours",outcome="refused_capacity"} 4.0' in metrics
    assert 'voiceagent_calls_total{agent="hours",outcome="caller_ended"} 1.0' in metrics
    assert len(list((tmp_path / "ev" / "hours").glob("*.jsonl"))) == 1


@pytest.mark.parametrize("with_credentials", [True, False])
async def test_transfer_updates_the_call_through_twilio_rest(tmp_path, with_credentials):
    agent = hours_agent(tmp_path, extra=TOOLS)
    async with fakes(["i want a person"]) as f, FakeTwilioRest() as rest:
        f.llm.script(ToolCallReply([ToolCall("transfer_to_human", {"reason": "asked"})]), "Connecting you now.")
        creds = {"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "tok", "TWILIO_API_BASE_URL": rest.base_url}
        env = f.env(**(creds if with_credentials else {}))
        async with running_server([agent], env, events_dir=tmp_path / "ev") as srv:
            call = FakePhoneCall(f"{srv.ws}/twilio/hours/stream", caller_pcm("hello.wav"), after_greeting=True)
            await call.run(timeout=30)
    events = read_events(tmp_path / "ev" / "hours" / f"{call.call_sid}.jsonl")
    transfer = [e for e in events if e["type"] == "telephony.transfer"]
    assert [e["to"] for e in events if e["type"] == "call.transfer"] == ["+15550100"]
    assert call.close_code == 1000  # the stream ended once the last words were heard
    if with_credentials:
        assert len(rest.requests) == 1
        req = rest.requests[0]
        assert req.path == f"/2010-04-01/Accounts/AC123/Calls/{call.call_sid}.json"
        assert "<Dial>+15550100</Dial>" in req.form["Twiml"]
        assert req.authorization == "Basic " + base64.b64encode(b"AC123:tok").decode()
        assert transfer == [transfer[0]] and transfer[0]["via"] == "twilio-rest" and transfer[0]["status"] == 200
    else:
        assert rest.requests == []
        assert transfer[0]["via"] == "event-log"
    # the agent's last words were played before the stream closed
    said = [e["text"] for e in events if e["type"] == "agent.text"]
    assert "Connecting you now." in said[-1]
    assert call.received_ms >= 900 + 19 * 40 - 50


async def test_end_call_hangs_up_after_the_last_words(tmp_path):
    agent = hours_agent(tmp_path, extra=TOOLS)
    async with fakes(["bye"]) as f, FakeTwilioRest() as rest:
        f.llm.script(ToolCallReply([ToolCall("end_call", {})], filler="Goodbye, have a nice day."))
        env = f.env(TWILIO_ACCOUNT_SID="AC123", TWILIO_AUTH_TOKEN="s3cr3t-twilio", TWILIO_API_BASE_URL=rest.base_url)
        async with running_server([agent], env, events_dir=tmp_path / "ev") as srv:
            call = FakePhoneCall(f"{srv.ws}/twilio/hours/stream", caller_pcm("hello.wav"), after_greeting=True)
            await call.run(timeout=30)
    events = read_events(tmp_path / "ev" / "hours" / f"{call.call_sid}.jsonl")
    ends = [e for e in events if e["type"] == "session.end"]
    assert ends and ends[0]["reason"] == "end_call"
    assert events[-1]["type"] == "telephony.hangup" and events[-1]["status"] == 200
    assert "s3cr3t-twilio" not in (tmp_path / "ev" / "hours" / f"{call.call_sid}.jsonl").read_text()
    assert [r.form for r in rest.requests] == [{"Status": "completed"}]
    assert call.close_code == 1000
    # every mark the server sent came back before it hung up: the caller heard the last words
    sent_marks = [m for m in call.messages if m.get("event") == "mark"]
    assert len(call.marks_echoed) == len(sent_marks)
