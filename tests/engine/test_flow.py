"""engine.flow.Flow on its own: guards chained and bounded, the transition a round chose, the
verification level, the ending. (Through whole calls: ``test_session_flow.py``.)"""

from __future__ import annotations

from typing import Any

import pytest
from engine_helpers import make_agent
from voiceagent.engine.compiler import compile_agent
from voiceagent.engine.events import EventLog
from voiceagent.engine.flow import MAX_GUARD_CHAIN, Flow
from voiceagent.engine.state import template_context


def flow_of(flow: dict[str, Any], tools: list[dict[str, Any]] | None = None, **agent: Any) -> Flow:
    compiled = compile_agent(make_agent(flow=flow, tools=tools or [], **agent))
    events = EventLog()
    holder: dict[str, Flow] = {}

    def context() -> dict[str, Any]:
        return template_context(holder["flow"].state, {"flag": "yes"}, {"phone": "", "id": "", "metadata": {}})

    holder["flow"] = Flow(compiled, events, language="en", context=context)
    return holder["flow"]


def entered(flow: Flow) -> list[tuple[str, str]]:
    return [(e["state"], e["via"]) for e in flow.events.of_type("state.enter")]


def test_true_guards_chain_through_the_states_they_enter():
    flow = flow_of(
        {
            "initial": "a",
            "states": {
                "a": {"transitions": [{"to": "b", "when": "flag == 'yes'"}]},
                "b": {"transitions": [{"to": "c", "when": "session.state == 'b'"}]},
                "c": {"final": True},
            },
        }
    )
    assert flow.apply_guards() is True
    assert flow.name == "c" and flow.is_final
    assert entered(flow) == [("b", "guard"), ("c", "guard")]
    assert flow.apply_guards() is False  # nothing left to take


def test_a_cycle_of_true_guards_stops_after_the_bound():
    flow = flow_of(
        {
            "initial": "a",
            "states": {
                "a": {"transitions": [{"to": "b", "when": "true"}]},
                "b": {"transitions": [{"to": "a", "when": "true"}]},
            },
        }
    )
    assert flow.apply_guards() is True
    assert len(entered(flow)) == MAX_GUARD_CHAIN


def test_a_failing_guard_is_an_error_event_and_false():
    flow = flow_of({"initial": "a", "states": {"a": {"transitions": [{"to": "b", "when": "1 / 0"}]}, "b": {}}})
    assert flow.apply_guards() is False and flow.name == "a"
    (error,) = flow.events.of_type("error")
    assert error["where"] == "guard" and error["expression"] == "1 / 0"


TOOLS = [{"name": "t", "python": "x:y"}, {"name": "u", "python": "x:z"}]
ROUTES = {
    "initial": "a",
    "states": {
        "a": {
            "tools": ["t", "u"],
            "transitions": [{"to": "by_tool", "on_tool": "t"}, {"to": "by_llm", "description": "the caller wants b"}],
        },
        "by_tool": {},
        "by_llm": {},
    },
}


def test_classify_names_each_kind_of_function():
    flow = flow_of(ROUTES, TOOLS)
    assert [flow.classify(n) for n in ("t", "go_to_by_llm", "verify_caller", "nope")] == [
        "tool",
        "transition",
        "unknown",  # no verification configured: verify_caller is not offered
        "unknown",
    ]
    assert flow.llm_target("go_to_by_llm") == "by_llm" and flow.llm_target("t") is None
    assert flow.on_tool_target("t") == "by_tool" and flow.on_tool_target("u") is None


@pytest.mark.parametrize(
    ("calls", "expected", "via"),
    [
        ([("t", "tool", True), ("go_to_by_llm", "transition", True)], "by_llm", "llm"),  # the LLM's choice wins
        ([("t", "tool", True)], "by_tool", "on_tool"),
        ([("t", "tool", False)], None, None),  # a failed tool moves nothing
        ([("u", "tool", True)], None, None),  # no on_tool for u
    ],
)
def test_after_calls_takes_the_llm_choice_first_then_on_tool(calls, expected, via):
    flow = flow_of(ROUTES, TOOLS)
    assert flow.after_calls(calls) == expected
    assert flow.name == (expected or "a")
    assert entered(flow) == ([(expected, via)] if expected else [])


def test_the_verification_level_only_goes_up_and_templates_see_it():
    flow = flow_of({"initial": "a", "states": {"a": {}}})
    flow.record_verification(2)
    flow.record_verification(1)
    assert flow.verification_level == 2 == flow.state.as_template()["verification_level"]


def test_the_first_ending_wins_and_a_final_state_ends_the_call():
    flow = flow_of({"initial": "a", "states": {"a": {"final": True}}})
    assert flow.ending is None
    assert flow.end_if_final() is True
    flow.request_end("transfer", {"to": "+1555"}, last_words=True)
    assert flow.ending is not None
    assert (flow.ending.kind, flow.ending.info, flow.ending.needs_words) == (
        "end_call",
        {"reason": "final_state"},
        False,
    )


def test_entering_an_unknown_state_is_refused():
    flow = flow_of({"initial": "a", "states": {"a": {}}})
    with pytest.raises(KeyError):
        flow.enter("nowhere", via="llm")
    assert flow.name == "a" and not flow.events.events
