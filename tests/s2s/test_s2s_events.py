"""The speech-to-speech loop on a scripted realtime model (no socket): event sequences the fake
Hydra does not produce on its own — a new response before the previous one's audio was done,
assistant items with text, rejected noise, errors — and the Protocol seams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from voiceagent.audio import AudioFrame, silence
from voiceagent.config.load import LoadedAgent
from voiceagent.config.models import Agent
from voiceagent.engine.call import Providers, build_call
from voiceagent.engine.s2s import SpeechToSpeechSession
from voiceagent.providers import realtime as rt
from voiceagent.providers.s2s_choice import UnusedLLM
from voiceagent.providers.smallest.hydra import HydraS2S, HydraSession
from voiceagent.transports.memory import MemoryTransport


class ScriptedSession:
    """A RealtimeSession whose events the test pushes."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[rt.RealtimeEvent] = asyncio.Queue()
        self.audio_frames = 0
        self.outputs: list[tuple[str, str]] = []
        self.tools: list[list[str]] = []
        self.closed = False

    async def send_audio(self, frame: AudioFrame) -> None:
        self.audio_frames += 1

    async def update_tools(self, tools: Sequence[Mapping[str, Any]]) -> None:
        self.tools.append([t["function"]["name"] for t in tools])

    async def send_tool_output(self, call_id: str, output: str) -> None:
        self.outputs.append((call_id, output))

    async def cancel_response(self) -> None:
        pass

    async def events(self) -> AsyncIterator[rt.RealtimeEvent]:
        while True:
            ev = await self.queue.get()
            yield ev
            if isinstance(ev, rt.RealtimeClosed):
                return

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(rt.RealtimeClosed(1000, "closed by the client", by_client=True))


class ScriptedRealtime:
    name = "scripted"
    model = "scripted-1"
    output_rate = 48000

    def __init__(self) -> None:
        self.sessions: list[ScriptedSession] = []
        self.configs: list[rt.RealtimeConfig] = []

    async def connect(self, config: rt.RealtimeConfig) -> ScriptedSession:
        self.configs.append(config)
        self.sessions.append(ScriptedSession())
        return self.sessions[-1]

    async def aclose(self) -> None:
        pass


class CountingTransport(MemoryTransport):
    def __init__(self) -> None:
        super().__init__("audio", plays_audio=True)
        self.clears = 0

    async def clear(self) -> None:
        self.clears += 1


def agent(**extra: Any) -> LoadedAgent:
    fields = {"name": "t", "prompt": "Be brief.", "speech_to_speech": {"voice": "zoe", "transcripts": "none"}}
    return LoadedAgent(agent=Agent.model_validate({**fields, **extra}), path=None, base_dir=Path.cwd())


def audio(ms: float = 100) -> AudioFrame:
    return AudioFrame(b"\x10\x27" * int(48 * ms), 48000)


async def started(model: ScriptedRealtime) -> ScriptedSession:
    async with asyncio.timeout(5):
        while not model.sessions:
            await asyncio.sleep(0.01)
    return model.sessions[-1]


async def settle(seconds: float = 0.15) -> None:
    await asyncio.sleep(seconds)


def test_hydra_implements_the_realtime_protocols():
    assert isinstance(HydraS2S(api_key="sk_x", base_url="http://127.0.0.1:9/waves/v1"), rt.RealtimeS2S)
    assert issubclass(HydraSession, object) and hasattr(HydraSession, "send_tool_output")
    assert isinstance(ScriptedSession(), rt.RealtimeSession)


async def test_a_new_response_before_the_previous_audio_was_done_clears_it_and_interrupts_the_turn():
    model, transport = ScriptedRealtime(), CountingTransport()
    async with build_call(agent(), Providers(llm=UnusedLLM(), realtime=model), transport, env={}) as call:
        assert isinstance(call.session, SpeechToSpeechSession)
        task = asyncio.create_task(call.run())
        s = await started(model)
        for ev in (
            rt.SpeechStarted(0),
            rt.SpeechStopped(500),
            rt.ItemDone("u1", "message", "user", "completed", None),
            rt.ResponseStarted("r1"),
            rt.ResponseAudio("r1", audio()),
            rt.ResponseStarted("r2"),  # r1's audio was not done: stale
            rt.ResponseAudio("r1", audio()),  # dropped
            rt.ResponseAudio("r2", audio()),
            rt.ItemDone("a2", "message", "assistant", "completed", "Here is the answer."),
            rt.ResponseAudioDone("r2"),
            rt.ResponseDone("r2", "completed", None),
        ):
            s.queue.put_nowait(ev)
        await settle()
        transport.hang_up()
        reason = await asyncio.wait_for(task, 5)
    assert reason == "caller_ended" and transport.clears >= 1
    events = call.events
    (cut,) = events.of_type("agent.interrupted")
    assert cut["cause"] == "new_response" and cut["turn"] == 1
    texts = events.of_type("agent.text")
    assert [(t["turn"], t["interrupted"]) for t in texts] == [(1, True), (1, False)]
    assert texts[1]["text"] == "Here is the answer." and texts[1]["text_source"] == "model"
    assert transport.played_frames == 2  # r1's late frame was never played


async def test_rejected_noise_makes_no_turn_and_the_greeting_is_the_instructed_text():
    model, transport = ScriptedRealtime(), CountingTransport()
    loaded = agent(greeting="Hello from {{ company }}.", variables={"company": "Acme"})
    async with build_call(loaded, Providers(llm=UnusedLLM(), realtime=model), transport, env={}) as call:
        task = asyncio.create_task(call.run())
        s = await started(model)
        assert model.configs[0].generate_initial_response is True
        assert model.configs[0].instructions.endswith("then wait for the caller: Hello from Acme.")
        for ev in (
            rt.ResponseStarted("g"),
            rt.ResponseAudio("g", audio()),
            rt.ResponseAudioDone("g"),
            rt.ResponseDone("g", "completed", None),
            rt.SpeechStarted(0),
            rt.SpeechStopped(300),
            rt.ItemDone("u1", "message", "user", "incomplete", None),
            rt.RealtimeError("invalid_audio", "audio frame too small (40 bytes, need 320)"),
        ):
            s.queue.put_nowait(ev)
        await settle()
        transport.hang_up()
        await asyncio.wait_for(task, 5)
    events = call.events
    (greeting,) = events.of_type("agent.text")
    assert greeting["turn"] == 0 and greeting["text"] == "Hello from Acme."
    assert greeting["text_source"] == "greeting_instruction"
    assert len(events.of_type("s2s.noise")) == 1 and events.of_type("turn.metrics") == []
    assert events.of_type("error")[0]["code"] == "invalid_audio"  # logged, the call went on
    assert events.of_type("session.end")[0]["turns"] == 0


async def test_unknown_functions_are_answered_with_an_error_not_run():
    model, transport = ScriptedRealtime(), CountingTransport()
    async with build_call(agent(), Providers(llm=UnusedLLM(), realtime=model), transport, env={}) as call:
        task = asyncio.create_task(call.run())
        s = await started(model)
        s.queue.put_nowait(rt.SpeechStopped(300))
        s.queue.put_nowait(rt.ResponseStarted("r1"))
        s.queue.put_nowait(rt.ToolCall("r1", "c1", "rm_rf", '{"path": "/"}'))
        s.queue.put_nowait(rt.ToolCall("r1", "c2", "rm_rf", "not json"))
        s.queue.put_nowait(rt.ResponseDone("r1", "completed", None))
        async with asyncio.timeout(5):
            while len(s.outputs) < 2:
                await asyncio.sleep(0.01)
        s.queue.put_nowait(rt.ResponseStarted("r2"))  # the narration of the tool outputs
        s.queue.put_nowait(rt.ResponseDone("r2", "completed", None))
        transport.hang_up()
        await asyncio.wait_for(task, 5)
    assert [c for c, _ in s.outputs] == ["c1", "c2"]
    assert "unknown function" in s.outputs[0][1] and "not valid JSON" in s.outputs[1][1]
    assert [r["ok"] for r in call.events.of_type("tool.result")] == [False, False]
    (metrics,) = call.events.of_type("turn.metrics")
    assert metrics["tool_calls"] == 2 and metrics["responses"] == 2 and metrics["status"] == "completed"


async def test_a_text_transport_is_refused_with_the_reason():
    session = SpeechToSpeechSession(
        build_call(agent(), Providers(llm=UnusedLLM()), MemoryTransport("text"), env={}).compiled,
        realtime=ScriptedRealtime(),
        transport=MemoryTransport("text"),
        events=__import__("voiceagent.engine.events", fromlist=["EventLog"]).EventLog(),
    )
    with pytest.raises(ValueError, match="needs an audio transport"):
        await session.run()


async def test_build_call_uses_the_cascaded_session_for_a_text_transport_even_with_a_realtime_model():
    from voiceagent.engine.session import Session

    call = build_call(agent(), Providers(llm=UnusedLLM(), realtime=ScriptedRealtime()), MemoryTransport("text"), env={})
    assert isinstance(call.session, Session)
    await call.aclose()


async def test_audio_keeps_flowing_as_silence_after_the_caller_hung_up():
    model, transport = ScriptedRealtime(), CountingTransport()
    async with build_call(agent(), Providers(llm=UnusedLLM(), realtime=model), transport, env={}) as call:
        task = asyncio.create_task(call.run())
        s = await started(model)
        await transport.send_audio([silence(20, 16000)] * 3)
        s.queue.put_nowait(rt.SpeechStopped(300))
        s.queue.put_nowait(rt.ResponseStarted("r1"))  # an answer is in progress when the caller hangs up
        transport.hang_up()
        await settle(0.3)
        during = s.audio_frames
        s.queue.put_nowait(rt.ResponseAudio("r1", audio()))
        s.queue.put_nowait(rt.ResponseDone("r1", "completed", None))
        await asyncio.wait_for(task, 5)
    assert during > 3 + 5  # 20 ms of silence at a time while waiting for the answer
    assert call.events.of_type("agent.text")[0]["turn"] == 1


async def test_an_idle_close_by_the_server_reconnects_with_a_summary_and_repeated_drops_end_the_call():
    import voiceagent.engine.s2s as s2s_module

    model, transport = ScriptedRealtime(), CountingTransport()
    async with build_call(agent(), Providers(llm=UnusedLLM(), realtime=model), transport, env={}) as call:
        task = asyncio.create_task(call.run())
        s = await started(model)
        for ev in (
            rt.SpeechStopped(300),
            rt.ResponseStarted("r1"),
            rt.ItemDone("a1", "message", "assistant", "completed", "We open at nine."),
            rt.ResponseDone("r1", "completed", None),
        ):
            s.queue.put_nowait(ev)
        await settle()
        s.queue.put_nowait(rt.RealtimeClosed(1000, "idle timeout", by_client=False))
        for n in range(2, s2s_module.MAX_RECONNECTS + 3):
            async with asyncio.timeout(5):
                while len(model.sessions) < n and not task.done():
                    await asyncio.sleep(0.01)
            if task.done():
                break
            model.sessions[-1].queue.put_nowait(rt.RealtimeClosed(None, "connection lost", by_client=False))
        reason = await asyncio.wait_for(task, 5)
    assert reason == "s2s_error"
    reconnects = call.events.of_type("s2s.reconnect")
    assert reconnects[0]["code"] == 1000 and reconnects[0]["reason"] == "idle timeout"
    assert len(reconnects) == s2s_module.MAX_RECONNECTS and len(model.sessions) == s2s_module.MAX_RECONNECTS + 1
    second = model.configs[1]
    assert "- agent: We open at nine." in second.instructions and second.generate_initial_response is False
    assert "dropped" in call.events.of_type("error")[-1]["message"]
    assert call.events.of_type("session.end")[0]["reason"] == "s2s_error"


async def test_providers_without_a_realtime_attribute_still_build_a_cascaded_call():
    from types import SimpleNamespace

    from voiceagent.engine.call import RealtimeProviders, realtime_of
    from voiceagent.engine.session import Session

    plain = SimpleNamespace(llm=UnusedLLM(), stt=None, tts=None)
    assert realtime_of(plain) is None and not isinstance(plain, RealtimeProviders)
    model = ScriptedRealtime()
    assert realtime_of(Providers(llm=UnusedLLM(), realtime=model)) is model
    async with build_call(agent(), plain, MemoryTransport("audio"), env={}) as call:
        assert isinstance(call.session, Session)
