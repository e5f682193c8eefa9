"""Semantic checks of an agent, on the positioned node tree (so they run even when some
fields fail schema validation, and every problem points at its line).

Checks: tool kinds (exactly one of python / http / builtin), unique tool names, ``required``
only names declared parameters, python tools import and accept their parameters, Jinja2
templates parse, guard expressions compile, flow targets and state tools exist, every
transition has exactly one trigger, ``requires_level`` / ``lookup`` / ``on_lockout`` refer to
things that exist, inline secrets (warning).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Function names the runtime itself offers the LLM; a tool of the same name would be shadowed.
from voiceagent.config.builtin_functions import TRANSITION_PREFIX as RESERVED_PREFIX
from voiceagent.config.builtin_functions import VERIFY_FUNCTION as RESERVED_TOOL
from voiceagent.config.diagnostics import Diagnostic, format_path
from voiceagent.config.envsubst import iter_strings
from voiceagent.config.http_url import http_url_checks
from voiceagent.config.pydantic_errors import did_you_mean
from voiceagent.config.secrets import SENSITIVE_KEY, looks_like_secret
from voiceagent.config.template_checks import name_problems
from voiceagent.config.yamlnodes import Node
from voiceagent.templating import TemplateError, check_expression, check_template

TOOL_KINDS = ("python", "http", "builtin")
TRIGGERS = ("description", "when", "on_tool")


class _Checker:
    def __init__(self, root: Node, dirs: dict[str, Path] | None) -> None:
        self.root = root
        self.dirs = dirs
        self.out: list[Diagnostic] = []

    def add(self, node: Node, message: str, path: tuple, *, key: bool = False, severity: str = "error") -> None:
        line, col = (node.key_line, node.key_col) if key else (node.line, node.col)
        self.out.append(Diagnostic(node.file, line, col, severity, message, format_path(path)))  # type: ignore[arg-type]

    # -- helpers ---------------------------------------------------------------------------
    def items(self, node: Node | None) -> Iterator[tuple[Any, Node]]:
        if node is not None and node.is_map:
            yield from node.value.items()

    def seq(self, node: Node | None) -> list[Node]:
        return node.value if node is not None and node.is_seq else []

    def text(self, node: Node | None) -> str | None:
        return node.value if node is not None and isinstance(node.value, str) else None

    def template(self, node: Node | None, path: tuple, params: list[str] | None = None) -> None:
        src = self.text(node)
        if node is None or src is None or ("{{" not in src and "{%" not in src and "{#" not in src):
            return
        try:
            check_template(src)
        except TemplateError as exc:
            line, col = node.line, node.col
            if exc.lineno:
                line += exc.lineno if node.style in ("|", ">") else exc.lineno - 1
                col = node.key_col + 2 if node.style in ("|", ">") else col
            self.out.append(Diagnostic(node.file, line, col, "error", f"{format_path(path)}: {exc}", format_path(path)))
            return
        for message in name_problems(src, self.variables, params):
            self.add(node, f"{format_path(path)}: {message}", path, severity="warning")

    def templates_deep(self, node: Node | None, path: tuple, params: list[str] | None = None) -> None:
        if node is None:
            return
        for sub, sub_path in iter_strings(node, path):
            self.template(sub, sub_path, params)

    # -- checks ----------------------------------------------------------------------------
    def run(self) -> list[Diagnostic]:
        root = self.root
        self.variables = [str(k) for k, _ in self.items(root.get("variables"))]
        for key in ("prompt", "greeting"):
            self.template(root.get(key), (key,))
        behaviour = root.get("behaviour")
        for key in ("fallback", "filler"):
            self.template(behaviour.get(key) if behaviour else None, ("behaviour", key))
        tools = self.check_tools()
        levels = self.check_guardrails(tools)
        self.check_levels(tools, levels)
        self.check_flow(tools)
        for node, path in iter_strings(root):
            key = path[-1] if path and isinstance(path[-1], str) else ""
            text = node.value if node.written is None else node.written  # as written in the file
            literal = text and "${" not in text and "{{" not in text
            sensitive = bool(literal and key != "api_key_env" and SENSITIVE_KEY.search(key))
            if sensitive or looks_like_secret(text):
                self.add(
                    node,
                    f"{format_path(path)}: this looks like an inline secret (API key or token); "
                    "put it in an environment variable and write ${NAME}",
                    path,
                    severity="warning",
                )
        return self.out

    def check_tools(self) -> dict[str, tuple[Node, tuple]]:
        tools: dict[str, tuple[Node, tuple]] = {}
        for i, tool in enumerate(self.seq(self.root.get("tools"))):
            path = ("tools", i)
            if not tool.is_map:
                continue
            name_node = tool.get("name")
            name = self.text(name_node)
            label = f"tool '{name}'" if name else f"tools[{i}]"
            if name is not None and (name == RESERVED_TOOL or name.startswith(RESERVED_PREFIX)):
                self.add(
                    name_node,
                    f"tool name '{name}' is reserved by the runtime (verify_caller and go_to_<state> "
                    "are offered to the LLM automatically); choose another name",
                    path + ("name",),
                )
            if name is not None:
                if name in tools:
                    self.add(
                        name_node,
                        f"duplicate tool name '{name}' (first at line {tools[name][0].line})",
                        path + ("name",),
                    )
                else:
                    tools[name] = (tool, path)
            kinds = [k for k in TOOL_KINDS if tool.get(k) is not None and tool.get(k).value is not None]
            if len(kinds) != 1:
                what = "none" if not kinds else " and ".join(kinds)
                self.add(
                    name_node or tool,
                    f"{label} needs exactly one of python, http or builtin (has {what})",
                    path,
                    key=True,
                )
            params = tool.get("parameters")
            declared = [str(k) for k, _ in self.items(params)]
            for j, req in enumerate(self.seq(tool.get("required"))):
                if isinstance(req.value, str) and req.value not in declared:
                    self.add(
                        req,
                        f"{label}: required parameter '{req.value}' is not declared in parameters"
                        f"{did_you_mean(req.value, declared)}",
                        path + ("required", j),
                    )
            if "builtin" not in kinds and tool.get("description") is None:
                self.add(
                    name_node or tool,
                    f"{label} has no description; the LLM decides when to call a tool from its description",
                    path,
                    key=True,
                    severity="warning",
                )
            builtin = tool.get("builtin")
            if builtin is not None and builtin.value == "transfer" and tool.get("to") is None:
                self.add(builtin, f"{label}: builtin transfer needs 'to' (a number or SIP URI)", path + ("builtin",))
            for key in ("filler", "handoff_prompt"):
                self.template(tool.get(key), path + (key,), declared)
            if builtin is None or builtin.value != "transfer":
                for key in ("to", "mode", "handoff_prompt"):
                    if tool.get(key) is not None:
                        self.add(
                            tool.get(key),
                            f"{label}: '{key}' only applies to builtin: transfer and is ignored here",
                            path + (key,),
                            key=True,
                            severity="warning",
                        )
            http = tool.get("http")
            if http is not None and http.is_map and http.get("json") is not None and http.get("body") is not None:
                self.add(
                    http.get("body"), f"{label}: give either json or body, not both", path + ("http", "body"), key=True
                )
            if http is not None and http.is_map:
                for key in ("url", "headers", "query", "json", "body"):
                    self.templates_deep(http.get(key), path + ("http", key), declared)
            python = tool.get("python")
            if python is not None and kinds == ["python"] and isinstance(python.value, str) and ":" in python.value:
                self.check_python(python, path + ("python",), label, declared, tool)
        return tools

    def check_python(self, node: Node, path: tuple, label: str, declared: list[str], tool: Node) -> None:
        if self.dirs is None or node.file not in self.dirs:
            return
        from voiceagent.config.pytools import resolve, signature_problems

        resolved = resolve(node.value, self.dirs[node.file])
        if resolved.error:
            self.add(node, f"{label}: {resolved.error}", path)
            return
        if resolved.signature is None:
            return
        req_node = tool.get("required")
        required = declared if req_node is None or not req_node.is_seq else [str(r.value) for r in req_node.value]
        for severity, message in signature_problems(resolved.signature, declared, required):
            self.add(node, f"{label}: {message} ({node.value})", path, severity=severity)

    def check_guardrails(self, tools: dict[str, tuple[Node, tuple]]) -> set[int]:
        g = self.root.get("guardrails")
        v = g.get("verification") if g else None
        if v is None or not v.is_map:
            return set()
        base = ("guardrails", "verification")
        lookup = v.get("lookup")
        if self.text(lookup) is not None and lookup.value not in tools:
            self.add(
                lookup,
                f"verification lookup '{lookup.value}' is not a defined tool{did_you_mean(lookup.value, tools)}",
                base + ("lookup",),
            )
        lockout = v.get("on_lockout")
        if self.text(lockout) is not None and lockout.value != "end_call" and lockout.value not in tools:
            self.add(
                lockout,
                f"on_lockout '{lockout.value}' is neither a defined tool nor end_call"
                f"{did_you_mean(lockout.value, list(tools) + ['end_call'])}",
                base + ("on_lockout",),
            )
        levels: set[int] = set()
        for key, _ in self.items(v.get("levels")):
            try:
                levels.add(int(key))
            except (TypeError, ValueError):
                pass
        return levels

    def check_levels(self, tools: dict[str, tuple[Node, tuple]], levels: set[int]) -> None:
        for name, (tool, path) in tools.items():
            lvl = tool.get("requires_level")
            if lvl is None or not isinstance(lvl.value, int) or isinstance(lvl.value, bool) or lvl.value <= 0:
                continue
            if lvl.value not in levels:
                have = ", ".join(str(x) for x in sorted(levels)) or "none (guardrails.verification is not set)"
                self.add(
                    lvl,
                    f"tool '{name}' requires_level {lvl.value}, which is not a defined verification level "
                    f"(defined: {have})",
                    path + ("requires_level",),
                )

    def check_flow(self, tools: dict[str, tuple[Node, tuple]]) -> None:
        flow = self.root.get("flow")
        if flow is None or not flow.is_map:
            return
        states = dict(self.items(flow.get("states")))
        names = [str(s) for s in states]
        initial = flow.get("initial")
        if self.text(initial) is not None and initial.value not in names and names:
            self.add(
                initial,
                f"initial state '{initial.value}' is not defined{did_you_mean(initial.value, names)}",
                ("flow", "initial"),
            )
        edges: dict[str, list[str]] = {n: [] for n in names}
        for sname, state in states.items():
            spath = ("flow", "states", str(sname))
            if not state.is_map:
                continue
            self.template(state.get("instructions"), spath + ("instructions",))
            for j, t in enumerate(self.seq(state.get("tools"))):
                if isinstance(t.value, str) and t.value not in tools:
                    self.add(
                        t,
                        f"state '{sname}' uses tool '{t.value}', which is not defined{did_you_mean(t.value, tools)}",
                        spath + ("tools", j),
                    )
            state_tools = [t.value for t in self.seq(state.get("tools"))]
            for j, tr in enumerate(self.seq(state.get("transitions"))):
                self.check_transition(tr, spath + ("transitions", j), str(sname), names, tools, edges, state_tools)
        self.check_reachable(flow, states, edges)

    def check_transition(
        self, tr: Node, path: tuple, sname: str, names: list[str], tools: dict, edges: dict, state_tools: list[str]
    ) -> None:
        if not tr.is_map:
            return
        to = tr.get("to")
        if self.text(to) is not None:
            if to.value not in names:
                self.add(
                    to,
                    f"transition from '{sname}' goes to undefined state '{to.value}'{did_you_mean(to.value, names)}",
                    path + ("to",),
                )
            else:
                edges[sname].append(to.value)
        triggers = [k for k in TRIGGERS if tr.get(k) is not None and tr.get(k).value is not None]
        if len(triggers) != 1:
            what = "none" if not triggers else " and ".join(triggers)
            self.add(
                to or tr, f"a transition needs exactly one of description, when or on_tool (has {what})", path, key=True
            )
        when = tr.get("when")
        if self.text(when) is not None:
            try:
                check_expression(when.value)
            except TemplateError as exc:
                self.add(when, f"guard '{when.value}' does not compile: {exc}", path + ("when",))
        on_tool = tr.get("on_tool")
        if self.text(on_tool) is not None and on_tool.value not in tools:
            self.add(
                on_tool,
                f"on_tool '{on_tool.value}' is not a defined tool{did_you_mean(on_tool.value, tools)}",
                path + ("on_tool",),
            )
        elif self.text(on_tool) is not None and on_tool.value not in state_tools:
            self.add(
                on_tool,
                f"on_tool '{on_tool.value}' is not among the tools of state '{sname}', so this "
                "transition can never be taken",
                path + ("on_tool",),
                severity="warning",
            )

    def check_reachable(self, flow: Node, states: dict, edges: dict[str, list[str]]) -> None:
        initial = self.text(flow.get("initial"))
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
                self.add(
                    state,
                    f"state '{sname}' cannot be reached from the initial state '{initial}'",
                    ("flow", "states", str(sname)),
                    key=True,
                    severity="warning",
                )


def semantic_checks(root: Node, dirs: dict[str, Path] | None) -> list[Diagnostic]:
    """Every semantic problem of the merged agent ``root``.

    ``dirs`` maps each file's display name to its folder and enables the python-tool import
    check (None skips it): a tool's module is resolved from the folder of the file that
    defined its ``python`` value.
    """
    return _Checker(root, dirs).run() + http_url_checks(root)
