"""Turning pydantic validation errors into positioned, friendly :class:`Diagnostic` lines.

Each pydantic error has a ``loc`` (keys and list indexes); walking the :class:`Node` tree along
it finds the offending key or value. Unknown keys get "did you mean X?" (difflib) from the
field names of the model at that place.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from voiceagent.config.diagnostics import Diagnostic, format_path
from voiceagent.config.envsubst import ONLY_VAR_RE
from voiceagent.config.secrets import looks_like_secret
from voiceagent.config.yamlnodes import Node

_SKIP_IF_REFERENCE = {
    "int_parsing",
    "float_parsing",
    "bool_parsing",
    "literal_error",
    "int_from_float",
    "greater_than_equal",
    "less_than_equal",
    "string_pattern_mismatch",
    "enum",
}


_EXPECTED = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list (- item lines or [a, b])",
    "dict_type": "a mapping (key: value lines or {key: value})",
    "model_type": "a mapping (key: value lines or {key: value})",
    "model_attributes_type": "a mapping (key: value lines or {key: value})",
}


_LIMITS = {
    "greater_than_equal": "at least",
    "less_than_equal": "at most",
    "greater_than": "more than",
    "less_than": "less than",
}

# Field name -> how to write it, for people who do not read regular expressions.
_PATTERN_HINTS = {
    "name": "use lowercase letters, digits and dashes, e.g. acme-support",
    "tool_name": "use lowercase letters, digits and underscores, starting with a letter, e.g. get_account_info",
    "language": "use a language code such as en, en-IN, hi or ta",
    "languages": "use language codes such as en, en-IN, hi or ta",
    "python": "write module:function, e.g. tools.acme:get_account_info",
    "allowed_hosts": "write a host name (api.acme.example), *.acme.example, host:port or [::1]",
}


MAX_SUGGESTION_WORK = 10_000
"""Names compared for "did you mean" per checked file; past it, no more suggestions (a flow of
thousands of misspelt states would otherwise take quadratic time)."""
MAX_SUGGEST_LEN = 100
"""Names longer than this (in characters) are neither suggested nor given suggestions."""

_BUDGET: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("did_you_mean_budget", default=None)


@contextlib.contextmanager
def suggestion_budget(work: int = MAX_SUGGESTION_WORK) -> Iterator[None]:
    """Within this block, :func:`did_you_mean` compares at most ``work`` names in all."""
    token = _BUDGET.set([work])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    """``; did you mean 'x'?`` for the closest of ``choices`` to ``word``, else ``""``.

    Bounded: inside :func:`suggestion_budget` the names compared are counted and suggestions
    stop when the budget is spent; names longer than :data:`MAX_SUGGEST_LEN` are skipped.
    """
    word = str(word)
    if len(word) > MAX_SUGGEST_LEN:
        return ""
    pool = choices if isinstance(choices, typing.Sized) else list(choices)
    budget = _BUDGET.get()
    if budget is not None:
        if budget[0] < len(pool):
            budget[0] = 0
            return ""
        budget[0] -= len(pool)
    near = [c for c in pool if isinstance(c, str) and len(c) <= MAX_SUGGEST_LEN]
    close = difflib.get_close_matches(word, near, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _strip_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (``loc[:-1]`` leads to it): model
    fields by name, list indexes and mapping keys step into the element type.
    """
    tp: Any = root
    for part in loc[:-1]:
        tp = _strip_optional(tp)
        origin = typing.get_origin(tp)
        if origin in (list, dict):
            tp = typing.get_args(tp)[-1]
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _field(tp, part)
            if field is None:
                return None
            tp = field.annotation
        else:
            return None
    tp = _strip_optional(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field(model: type[BaseModel], name: Any) -> Any:
    for fname, field in model.model_fields.items():
        if name in (fname, field.alias):
            return field
    return None


def field_names(model: type[BaseModel]) -> list[str]:
    """YAML key names of ``model`` (aliases where set)."""
    return [f.alias or n for n, f in model.model_fields.items()]


def node_at(root: Node, loc: tuple[Any, ...]) -> tuple[Node, Node | None]:
    """(deepest node reached along ``loc``, node exactly at ``loc`` or None)."""
    node = root
    for part in loc:
        nxt = None
        if node.is_map:
            nxt = node.get(part)
        elif node.is_seq and isinstance(part, int) and 0 <= part < len(node.value):
            nxt = node.value[part]
        if nxt is None:
            return node, None
        node = nxt
    return node, node


def _show(value: Any) -> str:
    text = repr(value)
    if isinstance(value, str) and looks_like_secret(value):
        return "(a secret-looking value)"
    return text if len(text) <= 60 else text[:57] + "..."


def diagnostics_from(
    exc: ValidationError,
    root: Node,
    model: type[BaseModel],
    *,
    references_ok: bool,
    skipped: list[tuple[Any, ...]] | None = None,
) -> list[Diagnostic]:
    """Positioned diagnostics for every error of ``exc`` (validation of ``root``'s data).

    With ``references_ok`` (validation without an environment), a type error on a value that
    is exactly one ``${VAR}`` reference is skipped (its ``loc`` appended to ``skipped``):
    the value only exists at run time.
    """
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        on_key = "[key]" in loc
        loc = tuple(p for p in loc if p != "[key]")
        where = format_path(loc)
        reached, exact = node_at(root, loc)
        value = err.get("input")
        if references_ok and kind in _SKIP_IF_REFERENCE and isinstance(value, str) and ONLY_VAR_RE.match(value):
            if skipped is not None:
                skipped.append(loc)
            continue
        if kind == "extra_forbidden":
            holder = model_at(model, loc)
            names = field_names(holder) if holder else []
            node = exact or reached
            parent = format_path(loc[:-1]) or "the agent"
            msg = f"unknown key '{loc[-1]}' in {parent}{did_you_mean(str(loc[-1]), names)}"
            out.append(Diagnostic(node.file, node.key_line, node.key_col, "error", msg, where))
            continue
        if kind == "missing":
            node = reached
            parent = format_path(loc[:-1]) or "the agent"
            msg = f"missing required key '{loc[-1]}' in {parent}"
            holder = model_at(model, loc)
            known = set(field_names(holder)) if holder else set()
            strays = [str(k) for k in (node.value if node.is_map else {}) if str(k) not in known]
            close = difflib.get_close_matches(str(loc[-1]), strays, n=1, cutoff=0.6)
            stray = node.get(close[0]) if close else None
            if stray is not None:
                msg += f" ('{close[0]}' on line {stray.key_line} looks like a misspelling of it)"
            out.append(Diagnostic(node.file, node.key_line, node.key_col, "error", msg, where))
            continue
        node = exact or reached
        if on_key:
            msg = f"{where}: the key {_show(value)} is not allowed here: {err['msg'][0].lower() + err['msg'][1:]}"
            out.append(Diagnostic(node.file, node.key_line, node.key_col, "error", msg, where))
            continue
        if kind == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
            msg = f"{where}: {_show(value)} is not allowed; use one of {', '.join(choices)}"
            if isinstance(value, str):
                msg += did_you_mean(value, choices)
        elif kind == "string_pattern_mismatch":
            pattern = err.get("ctx", {}).get("pattern", "")
            field = "tool_name" if loc[-1] == "name" and len(loc) > 1 else str(loc[-1])
            field = str(loc[-2]) if isinstance(loc[-1], int) and len(loc) > 1 else field  # a list item
            hint = _PATTERN_HINTS.get(field, f"it must match the pattern {pattern}")
            msg = f"{where}: {_show(value)} is not allowed here; {hint}"
        elif kind in ("too_short", "too_long"):
            ctx = err.get("ctx", {})
            bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
            least = "at least" if kind == "too_short" else "at most"
            msg = f"{where}: needs {least} {bound} entr{'y' if bound == 1 else 'ies'}"
        elif kind in _LIMITS:
            limit = next(iter(err.get("ctx", {}).values()), "")
            msg = f"{where}: must be {_LIMITS[kind]} {limit} (got {_show(value)})"
        elif kind in _EXPECTED:
            msg = f"{where}: expected {_EXPECTED[kind]} (got {_show(value)})"
        else:
            msg = f"{where}: {err['msg'][0].lower() + err['msg'][1:]} (got {_show(value)})"
        out.append(Diagnostic(node.file, node.line, node.col, "error", msg, where))
    return out
