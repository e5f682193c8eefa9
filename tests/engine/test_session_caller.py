"""The ``caller`` facts templates see: a fact the transport does not know renders empty, never
"None" (greetings, prompts, guards and HTTP tool templates alike)."""

from engine_helpers import make_agent, run_session
from voiceagent.engine.events import EventLog
from voiceagent.engine.state import caller_facts
from voiceagent.testing.fakes import FakeLLM, FakeTransport

GREETING = "Hello{{ ' ' ~ caller.phone if caller.phone }}! Line [{{ caller.phone }}] id [{{ caller.id }}]."


async def test_missing_caller_phone_renders_empty_in_greeting_and_prompt():
    agent = make_agent(greeting=GREETING, prompt="Caller number: [{{ caller.phone }}].")
    llm = FakeLLM([["Hi."]])
    transport = FakeTransport(
        "text", lines=["hey"], close_input=True, plays_audio=False, caller={"phone": None, "id": None, "metadata": None}
    )
    events = EventLog()
    session, _ = await run_session(agent, llm, transport, events=events)
    assert events.of_type("agent.text")[0]["text"] == "Hello! Line [] id []."
    assert llm.requests[0].messages[0]["content"].startswith("Caller number: [].")
    assert session.tool_context().caller == {"phone": "", "id": "", "metadata": {}}


async def test_a_transport_without_caller_facts_and_a_known_phone():
    agent = make_agent(greeting=GREETING)
    bare = FakeTransport("text", close_input=True, plays_audio=False)
    bare.caller = None
    events = EventLog()
    await run_session(agent, FakeLLM(), bare, events=events)
    assert events.of_type("agent.text")[0]["text"] == "Hello! Line [] id []."
    events = EventLog()
    await run_session(agent, FakeLLM(), FakeTransport("text", close_input=True, plays_audio=False), events=events)
    assert events.of_type("agent.text")[0]["text"] == "Hello +15550100! Line [+15550100] id [test-caller]."


def test_caller_facts_keeps_extra_keys_and_text_ids():
    assert caller_facts({"phone": 15550100, "id": 7, "metadata": {"sip": "x"}, "country": "IN"}) == {
        "phone": "15550100",
        "id": "7",
        "metadata": {"sip": "x"},
        "country": "IN",
    }
    assert caller_facts(None) == {"phone": "", "id": "", "metadata": {}}
