"""Barge-in at the edges of a turn: caller speech that arrives when the agent's words were all
played, or while the turn is finishing on its own. Exactly one ``agent.text`` per turn, and a
fully played utterance is never "interrupted"."""

import asyncio
import contextlib

from engine_helpers import make_agent, run_session, wait_for
from voiceagent.engine.events import EventLog
from voiceagent.providers.base import STTEvent
from voiceagent.testing.fakes import FakeLLM, FakeSTT, FakeTransport, FakeTTS


class SwallowingTransport(FakeTransport):
    """Audio plays instantly; ``wait_played`` returns normally when cancelled -- what
    ``asyncio.wait_for`` does on Python 3.11 when its inner wait completes in the same loop step
    as the cancellation (the WAV transport in --fast mode used it when playback ended)."""

    def __init__(self) -> None:
        super().__init__("audio")
        self.waiting = asyncio.Event()

    async def wait_played(self) -> None:
        self.waiting.set()
        with contextlib.suppress(asyncio.CancelledError):  # lost: the turn goes on to emit its agent.text
            await asyncio.Event().wait()


class NeverDoneTransport(FakeTransport):
    """Audio plays instantly (``played_ms`` = all of it), but ``wait_played`` only returns when
    cancelled: the caller starts speaking exactly when the agent's audio ends."""

    def __init__(self) -> None:
        super().__init__("audio")
        self.waiting = asyncio.Event()

    async def wait_played(self) -> None:
        self.waiting.set()
        await asyncio.Event().wait()


def turn_texts(events: EventLog) -> list[tuple[int, str, bool]]:
    return [(e["turn"], e["text"], e["interrupted"]) for e in events.of_type("agent.text")]


async def test_barge_in_racing_the_end_of_the_greeting_logs_one_agent_text():
    stt = FakeSTT()
    transport = SwallowingTransport()
    events = EventLog()
    task = asyncio.create_task(
        run_session(make_agent(greeting="Hello there."), FakeLLM(), transport, stt=stt, tts=FakeTTS(), events=events)
    )
    await asyncio.wait_for(transport.waiting.wait(), 2)
    stt.stream.push(STTEvent("speech_started"))
    await wait_for(lambda: any(e["turn"] == 0 for e in events.of_type("agent.text")))
    await asyncio.sleep(0.05)
    transport.hang_up()
    await task
    assert turn_texts(events) == [(0, "Hello there.", False)]
    assert not events.of_type("agent.interrupted")


async def test_barge_in_after_the_whole_reply_was_played_is_not_an_interruption():
    stt = FakeSTT()
    transport = NeverDoneTransport()
    events = EventLog()
    llm = FakeLLM([["All of this was heard."]])
    task = asyncio.create_task(run_session(make_agent(), llm, transport, stt=stt, tts=FakeTTS(), events=events))
    await wait_for(lambda: stt.stream is not None)
    stt.stream.push(STTEvent("final", "question"))
    await asyncio.wait_for(transport.waiting.wait(), 2)
    stt.stream.push(STTEvent("speech_started"))
    await wait_for(lambda: events.of_type("turn.metrics"))
    transport.hang_up()
    session, _ = await task
    assert turn_texts(events) == [(1, "All of this was heard.", False)]
    assert not events.of_type("agent.interrupted")
    assert events.of_type("turn.metrics")[0]["interrupted"] is False
    assert session.history.messages[-1] == {"role": "assistant", "content": "All of this was heard."}


async def test_barge_in_while_the_greeting_plays_is_still_an_interruption():
    stt = FakeSTT()
    transport = FakeTransport("audio", playback_speed=0.5)
    events = EventLog()
    tts = FakeTTS(ms_per_char=10.0, chunk_ms=20.0)
    task = asyncio.create_task(
        run_session(
            make_agent(greeting="Hello there. This is a long greeting."),
            FakeLLM(),
            transport,
            stt=stt,
            tts=tts,
            events=events,
        )
    )
    await wait_for(lambda: stt.stream is not None and transport.played_ms() >= 150)
    stt.stream.push(STTEvent("speech_started"))
    await wait_for(lambda: events.of_type("agent.interrupted"))
    transport.hang_up()
    await task
    # the greeting is one segment: partly heard, so it stays in the history, marked interrupted
    assert turn_texts(events) == [(0, "Hello there. This is a long greeting.", True)]
    assert len(events.of_type("agent.interrupted")) == 1
