"""Compile a loaded agent into an immutable state machine the session loop runs.

``compile_agent(loaded) -> CompiledAgent``. An agent without ``flow`` becomes one state
``"main"`` offering every tool. Each state knows its instructions, the tools it may run, the
OpenAI function definitions offered to the LLM (tools, LLM-chosen transitions as ``go_to_<state>``
functions, and ``verify_caller`` when ``guardrails.verification`` is set, except in final
states) and its transitions:

* ``when``: a sandboxed Jinja2 guard over ``{session, variables, caller, now}``, evaluated by the
  session after each tool round and each turn;
* ``on_tool``: taken after that tool succeeds (a transition has exactly one trigger);
* ``description`` only: LLM-chosen, offered as a function.

Function format: https://platform.openai.com/docs/api-reference/chat/create#chat-create-tools
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol

from voiceagent import templating
from voiceagent.config.builtin_functions import (
    VERIFY_FUNCTION,
    transition_function_name,
    verify_function,
)
from voiceagent.config.models import Agent, Tool, Transition
from voiceagent.engine.language import reply_instruction
from voiceagent.engine.tool_schema import tool_definition

__all__ = [
    "MAIN_STATE",
    "VERIFY_FUNCTION",
    "CompileError",
    "CompiledAgent",
    "CompiledState",
    "CompiledTransition",
    "compile_agent",
    "thaw",
    "tool_function",
    "transition_function_name",
    "verify_function",
]

MAIN_STATE = "main"

_BUILTIN_DESCRIPTIONS = {
    "transfer": "Transfer the call to a human agent.",
    "end_call": "End the call once the conversation is over.",
}


class CompileError(ValueError):
    """The agent refers to a state or tool that does not exist (the loader normally catches this)."""


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A fresh, mutable (dict / list) deep copy of a frozen structure."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def tool_function(tool: Tool) -> dict[str, Any]:
    """The OpenAI function definition of ``tool`` (``{"type": "function", "function": {...}}``).

    The schema comes from ``engine.tool_schema.tool_definition`` (the same one ``ToolRunner``
    validates arguments against: ``required`` defaults to every parameter, builtins take an
    optional ``reason``); a tool without a description gets a short default one.
    """
    definition = tool_definition(tool)
    fn = definition["function"]
    if not fn.get("description"):
        fn["description"] = _BUILTIN_DESCRIPTIONS.get(tool.builtin or "", f"The {tool.name} tool.")
    return definition


@dataclass(frozen=True, slots=True)
class CompiledTransition:
    """One way out of a state. ``kind`` says which of ``when`` / ``on_tool`` / ``function`` applies."""

    to: str
    kind: Literal["guard", "tool", "llm"]
    when: str | None = None
    on_tool: str | None = None
    description: str | None = None
    function: str | None = None


@dataclass(frozen=True, slots=True)
class CompiledState:
    """A state: instructions template, runnable tools, LLM functions (frozen), transitions."""

    name: str
    instructions: str | None
    tools: tuple[str, ...]
    functions: tuple[Mapping[str, Any], ...]
    transitions: tuple[CompiledTransition, ...]
    final: bool

    def llm_tools(self) -> list[dict[str, Any]]:
        """Fresh copies of the function definitions for a ``ChatRequest``."""
        return [thaw(f) for f in self.functions]

    def transition_for_function(self, name: str) -> CompiledTransition | None:
        """The LLM-chosen transition exposed as function ``name``, or None."""
        return next((t for t in self.transitions if t.kind == "llm" and t.function == name), None)

    def guard_transitions(self) -> tuple[CompiledTransition, ...]:
        """Transitions with a ``when`` guard, in file order."""
        return tuple(t for t in self.transitions if t.kind == "guard")

    def transition_on_tool(self, tool: str) -> CompiledTransition | None:
        """The transition taken after ``tool`` succeeds in this state, or None."""
        return next((t for t in self.transitions if t.kind == "tool" and t.on_tool == tool), None)


@dataclass(frozen=True, slots=True)
class CompiledAgent:
    """The immutable result of :func:`compile_agent`; one per agent file, shared by all calls."""

    agent: Agent
    base_dir: Path
    path: Path | None
    initial: str
    states: Mapping[str, CompiledState]
    tools: Mapping[str, Tool]
    verification_lookup: str | None

    @property
    def has_verification(self) -> bool:
        """Whether ``verify_caller`` is offered (``guardrails.verification`` is set)."""
        return self.verification_lookup is not None

    def state(self, name: str) -> CompiledState:
        """The state ``name``. Raises KeyError when unknown."""
        return self.states[name]

    def builtin_tools(self, state: str, builtin: str) -> tuple[str, ...]:
        """The tools of ``state`` that are the ``builtin`` kind (``end_call``, ``transfer``)."""
        return tuple(
            name
            for name in self.states[state].tools
            if (tool := self.tools.get(name)) is not None and tool.builtin == builtin
        )

    def closing_functions(self, state: str) -> tuple[str, ...]:
        """The functions of ``state`` that end the call: its ``end_call`` builtins, then the
        ``go_to_<state>`` functions of LLM transitions into a final state.
        """
        return (
            *self.builtin_tools(state, "end_call"),
            *(
                t.function
                for t in self.states[state].transitions
                if t.kind == "llm" and t.function and self.states[t.to].final
            ),
        )

    def system_prompt(self, state: str, context: Mapping[str, Any]) -> str:
        """Rendered prompt + the state's rendered instructions.

        The result depends only on ``context``; the session passes a context that is stable
        within a state (``now`` fixed at the call start) so the prefix stays byte-identical
        across turns and a local LLM can reuse its prompt cache.

        An agent with several ``languages`` gets one more line, in the caller's current language
        (``session.language``), asking for the reply in it (:func:`engine.language.reply_instruction`).

        Raises:
            voiceagent.templating.TemplateError: a template fails to render.
        """
        parts = [templating.render(self.agent.prompt, context).strip()]
        instructions = self.states[state].instructions
        if instructions:
            parts.append(templating.render(instructions, context).strip())
        if self.agent.languages and len(self.agent.languages) > 1:  # the caller may switch: say which one now
            session = context.get("session")
            current = session.get("language") if isinstance(session, Mapping) else None
            parts.append(reply_instruction(str(current or self.agent.language)))
        return "\n\n".join(p for p in parts if p)

    def greeting(self, context: Mapping[str, Any]) -> str | None:
        """The rendered greeting, or None when the agent has none (or it renders empty)."""
        if not self.agent.greeting:
            return None
        text = templating.render(self.agent.greeting, context).strip()
        return text or None


def _state_functions(
    agent: Agent, tool_names: tuple[str, ...], transitions: tuple[CompiledTransition, ...], verify: bool
) -> tuple[Mapping[str, Any], ...]:
    functions: list[dict[str, Any]] = [tool_function(agent.tool(n)) for n in tool_names]  # type: ignore[arg-type]
    for t in transitions:
        if t.kind == "llm":
            functions.append(
                {
                    "type": "function",
                    "function": {
                        "name": t.function,
                        "description": t.description,
                        "parameters": {"type": "object", "properties": {}, "required": []},
                    },
                }
            )
    if verify and agent.guardrails.verification is not None:
        functions.append(verify_function(agent.guardrails.verification.factors))
    return tuple(_freeze(f) for f in functions)


def _compile_transitions(
    state: str, transitions: list[Transition], states: set[str], tools: set[str]
) -> tuple[CompiledTransition, ...]:
    out: list[CompiledTransition] = []
    for t in transitions:
        if t.to not in states:
            raise CompileError(f"state {state!r}: transition to unknown state {t.to!r}")
        if t.when is not None:
            try:
                templating.check_expression(t.when)
            except templating.TemplateError as exc:
                raise CompileError(f"state {state!r}: bad guard {t.when!r}: {exc}") from None
        if t.on_tool is not None and t.when is not None:  # validate refuses it too (config.checks)
            raise CompileError(
                f"state {state!r}: a transition needs exactly one of description, when or on_tool "
                "(has when and on_tool)"
            )
        if t.on_tool is not None:
            if t.on_tool not in tools:
                raise CompileError(f"state {state!r}: on_tool names unknown tool {t.on_tool!r}")
            out.append(CompiledTransition(to=t.to, kind="tool", on_tool=t.on_tool))
        elif t.when is not None:
            out.append(CompiledTransition(to=t.to, kind="guard", when=t.when, description=t.description))
        else:
            out.append(
                CompiledTransition(
                    to=t.to,
                    kind="llm",
                    description=t.description or f"Move the conversation to the {t.to} step.",
                    function=transition_function_name(t.to),
                )
            )
    return tuple(out)


class LoadedLike(Protocol):
    """What :func:`compile_agent` needs of a ``config.load.LoadedAgent``."""

    @property
    def agent(self) -> Agent: ...

    @property
    def path(self) -> Path | None: ...

    @property
    def base_dir(self) -> Path | None: ...


def compile_agent(loaded: LoadedLike | Agent, base_dir: str | Path | None = None) -> CompiledAgent:
    """Compile ``loaded`` (a ``LoadedAgent`` with ``.agent``, ``.path``, ``.base_dir``, or a bare
    :class:`Agent` plus ``base_dir``) into a :class:`CompiledAgent`.

    The verification ``lookup`` tool is never offered to the LLM (it returns the record of
    truth, which the LLM must not see); the runtime calls it through the guard.

    Raises:
        CompileError: unknown states or tools, bad guard expressions, function name clashes.
    """
    if isinstance(loaded, Agent):
        agent, path, root = loaded, None, Path(base_dir or ".")
    else:
        agent = loaded.agent
        path = Path(loaded.path) if loaded.path else None
        root = Path(base_dir or loaded.base_dir or (path.parent if path else "."))
    tools = {t.name: t for t in agent.tools}
    verification = agent.guardrails.verification
    lookup = verification.lookup if verification else None
    if verification is not None and VERIFY_FUNCTION in tools:
        raise CompileError(f"tool name {VERIFY_FUNCTION!r} is reserved when verification is configured")
    if agent.flow is None:
        names = tuple(n for n in tools if n != lookup)
        state_defs: dict[str, Any] = {MAIN_STATE: (None, names, [], False)}
        initial = MAIN_STATE
    else:
        initial = agent.flow.initial
        if initial not in agent.flow.states:
            raise CompileError(f"flow.initial names unknown state {initial!r}")
        state_defs = {}
        for name, st in agent.flow.states.items():
            for tool in st.tools:
                if tool not in tools:
                    raise CompileError(f"state {name!r}: unknown tool {tool!r}")
            names = tuple(dict.fromkeys(t for t in st.tools if t != lookup))
            state_defs[name] = (st.instructions, names, st.transitions, st.final)
    states: dict[str, CompiledState] = {}
    for name, (instructions, names, raw_transitions, final) in state_defs.items():
        transitions = _compile_transitions(name, raw_transitions, set(state_defs), set(tools))
        # a final state only says goodbye: no verify_caller there
        functions = _state_functions(agent, names, transitions, verify=verification is not None and not final)
        seen: set[str] = set()
        for f in functions:
            fn = f["function"]["name"]
            if fn in seen:
                raise CompileError(f"state {name!r}: two functions named {fn!r}")
            seen.add(fn)
        states[name] = CompiledState(
            name=name,
            instructions=instructions,
            tools=names,
            functions=functions,
            transitions=transitions,
            final=final,
        )
    return CompiledAgent(
        agent=agent,
        base_dir=root,
        path=path,
        initial=initial,
        states=MappingProxyType(states),
        tools=MappingProxyType(dict(tools)),
        verification_lookup=lookup,
    )
