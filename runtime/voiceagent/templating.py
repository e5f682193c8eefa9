"""Sandboxed Jinja2 for prompts, greetings, HTTP tool templates and transition guards.

Templates run in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`
(https://jinja.palletsprojects.com/en/3.1.x/sandbox/): agent files come from people who are
not programmers and from strangers' pull requests, so no template may reach Python internals
or mutate session state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=False)


class TemplateError(ValueError):
    """A template or guard expression that does not parse or fails to render.

    ``lineno`` is the 1-based line inside the template when Jinja2 reported one.
    """

    def __init__(self, message: str, *, lineno: int | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno


@lru_cache(maxsize=512)
def _template(source: str) -> jinja2.Template:
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", lineno=exc.lineno) from None


@lru_cache(maxsize=512)
def _expression(source: str) -> Callable[..., Any]:
    try:
        return _ENV.compile_expression(source, undefined_to_none=True)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"expression syntax error: {exc.message}", lineno=exc.lineno) from None


def check_template(source: str) -> None:
    """Parse ``source`` as a template. Raises :class:`TemplateError` when it does not parse."""
    _template(source)


def check_expression(source: str) -> None:
    """Compile ``source`` as a guard expression. Raises :class:`TemplateError` when it does not."""
    _expression(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render template ``source`` with ``context``; undefined names render as empty text.

    Raises:
        TemplateError: syntax errors, or a sandbox violation / runtime error while rendering.
    """
    if "{" not in source:
        return source
    try:
        return _template(source).render(**context)
    except TemplateError:
        raise
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a template must never crash a call
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate guard ``expression`` (e.g. ``session.verification_level >= 1``) with ``context``.

    Raises:
        TemplateError: syntax errors or failures while evaluating.
    """
    try:
        return _expression(expression)(**context)
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TemplateError(f"expression failed: {type(exc).__name__}: {exc}") from None
