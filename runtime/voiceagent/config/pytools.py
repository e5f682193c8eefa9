"""Checking ``python: module:function`` tools without running the agent.

The module is imported alone, with the agent file's folder first on ``sys.path`` (as the runtime
resolves it), and ``sys.path`` / ``sys.modules`` are restored afterwards so one agent's
``tools`` package never leaks into another's. Importing runs the module's top-level code (and
its package ``__init__``), nothing else of the agent.

Tool functions are called with the arguments as keyword arguments; they may also accept a
``ctx`` (or ``context``) keyword parameter, which the runtime passes the call context in, or
``**kwargs``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTEXT_PARAMS = ("ctx", "context")


@dataclass(frozen=True)
class Resolved:
    """Outcome of resolving one ``module:function``: the signature, or an error message."""

    signature: inspect.Signature | None = None
    error: str | None = None


_CACHE: dict[tuple[str, str], Resolved] = {}


def clear_cache() -> None:
    """Forget resolved tools (call before a new batch, so edited tool files are re-read)."""
    _CACHE.clear()


def import_isolated(module: str, base_dir: Path) -> Any:
    """Import ``module`` with ``base_dir`` first on ``sys.path``; restore ``sys.path`` and
    ``sys.modules`` afterwards. Returns the module object. Raises whatever the import raises.
    """
    saved_path = list(sys.path)
    saved_modules = dict(sys.modules)
    top = module.split(".", maxsplit=1)[0]
    try:
        for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
            del sys.modules[name]
        sys.path.insert(0, str(base_dir))
        importlib.invalidate_caches()
        return importlib.import_module(module)
    finally:
        sys.path[:] = saved_path
        for name in [n for n in sys.modules if n not in saved_modules]:
            del sys.modules[name]
        sys.modules.update(saved_modules)


def resolve(spec: str, base_dir: Path) -> Resolved:
    """Resolve ``"module:function"`` relative to ``base_dir`` first (cached per folder until
    :func:`clear_cache`).
    """
    key = (spec, str(base_dir))
    if key in _CACHE:
        return _CACHE[key]
    module, _, func = spec.partition(":")
    try:
        mod = import_isolated(module, base_dir)
    except ModuleNotFoundError as exc:
        result = Resolved(error=f"cannot import module '{module}' (looked in {base_dir} and the Python path): {exc}")
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt,)):
            raise
        result = Resolved(error=f"importing module '{module}' failed: {type(exc).__name__}: {exc}")
    else:
        fn: Callable[..., Any] | None = getattr(mod, func, None)
        if fn is None:
            names = [n for n in dir(mod) if not n.startswith("_") and callable(getattr(mod, n, None))]
            from voiceagent.config.pydantic_errors import did_you_mean

            result = Resolved(error=f"module '{module}' has no function '{func}'{did_you_mean(func, names)}")
        elif not callable(fn):
            result = Resolved(error=f"'{spec}' is not a function")
        else:
            try:
                result = Resolved(signature=inspect.signature(fn))
            except (TypeError, ValueError):
                result = Resolved()  # builtins without a signature: accept
    _CACHE[key] = result
    return result


def signature_problems(sig: inspect.Signature, declared: list[str], required: list[str]) -> list[tuple[str, str]]:
    """(severity, message) problems of calling ``sig`` with the declared keyword arguments.

    Errors: a declared parameter the function cannot take; a function parameter without a
    default that the tool does not declare. Warning: an optional tool parameter (not in
    ``required``) whose function parameter has no default.
    """
    params = sig.parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    out: list[tuple[str, str]] = []
    for name in declared:
        if name not in accepted and not var_kw:
            out.append(("error", f"the function does not accept parameter '{name}' declared by the tool"))
        elif name in params and name not in required and params[name].default is inspect.Parameter.empty:
            out.append(("warning", f"parameter '{name}' is optional for the tool but has no default in the function"))
    for name, p in params.items():
        if name in declared or name in CONTEXT_PARAMS or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.default is inspect.Parameter.empty:
            out.append(("error", f"the function requires parameter '{name}' that the tool does not declare"))
    return out
