"""The LLM request of the moment: the current state's system prompt, the history, the functions.

``now`` in the prompt is the call's start time, so the prompt prefix stays byte-identical across
the turns of a state (prompt caching: a local LLM reuses its cache, a hosted one bills cached
tokens); the growing history goes after it. Request shape:
https://platform.openai.com/docs/api-reference/chat/create
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from voiceagent import templating
from voiceagent.engine.compiler import CompiledAgent
from voiceagent.engine.flow import Flow
from voiceagent.engine.history import History, Message
from voiceagent.engine.state import template_context
from voiceagent.providers.base import ChatRequest

__all__ = ["Prompt"]


class Prompt:
    """Builds the requests of one call.

    Args:
        compiled: the compiled agent (prompt, instructions, ``llm`` settings, history bound).
        flow: the call's flow (the current state).
        history: the conversation so far.
        variables: the call's template variables.
        caller: the call's caller facts.
        started: when the call started (``now`` in prompts).
    """

    def __init__(
        self,
        compiled: CompiledAgent,
        flow: Flow,
        history: History,
        *,
        variables: Mapping[str, Any],
        caller: Mapping[str, Any],
        started: datetime,
    ) -> None:
        self.compiled = compiled
        self.flow = flow
        self.history = history
        self.variables = variables
        self.caller = caller
        self.started = started

    def context(self) -> dict[str, Any]:
        """The template context of prompts and the greeting (``now`` = the call's start)."""
        return template_context(self.flow.state, self.variables, self.caller, self.started)

    def messages(self) -> list[Message]:
        """System prompt of the current state + the trimmed history.

        Raises:
            voiceagent.templating.TemplateError: the prompt or the instructions fail to render.
        """
        system = self.compiled.system_prompt(self.flow.name, self.context())
        trimmed = self.history.trimmed(self.compiled.agent.behaviour.max_history_turns)
        return [{"role": "system", "content": system}, *trimmed]

    def request(self, tool_choice: str) -> ChatRequest:
        """The next LLM request: :meth:`messages`, the current state's functions, the agent's
        ``llm`` settings; ``tool_choice`` becomes "none" in a state without functions.
        """
        state = self.flow.current
        llm_cfg = self.compiled.agent.llm
        return ChatRequest(
            messages=self.messages(),
            tools=state.llm_tools(),
            tool_choice=tool_choice if state.functions else "none",
            temperature=llm_cfg.temperature,
            max_tokens=llm_cfg.max_tokens,
            instructions=self.instructions(),
            closing=self.compiled.closing_functions(state.name),
            handoffs=self.compiled.builtin_tools(state.name, "transfer"),
        )

    def instructions(self) -> str | None:
        """The current state's rendered instructions (None when it has none or they fail to
        render: :meth:`messages` reports that).
        """
        template = self.flow.current.instructions
        if not template:
            return None
        try:
            return templating.render(template, self.context()).strip() or None
        except templating.TemplateError:
            return None
