"""The scripted LLM and the in-memory transport on their own."""

from __future__ import annotations

import json

from voiceagent.audio import AudioFrame
from voiceagent.convtest.models import Round
from voiceagent.convtest.scripted import ScriptedLLM
from voiceagent.providers.base import LLM, ChatRequest, TextDelta, ToolCallRequest, Usage
from voiceagent.transports.base import Transport
from voiceagent.transports.memory import MemoryTransport


async def _events(llm: ScriptedLLM) -> list[object]:
    return [e async for e in llm.stream(ChatRequest(messages=[]))]


async def test_scripted_llm_answers_one_round_per_request_then_nothing():
    llm = ScriptedLLM()
    assert isinstance(llm, LLM)
    llm.start_turn(
        [
            Round.model_validate({"say": "One moment.", "tool_calls": [{"name": "lookup", "arguments": {"id": "7"}}]}),
            Round.model_validate({"transition": "service-desk"}),
            Round.model_validate({"tool_calls": [{"name": "raw", "arguments": "{not json"}]}),
        ],
        turn=3,
    )
    first = await _events(llm)
    assert first[0] == TextDelta("One moment.")
    assert isinstance(first[1], ToolCallRequest) and first[1].name == "lookup"
    assert json.loads(first[1].arguments) == {"id": "7"} and first[1].id == "call_3_0_0"
    assert isinstance(first[-1], Usage)
    (call, _) = await _events(llm)
    assert call.name == "go_to_service_desk" and call.arguments == "{}"  # the compiler's function name
    (raw, _) = await _events(llm)
    assert raw.arguments == "{not json"  # sent as written, to test broken arguments
    assert await _events(llm) == [] and llm.rounds_left == 0
    assert len(llm.requests) == 4
    llm.start_turn(None, turn=4)
    assert await _events(llm) == []


async def test_memory_transport_carries_text_and_audio_and_ends_on_hang_up():
    t = MemoryTransport("text", caller={"phone": "+1555", "id": None, "metadata": {}})
    assert isinstance(t, Transport)
    t.send_text("hello")
    t.send_text("bye")
    t.hang_up()
    assert [line async for line in t.caller_text()] == ["hello", "bye"]
    await t.show("agent", "Hi!")
    assert t.shown == [("agent", "Hi!")]
    await t.play(AudioFrame(b"\x00\x00" * 160, 16000))
    assert t.played_ms() == 10.0 and t.played_frames == 1

    a = MemoryTransport("audio")
    frames = [AudioFrame(b"\x01\x00" * 320, 16000)] * 3
    got: list[AudioFrame] = []

    async def consume() -> None:
        async for f in a.caller_audio():
            got.append(f)

    import asyncio

    task = asyncio.create_task(consume())
    await a.send_audio(frames)  # returns once the consumer took them all
    assert len(got) == 3
    await a.aclose()
    await asyncio.wait_for(task, 1)
