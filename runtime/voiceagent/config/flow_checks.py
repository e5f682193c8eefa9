"""The flow checks of ``validate`` (part of :mod:`voiceagent.config.checks`): states, their tools
and transitions, guards, reachability, and LLM function names that would collide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voiceagent.config.builtin_functions import TRANSITION_PREFIX, transition_function_name
from voiceagent.config.pydantic_errors import did_you_mean
from voiceagent.config.yamlnodes import Node
from voiceagent.templating import TemplateError, check_expression

if TYPE_CHECKING:
    from voiceagent.config.checks import Loc, _Checker

__all__ = ["TRIGGERS", "check_flow"]

TRIGGERS = ("description", "when", "on_tool")
"""A transition has exactly one of these."""


def check_flow(c: _Checker, tools: dict[str, tuple[Node, Loc]]) -> None:
    """Report every flow problem of the agent through ``c`` (the checker of one file)."""
    flow = c.root.get("flow")
    if flow is None or not flow.is_map:
        return
    states = dict(c.items(flow.get("states")))
    names = {str(s): None for s in states}  # ordered, and O(1) membership for big flows
    check_state_names(c, states)
    initial = flow.get("initial")
    if c.is_text(initial) and initial.value not in names and names:
        c.add(
            initial,
            f"initial state '{initial.value}' is not defined{did_you_mean(initial.value, names)}",
            ("flow", "initial"),
        )
    edges: dict[str, list[str]] = {n: [] for n in names}
    for sname, state in states.items():
        spath = ("flow", "states", str(sname))
        if not state.is_map:
            continue
        c.template(state.get("instructions"), spath + ("instructions",))
        for j, t in enumerate(c.seq(state.get("tools"))):
            if isinstance(t.value, str) and t.value not in tools:
                c.add(
                    t,
                    f"state '{sname}' uses tool '{t.value}', which is not defined{did_you_mean(t.value, tools)}",
                    spath + ("tools", j),
                )
        state_tools = [t.value for t in c.seq(state.get("tools"))]
        for j, tr in enumerate(c.seq(state.get("transitions"))):
            check_transition(c, tr, spath + ("transitions", j), str(sname), names, tools, edges, state_tools)
    check_reachable(c, flow, states, edges)


def check_state_names(c: _Checker, states: dict[Any, Node]) -> None:
    """Two states whose LLM function names collide (``a-b`` and ``a_b`` are both
    ``go_to_a_b``) cannot both be offered to the LLM: refused at the second one.
    """
    first: dict[str, str] = {}
    for sname, state in states.items():
        function = transition_function_name(str(sname))
        if function in first:
            other = states.get(first[function], state)
            c.add(
                state,
                f"state '{sname}' and state '{first[function]}' (line {other.key_line}) both become the "
                f"LLM function {function} (characters other than letters, digits and _ turn into _); "
                f"rename one of them, e.g. '{function.removeprefix(TRANSITION_PREFIX)}_2'",
                ("flow", "states", str(sname)),
                key=True,
            )
        else:
            first[function] = sname


def check_transition(
    c: _Checker,
    tr: Node,
    path: Loc,
    sname: str,
    names: dict[str, None],
    tools: dict[str, tuple[Node, Loc]],
    edges: dict[str, list[str]],
    state_tools: list[str],
) -> None:
    if not tr.is_map:
        return
    to = tr.get("to")
    if c.is_text(to):
        if to.value not in names:
            c.add(
                to,
                f"transition from '{sname}' goes to undefined state '{to.value}'{did_you_mean(to.value, names)}",
                path + ("to",),
            )
        else:
            edges[sname].append(to.value)
    triggers = [k for k in TRIGGERS if (n := tr.get(k)) is not None and n.value is not None]
    if len(triggers) != 1:
        what = "none" if not triggers else " and ".join(triggers)
        c.add(to or tr, f"a transition needs exactly one of description, when or on_tool (has {what})", path, key=True)
    when = tr.get("when")
    if c.is_text(when) and c.budget(when, when.value, path + ("when",)):
        try:
            check_expression(when.value)
        except TemplateError as exc:
            shown = when.value if len(when.value) <= 80 else when.value[:77] + "..."
            c.add(
                when,
                f"when: guard '{shown}' does not compile: {exc} (write a condition such as "
                "session.verification_level >= 1)",
                path + ("when",),
            )
    on_tool = tr.get("on_tool")
    if c.is_text(on_tool) and on_tool.value not in tools:
        c.add(
            on_tool,
            f"on_tool '{on_tool.value}' is not a defined tool{did_you_mean(on_tool.value, tools)}",
            path + ("on_tool",),
        )
    elif c.is_text(on_tool) and on_tool.value not in state_tools:
        c.add(
            on_tool,
            f"on_tool '{on_tool.value}' is not among the tools of state '{sname}', so this "
            "transition can never be taken",
            path + ("on_tool",),
            severity="warning",
        )


def check_reachable(c: _Checker, flow: Node, states: dict[Any, Node], edges: dict[str, list[str]]) -> None:
    initial = c.text(flow.get("initial"))
    if initial not in edges:
        return
    seen, todo = {initial}, [initial]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    for sname, state in states.items():
        if str(sname) not in seen:
            c.add(
                state,
                f"state '{sname}' cannot be reached from the initial state '{initial}'",
                ("flow", "states", str(sname)),
                key=True,
                severity="warning",
            )
