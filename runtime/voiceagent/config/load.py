"""``load_agent``: agent file -> validated :class:`~voiceagent.config.models.Agent`.

Pipeline (every stage reports positioned :class:`Diagnostic` s, all problems at once):
safe YAML with positions -> ``extends`` merge -> ``${VAR}`` substitution (only with ``env``)
-> pydantic validation -> semantic checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voiceagent.config.checks import semantic_checks
from voiceagent.config.diagnostics import ConfigError, Diagnostic, has_errors
from voiceagent.config.envsubst import ONLY_VAR_RE, attach_tool_secrets, substitute_nodes
from voiceagent.config.language_checks import language_checks
from voiceagent.config.merge import resolve_extends
from voiceagent.config.models import Agent
from voiceagent.config.pydantic_errors import diagnostics_from, node_at, suggestion_budget
from voiceagent.config.safe_files import source_root
from voiceagent.config.secrets import hide_values
from voiceagent.config.yamlnodes import Node, plain_scalar


@dataclass(frozen=True)
class LoadedAgent:
    """A validated agent: ``agent`` (the model, variants merged), ``path`` (the file given,
    absolute), ``base_dir`` (its folder; python tools and relative paths resolve here) and
    ``warnings`` (diagnostics that did not stop loading, e.g. an inline secret).
    """

    agent: Agent
    path: Path
    base_dir: Path
    warnings: tuple[Diagnostic, ...] = ()


def sort_diagnostics(diags: list[Diagnostic]) -> list[Diagnostic]:
    """In source order (file, line, column; errors first at the same place); duplicates removed."""
    unique = list(dict.fromkeys(diags))
    return sorted(unique, key=lambda d: (d.file, d.line, d.column, d.severity != "error", d.message))


def check_file(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    check_tools: bool = True,
    import_tools: bool | None = None,
) -> tuple[Agent | None, Node | None, list[Diagnostic]]:
    """Run the whole pipeline on one file; never raises for problems in the file, never
    imports or executes agent code.

    Returns (agent or None when there are errors, merged node tree or None, diagnostics).
    ``check_tools=False`` skips the (static) python tool check. With ``env``, values of
    credential-like variables never appear in a diagnostic (shown as ``****``). Files are read
    only from the agent's source tree (:func:`voiceagent.config.safe_files.source_root`).
    ``import_tools`` is the old name of ``check_tools`` (nothing is imported either way).
    """
    if import_tools is not None:
        check_tools = import_tools
    display = str(path)
    real = Path(path)
    tree = source_root(real)
    with suggestion_budget():
        try:
            return _check(real, display, tree, env, check_tools)
        except (RecursionError, MemoryError) as exc:  # a last line of defence: one file, one error
            what = "nested too deeply" if isinstance(exc, RecursionError) else "too large"
            message = f"this agent file is {what} to check; simplify it (split long or deeply nested values)"
            return None, None, [Diagnostic(display, 1, 1, "error", message, "")]


def _check(
    real: Path, display: str, tree: Path, env: Mapping[str, str] | None, check_tools: bool
) -> tuple[Agent | None, Node | None, list[Diagnostic]]:
    root, diags, _ = resolve_extends(real, display, root=tree)
    if root is None:
        return None, None, sort_diagnostics(diags)
    hidden: set[str] = set()
    if env is not None:
        diags += substitute_nodes(root, env, sensitive=hidden)
    agent, found = _validate(root, references_ok=env is None)
    diags += found
    if agent is not None and env is not None:
        attach_tool_secrets(agent, root, env)  # every value from the environment in a tool is a secret
    diags += semantic_checks(root, real.resolve().parent if check_tools else None, tree)
    diags += language_checks(root)  # languages vs the STT and the voice
    if hidden:  # a message quoting a value (e.g. "got '...'") never shows a substituted secret
        diags = [replace(d, message=hide_values(d.message, hidden)) for d in diags]
    diags = sort_diagnostics(diags)
    if has_errors(diags):
        agent = None
    return agent, root, diags


def _validate(root: Node, *, references_ok: bool) -> tuple[Agent | None, list[Diagnostic]]:
    """Validate the merged tree with pydantic; (agent or None, positioned diagnostics).

    A text field written as a plain number (``to: +15550100``, ``id: 12345``) gets the text as
    written. With ``references_ok``, typed fields written as ``${VAR}`` are validated with
    their defaults (see :func:`_validate_with_defaults`).
    """
    data = root.plain()
    for _ in range(3):
        try:
            return Agent.model_validate(data), []
        except ValidationError as error:
            exc = error
            if not _use_written_text(data, exc, root):
                break
    skipped: list[tuple[Any, ...]] = []
    found = diagnostics_from(exc, root, Agent, references_ok=references_ok, skipped=skipped)
    if skipped and not found:
        agent = _validate_with_defaults(data, skipped)
        if agent is None:  # even the defaults do not fit: report the originals
            return None, diagnostics_from(exc, root, Agent, references_ok=False)
        return agent, []
    return None, found


def _use_written_text(data: dict[str, Any], exc: ValidationError, root: Node) -> bool:
    changed = False
    for err in exc.errors(include_url=False):
        if err["type"] != "string_type":
            continue
        loc = tuple(err["loc"])
        node = node_at(root, loc)[1]
        if node is not None and node.raw is not None and not isinstance(node.value, str) and node.value is not None:
            holder: Any = data
            try:
                for part in loc[:-1]:
                    holder = holder[part]
                holder[loc[-1]] = node.raw
                changed = True
            except (KeyError, IndexError, TypeError):
                continue
    return changed


def _validate_with_defaults(data: dict[str, Any], locs: list[tuple[Any, ...]]) -> Agent | None:
    """Without an environment, a typed field written as ``${VAR:-default}`` is validated with
    its default (or the field's own default for ``${VAR}``), so the agent can be shown.
    """
    for loc in locs:
        holder = data
        for part in loc[:-1]:
            holder = holder[part]
        match = ONLY_VAR_RE.match(holder[loc[-1]])
        if match and match.group(2) is not None:
            holder[loc[-1]] = plain_scalar(match.group(2))
        else:
            del holder[loc[-1]]
    try:
        return Agent.model_validate(data)
    except ValidationError:
        return None


def load_agent(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    check_tools: bool = True,
    import_tools: bool | None = None,
) -> LoadedAgent:
    """Load, merge, substitute and validate the agent file at ``path``.

    Args:
        path: the agent YAML file (``extends`` parents are read too).
        env: when given (e.g. ``os.environ``), ``${NAME}`` / ``${NAME:-default}`` in every
            string are replaced from it and each missing variable is an error naming it.
            Without it, references stay as written.
        check_tools: check (statically, from their source; nothing is imported) that python
            tool modules exist and their functions accept the declared parameters. ``run``
            imports the modules later, when a tool is first called.
        import_tools: old name of ``check_tools``.

    Raises:
        ConfigError: with ``.diagnostics`` (every error and warning) when any error is found.
    """
    from voiceagent.config.pytools import clear_cache

    clear_cache()
    agent, _, diags = check_file(path, env=env, check_tools=check_tools if import_tools is None else import_tools)
    if agent is None:
        raise ConfigError(diags)
    real = Path(path).resolve()
    return LoadedAgent(agent=agent, path=real, base_dir=real.parent, warnings=tuple(diags))
