"""The session against the real OpenAI-compatible client and the fake server on 127.0.0.1, with the
real ToolRunner (python tools from the agent folder), VerificationGuard and Redactor."""

import asyncio
import json
import textwrap

import pytest
from engine_helpers import make_agent, run_call, run_session
from voiceagent.engine.events import EventLog
from voiceagent.providers.openai_compat import OpenAICompatLLM
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply, ToolCall, ToolCallReply
from voiceagent.testing.fakes import FakeTransport, FakeTTS

TOOLS_PY = textwrap.dedent(
    """
    import asyncio, time

    async def slow_a(ctx=None):
        started = time.monotonic()
        await asyncio.sleep(0.3)
        return {"a": 1, "started": started, "ended": time.monotonic()}

    async def slow_b():
        started = time.monotonic()
        await asyncio.sleep(0.3)
        return {"b": 2, "started": started, "ended": time.monotonic()}

    def lookup_customer(ctx=None):
        return {"name": "Ann Lee", "dob": "1990-01-02", "city": "Pune"}
    """
)


@pytest.fixture
def agent_dir(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "shop.py").write_text(TOOLS_PY)
    return tmp_path


def llm_for(srv: FakeOpenAI) -> OpenAICompatLLM:
    return OpenAICompatLLM(base_url=srv.base_url, api_key="sk-test-not-real", model="fake-model", max_retries=0)


async def test_streamed_reply_parallel_tools_and_request_ids_over_http(agent_dir):
    agent = make_agent(
        tools=[{"name": "slow_a", "python": "tools.shop:slow_a"}, {"name": "slow_b", "python": "tools.shop:slow_b"}]
    )
    tts = FakeTTS()
    async with FakeOpenAI() as srv:
        srv.script(
            ToolCallReply([ToolCall("slow_a", {}, id="ca"), ToolCall("slow_b", {}, id="cb")], filler="Let me look."),
            TextReply("Both are ready. Anything else?", chunk_delay_s=0.05),
        )
        llm = llm_for(srv)
        try:
            call, _ = await run_call(
                agent, llm, FakeTransport("text", lines=["check both"], close_input=True), base_dir=agent_dir, tts=tts
            )
        finally:
            await llm.aclose()
        events = call.events
        requests = srv.chat_requests
    results = {e["name"]: e["result"] for e in events.of_type("tool.result")}
    # both tools were running at the same time: each started before the other ended
    a, b = results["slow_a"], results["slow_b"]
    assert a["started"] < b["ended"] and b["started"] < a["ended"]
    assert tts.texts == ["Let me look.", "Both are ready.", "Anything else?"]
    # the second request carried the assistant tool_calls message and both results
    msgs = requests[1].body["messages"]
    assert [c["id"] for c in msgs[-3]["tool_calls"]] == ["ca", "cb"]
    assert [(m["role"], m["tool_call_id"]) for m in msgs[-2:]] == [("tool", "ca"), ("tool", "cb")]
    assert msgs[-3]["content"] == "Let me look."
    metrics = events.of_type("turn.metrics")[0]
    assert metrics["request_ids"] == [r.request_id for r in requests]
    assert metrics["llm_rounds"] == 2 and metrics["tool_calls"] == 2
    assert "sk-test-not-real" not in json.dumps(events.events)


async def test_first_sentence_is_synthesised_while_the_http_stream_is_open():
    events = EventLog()
    tts = FakeTTS()
    async with FakeOpenAI() as srv:
        srv.script(TextReply(chunks=["Hello ", "there. ", "I am ", "slow ", "today."], chunk_delay_s=0.1))
        llm = llm_for(srv)
        try:
            await run_session(
                make_agent(), llm, FakeTransport("text", lines=["hi"], close_input=True), tts=tts, events=events
            )
        finally:
            await llm.aclose()
    done_at = events.of_type("turn.metrics")[0]["t_ms"]
    assert tts.texts == ["Hello there.", "I am slow today."]
    assert tts.requests[1].started - tts.requests[0].started >= 0.2  # sentence 1 went out ~3 chunks earlier
    assert events.of_type("agent.text")[0]["t_ms"] <= done_at


async def until(predicate, timeout=3.0):
    async def loop():
        while not predicate():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(loop(), timeout)


async def test_barge_in_closes_the_http_stream():
    transport = FakeTransport("text", playback_speed=1.0)
    events = EventLog()
    async with FakeOpenAI() as srv:
        srv.script(TextReply(chunks=["One. "] + ["more words "] * 60, chunk_delay_s=0.05), TextReply("Yes?"))
        llm = llm_for(srv)
        task = asyncio.create_task(run_session(make_agent(), llm, transport, tts=FakeTTS(), events=events))
        transport.send("talk")
        await until(lambda: transport.played_ms() >= 20)  # "One." is being heard
        transport.send("stop")
        await until(lambda: len(events.of_type("turn.metrics")) == 2)
        transport.hang_up()
        session, _ = await task
        await llm.aclose()
        first = srv.chat_requests[0]
        await until(lambda: first.disconnected)
    assert not first.completed
    assert events.of_type("agent.text")[0]["interrupted"] is True
    assert [m["content"] for m in session.history.messages] == ["talk", "One.", "stop", "Yes?"]


async def test_verification_lockout_runs_the_transfer_and_values_never_reach_the_log(agent_dir):
    agent = make_agent(
        tools=[
            {"name": "lookup_customer", "python": "tools.shop:lookup_customer"},
            {"name": "transfer_to_human", "builtin": "transfer", "to": "+15550199"},
        ],
        guardrails={
            "verification": {
                "factors": ["name", "dob", "city"],
                "lookup": "lookup_customer",
                "levels": {1: {"min_factors": 2}},
                "max_attempts": 1,
                "on_lockout": "transfer_to_human",
            },
            "redact": ["dob", "name"],
        },
    )
    async with FakeOpenAI() as srv:
        srv.script(
            ToolCallReply([ToolCall("verify_caller", {"name": "Ann Lee", "dob": "1985-05-05"})], filler="Checking."),
            TextReply("I could not verify you, let me transfer you."),
        )
        llm = llm_for(srv)
        try:
            call, reason = await run_call(
                agent,
                llm,
                FakeTransport("text", lines=["I am Ann Lee, born 1985-05-05"]),
                base_dir=agent_dir,
                tts=FakeTTS(),
            )
        finally:
            await llm.aclose()
        events = call.events
        verify_answer = json.loads(srv.chat_requests[1].body["messages"][-1]["content"])
    assert reason == "transfer"
    # the LLM had spoken ("Checking.") but the runtime ended the call: it got a last round
    assert events.of_type("agent.text")[0]["text"] == "Checking. I could not verify you, let me transfer you."
    assert verify_answer["locked_out"] is True and verify_answer["verification_level"] == 0
    assert "1990-01-02" not in json.dumps(verify_answer)  # the record never goes to the LLM
    assert events.of_type("call.transfer")[0]["to"] == "+15550199"
    assert events.of_type("verification")[0]["level"] == 0
    log = json.dumps(events.events)
    assert "Ann Lee" not in log and "1990-01-02" not in log


async def test_a_slow_llm_over_http_gets_the_fallback_and_the_next_turn_works():
    agent = make_agent(behaviour={"utterance_timeout_ms": 500, "fallback": "Sorry, one more time?"})
    events = EventLog()
    tts = FakeTTS()
    transport = FakeTransport("text", lines=["first"])
    async with FakeOpenAI() as srv:
        srv.script(TextReply("Far too late.", first_token_delay_s=3.0), TextReply("Quick answer."))
        llm = llm_for(srv)
        try:
            task = asyncio.create_task(run_session(agent, llm, transport, tts=tts, events=events, timeout=6))
            await until(lambda: events.of_type("turn.metrics"))
            transport.send("second")
            await until(lambda: len(events.of_type("turn.metrics")) == 2)
            transport.hang_up()
            _, reason = await task
            await until(lambda: srv.chat_requests[0].disconnected)  # the slow stream was closed
        finally:
            await llm.aclose()
    assert reason == "caller_ended"
    assert events.of_type("turn.timeout")[0]["turn"] == 1
    assert tts.texts == ["Sorry, one more time?", "Quick answer."]
    assert not srv.chat_requests[0].completed
