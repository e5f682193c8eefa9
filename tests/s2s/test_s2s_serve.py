"""agents/support.hydra.yaml through `voiceagent serve`: a fake Twilio phone call (8 kHz mu-law)
answered by the fake Hydra, with the account tool run by the runtime. The server assembles the
call with build_call, which picks the speech-to-speech session for this agent."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "serve"))
from serve_helpers import AGENTS, caller_pcm, read_events, running_server  # noqa: E402
from voiceagent.testing.fake_smallest import FakeSmallest, HydraOptions, HydraTurn, PulseOptions  # noqa: E402
from voiceagent.testing.fake_telephony import FakePhoneCall  # noqa: E402

TURN = HydraTurn(
    say="Let me check.",
    tool_call={"name": "get_account_info", "arguments": {"account_id": "12345"}},
    then_say="You are on the Pro plan.",
)


async def test_a_phone_call_to_the_hydra_agent_through_serve(tmp_path):
    opts = {"hydra": HydraOptions(turns=[TURN]), "pulse": PulseOptions(transcripts=["check my account 12345"])}
    async with FakeSmallest(**opts) as fake:
        env = {"SMALLEST_API_KEY": fake.api_key, "SMALLEST_BASE_URL": fake.base_url}
        async with running_server([AGENTS / "support.hydra.yaml"], env, events_dir=tmp_path / "ev") as srv:
            call = FakePhoneCall(
                srv.ws + "/twilio/acme-support-hydra/stream",
                caller_pcm("account_question.wav", 8000),
                rate=8000,
                dialect="twilio",
                after_greeting=True,
                hang_up_after_s=4.0,
            )
            await call.run(timeout=40)
    events = read_events(tmp_path / "ev" / "acme-support-hydra" / f"{call.call_sid}.jsonl")
    assert events[0]["type"] == "session.start" and events[0]["mode"] == "speech_to_speech"
    assert events[-1]["type"] == "session.end"
    # the phone caller let the greeting finish: it is not logged as interrupted
    texts = {e["turn"]: e for e in events if e["type"] == "agent.text"}
    assert texts[0]["interrupted"] is False and texts[1]["interrupted"] is False
    (result,) = [e for e in events if e["type"] == "tool.result"]
    assert result["name"] == "get_account_info" and result["ok"] is True
    (conn,) = fake.hydra.connections
    assert json.loads(conn.tool_outputs[0]["output"])["plan"] == "Pro"
    # the phone caller heard Hydra's 48 kHz audio, resampled to the line's 8 kHz
    assert call.received_ms > 1500
    assert np.abs(np.frombuffer(bytes(call.heard), "<i2")).max() > 1000
