"""Prompt-cache warm-up: while the greeting plays, an LLM that supports it pre-fills its cache.

An LLM with ``async warm_up(request) -> seconds`` (e.g. the local llama.cpp one) gets the first
request's prefix (system prompt, tools, greeting) so the first caller turn starts faster. Only an
optimisation: failures are ``error`` events (``where="llm.warm_up"``), never raised.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from voiceagent.providers.base import ChatRequest

if TYPE_CHECKING:  # pragma: no cover
    from voiceagent.engine.session import Session


def start_warm_up(session: "Session") -> "asyncio.Task[None] | None":
    """Start the warm-up task for ``session``'s current state, or None when the LLM has no
    ``warm_up``. Emits ``llm.warm_up`` (``ms``: the time the LLM reported) when done."""
    warm_up = getattr(session.llm, "warm_up", None)
    if warm_up is None:
        return None
    state = session.compiled.state(session.state.state)
    llm_cfg = session.agent.llm
    request = ChatRequest(messages=session.build_messages(), tools=state.llm_tools(),
                          tool_choice="auto" if state.functions else "none",
                          temperature=llm_cfg.temperature, max_tokens=llm_cfg.max_tokens)

    async def run() -> None:
        try:
            seconds = await warm_up(request)
            session.events.emit("llm.warm_up", ms=round(float(seconds or 0) * 1000.0, 1))
        except Exception as exc:  # noqa: BLE001 - only an optimisation
            session.events.emit("error", where="llm.warm_up", message=f"{type(exc).__name__}: {exc}")

    return asyncio.create_task(run(), name="llm-warm-up")
