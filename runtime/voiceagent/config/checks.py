"""Semantic checks of an agent, on the positioned node tree (so they run even when some
fields fail schema validation, and every problem points at its line).

Checks: tool kinds (exactly one of python / http / builtin), unique tool names, ``required``
only names declared parameters, python tools exist and accept their parameters (checked from
the source, never imported), Jinja2
templates parse, guard expressions compile, flow targets and state tools exist, every
transition has exactly one trigger, ``requires_level`` / ``lookup`` / ``on_lockout`` refer to
things that exist, ``stt.model`` of ``stt.provider: local`` is an embedded recognizer, inline
secrets (warning).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeGuard

# Function names the runtime itself offers the LLM; a tool of the same name would be shadowed.
from voiceagent.config.builtin_functions import TRANSITION_PREFIX as RESERVED_PREFIX
from voiceagent.config.builtin_functions import VERIFY_FUNCTION as RESERVED_TOOL
from voiceagent.config.diagnostics import Diagnostic, Severity, format_path
from voiceagent.config.envsubst import iter_strings
from voiceagent.config.flow_checks import check_flow
from voiceagent.config.http_url import http_url_checks
from voiceagent.config.pydantic_errors import did_you_mean
from voiceagent.config.secrets import SENSITIVE_KEY, looks_like_secret
from voiceagent.config.template_checks import name_problems
from voiceagent.config.yamlnodes import Node
from voiceagent.providers.local.whisper_models import EMBEDDED_WHISPER_MODELS, unknown_model
from voiceagent.templating import TemplateError, check_template

Loc = tuple[Any, ...]
"""A place in the agent: keys and list indexes, e.g. ``("tools", 0, "python")``."""
TOOL_KINDS = ("python", "http", "builtin")
MAX_TEMPLATES = 1000
"""Distinct templates and guards ``validate`` checks per agent file."""
MAX_TEMPLATE_TEXT = 200_000
"""Characters of template text ``validate`` checks per agent file."""
MAX_TEMPLATE_TAGS = 5_000
"""``{{ }}`` and ``{% %}`` tags ``validate`` checks per agent file (each costs a parse)."""


class _Checker:
    def __init__(self, root: Node, tools_dir: Path | None, root_dir: Path | None) -> None:
        self.root = root
        self.tools_dir = tools_dir
        self.root_dir = root_dir
        self.out: list[Diagnostic] = []
        self.seen_templates: set[str] = set()
        self.template_text = 0
        self.template_tags = 0
        self.over_budget = False

    def add(
        self, node: Node | None, message: str, path: Loc, *, key: bool = False, severity: Severity = "error"
    ) -> None:
        at = node if node is not None else self.root
        line, col = (at.key_line, at.key_col) if key else (at.line, at.col)
        self.out.append(Diagnostic(at.file, line, col, severity, message, format_path(path)))

    # -- helpers ---------------------------------------------------------------------------
    def items(self, node: Node | None) -> Iterator[tuple[Any, Node]]:
        if node is not None and node.is_map:
            yield from node.value.items()

    def seq(self, node: Node | None) -> list[Node]:
        return node.value if node is not None and node.is_seq else []

    def text(self, node: Node | None) -> str | None:
        return node.value if node is not None and isinstance(node.value, str) else None

    def is_text(self, node: Node | None) -> TypeGuard[Node]:
        return node is not None and isinstance(node.value, str)

    def budget(self, node: Node, source: str, path: Loc) -> bool:
        """Whether ``source`` may still be checked: at most :data:`MAX_TEMPLATES` distinct
        templates and :data:`MAX_TEMPLATE_TEXT` characters of them per file (one error when
        the budget runs out, so a hostile file cannot make validate slow).
        """
        if source in self.seen_templates:
            return True
        if self.over_budget:
            return False
        self.seen_templates.add(source)
        self.template_text += len(source)
        self.template_tags += source.count("{{") + source.count("{%")
        if (
            len(self.seen_templates) > MAX_TEMPLATES
            or self.template_text > MAX_TEMPLATE_TEXT
            or self.template_tags > MAX_TEMPLATE_TAGS
        ):
            self.over_budget = True
            self.add(
                node,
                f"{format_path(path)}: this agent has more template text than validate checks (at most "
                f"{MAX_TEMPLATES} templates, {MAX_TEMPLATE_TAGS} {{{{ }}}}/{{% %}} tags or {MAX_TEMPLATE_TEXT} "
                "characters of templates per file); "
                "templates from here on are not checked: split the agent or move long text out of templates",
                path,
            )
            return False
        return True

    def template(self, node: Node | None, path: Loc, params: list[str] | None = None) -> None:
        src = self.text(node)
        if node is None or src is None or ("{{" not in src and "{%" not in src and "{#" not in src):
            return
        if not self.budget(node, src, path):
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

    def templates_deep(self, node: Node | None, path: Loc, params: list[str] | None = None) -> None:
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
        check_flow(self, tools)
        self.check_stt_model()
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

    def check_stt_model(self) -> None:
        """``stt.provider: local`` names an embedded recognizer (``auto`` may name a cloud model)."""
        stt = self.root.get("stt")
        if stt is None or not stt.is_map or self.text(stt.get("provider")) != "local":
            return
        model = stt.get("model")
        if self.is_text(model) and model.value.strip() and model.value.strip() not in EMBEDDED_WHISPER_MODELS:
            self.add(model, unknown_model(model.value), ("stt", "model"))

    def check_tools(self) -> dict[str, tuple[Node, Loc]]:
        tools: dict[str, tuple[Node, Loc]] = {}
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
            kinds = [k for k in TOOL_KINDS if (n := tool.get(k)) is not None and n.value is not None]
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
            for key in ("filler", "handoff_prompt", "say"):
                self.template(tool.get(key), path + (key,), declared)
            if builtin is None and tool.get("say") is not None:
                self.add(
                    tool.get("say"),
                    f"{label}: 'say' only applies to builtin: transfer or end_call and is ignored here "
                    "(use filler for words while a tool runs)",
                    path + ("say",),
                    key=True,
                    severity="warning",
                )
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

    def check_python(self, node: Node, path: Loc, label: str, declared: list[str], tool: Node) -> None:
        if self.tools_dir is None:
            return
        from voiceagent.config.pytools import check_tool, signature_problems

        resolved = check_tool(node.value, self.tools_dir, root=self.root_dir)
        if resolved.error:
            self.add(node, f"{label}: {resolved.error}", path)
            return
        if resolved.warning:
            self.add(node, f"{label}: {resolved.warning}", path, severity="warning")
        if resolved.signature is None:
            return
        req_node = tool.get("required")
        required = declared if req_node is None or not req_node.is_seq else [str(r.value) for r in req_node.value]
        for severity, message in signature_problems(resolved.signature, declared, required):
            fix = (
                "; add it to the tool's parameters or give it a default in the function"
                if "requires parameter" in message
                else "; add it to the function (or **kwargs) or remove it from the tool's parameters"
                if "does not accept" in message
                else "; give the function parameter a default or list it under required"
            )
            self.add(node, f"{label}: {message} ({node.value}){fix}", path, severity=severity)

    def check_guardrails(self, tools: dict[str, tuple[Node, Loc]]) -> set[int]:
        g = self.root.get("guardrails")
        v = g.get("verification") if g else None
        if v is None or not v.is_map:
            return set()
        base = ("guardrails", "verification")
        lookup = v.get("lookup")
        if self.is_text(lookup) and lookup.value not in tools:
            self.add(
                lookup,
                f"verification lookup '{lookup.value}' is not a defined tool{did_you_mean(lookup.value, tools)}",
                base + ("lookup",),
            )
        lockout = v.get("on_lockout")
        if self.is_text(lockout) and lockout.value != "end_call" and lockout.value not in tools:
            self.add(
                lockout,
                f"on_lockout '{lockout.value}' is neither a defined tool nor end_call"
                f"{did_you_mean(lockout.value, list(tools) + ['end_call'])}",
                base + ("on_lockout",),
            )
        levels: set[int] = set()
        for key, _ in self.items(v.get("levels")):
            with contextlib.suppress(TypeError, ValueError):
                levels.add(int(key))
        return levels

    def check_levels(self, tools: dict[str, tuple[Node, Loc]], levels: set[int]) -> None:
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


def semantic_checks(root: Node, tools_dir: Path | None, root_dir: Path | None = None) -> list[Diagnostic]:
    """Every semantic problem of the merged agent ``root``.

    Args:
        root: the merged node tree.
        tools_dir: the agent file's folder, where ``python: module:function`` tools are found
            (as ``run`` finds them); None skips the python-tool check. Tools are checked
            statically (:func:`voiceagent.config.pytools.check_tool`): nothing is imported.
        root_dir: the agent's source tree; tool modules outside it are not read.
    """
    return _Checker(root, tools_dir, root_dir).run() + http_url_checks(root)
