"""A crashed tool, a dropped WebSocket, a TTS error frame or a slow LLM must not kill the call.

Session-level: the real Pulse / Lightning clients against the fake Smallest server (real wire
protocol on 127.0.0.1), the real ToolRunner with a Python tool that raises. (The slow LLM:
``test_session_turns.py::test_utterance_timeout_says_the_fallback_and_the_call_goes_on`` and
``::test_a_stalled_llm_round_after_the_filler_gets_the_fallback``.)"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from engine_helpers import make_agent, run_call, run_session
from voiceagent.audio import AudioFrame, silence
from voiceagent.engine.events import EventLog
from voiceagent.testing.fakes import FakeLLM, FakeTransport, FakeTTS, tool_call

pytest.importorskip("voiceagent.providers.smallest")


async def wait_for(predicate, timeout=5.0):
    async def loop():
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(loop(), timeout)


def speech_frames(ms: int, rate: int = 16000) -> list[AudioFrame]:
    """20 ms frames of a loud 300 Hz tone (the fake Pulse counts it as speech)."""
    n = rate * ms // 1000
    pcm = (3000 * np.sin(2 * np.pi * 300 * np.arange(n) / rate)).astype("<i2").tobytes()
    step = rate * 20 // 1000 * 2
    return [AudioFrame(pcm[i : i + step], rate) for i in range(0, len(pcm), step)]


def silence_frames(ms: int, rate: int = 16000) -> list[AudioFrame]:
    return [silence(20, rate) for _ in range(ms // 20)]


def say(transport: FakeTransport, speech_ms: int = 400, pause_ms: int = 800) -> None:
    for frame in speech_frames(speech_ms) + silence_frames(pause_ms):
        transport.send_audio(frame)


async def test_a_pulse_connection_dropped_mid_call_is_reconnected_and_the_call_goes_on():
    from voiceagent.providers.smallest import PulseSTT
    from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

    utterance_bytes = (400 + 800) // 20 * 640
    opts = PulseOptions(
        transcripts=["first question", "second question"], disconnect_after_bytes=utterance_bytes + 5 * 640
    )  # early in the 2nd utterance
    async with FakeSmallest(pulse=opts) as fake:
        stt = PulseSTT(api_key=fake.api_key, base_url=fake.base_url, eou_timeout_ms=500)
        transport = FakeTransport("audio")
        events = EventLog()
        llm = FakeLLM([["First answer."], ["Second answer."]])
        task = asyncio.create_task(
            run_session(make_agent(), llm, transport, stt=stt, tts=FakeTTS(), events=events, timeout=15)
        )
        say(transport)
        await wait_for(lambda: events.of_type("turn.metrics"))
        say(transport)
        await wait_for(lambda: len(events.of_type("turn.metrics")) == 2)
        transport.hang_up()
        _, reason = await task
    assert reason == "caller_ended"
    assert len(fake.pulse.connections) == 2 and fake.pulse.connections[0].dropped
    assert [e["text"] for e in events.of_type("user.transcript")] == ["first question", "second question"]
    assert [(e["text"], e["interrupted"]) for e in events.of_type("agent.text")] == [
        ("First answer.", False),
        ("Second answer.", False),
    ]
    assert not [e for e in events.of_type("error") if e["where"] == "stt"]


async def test_a_pulse_that_keeps_dropping_ends_the_call_cleanly():
    from voiceagent.providers.smallest import PulseSTT
    from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

    opts = PulseOptions(transcripts=["hello"], disconnect_after_bytes=3200, disconnect_times=100)
    async with FakeSmallest(pulse=opts) as fake:
        stt = PulseSTT(api_key=fake.api_key, base_url=fake.base_url, eou_timeout_ms=500, max_reconnects=2)
        transport = FakeTransport("audio")
        events = EventLog()
        task = asyncio.create_task(
            run_session(
                make_agent(greeting="Hello."), FakeLLM(), transport, stt=stt, tts=FakeTTS(), events=events, timeout=15
            )
        )
        while not task.done():  # the caller keeps talking while every new stream drops too
            say(transport)
            await asyncio.sleep(0.5)
        _, reason = await task  # no hang-up needed: the dead STT ends the input
    assert reason == "stt_error"
    stt_errors = [e for e in events.of_type("error") if e["where"] == "stt"]
    assert len(stt_errors) == 3  # two streams replaced, the third failure ends the input
    assert fake.api_key not in json.dumps(events.events)
    assert [e["type"] for e in events.events][-2:] == ["call.end", "session.end"]


async def test_a_pulse_stream_that_gives_up_is_replaced_and_the_call_goes_on():
    """The client's own reconnects are exhausted (3 drops, max_reconnects=2): the session opens a
    new STT stream instead of ending the call, and the caller's next utterance is answered."""
    from voiceagent.providers.smallest import PulseSTT
    from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

    opts = PulseOptions(transcripts=["are you there"], disconnect_after_bytes=3200, disconnect_times=3)
    async with FakeSmallest(pulse=opts) as fake:
        stt = PulseSTT(api_key=fake.api_key, base_url=fake.base_url, eou_timeout_ms=500, max_reconnects=2)
        transport = FakeTransport("audio")
        events = EventLog()
        llm = FakeLLM([["Yes, I am here."]])
        task = asyncio.create_task(
            run_session(make_agent(), llm, transport, stt=stt, tts=FakeTTS(), events=events, timeout=15)
        )
        say(transport)
        await wait_for(lambda: len(fake.pulse.connections) >= 4)  # the replacement stream is open
        await asyncio.sleep(0.2)
        say(transport)
        await wait_for(lambda: events.of_type("turn.metrics"), timeout=10)
        transport.hang_up()
        _, reason = await task
    assert reason == "caller_ended"
    assert [e["text"] for e in events.of_type("user.transcript")] == ["are you there"]
    assert [e["text"] for e in events.of_type("agent.text")] == ["Yes, I am here."]
    assert len(fake.pulse.connections) >= 4  # 1 + 2 client reconnects, then a new stream


async def test_a_lightning_error_frame_loses_one_sentence_not_the_call():
    from voiceagent.providers.smallest import LightningTTS
    from voiceagent.testing.fake_smallest import FakeSmallest, LightningOptions

    async with FakeSmallest(lightning=LightningOptions(error_when_text_contains="kaboom")) as fake:
        tts = LightningTTS(api_key=fake.api_key, base_url=fake.base_url, sample_rate=16000)
        llm = FakeLLM([["This sentence says kaboom. This one is fine."], ["Still here."]])
        transport = FakeTransport("text", lines=["one"])
        events = EventLog()
        task = asyncio.create_task(run_session(make_agent(), llm, transport, tts=tts, events=events, timeout=15))
        try:
            await wait_for(lambda: events.of_type("turn.metrics"))
            transport.send("two")
            await wait_for(lambda: len(events.of_type("turn.metrics")) == 2)
            transport.hang_up()
            _, reason = await task
        finally:
            await tts.aclose()
    assert reason == "caller_ended"
    (error,) = events.of_type("error")
    assert error["where"] == "tts" and fake.api_key not in error["message"]
    texts = [(r.transport, r.body["text"]) for r in fake.lightning.requests]
    fallback = "Sorry, could you repeat that?"
    assert texts == [
        ("ws", "This sentence says kaboom."),
        ("http", "This sentence says kaboom."),  # the other transport was tried (it failed too)
        ("ws", fallback),  # so the caller heard the fallback phrase instead of silence
        ("ws", "This one is fine."),
        ("ws", "Still here."),
    ]
    spoken_ms = 40 * (len(fallback) + len("This one is fine.") + len("Still here."))
    assert abs(transport.audio_ms - spoken_ms) < 50
    assert [e["text"] for e in events.of_type("user.transcript")] == ["one", "two"]
    assert [e["text"] for e in events.of_type("agent.text")] == [f"{fallback} This one is fine.", "Still here."]


async def test_a_crashing_python_tool_goes_back_to_the_llm_and_the_call_goes_on(tmp_path):
    (tmp_path / "crashy.py").write_text("def lookup(account_id):\n    raise RuntimeError('database exploded')\n")
    agent = make_agent(
        tools=[{"name": "lookup", "python": "crashy:lookup", "parameters": {"account_id": {"type": "string"}}}]
    )
    llm = FakeLLM([[tool_call("lookup", '{"account_id": "42"}')], ["Sorry, our system is down."], ["Bye."]])
    transport = FakeTransport("text", lines=["check 42", "ok"], close_input=True, plays_audio=False)
    call, reason = await run_call(agent, llm, transport, base_dir=tmp_path)
    events = call.events
    assert reason == "caller_ended"
    (result,) = events.of_type("tool.result")
    assert result["ok"] is False and "database exploded" in result["error"]
    assert "database exploded" in llm.requests[1].messages[-1]["content"]
    assert [e["text"] for e in events.of_type("agent.text")] == [
        "One moment while I check that. Sorry, our system is down.",
        "Bye.",
    ]


async def test_a_tool_runner_that_raises_is_an_error_result_not_a_crash():
    class Exploding:
        async def run(self, name, arguments, ctx):
            raise ConnectionResetError("runner died")

    agent = make_agent(tools=[{"name": "lookup", "python": "x:y"}])
    llm = FakeLLM([[tool_call("lookup")], ["That did not work."]])
    events = EventLog()
    _, reason = await run_session(
        agent,
        llm,
        FakeTransport("text", lines=["go"], close_input=True, plays_audio=False),
        tools=Exploding(),
        events=events,
    )
    assert reason == "caller_ended"
    assert events.of_type("tool.result")[0]["error"] == "ConnectionResetError: runner died"
    assert events.of_type("agent.text")[0]["text"].endswith("That did not work.")
