"""``${NAME}`` / ``${NAME:-default}`` references in agent strings (docs/agent-reference.md, "Environment variables").

``$${`` writes a literal ``${``. Substitution happens on the node tree before validation, so
typed fields (``temperature: ${TEMP:-0.3}``) may come from the environment too: an unquoted
value that is exactly one reference is re-read as YAML (``"24000"`` -> 24000, ``"true"`` ->
True, empty -> null); quote it (``'${PIN}'``) to keep text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from voiceagent.config.diagnostics import Diagnostic, format_path
from voiceagent.config.secrets import looks_like_secret, sensitive_name
from voiceagent.config.yamlnodes import Node, plain_scalar

if TYPE_CHECKING:
    from voiceagent.config.models import Agent

# $${...} is an escape; ${NAME} or ${NAME:-default} (default: anything but '}').
VAR_RE = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
ONLY_VAR_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$")


def references(text: str) -> list[str]:
    """Names of the variables ``text`` refers to (escaped ``$${X}`` excluded)."""
    return [m.group(2) for m in VAR_RE.finditer(text) if not m.group(1)]


def substitute_text(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace references in ``text`` from ``env``; returns (new text, names missing).

    A missing name without a default stays as written (the caller reports it).
    """
    missing: list[str] = []

    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(0)[1:]
        name, default = m.group(2), m.group(3)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return m.group(0)

    return VAR_RE.sub(repl, text), missing


def iter_strings(node: Node, path: tuple[str | int, ...] = ()) -> Iterator[tuple[Node, tuple[str | int, ...]]]:
    """Every string scalar node under ``node`` with its path (mapping keys as ``str``)."""
    if node.is_map:
        for key, child in node.value.items():
            yield from iter_strings(child, path + (str(key),))
    elif node.is_seq:
        for i, child in enumerate(node.value):
            yield from iter_strings(child, path + (i,))
    elif isinstance(node.value, str):
        yield node, path


MIN_HIDDEN_LEN = 4
"""Shorter substituted values are not hidden in messages (masking ``1`` would garble them)."""


def substitute_nodes(root: Node, env: Mapping[str, str], *, sensitive: set[str] | None = None) -> list[Diagnostic]:
    """Substitute in place in every string of ``root``; one error per missing variable use,
    at the string that uses it, naming the variable (never its value).

    Each substituted node keeps its text as written in ``Node.written``. With ``sensitive``
    given, the values that must never be shown are added to it: those of variables whose name
    says credential (:func:`~voiceagent.config.secrets.sensitive_name`), that look like a
    secret, that land under a sensitive key (``headers: {Authorization: ...}``), or that land
    in an HTTP tool's url, headers, query, json or body (:data:`HTTP_SECRET_FIELDS`).
    """
    problems: list[Diagnostic] = []
    for node, path in iter_strings(root):
        if "${" not in node.value:
            continue
        whole = node.style is None and ONLY_VAR_RE.match(node.value) is not None
        node.written = node.value
        if sensitive is not None:
            key = path[-1] if path and isinstance(path[-1], str) else ""
            in_http = _in_http_tool(path)
            for name in references(node.value):
                value = env.get(name, "")
                if len(value) >= MIN_HIDDEN_LEN and (
                    in_http or sensitive_name(name) or sensitive_name(key) or looks_like_secret(value)
                ):
                    sensitive.add(value)
        node.value, missing = substitute_text(node.value, env)
        if whole and not missing:
            # an unquoted `key: ${VAR}` gets the type YAML would give the value written there
            node.value = plain_scalar(node.value)
        for name in dict.fromkeys(missing):
            problems.append(
                Diagnostic(
                    node.file,
                    node.line,
                    node.col,
                    "error",
                    f"environment variable {name} is not set; export {name}=... or give a default: ${{{name}:-value}}",
                    format_path(path),
                )
            )
    return problems


HTTP_SECRET_FIELDS = ("url", "headers", "query", "json", "body")
"""The parts of an HTTP tool whose ``${VAR}`` values are secrets (``timeout_ms: ${T}`` is not)."""


def _in_http_tool(path: tuple[str | int, ...]) -> bool:
    return len(path) >= 4 and path[0] == "tools" and path[2] == "http" and path[3] in HTTP_SECRET_FIELDS


def tool_env_values(root: Node, env: Mapping[str, str]) -> dict[int, frozenset[str]]:
    """For each tool index, the values :func:`substitute_nodes` put into the url, headers,
    query, json or body of its ``http`` block from ``env`` (or from a ``${NAME:-default}``'s
    default). Call after substitution.
    """
    out: dict[int, frozenset[str]] = {}
    tools = root.get("tools") if root.is_map else None
    if tools is None or not tools.is_seq:
        return out
    for i, tool in enumerate(tools.value):
        http = tool.get("http") if tool.is_map else None
        if http is None:
            continue
        values: set[str] = set()
        for node, path in iter_strings(http, ("tools", i, "http")):
            if not _in_http_tool(path):
                continue
            for m in VAR_RE.finditer(node.written or ""):
                if m.group(1):
                    continue
                value = env.get(m.group(2), m.group(3))
                if value:
                    values.add(value)
        if values:
            out[i] = frozenset(values)
    return out


def attach_tool_secrets(agent: Agent, root: Node, env: Mapping[str, str]) -> None:
    """Record on each HTTP tool of ``agent`` the values substituted into it from ``env``
    (``HttpTool._env_values``): the runtime masks every one of them wherever it could appear
    (tool results, the event log, error messages).
    """
    for i, values in tool_env_values(root, env).items():
        if i < len(agent.tools):
            http = agent.tools[i].http
            if http is not None:
                http._env_values = values
