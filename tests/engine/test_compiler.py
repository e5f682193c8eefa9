import dataclasses

import pytest
from engine_helpers import make_agent
from voiceagent.engine.compiler import MAIN_STATE, VERIFY_FUNCTION, CompileError, compile_agent
from voiceagent.engine.state import SessionState, template_context

FLOW_AGENT = dict(
    tools=[
        {
            "name": "get_account_info",
            "parameters": {"account_id": {"type": "string", "pattern": "^[0-9]{4}$"}, "note": {"type": "string"}},
            "required": ["account_id"],
        },
        {"name": "create_ticket", "parameters": {"summary": {"type": "string"}}, "requires_level": 1},
        {"name": "lookup_customer", "python": "tools.x:lookup"},
        {"name": "transfer_to_human", "builtin": "transfer", "to": "+15550199"},
    ],
    guardrails={
        "verification": {"factors": ["name", "dob"], "lookup": "lookup_customer", "levels": {1: {"min_factors": 2}}}
    },
    flow={
        "initial": "triage",
        "states": {
            "triage": {
                "instructions": "Find out what {{ caller.phone }} needs.",
                "tools": ["get_account_info"],
                "transitions": [
                    {"to": "service", "description": "The caller wants a banking action"},
                    {"to": "goodbye", "when": "session.turns > 30"},
                ],
            },
            "service": {
                "tools": ["create_ticket", "transfer_to_human", "lookup_customer"],
                "transitions": [{"to": "goodbye", "on_tool": "create_ticket"}],
            },
            "goodbye": {"instructions": "Say goodbye.", "final": True},
        },
    },
)


def fn_names(state):
    return [f["function"]["name"] for f in state.llm_tools()]


def test_agent_without_flow_is_one_state_with_every_tool_but_the_lookup():
    agent = make_agent(tools=FLOW_AGENT["tools"], guardrails=FLOW_AGENT["guardrails"])
    c = compile_agent(agent)
    assert c.initial == MAIN_STATE and list(c.states) == [MAIN_STATE]
    assert c.state(MAIN_STATE).tools == ("get_account_info", "create_ticket", "transfer_to_human")
    assert fn_names(c.state(MAIN_STATE)) == ["get_account_info", "create_ticket", "transfer_to_human", VERIFY_FUNCTION]


def test_flow_states_functions_and_transitions():
    c = compile_agent(make_agent(**FLOW_AGENT))
    triage = c.state("triage")
    assert fn_names(triage) == ["get_account_info", "go_to_service", VERIFY_FUNCTION]
    go = triage.llm_tools()[1]["function"]
    assert go["description"] == "The caller wants a banking action"
    assert triage.transition_for_function("go_to_service").to == "service"
    assert [t.when for t in triage.guard_transitions()] == ["session.turns > 30"]
    assert c.state("service").transition_on_tool("create_ticket").to == "goodbye"
    assert c.state("service").tools == ("create_ticket", "transfer_to_human")  # lookup never offered
    assert c.state("goodbye").final and fn_names(c.state("goodbye")) == []  # final: nothing to call


def test_tool_schema_required_defaults_to_all_and_keeps_json_schema_keys():
    agent = make_agent(**FLOW_AGENT)
    c = compile_agent(agent)
    info = c.state("triage").llm_tools()[0]["function"]["parameters"]
    assert info["required"] == ["account_id"]
    assert info["properties"]["account_id"] == {"type": "string", "pattern": "^[0-9]{4}$"}
    ticket = c.state("service").llm_tools()[0]["function"]["parameters"]
    assert ticket["required"] == ["summary"]
    verify = next(f for f in c.state("triage").llm_tools() if f["function"]["name"] == VERIFY_FUNCTION)
    assert set(verify["function"]["parameters"]["properties"]) == {"name", "dob"}
    assert verify["function"]["parameters"]["required"] == []


def test_compiled_agent_is_immutable_and_hands_out_copies():
    c = compile_agent(make_agent(**FLOW_AGENT))
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.initial = "service"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.states["x"] = c.states["triage"]  # type: ignore[index]
    with pytest.raises(TypeError):
        c.state("triage").functions[0]["type"] = "x"  # type: ignore[index]
    copy = c.state("triage").llm_tools()
    copy[0]["function"]["name"] = "changed"
    assert fn_names(c.state("triage"))[0] == "get_account_info"


def test_system_prompt_renders_variables_caller_and_state_instructions():
    c = compile_agent(make_agent(**FLOW_AGENT))
    ctx = template_context(SessionState(state="triage"), {"company": "Acme"}, {"phone": "+15550100"})
    assert c.system_prompt("triage", ctx) == "You help callers of Acme.\n\nFind out what +15550100 needs."
    assert c.system_prompt("service", ctx) == "You help callers of Acme."


@pytest.mark.parametrize(
    "flow, message",
    [
        ({"initial": "nowhere", "states": {"a": {}}}, "unknown state 'nowhere'"),
        ({"initial": "a", "states": {"a": {"transitions": [{"to": "b"}]}}}, "unknown state 'b'"),
        ({"initial": "a", "states": {"a": {"tools": ["nope"]}}}, "unknown tool 'nope'"),
        ({"initial": "a", "states": {"a": {"transitions": [{"to": "a", "when": "session.turns >"}]}}}, "bad guard"),
    ],
)
def test_compile_errors(flow, message):
    with pytest.raises(CompileError, match=message):
        compile_agent(make_agent(flow=flow))


def test_accepts_a_loaded_agent_with_base_dir(tmp_path):
    class Loaded:
        agent = make_agent()
        path = tmp_path / "a.yaml"
        base_dir = tmp_path

    c = compile_agent(Loaded())
    assert c.base_dir == tmp_path and c.path == tmp_path / "a.yaml"
