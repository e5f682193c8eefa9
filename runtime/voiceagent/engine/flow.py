"""The flow of one call: where the conversation is in the compiled state machine, and how it moves.

:class:`Flow` is the one owner of the flow's rules at run time (``engine.compiler`` only builds
the immutable states):

* the **current state** (``SessionState.state``; nothing else writes it) and ``state.enter``;
* ``when`` **guards**, evaluated after each tool round and each turn, chained (a guard of the
  new state may fire at once) and bounded by :data:`MAX_GUARD_CHAIN` moves;
* **on_tool** transitions (taken after that tool succeeds) and **LLM-chosen** transitions (the
  ``go_to_<state>`` functions); of one round's calls the first LLM-chosen one wins, else the
  first ``on_tool`` one;
* **final states** and the call's **ending** (a final state, ``end_call``, a transfer, a lockout);
* the call's **verification level** (``SessionState.verification_level``; the guard computes a
  level, the flow holds it, and refusals, templates and tools read it from here).

Format of flows: the agent format's ``flow`` section (docs/agent-reference.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from voiceagent import templating
from voiceagent.config.builtin_functions import VERIFY_FUNCTION
from voiceagent.engine.compiler import CompiledAgent, CompiledState
from voiceagent.engine.events import EventLog
from voiceagent.engine.state import SessionState

__all__ = ["MAX_GUARD_CHAIN", "Ending", "Flow", "FunctionKind"]

MAX_GUARD_CHAIN = 8
"""Most ``when`` moves taken one after another at one point of the call (guards of the states
entered on the way are evaluated too); a cycle of true guards stops there."""

FunctionKind = Literal["tool", "verify", "transition", "unknown"]
"""What a function name the LLM called is in the current state."""


@dataclass(frozen=True, slots=True)
class Ending:
    """How the call is to end, once the agent has said its last words.

    Attributes:
        kind: ``"transfer"`` or ``"end_call"``.
        info: fields of the ``call.transfer`` / ``call.end`` event (``reason``, ``to``, ``tool``...).
        needs_words: the LLM gets one more round to speak even if it already spoke this turn
            (the runtime, not the LLM, ended the call, e.g. a verification lockout).
    """

    kind: Literal["transfer", "end_call"]
    info: dict[str, Any] = field(default_factory=dict)
    needs_words: bool = False


class Flow:
    """The flow state of one call (see the module docstring).

    Args:
        compiled: the compiled agent (its states and transitions).
        events: the call's event log (``state.enter``, guard ``error`` events).
        language: BCP-47 language of the call (``session.language`` in templates).
        context: returns the template context guards are evaluated in (``session``,
            ``variables``, ``caller``, ``now``); called at each evaluation.
    """

    def __init__(
        self,
        compiled: CompiledAgent,
        events: EventLog,
        *,
        language: str,
        context: Callable[[], Mapping[str, Any]],
    ) -> None:
        self.compiled = compiled
        self.events = events
        self.state = SessionState(state=compiled.initial, language=language)
        """The call's session state; the flow writes ``state`` and ``verification_level``."""
        self._context = context
        self._ending: Ending | None = None

    # ------------------------------------------------------------------ where we are

    @property
    def name(self) -> str:
        """Name of the current state."""
        return self.state.state

    @property
    def current(self) -> CompiledState:
        """The current :class:`~voiceagent.engine.compiler.CompiledState`."""
        return self.compiled.state(self.state.state)

    @property
    def is_final(self) -> bool:
        """Whether the current state is ``final`` (the call ends after the agent's reply)."""
        return self.current.final

    @property
    def verification_level(self) -> int:
        """The call's verification level (0 until ``verify_caller`` reaches a level)."""
        return self.state.verification_level

    def record_verification(self, level: int) -> None:
        """Set the verification level the guard reported (levels never go down within a call)."""
        self.state.verification_level = max(self.state.verification_level, int(level))

    # ------------------------------------------------------------------ moving

    def enter(self, name: str, *, via: str) -> None:
        """Move to state ``name`` (emits ``state.enter`` with ``via``); the current state is ignored.

        Raises:
            KeyError: ``name`` is not a state of the agent.
        """
        if name == self.state.state:
            return
        self.compiled.state(name)
        previous, self.state.state = self.state.state, name
        self.events.emit("state.enter", state=name, previous=previous, via=via)

    def guard_holds(self, expression: str) -> bool:
        """Evaluate a ``when`` guard now; a failing expression is an ``error`` event and False."""
        try:
            return bool(templating.evaluate(expression, dict(self._context())))
        except templating.TemplateError as exc:
            self.events.emit("error", where="guard", message=str(exc), expression=expression)
            return False

    def apply_guards(self) -> bool:
        """Take ``when`` transitions whose guard is true, chained, at most :data:`MAX_GUARD_CHAIN`.

        Returns whether the state changed.
        """
        changed = False
        for _ in range(MAX_GUARD_CHAIN):
            target = next(
                (t.to for t in self.current.guard_transitions() if t.when is not None and self.guard_holds(t.when)),
                None,
            )
            if target is None or target == self.state.state:
                break
            self.enter(target, via="guard")
            changed = True
        return changed

    def classify(self, function: str) -> FunctionKind:
        """What the function named ``function`` is in the current state."""
        if function == VERIFY_FUNCTION and self.compiled.has_verification:
            return "verify"
        if self.current.transition_for_function(function) is not None:
            return "transition"
        if function in self.current.tools:
            return "tool"
        return "unknown"

    def llm_target(self, function: str) -> str | None:
        """The state the LLM-chosen transition ``function`` (``go_to_<state>``) leads to, or None."""
        transition = self.current.transition_for_function(function)
        return transition.to if transition is not None else None

    def on_tool_target(self, tool: str) -> str | None:
        """The state an ``on_tool`` transition of the current state leads to after ``tool`` succeeded."""
        transition = self.current.transition_on_tool(tool)
        return transition.to if transition is not None else None

    def after_calls(self, calls: Iterable[tuple[str, FunctionKind, bool]]) -> str | None:
        """Take the transition one round of function calls chose.

        Args:
            calls: ``(function name, kind, ok)`` of each call of the round, in the LLM's order.

        Returns:
            The state entered (``via="llm"`` for the first LLM-chosen transition, else
            ``via="on_tool"`` for the first succeeded tool with an ``on_tool`` transition), or None.
        """
        llm: str | None = None
        on_tool: str | None = None
        for name, kind, ok in calls:
            if kind == "transition" and llm is None:
                llm = self.llm_target(name)
            elif kind == "tool" and ok and on_tool is None:
                on_tool = self.on_tool_target(name)
        if llm is not None:
            self.enter(llm, via="llm")
            return llm
        if on_tool is not None:
            self.enter(on_tool, via="on_tool")
            return on_tool
        return None

    # ------------------------------------------------------------------ ending

    @property
    def ending(self) -> Ending | None:
        """How the call will end, or None while it goes on."""
        return self._ending

    def request_end(
        self, kind: Literal["transfer", "end_call"], info: Mapping[str, Any], *, last_words: bool = False
    ) -> None:
        """End the call after the agent's last words; the first request wins.

        Args:
            kind: ``"transfer"`` or ``"end_call"``.
            info: fields of the ``call.transfer`` / ``call.end`` event.
            last_words: the LLM gets one more round to speak (see :attr:`Ending.needs_words`).
        """
        if self._ending is None:
            self._ending = Ending(kind, dict(info), last_words)

    def end_if_final(self) -> bool:
        """Request the end (reason ``final_state``) when the current state is final; returns whether it is."""
        if self.is_final:
            self.request_end("end_call", {"reason": "final_state"})
            return True
        return False
