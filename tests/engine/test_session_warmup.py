"""A cold LLM warm-up (engine.warmup) is not counted against the first turn's utterance timeout.

The LLM below behaves like the local llama.cpp one: its ``stream`` cannot start before a running
``warm_up`` ends (one model, one lock), and the warm-up takes longer than the utterance timeout."""

import asyncio
import time
from pathlib import Path

from engine_helpers import loaded_agent, make_agent, run_session
from voiceagent.engine.call import Providers, build_call
from voiceagent.engine.events import EventLog
from voiceagent.providers.base import LLMCapabilities
from voiceagent.testing.fakes import FakeLLM, FakeTransport, FakeTTS

TIMEOUT = {"utterance_timeout_ms": 500, "fallback": "Sorry, say again?"}


class ColdLLM(FakeLLM):
    """FakeLLM whose ``warm_up`` sleeps ``warm_s`` seconds holding the model lock that ``stream``
    needs (``locked=False``: the stream does not wait)."""

    capabilities = LLMCapabilities(warm_up=True)

    def __init__(self, replies=(), *, warm_s: float, locked: bool = True) -> None:
        super().__init__(replies)
        self.warm_s = warm_s
        self.locked = locked
        self.lock = asyncio.Lock()
        self.warm_started = asyncio.Event()
        self.warm_ended: float | None = None
        self.warm_cancelled = False
        self.warm_ups = 0

    async def warm_up(self, request):
        self.warm_ups += 1
        async with self.lock:
            self.warm_started.set()
            try:
                await asyncio.sleep(self.warm_s)
            except asyncio.CancelledError:
                self.warm_cancelled = True
                raise
        self.warm_ended = time.monotonic()
        return self.warm_s

    async def stream(self, request):
        if self.locked:
            async with self.lock:
                pass
        async for event in super().stream(request):
            yield event


async def wait_for(predicate, timeout=3.0):
    async def loop():
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(loop(), timeout)


async def test_piped_text_during_a_slow_warm_up_gets_the_answer_not_the_fallback():
    llm = ColdLLM([["Your balance is ten dollars."]], warm_s=1.0)
    tts = FakeTTS()
    events = EventLog()
    _, reason = await run_session(
        make_agent(greeting="Hi there!", behaviour=TIMEOUT),
        llm,
        FakeTransport("text", lines=["my balance?"], close_input=True),
        tts=tts,
        events=events,
        timeout=5.0,
    )
    assert reason == "caller_ended"
    assert not events.of_type("turn.timeout") and not events.of_type("error")
    assert "Sorry, say again?" not in tts.texts
    assert [(e["turn"], e["text"]) for e in events.of_type("agent.text")][-1] == (1, "Your balance is ten dollars.")
    assert llm.warm_ups == 1 and llm.calls[0].started >= llm.warm_ended
    metrics = events.of_type("turn.metrics")[0]
    assert metrics["warmup_wait_ms"] > 0 and metrics["timed_out"] is False
    # the wait is logged before the answer: llm.warm_up comes first, then the turn's metrics
    types = [e["type"] for e in events.events]
    assert types.index("llm.warm_up") < types.index("turn.metrics")


async def test_without_a_warm_up_running_a_turn_does_not_wait():
    llm = ColdLLM([["First."], ["Second."]], warm_s=0.01)
    events = EventLog()
    transport = FakeTransport("text", lines=["one"])
    task = asyncio.create_task(run_session(make_agent(behaviour=TIMEOUT), llm, transport, tts=FakeTTS(), events=events))
    await wait_for(lambda: events.of_type("turn.metrics"))
    transport.send("two")
    transport.hang_up()
    await task
    assert [m["warmup_wait_ms"] for m in events.of_type("turn.metrics")][-1] == 0.0
    assert llm.warm_ups == 1


async def test_barge_in_during_the_warm_up_wait_cancels_the_turn_and_the_next_one_waits_on():
    llm = ColdLLM([["Answer to the second."]], warm_s=1.0)
    tts = FakeTTS()
    events = EventLog()
    transport = FakeTransport("text", lines=["first"])
    task = asyncio.create_task(
        run_session(make_agent(behaviour=TIMEOUT), llm, transport, tts=tts, events=events, timeout=5.0)
    )
    await wait_for(lambda: events.of_type("user.transcript") and llm.warm_started.is_set())
    transport.send("second")
    await wait_for(lambda: len(events.of_type("turn.metrics")) == 2)
    transport.hang_up()
    _, reason = await task
    assert reason == "caller_ended"
    assert events.of_type("agent.interrupted")[0]["turn"] == 1
    assert [(e["turn"], e["text"], e["interrupted"]) for e in events.of_type("agent.text")] == [
        (1, "", True),
        (2, "Answer to the second.", False),
    ]
    assert not events.of_type("turn.timeout") and tts.texts == ["Answer to the second."]
    # the barge-in cancelled the wait, not the warm-up; the LLM was asked once, for the second line
    assert not llm.warm_cancelled and llm.warm_ups == 1
    assert len(llm.calls) == 1 and llm.requests[0].messages[-1] == {"role": "user", "content": "second"}
    assert events.of_type("turn.metrics")[1]["warmup_wait_ms"] > 0


async def test_a_hang_up_during_the_wait_still_gets_the_answer_then_ends():
    llm = ColdLLM([["Here you go."]], warm_s=0.8)
    events = EventLog()
    transport = FakeTransport("text", lines=["question"])
    task = asyncio.create_task(
        run_session(make_agent(behaviour=TIMEOUT), llm, transport, tts=FakeTTS(), events=events, timeout=5.0)
    )
    await wait_for(lambda: events.of_type("user.transcript") and llm.warm_started.is_set())
    transport.hang_up()
    _, reason = await task
    assert reason == "caller_ended"
    assert [e["text"] for e in events.of_type("agent.text")] == ["Here you go."]
    assert not events.of_type("turn.timeout")


async def test_stopping_the_session_during_the_wait_cancels_the_turn_and_the_warm_up():
    llm = ColdLLM([["never"]], warm_s=30.0)
    events = EventLog()
    call = build_call(
        loaded_agent(make_agent(behaviour=TIMEOUT), Path(".")),
        Providers(llm=llm, tts=FakeTTS()),
        FakeTransport("text", lines=["question"]),
        events=events,
        env={},
    )
    task = asyncio.create_task(call.run())
    await wait_for(lambda: events.of_type("user.transcript") and llm.warm_started.is_set())
    task.cancel()
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 2.0)
    await call.aclose()
    assert task.cancelled()
    assert llm.warm_cancelled and llm.calls == []
    assert not events.of_type("turn.timeout")


async def test_the_wait_is_capped_and_then_the_turn_goes_on():
    llm = ColdLLM([["Answer anyway."]], warm_s=30.0, locked=False)
    events = EventLog()
    async with build_call(
        loaded_agent(make_agent(behaviour=TIMEOUT), Path(".")),
        Providers(llm=llm, tts=FakeTTS()),
        FakeTransport("text", lines=["question"], close_input=True),
        events=events,
        env={},
    ) as call:
        call.session.warm.cap_s = 0.3
        reason = await asyncio.wait_for(call.run(), 5.0)
    assert reason == "caller_ended"
    assert [e["text"] for e in events.of_type("agent.text")] == ["Answer anyway."]
    assert llm.warm_ended is None and llm.warm_cancelled  # answered before it ended; stopped at shutdown
    assert 0 < events.of_type("turn.metrics")[0]["warmup_wait_ms"] < 30000
