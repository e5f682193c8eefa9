"""Barge-in, state transitions, guardrails, call control and the event log."""

import asyncio
import json

import pytest
from engine_helpers import RecordingRunner, make_agent, run_call, run_session, wait_for
from voiceagent.config.validate import validate_paths
from voiceagent.engine.compiler import CompileError, compile_agent
from voiceagent.engine.events import EventLog
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tools import ToolResult
from voiceagent.providers.base import STTEvent
from voiceagent.testing.fakes import Delay, FakeLLM, FakeSTT, FakeTransport, FakeTTS, tool_call

REPLY = ["First sentence here. ", "Second sentence is longer. ", "Third one comes last."]


async def test_barge_in_keeps_only_what_the_caller_heard():
    # 10 ms of audio per character: sentence 1 = 0-200 ms, 2 = 200-460 ms of agent audio, played
    # at half speed so a loaded machine still interrupts inside the second sentence.
    stt = FakeSTT()
    tts = FakeTTS(ms_per_char=10.0, chunk_ms=20.0)
    transport = FakeTransport("audio", playback_speed=0.5)
    llm = FakeLLM([REPLY, ["Ok."]])
    events = EventLog()
    task = asyncio.create_task(run_session(make_agent(), llm, transport, stt=stt, tts=tts, events=events))
    await wait_for(lambda: stt.stream is not None)
    stt.stream.push(STTEvent("final", "tell me"))
    await wait_for(lambda: transport.played_ms() >= 300)  # inside the second sentence
    stt.stream.push(STTEvent("speech_started"))
    await wait_for(lambda: events.of_type("agent.interrupted"))
    interrupted_at = transport.played_ms()
    stt.stream.push(STTEvent("final", "wait"))
    await wait_for(lambda: len(events.of_type("turn.metrics")) == 2)
    transport.hang_up()
    session, _ = await task
    said = events.of_type("agent.text")[0]
    assert said == {**said, "text": "First sentence here. Second sentence is longer.", "interrupted": True}
    assert transport.cleared >= 1 and 300 <= interrupted_at < 460
    assert transport.audio_ms < 1500  # the third sentence's audio was never fully produced
    assert [m["content"] for m in session.history.messages] == [
        "tell me",
        "First sentence here. Second sentence is longer.",
        "wait",
        "Ok.",
    ]
    assert llm.requests[1].messages[-2]["content"] == "First sentence here. Second sentence is longer."


async def test_new_text_input_interrupts_before_anything_is_heard():
    llm = FakeLLM([[Delay(2.0), "never said"], ["Second."]])
    transport = FakeTransport("text", playback_speed=1.0)
    events = EventLog()
    task = asyncio.create_task(run_session(make_agent(), llm, transport, tts=FakeTTS(), events=events))
    transport.send("one")
    await wait_for(lambda: llm.calls)
    transport.send("two")
    await wait_for(lambda: events.of_type("turn.metrics") and len(events.of_type("turn.metrics")) == 2)
    transport.hang_up()
    session, _ = await task
    assert llm.calls[0].cancelled
    assert [m["content"] for m in session.history.messages] == ["one", "two", "Second."]
    assert events.of_type("agent.text")[0]["text"] == "" and events.of_type("agent.text")[0]["interrupted"]


async def test_no_barge_in_waits_for_the_reply():
    agent = make_agent(behaviour={"barge_in": False})
    llm = FakeLLM([[Delay(0.1), "First reply."], ["Second reply."]])
    transport = FakeTransport("text", lines=["one", "two"], close_input=True)
    session, _ = await run_session(agent, llm, transport, tts=FakeTTS())
    assert not llm.calls[0].cancelled
    assert [m["content"] for m in session.history.messages] == ["one", "First reply.", "two", "Second reply."]


FLOW = {
    "initial": "triage",
    "states": {
        "triage": {
            "instructions": "Triage.",
            "transitions": [
                {"to": "service", "description": "Banking action"},
                {"to": "late", "when": "session.turns >= 2"},
            ],
        },
        "service": {
            "instructions": "Service.",
            "tools": ["create_ticket"],
            "transitions": [{"to": "goodbye", "on_tool": "create_ticket"}],
        },
        "late": {"instructions": "Late."},
        "goodbye": {"instructions": "Say goodbye.", "final": True},
    },
}
TOOLS = [{"name": "create_ticket", "python": "x:y", "parameters": {"summary": {"type": "string"}}}]


async def test_llm_chosen_then_on_tool_transition_into_a_final_state_ends_the_call():
    llm = FakeLLM(
        [
            [tool_call("go_to_service")],
            [tool_call("create_ticket", '{"summary": "card lost"}')],
            ["Your ticket is open. Goodbye!"],
        ]
    )
    events = EventLog()
    transport = FakeTransport("text", lines=["I lost my card", "never read"], plays_audio=False)
    session, reason = await run_session(
        make_agent(tools=TOOLS, flow=FLOW), llm, transport, tools=RecordingRunner(), events=events
    )
    assert reason == "final_state" and session.state.state == "goodbye"
    assert [(e["state"], e["via"]) for e in events.of_type("state.enter")] == [
        ("triage", "initial"),
        ("service", "llm"),
        ("goodbye", "on_tool"),
    ]
    system = [r.messages[0]["content"] for r in llm.requests]
    assert system == [
        "You help callers of Acme.\n\nTriage.",
        "You help callers of Acme.\n\nService.",
        "You help callers of Acme.\n\nSay goodbye.",
    ]
    assert [t["function"]["name"] for t in llm.requests[0].tools] == ["go_to_service"]
    assert [t["function"]["name"] for t in llm.requests[1].tools] == ["create_ticket"]
    assert events.of_type("call.end")[0]["reason"] == "final_state"
    assert [e["text"] for e in events.of_type("user.transcript")] == ["I lost my card"]


async def test_nothing_said_in_a_final_state_is_the_end_call_line_not_the_fallback():
    """The 0.5B model answered the bank's move into its final `closing` state with a newline; the
    caller heard "Sorry, could you repeat that?" and then the hang-up."""
    flow = {
        "initial": "triage",
        "states": {
            "triage": {"instructions": "Triage.", "transitions": [{"to": "goodbye", "description": "Nothing to ask"}]},
            "goodbye": {"instructions": "Say goodbye.", "final": True},
        },
    }
    tools = [{"name": "end_call", "builtin": "end_call", "parameters": {}, "say": "Thanks for calling Acme. Bye!"}]
    llm = FakeLLM([[tool_call("go_to_goodbye")], [""]])
    events = EventLog()
    transport = FakeTransport("text", lines=["Nothing, bye."], plays_audio=False)
    session, reason = await run_session(
        make_agent(tools=tools, flow=flow, behaviour={"fallback": "Sorry?"}), llm, transport, events=events
    )
    assert reason == "final_state" and len(llm.requests) == 2
    said = " ".join(e["text"] for e in events.of_type("agent.text"))
    assert "Thanks for calling Acme. Bye!" in said and "Sorry?" not in said
    assert session.history.messages[-1] == {"role": "assistant", "content": "Thanks for calling Acme. Bye!"}


async def test_guard_transition_after_a_turn_and_stable_prompt_prefix():
    llm = FakeLLM(default=["Okay."])
    events = EventLog()
    transport = FakeTransport("text", lines=["one", "two", "three"], close_input=True, plays_audio=False)
    session, _ = await run_session(make_agent(tools=TOOLS, flow=FLOW), llm, transport, events=events)
    assert [(e["state"], e["via"]) for e in events.of_type("state.enter")][1:] == [("late", "guard")]
    first, second, third = llm.requests
    assert first.messages[0] == second.messages[0]  # byte-identical system prompt within a state
    assert second.messages[1:] == first.messages[1:] + second.messages[len(first.messages) :]  # append-only
    assert third.messages[0]["content"].endswith("Late.")


async def test_requires_level_refusal_then_verification_unlocks_the_tool():
    agent = make_agent(
        tools=[
            {"name": "create_ticket", "python": "x:y", "requires_level": 1, "parameters": {}, "filler": "Creating it."},
            {"name": "lookup_customer", "python": "x:z"},
        ],
        guardrails={
            "verification": {
                "factors": ["name", "dob"],
                "lookup": "lookup_customer",
                "levels": {1: {"min_factors": 2}},
            },
            "redact": ["dob"],
        },
    )

    class Guard:  # a stand-in for engine.ports.Guard
        lockout_action = None

        def __init__(self):
            self.level = 0

        async def prefetch(self, ctx):
            return False

        async def run_lockout(self, ctx):
            return None

        def refusal_for(self, tool, level):
            return f"verification needed for {tool.name}" if (tool.requires_level or 0) > level else None

        async def verify(self, args, ctx):
            from voiceagent.engine.guardrails import VerificationOutcome

            self.level = 1 if args == {"name": "Ann", "dob": "1990-01-02"} else 0
            return VerificationOutcome(
                level=self.level,
                matched=["name", "dob"],
                locked_out=False,
                attempts_left=3,
                message="Verified at level 1.",
            )

    runner = RecordingRunner()
    llm = FakeLLM(
        [
            [tool_call("create_ticket")],
            ["I need to verify you first."],
            [tool_call("verify_caller", '{"name": "Ann", "dob": "1990-01-02"}')],
            [tool_call("create_ticket")],
            ["Done."],
        ]
    )
    events = EventLog(redactor=Redactor(["dob"]))
    events.redactor.add("1990-01-02")
    transport = FakeTransport(
        "text", lines=["open a ticket", "I am Ann, born 1990-01-02"], close_input=True, plays_audio=False
    )
    session, _ = await run_session(agent, llm, transport, tools=runner, guard=Guard(), events=events)
    assert [c["name"] for c in runner.calls] == ["create_ticket"]  # run once, after verification
    # no filler for the refused call; the default filler while verifying; the tool's once allowed
    assert [t for role, t in transport.shown if role == "agent"] == [
        "I need to verify you first.",
        "One moment while I check that.",
        "Creating it.",
        "Done.",
    ]
    assert json.loads(llm.requests[1].messages[-1]["content"]) == {"error": "verification needed for create_ticket"}
    assert events.of_type("verification") == [
        {**events.of_type("verification")[0], "level": 1, "factors_matched": ["name", "dob"]}
    ]
    assert session.state.verification_level == 1
    log = json.dumps(events.events)
    assert "1990-01-02" not in log and "Ann" not in json.dumps(events.of_type("tool.call"))


async def test_transfer_builtin_through_the_real_tool_runner(tmp_path):
    agent = make_agent(
        tools=[
            {
                "name": "transfer_to_human",
                "builtin": "transfer",
                "to": "+15550199",
                "mode": "warm",
                "handoff_prompt": "Escalation: {{ args.reason }}",
            }
        ]
    )
    llm = FakeLLM([["Connecting you now. ", tool_call("transfer_to_human", '{"reason": "angry"}')]])
    transport = FakeTransport("text", lines=["human please"], playback_speed=20.0)
    tts = FakeTTS()
    call, reason = await run_call(agent, llm, transport, base_dir=tmp_path, tts=tts)
    events = call.events
    assert reason == "transfer" and len(llm.calls) == 1  # last words were said already: no extra round
    transfer = events.of_type("call.transfer")[0]
    assert transfer == {**transfer, "to": "+15550199", "mode": "warm", "handoff": "Escalation: angry"}
    assert transport.played_ms() == transport.audio_ms > 0  # ended after the last words were played
    assert [e["type"] for e in events.events][-2:] == ["call.transfer", "session.end"]


async def test_end_call_without_words_gets_one_last_reply():
    agent = make_agent(tools=[{"name": "hang_up", "builtin": "end_call"}])
    llm = FakeLLM([[tool_call("hang_up", '{"reason": "done"}')], ["Goodbye!"]])
    events = EventLog()
    session, reason = await run_session(
        agent, llm, FakeTransport("text", lines=["bye"]), tools=RecordingRunner(), tts=FakeTTS(), events=events
    )
    assert reason == "done" and llm.requests[1].tool_choice == "none"
    assert events.of_type("agent.text")[-1]["text"] == "Goodbye!"
    assert events.of_type("call.end")[0]["tool"] == "hang_up"


async def test_history_trimming_keeps_the_system_prompt_and_recent_turns():
    agent = make_agent(behaviour={"max_history_turns": 2}, greeting="Hello!")
    llm = FakeLLM(default=["Reply."])
    transport = FakeTransport("text", lines=["u1", "u2", "u3", "u4"], close_input=True, plays_audio=False)
    await run_session(agent, llm, transport)
    last = llm.requests[-1].messages
    assert last[0]["role"] == "system"
    assert [m["content"] for m in last[1:]] == ["u3", "Reply.", "u4"]
    assert [m["content"] for m in llm.requests[0].messages[1:]] == ["Hello!", "u1"]


async def test_event_log_file_has_monotonic_t_ms_and_the_spec_events(tmp_path):
    path = tmp_path / "events.jsonl"
    agent = make_agent(greeting="Hi.", tools=[{"name": "t", "python": "x:y"}])
    llm = FakeLLM([[tool_call("t")], ["Answer."]])
    with EventLog(path) as events:
        await run_session(
            agent,
            llm,
            FakeTransport("text", lines=["q"], close_input=True),
            tts=FakeTTS(),
            tools=RecordingRunner(),
            events=events,
        )
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines == events.events
    types = [e["type"] for e in lines]
    for needed in [
        "session.start",
        "state.enter",
        "user.transcript",
        "agent.text",
        "tool.call",
        "tool.result",
        "turn.metrics",
        "call.end",
        "session.end",
    ]:
        assert needed in types
    assert types[0] == "session.start" and types[-1] == "session.end"
    t = [e["t_ms"] for e in lines]
    assert t == sorted(t) and t[0] == 0.0


def test_on_tool_with_a_when_guard_is_refused_by_compile_and_validate(tmp_path):
    """A transition has exactly one trigger: ``on_tool`` + ``when`` never reaches a call."""
    flow = {
        "initial": "a",
        "states": {
            "a": {"tools": ["t"], "transitions": [{"to": "b", "on_tool": "t", "when": "flag == 'yes'"}]},
            "b": {},
        },
    }
    agent = make_agent(tools=[{"name": "t", "python": "x:y"}], flow=flow)
    with pytest.raises(CompileError, match="exactly one of description, when or on_tool"):
        compile_agent(agent)
    path = tmp_path / "agent.yaml"
    path.write_text(
        "name: a\nprompt: p\ntools:\n  - name: t\n    builtin: end_call\nflow:\n  initial: a\n  states:\n"
        "    a:\n      tools: [t]\n      transitions:\n        - to: b\n          on_tool: t\n"
        "          when: session.turns > 1\n    b: {}\n",
        encoding="utf-8",
    )
    diags = [d for d in validate_paths([path]) if d.severity == "error"]
    assert any("exactly one of description, when or on_tool" in d.message and d.line == 12 for d in diags), diags


async def test_on_tool_transition_is_taken_only_after_the_tool_succeeds():
    flow = {
        "initial": "a",
        "states": {"a": {"tools": ["t"], "transitions": [{"to": "b", "on_tool": "t"}]}, "b": {}},
    }
    for ok, expected in [(False, "a"), (True, "b")]:
        agent = make_agent(tools=[{"name": "t", "python": "x:y"}], flow=flow)
        llm = FakeLLM([[tool_call("t")], ["Done."]])
        result = ToolResult(True, {"done": True}) if ok else ToolResult(False, None, "it broke")
        session, _ = await run_session(
            agent,
            llm,
            FakeTransport("text", lines=["go"], close_input=True, plays_audio=False),
            tools=RecordingRunner(results={"t": result}),
        )
        assert session.state.state == expected
        entered = session.events.of_type("state.enter")[1:]
        assert [(e["state"], e["via"]) for e in entered] == ([("b", "on_tool")] if ok else [])
