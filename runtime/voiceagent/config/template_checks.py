"""Warnings about names used in ``{{ ... }}`` templates (spec section "Strings").

A template name that is neither a variable nor one of the names the runtime provides renders as
empty text at run time, which is almost always a typo; the same holds for ``args.X`` when the
tool declares no parameter ``X``. Callers and transports may add variables at run time, so these
are warnings, never errors.
"""

from __future__ import annotations

from collections.abc import Iterable

from jinja2 import nodes

from voiceagent.config.pydantic_errors import did_you_mean
from voiceagent.templating import TemplateError, parse, template_names

#: Names every template may use (spec: variables, caller, session, args, now).
RUNTIME_NAMES = frozenset({"variables", "caller", "session", "args", "now"})


def _parse(source: str) -> nodes.Template | None:
    """The bounded sandbox's syntax tree (see :mod:`voiceagent.templating`), or None."""
    try:
        return parse(source)
    except TemplateError:
        return None  # reported by the syntax check


def _undeclared(source: str) -> frozenset[str]:
    """Names ``source`` reads from its context (Jinja2's code generator tracks them: the
    costliest step of ``validate``, cached, since variants and copies share their texts).
    """
    try:
        return template_names(source)
    except TemplateError:
        return frozenset()


def name_problems(source: str, variables: Iterable[str], params: Iterable[str] | None) -> list[str]:
    """Warning messages for unknown names in template ``source``.

    Args:
        source: the template text.
        variables: names under ``variables:`` of the agent.
        params: declared parameter names when the template belongs to a tool (checks
            ``args.X``), else None.
    """
    tree = _parse(source)
    if tree is None:
        return []
    known = set(variables) | RUNTIME_NAMES
    out = []
    for name in sorted(_undeclared(source)):
        if name not in known:
            out.append(
                f"template name '{name}' is not a variable or a runtime name{did_you_mean(name, known)}; "
                "it renders empty unless the caller provides it"
            )
    if params is not None:
        declared = set(params)
        used: set[str] = set()
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            key: object
            if isinstance(node, nodes.Getattr):
                target, key = node.node, node.attr
            elif isinstance(node, nodes.Getitem):
                target, key = node.node, getattr(node.arg, "value", None)
            else:  # pragma: no cover - find_all yields only the two
                continue
            if isinstance(target, nodes.Name) and target.name == "args" and isinstance(key, str):
                used.add(key)
        for key in sorted(used - declared):
            out.append(f"args.{key} is not a declared parameter of this tool{did_you_mean(key, declared)}")
    return out
