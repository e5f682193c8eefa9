"""The speech-to-speech session loop against the fake Hydra: barge-in, flow transitions ->
session.update, requires_level refusals, verification, parallel transcripts (Pulse), a dropped
socket, a full server, the tool-response timeout, end_call."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from voiceagent.providers.base import ProviderError
from voiceagent.testing.fake_smallest import FakeSmallest, HydraOptions, HydraTurn, PulseOptions

sys.path.insert(0, str(Path(__file__).parent))
from s2s_helpers import agent_file, loud_ms, of, run_call

PLAIN = """\
version: 1
name: s2s-test
prompt: You help callers of {{ company }}.
variables: {company: Acme}
speech_to_speech: {voice: zoe, transcripts: none}
"""
UTTERANCE = [("silence", 300), ("speech", 400), ("silence", 1200)]


async def test_barge_in_clears_the_queued_agent_audio_at_once_and_marks_the_turn_interrupted(tmp_path):
    long_reply = "This is a very long answer that goes on and on about the many plans we offer to callers."
    # realtime=False: the model sends all 3.6 s of its answer at once, so it is queued in the transport
    opts = HydraOptions(turns=[HydraTurn(say=long_reply), HydraTurn(say="Okay.")], realtime=False)
    async with FakeSmallest(hydra=opts) as fake:
        segments = [("silence", 300), ("speech", 400), ("silence", 1100), ("speech", 400), ("silence", 1500)]
        call, transport, reason = await run_call(tmp_path, fake, agent_file(tmp_path, PLAIN), segments)
    assert reason == "caller_ended"
    (cut,) = of(call, "agent.interrupted")
    assert cut["turn"] == 1 and cut["cause"] == "speech_started"
    texts = {e["turn"]: e for e in of(call, "agent.text")}
    assert texts[1]["interrupted"] is True and texts[1]["audio_ms"] == pytest.approx(40 * len(long_reply), abs=50)
    assert texts[1]["heard_ms"] < 1000 and texts[1]["heard_ms"] == cut["played_ms"]
    assert texts[2]["interrupted"] is False  # the second utterance got its own answer
    # only what was heard before the barge-in is in the agent's recording, not the 3.6 s received
    first_reply = loud_ms(tmp_path / "agent.wav", 0, 2900)
    assert first_reply < 1100, first_reply
    metrics = {e["turn"]: e for e in of(call, "turn.metrics")}
    assert metrics[1]["interrupted"] is True and metrics[2]["interrupted"] is False


FLOW = """\
version: 1
name: s2s-flow
prompt: You are the Acme phone agent.
speech_to_speech: {voice: zoe, transcripts: none}
tools:
  - name: get_account_info
    description: Look up an account.
    parameters: {account_id: {type: string, pattern: "^[0-9]{4,12}$"}}
    required: [account_id]
    python: s2stools:get_account_info
flow:
  initial: triage
  states:
    triage:
      instructions: Find out what the caller needs.
      transitions:
        - to: billing
          description: The caller asks about their bill or account.
    billing:
      instructions: Help with the account.
      tools: [get_account_info]
"""


async def test_a_transition_sends_the_new_states_tools_and_the_runtime_runs_them(tmp_path):
    turns = [
        HydraTurn(tool_call={"name": "go_to_billing", "arguments": {}}, then_say="Sure."),
        HydraTurn(tool_call={"name": "get_account_info", "arguments": {"account_id": "12345"}}, then_say="Pro."),
    ]
    async with FakeSmallest(hydra=HydraOptions(turns=turns)) as fake:
        call, _, _ = await run_call(tmp_path, fake, agent_file(tmp_path, FLOW), UTTERANCE + UTTERANCE)
    (conn,) = fake.hydra.connections
    assert [t["name"] for t in conn.configure["tools"]] == ["go_to_billing"]
    assert "Find out what the caller needs." in conn.configure["instructions"]
    (update,) = conn.updates
    assert [t["name"] for t in update["tools"]] == ["get_account_info"] and "function" not in update["tools"][0]
    assert [(e["state"], e["via"]) for e in of(call, "state.enter")] == [("triage", "initial"), ("billing", "llm")]
    (event,) = of(call, "s2s.update")
    assert event["state"] == "billing" and event["tools"] == ["get_account_info"]
    assert "cannot change" in event["instructions"]
    (result,) = of(call, "tool.result")
    assert result["name"] == "get_account_info" and result["ok"] is True
    assert [o["call_id"] for o in conn.tool_outputs] and len(conn.tool_outputs) == 2


async def test_invalid_arguments_are_refused_like_in_the_cascaded_loop(tmp_path):
    turns = [
        HydraTurn(tool_call={"name": "go_to_billing", "arguments": {}}, then_say="Sure."),
        HydraTurn(tool_call={"name": "get_account_info", "arguments": {"account_id": "12"}}, then_say="Hm."),
    ]
    async with FakeSmallest(hydra=HydraOptions(turns=turns)) as fake:
        call, _, _ = await run_call(tmp_path, fake, agent_file(tmp_path, FLOW), UTTERANCE + UTTERANCE)
    (result,) = of(call, "tool.result")
    assert result["ok"] is False and "account_id" in result["error"]
    assert "error" in fake.hydra.connections[0].tool_outputs[-1]["output"]


VERIFIED = """\
version: 1
name: s2s-verify
prompt: You are the bank's phone agent.
speech_to_speech: {voice: zoe, transcripts: none}
tools:
  - name: lookup_customer
    parameters: {}
    python: s2stools:lookup_customer
  - name: get_balance
    description: The caller's balance.
    parameters: {}
    requires_level: 1
    python: s2stools:get_balance
guardrails:
  verification:
    factors: [dob]
    lookup: lookup_customer
    levels: {1: {min_factors: 1}}
  redact: [dob]
"""


async def test_requires_level_refuses_until_the_guard_verified_the_caller(tmp_path):
    turns = [
        HydraTurn(tool_call={"name": "get_balance", "arguments": {}}, then_say="I need to verify you first."),
        HydraTurn(tool_call={"name": "verify_caller", "arguments": {"dob": "1990-01-01"}}, then_say="Thanks."),
        HydraTurn(tool_call={"name": "get_balance", "arguments": {}}, then_say="Your balance is fine."),
    ]
    async with FakeSmallest(hydra=HydraOptions(turns=turns)) as fake:
        call, _, _ = await run_call(tmp_path, fake, agent_file(tmp_path, VERIFIED), UTTERANCE * 3)
    (conn,) = fake.hydra.connections
    assert "verify_caller" in [t["name"] for t in conn.configure["tools"]]
    results = of(call, "tool.result")
    assert [(r["name"], r["ok"]) for r in results] == [
        ("get_balance", False),
        ("verify_caller", True),
        ("get_balance", True),
    ]
    assert results[0]["refused"] is True and "level 1" in results[0]["error"]
    assert "verification needed" in conn.tool_outputs[0]["output"]  # the guard's refusal, for the model
    assert of(call, "verification")[0]["level"] == 1 and of(call, "verification")[0]["factors_matched"] == ["dob"]
    assert "1990-01-01" not in str(call.events.events)  # the stated factor never reaches the log


TRANSCRIBED = """\
version: 1
name: s2s-stt
prompt: You are the bank's phone agent.
speech_to_speech: {voice: zoe, transcripts: stt}
stt: {provider: smallest}
tools:
  - name: lookup_customer
    parameters: {}
    python: s2stools:lookup_customer
guardrails:
  verification:
    factors: [dob]
    lookup: lookup_customer
    levels: {1: {min_factors: 1}}
  redact: [dob]
flow:
  initial: start
  states:
    start:
      transitions:
        - to: verified
          when: "session.verification_level >= 1"
    verified:
      instructions: The caller is verified.
"""


async def test_transcripts_stt_transcribes_the_caller_in_parallel_with_redaction_and_when_guards(tmp_path):
    said = "my date of birth is 1990-01-01"
    turns = [HydraTurn(tool_call={"name": "verify_caller", "arguments": {"dob": "1990-01-01"}}, then_say="Thanks.")]
    async with FakeSmallest(hydra=HydraOptions(turns=turns), pulse=PulseOptions(transcripts=[said])) as fake:
        call, _, _ = await run_call(tmp_path, fake, agent_file(tmp_path, TRANSCRIBED), UTTERANCE)
    (pulse,) = fake.pulse.connections
    assert pulse.audio_bytes > 0  # the same caller audio went to Pulse
    (transcript,) = of(call, "user.transcript")
    assert transcript["source"] == "stt" and transcript["text"] == "my date of birth is [redacted]"
    assert "1990" not in str(call.events.events)  # the stated factor is masked everywhere, also after the fact
    assert of(call, "session.start")[0]["stt"] == "smallest-pulse"
    assert ("verified", "guard") in [(e["state"], e["via"]) for e in of(call, "state.enter")]
    (update,) = fake.hydra.connections[0].updates  # the new state's tools went to the model
    assert [t["name"] for t in update["tools"]] == ["verify_caller"]


async def test_a_dropped_socket_starts_a_new_session_with_a_summary_of_the_call(tmp_path):
    agent = PLAIN.replace("variables:", 'greeting: "Hello, Acme here."\nvariables:')
    opts = HydraOptions(turns=[HydraTurn(say="First answer.")], drop_after_turns=2, greeting="Hello, Acme here.")
    async with FakeSmallest(hydra=opts) as fake:
        segments = [("silence", 1200), *UTTERANCE, *UTTERANCE]
        call, _, reason = await run_call(tmp_path, fake, agent_file(tmp_path, agent), segments)
    assert reason == "caller_ended"
    first, second = fake.hydra.connections[:2]
    assert first.configure["generate_initial_response"] is True
    assert second.configure["generate_initial_response"] is False
    summary = second.configure["instructions"]
    assert summary.startswith("You help callers of Acme.")
    assert "do not greet the caller again" in summary and "Hello, Acme here." in summary
    (reconnect,) = of(call, "s2s.reconnect")
    assert reconnect["attempt"] == 1 and reconnect["code"] is None and reconnect["summary_entries"] >= 2
    assert second.audio_bytes > 0  # the call went on over the new session
    assert [e["turn"] for e in of(call, "agent.text")][-1] == 2


async def test_a_full_server_is_retried_and_the_call_starts_once_it_has_room(tmp_path, monkeypatch):
    import asyncio

    import voiceagent.engine.s2s_link as link

    monkeypatch.setattr(link, "CONNECT_BACKOFF_S", (0.05, 0.05, 0.5))
    async with FakeSmallest(hydra=HydraOptions(server_full=True)) as fake:

        async def make_room() -> None:
            while len(fake.hydra.connections) < 2:
                await asyncio.sleep(0.01)
            fake.hydra.options.server_full = False

        room = asyncio.create_task(make_room())
        call, _, reason = await run_call(tmp_path, fake, agent_file(tmp_path, PLAIN), UTTERANCE)
        await room
    assert reason == "caller_ended"
    retries = [e for e in of(call, "error") if "retry_in_ms" in e]
    assert len(retries) == 2 and all("capacity" in e["message"] for e in retries)
    assert [e["attempt"] for e in retries] == [1, 2] and len(fake.hydra.connections) == 3
    assert of(call, "agent.text")[-1]["interrupted"] is False


async def test_a_server_that_stays_full_ends_the_call_with_a_clear_error(tmp_path, monkeypatch):
    import voiceagent.engine.s2s_link as link

    monkeypatch.setattr(link, "CONNECT_BACKOFF_S", (0.01, 0.01))
    async with FakeSmallest(hydra=HydraOptions(server_full=True)) as fake:
        with pytest.raises(ProviderError, match="Hydra"):
            await run_call(tmp_path, fake, agent_file(tmp_path, PLAIN), UTTERANCE)
        assert len(fake.hydra.connections) == 3


SLOW = """\
version: 1
name: s2s-slow
prompt: You are the Acme phone agent.
speech_to_speech: {voice: zoe, transcripts: none}
tools:
  - name: slow_lookup
    parameters: {account_id: {type: string}}
    python: s2stools:slow_lookup
  - name: end_call
    parameters: {}
    builtin: end_call
"""


async def test_a_late_tool_output_abandons_the_turn_as_the_model_says(tmp_path):
    turns = [HydraTurn(tool_call={"name": "slow_lookup", "arguments": {"account_id": "1"}}, then_say="Done.")]
    async with FakeSmallest(hydra=HydraOptions(turns=turns, tool_response_timeout_s=0.2)) as fake:
        call, _, _ = await run_call(tmp_path, fake, agent_file(tmp_path, SLOW), UTTERANCE)
    assert [e["code"] for e in of(call, "error")] == ["tool_response_timeout"]
    (metrics,) = of(call, "turn.metrics")
    assert metrics["status"] == "abandoned"
    assert of(call, "tool.result")[0]["ok"] is True  # the tool still ran to its end


async def test_end_call_ends_the_call_after_the_last_words_were_played(tmp_path):
    turns = [HydraTurn(say="Goodbye then.", tool_call={"name": "end_call", "arguments": {}}, then_say="Bye now.")]
    async with FakeSmallest(hydra=HydraOptions(turns=turns)) as fake:
        segments = [*UTTERANCE, ("silence", 6000)]  # the caller stays on the line
        call, transport, reason = await run_call(tmp_path, fake, agent_file(tmp_path, SLOW), segments)
    assert reason == "end_call"
    assert of(call, "call.end")[0]["tool"] == "end_call"
    end_ms = of(call, "session.end")[0]["t_ms"]
    assert end_ms < 5000  # before the recording ran out
    heard = loud_ms(tmp_path / "agent.wav")
    assert heard == pytest.approx(40 * len("Goodbye then.Bye now."), abs=120)  # both answers, fully played
