"""Sandboxed, bounded Jinja2 for prompts, greetings, HTTP tool templates and transition guards.

Templates run in a :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`
(https://jinja.palletsprojects.com/en/3.1.x/sandbox/): agent files come from people who are
not programmers and from strangers' pull requests, so no template may reach Python internals
or mutate session state. On top of the sandbox, :class:`BoundedEnvironment` makes checking
and rendering bounded in time, memory and stack:

- **no constant folding**: Jinja2 evaluates constant expressions while compiling
  (``{{ 9**(9**10) }}`` would never finish compiling, ``{{ 'A' * 200000000 }}`` takes 800 MB).
  ``*``, ``**`` and ``%`` are intercepted operators (the sandbox's documented
  ``intercepted_binops``: intercepted operators are never folded) and every filter is wrapped
  so it is never called at compile time either;
- **bounded operators and filters** at render time: a power larger than :data:`MAX_POW_BITS`
  bits, a repetition or filter result longer than :data:`MAX_RESULT_LEN` items, a ``%`` format
  width above :data:`MAX_FORMAT_WIDTH` are refused (:class:`TemplateError`);
- **bounded nesting**: before parsing, the template's tokens are scanned (iteratively) and more
  than :data:`MAX_NESTING` nested brackets / blocks / unary operators, or more than
  :data:`MAX_OPERATORS` operators in one ``{{ }}`` / ``{% %}``, is a :class:`TemplateError` at
  the line where the limit was crossed (Jinja2's parser and compiler recurse: 300 nested
  parentheses or ``not`` x1000 raised ``RecursionError``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = [
    "MAX_FORMAT_WIDTH",
    "MAX_NESTING",
    "MAX_OPERATORS",
    "MAX_POW_BITS",
    "MAX_RESULT_LEN",
    "BoundedEnvironment",
    "TemplateError",
    "check_expression",
    "check_template",
    "evaluate",
    "expression_names",
    "parse",
    "render",
    "template_names",
]

MAX_NESTING = 32
"""Deepest nesting of brackets, blocks (``{% if %}``...) and chained unary operators."""
MAX_OPERATORS = 100
"""Most operators, filters and attribute steps in one ``{{ ... }}`` or ``{% ... %}``."""
MAX_POW_BITS = 4096
"""Largest result of ``**`` on whole numbers, in bits."""
MAX_RESULT_LEN = 1_000_000
"""Longest text or list an operator or filter may produce, in characters / items."""
MAX_FORMAT_WIDTH = 1000
"""Largest width or precision in a ``%`` format (``'%0999999999d' % 1`` would be 1 GB)."""


class TemplateError(ValueError):
    """A template or guard expression that does not parse or fails to render.

    ``lineno`` is the 1-based line inside the template when it is known.
    """

    def __init__(self, message: str, *, lineno: int | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno


_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _too_long(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple) and len(value) > MAX_RESULT_LEN


def _check_format(fmt: str) -> None:
    for match in _FORMAT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*" or (part is not None and int(part) > MAX_FORMAT_WIDTH):
                raise SecurityError(f"a format width above {MAX_FORMAT_WIDTH} is not allowed in templates")


def _bounded_binop(operator: str, left: Any, right: Any) -> Any:
    if operator == "**":
        whole = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
        if whole and left.bit_length() * right > MAX_POW_BITS:
            raise SecurityError(f"the power is too large (more than {MAX_POW_BITS} bits)")
        return left**right
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_RESULT_LEN:
                raise SecurityError(f"the repetition is too long (more than {MAX_RESULT_LEN} items)")
        return left * right
    if operator == "%":
        if isinstance(left, str):
            _check_format(left)
        result = left % right
        if _too_long(result):
            raise SecurityError(f"the result is too long (more than {MAX_RESULT_LEN} characters)")
        return result
    raise SecurityError(f"operator {operator} is not intercepted")  # pragma: no cover - not reached


_SIZE_ARG_FILTERS = frozenset({"center", "indent", "wordwrap", "batch", "slice", "truncate"})


def _unfoldable(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` as a filter Jinja2 never calls while compiling (it takes the render context, so
    constant folding gives up), with its size arguments and result bounded.
    """
    passes = getattr(getattr(func, "jinja_pass_arg", None), "name", None)

    @jinja2.pass_context
    def bounded(context: jinja2.runtime.Context, *args: Any, **kwargs: Any) -> Any:
        if name in _SIZE_ARG_FILTERS:
            for arg in (*args[1:], *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_RESULT_LEN:
                    raise SecurityError(f"filter {name}: {arg} is too large (the limit is {MAX_RESULT_LEN})")
        if name == "format" and args and isinstance(args[0], str):
            _check_format(args[0])
        if passes == "context":
            result = func(context, *args, **kwargs)
        elif passes == "eval_context":
            result = func(context.eval_ctx, *args, **kwargs)
        elif passes == "environment":
            result = func(context.environment, *args, **kwargs)
        else:
            result = func(*args, **kwargs)
        if _too_long(result):
            raise SecurityError(f"filter {name}: the result is too long (more than {MAX_RESULT_LEN} items)")
        return result

    bounded.__name__ = getattr(func, "__name__", name)
    return bounded


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox without compile-time constant folding, with bounded operators and filters
    (see the module doc). Undefined names render as empty text.
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.ChainableUndefined, autoescape=False, keep_trailing_newline=False)
        self.filters = {name: _unfoldable(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        """``left <operator> right`` for the intercepted ``*``, ``**`` and ``%``, bounded.

        Raises:
            SecurityError: the result would be larger than the limits of the module doc.
        """
        return _bounded_binop(operator, left, right)


_ENV = BoundedEnvironment()

_OPEN = {"lparen", "lbracket", "lbrace"}
_CLOSE = {"rparen", "rbracket", "rbrace"}
_UNARY = {"sub", "add"}
_OPERATORS = {
    "add",
    "sub",
    "mul",
    "div",
    "floordiv",
    "mod",
    "pow",
    "tilde",
    "pipe",
    "dot",
    "eq",
    "ne",
    "lt",
    "lteq",
    "gt",
    "gteq",
    "lbracket",
    "lparen",
}
_OPERATOR_WORDS = {"and", "or", "not", "in", "is", "if"}
_BLOCK_OPENERS = {"if", "for", "macro", "call", "filter", "with", "autoescape", "block", "trans"}


def _check_shape(source: str) -> None:
    """Refuse templates whose nesting or operator count would make Jinja2 recurse too deeply.

    Raises:
        TemplateError: at the line where a limit was crossed.
    """
    if len(source) <= MAX_OPERATORS and sum(source.count(c) for c in "([{-+") + source.count("not") <= MAX_NESTING:
        return  # too short for more operators, too few openers for deeper nesting: nothing to scan
    depth = blocks = unary = operators = 0
    after_block_begin = False
    try:
        for lineno, kind, value in _ENV.lexer.tokenize(source):
            if kind in ("variable_begin", "block_begin"):
                operators = 0
            is_not = kind == "name" and value == "not"
            if kind in _UNARY or is_not:
                unary += 1
            else:
                unary = 0
            if kind in _OPEN:
                depth += 1
            elif kind in _CLOSE:
                depth = max(0, depth - 1)
            if kind in _OPERATORS or (kind == "name" and value in _OPERATOR_WORDS):
                operators += 1
            if after_block_begin and kind == "name":
                if value in _BLOCK_OPENERS:
                    blocks += 1
                elif value.startswith("end"):
                    blocks = max(0, blocks - 1)
            after_block_begin = kind == "block_begin"
            if depth + blocks > MAX_NESTING or unary > MAX_NESTING:
                raise TemplateError(
                    f"template is nested too deeply (more than {MAX_NESTING} levels of brackets, blocks or "
                    "unary operators); simplify it",
                    lineno=lineno,
                )
            if operators > MAX_OPERATORS:
                raise TemplateError(
                    f"template has more than {MAX_OPERATORS} operators in one {{{{ }}}} or {{% %}}; split it",
                    lineno=lineno,
                )
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", lineno=exc.lineno) from None


def _guarded(build: Callable[[], Any], what: str) -> Any:
    try:
        return build()
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{what} syntax error: {exc.message}", lineno=exc.lineno) from None
    except (RecursionError, MemoryError):  # a last line of defence behind _check_shape
        raise TemplateError(f"{what} is nested too deeply or too large to check; simplify it") from None


@lru_cache(maxsize=512)
def parse(source: str) -> nodes.Template:
    """The Jinja2 syntax tree of template ``source`` (nothing is evaluated).

    Raises:
        TemplateError: syntax errors, too deep nesting, too many operators.
    """
    _check_shape(source)
    tree: nodes.Template = _guarded(lambda: _ENV.parse(source), "template")
    return tree


def _parse_expression(source: str) -> nodes.Template:
    """``source`` as a guard: one expression, wrapped as Jinja2's ``compile_expression`` does."""
    _check_shape("{{ " + source + " }}")

    def build() -> nodes.Template:
        parser = Parser(_ENV, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise jinja2.TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, None)
        wrapped = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)
        wrapped.set_environment(_ENV)
        return wrapped

    tree: nodes.Template = _guarded(build, "expression")
    return tree


@lru_cache(maxsize=1024)
def template_names(source: str) -> frozenset[str]:
    """Names template ``source`` reads from its context. This runs Jinja2's code generator
    (which also finds unknown filters and tests) but never compiles or evaluates anything.

    Raises:
        TemplateError: syntax errors, unknown filters/tests, too deep nesting, too many operators.
    """
    tree = parse(source)
    names: set[str] = _guarded(lambda: meta.find_undeclared_variables(tree), "template")
    return frozenset(names)


@lru_cache(maxsize=1024)
def expression_names(source: str) -> frozenset[str]:
    """Names guard expression ``source`` reads. An expression cannot assign, so these are its
    ``Name`` nodes; filters and tests it uses must exist. Nothing is compiled or evaluated.

    Raises:
        TemplateError: syntax errors, unknown filters/tests, too deep nesting, too many operators.
    """
    tree = _parse_expression(source)
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        known = _ENV.filters if isinstance(node, nodes.Filter) else _ENV.tests
        if node.name not in known:
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            raise TemplateError(f"expression error: no {kind} named '{node.name}'", lineno=node.lineno)
    return frozenset(n.name for n in tree.find_all(nodes.Name) if n.ctx == "load")


@lru_cache(maxsize=512)
def _template(source: str) -> jinja2.Template:
    _check_shape(source)
    template: jinja2.Template = _guarded(lambda: _ENV.from_string(source), "template")
    return template


@lru_cache(maxsize=512)
def _expression(source: str) -> Callable[..., Any]:
    _check_shape("{{ " + source + " }}")
    compiled: Callable[..., Any] = _guarded(
        lambda: _ENV.compile_expression(source, undefined_to_none=True), "expression"
    )
    return compiled


def check_template(source: str) -> None:
    """Check that ``source`` is a valid template: it parses, its filters and tests exist, its
    nesting is within bounds. Nothing is compiled or evaluated (no constant folding).

    Raises:
        TemplateError: when it is not.
    """
    template_names(source)


def check_expression(source: str) -> None:
    """Check that ``source`` is a valid guard expression (as :func:`check_template`).

    Raises:
        TemplateError: when it is not.
    """
    expression_names(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render template ``source`` with ``context``; undefined names render as empty text.

    Raises:
        TemplateError: syntax errors, or a sandbox violation / runtime error / exceeded bound
            while rendering.
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
        TemplateError: syntax errors or failures (exceeded bounds included) while evaluating.
    """
    try:
        return _expression(expression)(**context)
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TemplateError(f"expression failed: {type(exc).__name__}: {exc}") from None
