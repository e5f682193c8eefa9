"""Streaming, tools, timeouts and provider errors in the session loop."""

import asyncio
import json

from engine_helpers import RecordingRunner, make_agent, run_session, wait_for
from voiceagent.engine.events import EventLog
from voiceagent.providers.base import LLMCapabilities, ProviderError, STTEvent, ToolCallRequest
from voiceagent.testing.fakes import Delay, FakeLLM, FakeSTT, FakeTransport, FakeTTS, tool_call


async def test_first_sentence_reaches_tts_and_transport_while_llm_still_streams():
    llm = FakeLLM([["The first sentence is here. ", Delay(0.3), "And the second one."]])
    tts = FakeTTS()
    transport = FakeTransport("text", lines=["hello"], close_input=True)
    session, reason = await run_session(make_agent(), llm, transport, tts=tts)
    assert reason == "caller_ended"
    llm_end = llm.calls[0].ended
    assert tts.texts == ["The first sentence is here.", "And the second one."]
    assert tts.requests[0].started < llm_end - 0.2  # sent to TTS long before the stream closed
    assert transport.played[0].t < llm_end - 0.2  # and its audio handed to the transport too
    assert session.history.messages[-1] == {
        "role": "assistant",
        "content": "The first sentence is here. And the second one.",
    }


async def test_greeting_is_rendered_and_spoken_first_and_markdown_is_stripped():
    llm = FakeLLM([["**Sure**, here:\n- item one\n- item two"]])
    tts = FakeTTS()
    transport = FakeTransport("text", lines=["list please"], close_input=True)
    events = EventLog()
    await run_session(make_agent(greeting="Hi, this is {{ company }}!"), llm, transport, tts=tts, events=events)
    assert tts.texts == ["Hi, this is Acme!", "Sure, here:", "item one", "item two"]
    texts = [e["text"] for e in events.of_type("agent.text")]
    assert texts == ["Hi, this is Acme!", "Sure, here: item one item two"]
    # the LLM saw the greeting as the assistant's first message
    assert llm.requests[0].messages[1] == {"role": "assistant", "content": "Hi, this is Acme!"}


async def test_filler_is_spoken_before_the_tool_finishes():
    agent = make_agent(tools=[{"name": "slow_lookup", "python": "x:y", "filler": "Let me check that."}])
    llm = FakeLLM([[tool_call("slow_lookup")], ["Found it."]])
    runner = RecordingRunner(delays={"slow_lookup": 0.3})
    tts = FakeTTS()
    transport = FakeTransport("text", lines=["check"], close_input=True)
    session, _ = await run_session(agent, llm, transport, tts=tts, tools=runner)
    assert tts.texts == ["Let me check that.", "Found it."]
    m = session.events.of_type("turn.metrics")[0]
    assert m["eou_to_answer_audio_ms"] >= m["eou_to_first_audio_ms"] + 250  # the answer came after the tool
    filler = tts.requests[0]
    assert filler.first_frame is not None and filler.first_frame < runner.calls[0]["end"]
    # the tool result went back to the LLM in the second request, after the assistant tool_calls message
    msgs = llm.requests[1].messages
    assert msgs[-2]["tool_calls"][0]["function"]["name"] == "slow_lookup"
    assert msgs[-1] == {"role": "tool", "tool_call_id": "call_slow_lookup", "content": json.dumps({"status": "done"})}


async def test_a_filler_is_said_once_a_turn():
    agent = make_agent(
        tools=[{"name": "a", "python": "x:a", "filler": "One moment please."}, {"name": "b", "python": "x:b"}],
        behaviour={"filler": "One moment please."},
    )
    llm = FakeLLM([[tool_call("a", id="1")], [tool_call("b", id="2")], ["Done."]])
    tts = FakeTTS()
    await run_session(
        agent, llm, FakeTransport("text", lines=["go"], close_input=True), tts=tts, tools=RecordingRunner()
    )
    assert tts.texts == ["One moment please.", "Done."]


async def test_a_filler_said_again_later_in_the_call_is_played_from_memory():
    agent = make_agent(tools=[{"name": "lookup", "python": "x:y", "filler": "Let me check that."}])
    llm = FakeLLM([[tool_call("lookup", id="1")], ["Found it."], [tool_call("lookup", id="2")], ["Found that too."]])
    tts = FakeTTS()
    transport = FakeTransport("text")
    events = EventLog()
    task = asyncio.create_task(run_session(agent, llm, transport, tts=tts, tools=RecordingRunner(), events=events))
    for line, turns in (("check", 1), ("and this", 2)):
        transport.send(line)
        await wait_for(lambda n=turns: len(events.of_type("turn.metrics")) == n)
    transport.hang_up()
    await task
    assert tts.texts == ["Let me check that.", "Found it.", "Found that too."]  # the filler synthesised once
    assert [e["text"] for e in events.of_type("agent.text")] == [
        "Let me check that. Found it.",
        "Let me check that. Found that too.",
    ]
    played = b"".join(p.frame.pcm for p in transport.played)
    assert played.count(tts.pcm_for("Let me check that.")) == 2  # and heard twice, in full


async def test_nothing_after_the_tool_results_is_the_fallback_not_dead_air():
    agent = make_agent(
        tools=[{"name": "lookup", "python": "x:y", "filler": "Let me check that."}],
        behaviour={"fallback": "Sorry, could you say that again?"},
    )
    llm = FakeLLM([[tool_call("lookup")], [""]])  # every sentence of the answer was dropped
    tts = FakeTTS()
    transport = FakeTransport("text", lines=["check"], close_input=True)
    session, _ = await run_session(agent, llm, transport, tts=tts, tools=RecordingRunner())
    assert tts.texts == ["Let me check that.", "Sorry, could you say that again?"]
    errors = session.events.of_type("error")
    assert [e["where"] for e in errors] == ["llm"] and "empty reply" in errors[0]["message"]
    assert session.history.messages[-1] == {"role": "assistant", "content": "Sorry, could you say that again?"}


async def test_llm_content_replaces_the_filler():
    agent = make_agent(tools=[{"name": "lookup", "python": "x:y", "filler": "Tool filler."}])
    llm = FakeLLM([["Checking now. ", tool_call("lookup")], ["Done."]])
    tts = FakeTTS()
    await run_session(
        agent, llm, FakeTransport("text", lines=["go"], close_input=True), tts=tts, tools=RecordingRunner()
    )
    assert tts.texts == ["Checking now.", "Done."]


async def test_tools_of_one_round_run_concurrently():
    agent = make_agent(tools=[{"name": "a", "python": "x:a"}, {"name": "b", "python": "x:b"}])
    llm = FakeLLM([[tool_call("a", id="1"), tool_call("b", id="2")], ["Both done."]])
    runner = RecordingRunner(delays={"a": 0.3, "b": 0.3})
    events = EventLog()
    await run_session(agent, llm, FakeTransport("text", lines=["go"], close_input=True), tools=runner, events=events)
    a, b = runner.calls
    assert a["start"] < b["end"] and b["start"] < a["end"]  # the two executions overlap
    assert [e["name"] for e in events.of_type("tool.result")] == ["a", "b"]
    assert [m.get("tool_call_id") for m in llm.requests[1].messages[-2:]] == ["1", "2"]


async def test_tool_errors_go_back_to_the_llm_and_tool_rounds_are_bounded():
    from voiceagent.engine.tools import ToolResult

    agent = make_agent(tools=[{"name": "broken", "python": "x:y"}])
    runner = RecordingRunner(results={"broken": ToolResult(False, error="database down")})
    llm = FakeLLM(default=[tool_call("broken")])
    events = EventLog()
    session, reason = await run_session(
        agent,
        llm,
        FakeTransport("text", lines=["go"], close_input=True),
        tools=runner,
        events=events,
        max_tool_rounds=2,
    )
    assert reason == "caller_ended"
    assert len(runner.calls) == 2 and len(llm.calls) == 3
    assert llm.requests[2].tool_choice == "none"
    assert json.loads(llm.requests[1].messages[-1]["content"]) == {"error": "database down"}
    assert events.of_type("tool.result")[0] == {
        **events.of_type("tool.result")[0],
        "ok": False,
        "error": "database down",
    }


async def test_utterance_timeout_says_the_fallback_and_the_call_goes_on():
    agent = make_agent(behaviour={"utterance_timeout_ms": 500, "fallback": "Sorry, say again?"})
    llm = FakeLLM([[Delay(5.0), "too late"], ["Second answer."]])
    tts = FakeTTS()
    transport = FakeTransport("text", lines=["first"])
    events = EventLog()
    task = asyncio.create_task(run_session(agent, llm, transport, tts=tts, events=events))
    while not events.of_type("turn.metrics"):
        await asyncio.sleep(0.01)
    transport.send("second")
    transport.hang_up()
    session, _ = await task
    assert events.of_type("turn.timeout")[0]["turn"] == 1
    assert llm.calls[0].cancelled
    assert tts.texts == ["Sorry, say again?", "Second answer."]
    assert [e["text"] for e in events.of_type("agent.text")] == ["Sorry, say again?", "Second answer."]
    metrics = events.of_type("turn.metrics")[0]
    assert metrics["timed_out"] and metrics["eou_to_first_audio_ms"] >= 500
    assert [m["content"] for m in session.history.messages] == [
        "first",
        "Sorry, say again?",
        "second",
        "Second answer.",
    ]


async def test_provider_error_says_fallback_and_next_turn_works():
    agent = make_agent(behaviour={"fallback": "Sorry, could you repeat that?"})
    llm = FakeLLM([[ProviderError("upstream 500")], ["Fine."]])
    events = EventLog()
    transport = FakeTransport("text", lines=["a", "b"], close_input=True, plays_audio=False)
    await run_session(agent, llm, transport, tts=FakeTTS(), events=events)
    assert [e["text"] for e in events.of_type("agent.text")] == ["Sorry, could you repeat that?", "Fine."]
    assert events.of_type("error")[0]["where"] == "llm"
    assert ("agent", "Fine.") in transport.shown


async def test_metrics_report_latencies_tokens_and_request_id():
    llm = FakeLLM([[Delay(0.05), "Hello there."]], request_id_prefix="rid-")
    events = EventLog()
    await run_session(
        make_agent(),
        llm,
        FakeTransport("text", lines=["hi"], close_input=True),
        tts=FakeTTS(first_delay=0.02),
        events=events,
    )
    m = events.of_type("turn.metrics")[0]
    assert m["request_id"] == "rid-1" and m["prompt_tokens"] > 0
    assert m["eou_to_first_token_ms"] >= 50
    assert m["eou_to_first_audio_ms"] >= m["eou_to_first_token_ms"] + 20
    assert m["llm_ttfb_ms"] >= 50 and m["tts_ttfb_ms"] >= 20


async def test_audio_transport_turns_come_from_stt_events():
    stt = FakeSTT()
    transport = FakeTransport("audio")
    llm = FakeLLM([["Hi caller."]])
    events = EventLog()
    task = asyncio.create_task(run_session(make_agent(), llm, transport, stt=stt, tts=FakeTTS(), events=events))
    await asyncio.wait_for(stt.opened.wait(), 1)
    stt.stream.push(STTEvent("speech_started"))
    stt.stream.push(STTEvent("interim", "hel"))
    stt.stream.push(STTEvent("final", "hello agent"))
    while not events.of_type("turn.metrics"):
        await asyncio.sleep(0.01)
    transport.hang_up()
    _, reason = await task
    assert reason == "caller_ended" and stt.language == "en"
    assert [e["text"] for e in events.of_type("user.transcript")] == ["hello agent"]
    assert ("caller", "hello agent") in transport.shown
    assert transport.audio_ms > 0


async def test_a_stalled_llm_round_after_the_filler_gets_the_fallback():
    agent = make_agent(
        behaviour={"utterance_timeout_ms": 500, "fallback": "Sorry about that."},
        tools=[{"name": "t", "python": "x:y", "filler": "One moment."}],
    )
    llm = FakeLLM([[tool_call("t")], [Delay(5.0), "too late"]])
    events = EventLog()
    tts = FakeTTS()
    await run_session(
        agent,
        llm,
        FakeTransport("text", lines=["go"], close_input=True),
        tts=tts,
        tools=RecordingRunner(),
        events=events,
    )
    assert tts.texts == ["One moment.", "Sorry about that."]
    assert "no LLM reply within 500 ms" in events.of_type("error")[0]["message"]
    assert llm.calls[1].cancelled


async def test_an_empty_llm_reply_gets_the_fallback():
    agent = make_agent(behaviour={"fallback": "Could you say that again?"})
    events = EventLog()
    await run_session(
        agent, FakeLLM([[]]), FakeTransport("text", lines=["hm"], close_input=True, plays_audio=False), events=events
    )
    assert [e["text"] for e in events.of_type("agent.text")] == ["Could you say that again?"]


async def test_scripted_stt_over_caller_audio_and_interim_barge_in():
    from voiceagent.audio import silence

    # events released as the caller's audio arrives: an utterance at 100 ms, then at 300 ms an
    # interim (no VAD event) while the agent is still talking, then its final
    stt = FakeSTT(
        [
            (100, STTEvent("final", "first question")),
            (300, STTEvent("interim", "wait a")),
            (320, STTEvent("final", "wait a second")),
        ]
    )
    transport = FakeTransport("audio", playback_speed=1.0)
    llm = FakeLLM([["A long answer that takes a while to say. " * 3], ["Sure."]])
    events = EventLog()
    task = asyncio.create_task(run_session(make_agent(), llm, transport, stt=stt, tts=FakeTTS(), events=events))
    for _ in range(5):
        transport.send_audio(silence(20, 16000))
    while not transport.played:
        await asyncio.sleep(0.005)
    for _ in range(11):
        transport.send_audio(silence(20, 16000))
    while len(events.of_type("turn.metrics")) < 2:
        await asyncio.sleep(0.005)
    transport.hang_up()
    _, reason = await task
    assert reason == "caller_ended"
    assert [e["text"] for e in events.of_type("user.transcript")] == ["first question", "wait a second"]
    assert events.of_type("agent.interrupted")[0]["cause"] == "speech_started"
    assert events.of_type("agent.text")[0]["interrupted"] is True
    assert stt.stream.audio_ms == 320 and stt.stream.closed


async def test_llm_warm_up_gets_the_first_request_prefix_while_the_greeting_plays():
    class WarmLLM(FakeLLM):
        capabilities = LLMCapabilities(warm_up=True)
        warmed = None

        async def warm_up(self, request):
            self.warmed = request
            return 0.01

    llm = WarmLLM([["Hello."]])
    events = EventLog()
    await run_session(
        make_agent(greeting="Hi there!"),
        llm,
        FakeTransport("text", lines=["hey"], close_input=True),
        tts=FakeTTS(),
        events=events,
    )
    first = llm.requests[0].messages
    assert llm.warmed.messages == first[: len(llm.warmed.messages)]
    assert [m["role"] for m in llm.warmed.messages] == ["system", "assistant"]
    assert events.of_type("llm.warm_up")[0]["ms"] == 10.0


async def test_a_warm_up_method_without_the_declared_capability_is_never_called():
    """Optional features are declared (``capabilities``), not probed: an undeclared warm_up is ignored."""

    class Undeclared(FakeLLM):
        warmed = False

        async def warm_up(self, request):
            self.warmed = True
            return 0.01

    llm = Undeclared([["Hello."]])
    session, _ = await run_session(
        make_agent(greeting="Hi there!"), llm, FakeTransport("text", lines=["hey"], close_input=True), tts=FakeTTS()
    )
    assert llm.warmed is False and not session.events.of_type("llm.warm_up")
    assert [e["text"] for e in session.events.of_type("agent.text")] == ["Hi there!", "Hello."]


async def test_a_tool_filler_is_spoken_with_the_calls_args():
    agent = make_agent(
        tools=[
            {
                "name": "lookup",
                "python": "x:lookup",
                "parameters": {"account_id": {"type": "string"}},
                "filler": "Checking account {{ args.account_id }} now.",
            }
        ]
    )
    llm = FakeLLM([[tool_call("lookup", json.dumps({"account_id": "AC-42"}))], ["It is open."]])
    tts = FakeTTS()
    session, _ = await run_session(
        agent, llm, FakeTransport("text", lines=["my account"], close_input=True), tts=tts, tools=RecordingRunner()
    )
    assert [e["text"] for e in session.events.of_type("agent.text")] == ["Checking account AC-42 now. It is open."]
    assert tts.texts[0] == "Checking account AC-42 now."


async def test_a_filler_with_args_of_invalid_json_renders_them_empty_and_the_tool_is_not_run():
    agent = make_agent(
        tools=[{"name": "lookup", "python": "x:lookup", "filler": "Checking account {{ args.account_id }} now."}]
    )
    llm = FakeLLM([[ToolCallRequest("c1", "lookup", "{not json")], ["Sorry."]])
    runner = RecordingRunner()
    session, _ = await run_session(
        agent, llm, FakeTransport("text", lines=["go"], close_input=True), tts=FakeTTS(), tools=runner
    )
    assert session.events.of_type("agent.text")[0]["text"].startswith("Checking account now.")
    assert runner.calls == []


async def test_an_empty_filler_means_silence():
    agent = make_agent(
        behaviour={"filler": ""}, tools=[{"name": "a", "python": "x:a"}, {"name": "b", "python": "x:b", "filler": ""}]
    )
    tts = FakeTTS()
    llm = FakeLLM([[tool_call("a")], [tool_call("b")], ["Done."]])
    await run_session(
        agent, llm, FakeTransport("text", lines=["go"], close_input=True), tts=tts, tools=RecordingRunner()
    )
    assert tts.texts == ["Done."]


async def test_an_stt_that_cannot_open_is_logged_and_raised():
    import pytest

    class BrokenSTT(FakeSTT):
        async def open(self, *, language):
            raise ProviderError("401 unauthorized")

    events = EventLog()
    with pytest.raises(ProviderError):
        await run_session(make_agent(), FakeLLM(), FakeTransport("audio"), stt=BrokenSTT(), events=events)
    assert [e["type"] for e in events.events][-2:] == ["error", "session.end"]
    assert events.of_type("session.end")[0]["reason"] == "stt_error"
