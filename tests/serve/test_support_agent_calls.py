"""agents/support.yaml end to end through `voiceagent serve`: a fake Twilio call and fake Exotel
calls (8 and 16 kHz PCM16), its python tool run, DTMF recorded, the caller's number in caller.phone."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from serve_helpers import AGENTS, caller_pcm, fakes, read_events, running_server
from voiceagent.testing.fake_openai_replies import ToolCall, ToolCallReply
from voiceagent.testing.fake_telephony import FakePhoneCall


@pytest.mark.parametrize(
    ("dialect", "rate", "path"),
    [
        ("twilio", 8000, "/twilio/acme-support/stream"),
        ("exotel", 8000, "/exotel/acme-support"),
        ("exotel", 16000, "/exotel/acme-support?sample-rate=16000"),
    ],
)
async def test_support_agent_answers_a_phone_call(tmp_path, dialect, rate, path):
    async with fakes(["can you check my account the number is one two three four five"]) as f:
        f.llm.script(
            ToolCallReply([ToolCall("get_account_info", {"account_id": "12345"})]),
            "Your plan is Premium and your balance is zero.",
        )
        async with running_server([AGENTS / "support.yaml"], f.env(), events_dir=tmp_path / "ev") as srv:
            call = FakePhoneCall(
                srv.ws + path,
                caller_pcm("account_question.wav", rate),
                rate=rate,
                dialect=dialect,
                phone="+919800000001",
                after_greeting=True,
                hang_up_after_s=5.0,
                dtmf=[(0.5, "7")],
            )
            await call.run(timeout=40)
    events = read_events(tmp_path / "ev" / "acme-support" / f"{call.call_sid}.jsonl")
    types = [e["type"] for e in events]
    assert types[0] == "session.start" and types[-1] == "session.end"
    said = [e["text"] for e in events if e["type"] == "agent.text"]
    assert said[0] == "Hi, this is Acme Corp support. How can I help?"
    assert "Premium" in said[-1]
    results = [e for e in events if e["type"] == "tool.result"]
    assert results and results[0]["name"] == "get_account_info" and results[0]["ok"] is True
    assert {"type": "dtmf", "digit": "7"}.items() <= next(e for e in events if e["type"] == "dtmf").items()
    # the caller's audio reached Pulse at the wire rate, unresampled; Lightning spoke at that rate
    conn = f.smallest.pulse.connections[0]
    assert conn.params["sample_rate"] == str(rate) and conn.params["encoding"] == "linear16"
    assert {r.body["sample_rate"] for r in f.smallest.lightning.requests} == {rate}
    # the caller heard the greeting, the filler and the answer
    assert call.received_ms > 3000
    assert np.abs(np.frombuffer(bytes(call.heard), "<i2")).max() > 1000
    media = [m for m in call.messages if m.get("event") == "media"]
    key = "streamSid" if dialect == "twilio" else "stream_sid"
    assert media and all(m[key] == call.stream_sid for m in media)
    if dialect == "exotel":
        import base64

        sizes = [len(base64.b64decode(m["media"]["payload"])) for m in media]
        assert all(size % 320 == 0 for size in sizes)
        # Exotel's 3.2 kB minimum: only a sentence's last piece may be shorter
        sentences = len([e for e in events if e["type"] == "agent.text"]) + 2
        assert sum(size < 3200 for size in sizes) <= sentences, sizes
