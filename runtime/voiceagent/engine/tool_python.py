"""Python tools: ``python: module:function`` (agent-format.md "tools").

The module is looked up in the agent file's folder first and imported under a private package
name (``_voiceagent_tools_<hash>.<module>``) so that two agents with a ``tools/acme.py`` each do
not clash and ``sys.path`` is not changed for good (the folder is on ``sys.path`` only while the
module executes, so sibling absolute imports work; modules they load from the folder are then
removed from ``sys.modules`` again). Modules not found there are imported
normally (installed packages). Imports are cached per runner.

Sync functions run in a worker thread (``asyncio.to_thread``); coroutine functions are awaited.
``ctx=`` (a :class:`~voiceagent.engine.tools.ToolContext`) is passed only when the function has
a ``ctx`` parameter or ``**kwargs`` (or as ``context=`` when it has a ``context`` parameter). A timeout cannot stop a sync function's thread: it keeps
running in the background, its result discarded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib
import inspect
import sys
import threading
import types
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from voiceagent.engine.tool_schema import ToolFailure

__all__ = ["PythonToolLoader", "to_jsonable"]

_IMPORT_LOCK = threading.Lock()


class PythonToolLoader:
    """Resolves and calls ``module:function`` specs relative to ``base_dir``."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir).resolve()
        self._package = "_voiceagent_tools_" + hashlib.sha1(str(self.base_dir).encode()).hexdigest()[:12]
        self._cache: dict[str, tuple[Callable[..., Any], str | None]] = {}

    def resolve(self, spec: str) -> Callable[..., Any]:
        """The function named by ``spec`` (``module:function``).

        Raises:
            ToolFailure: the module cannot be imported or has no such callable.
        """
        return self._resolve(spec)[0]

    def _resolve(self, spec: str) -> tuple[Callable[..., Any], str | None]:
        hit = self._cache.get(spec)
        if hit is not None:
            return hit
        module_name, _, func_name = spec.partition(":")
        try:
            module = self._import(module_name)
        except Exception as exc:  # noqa: BLE001 - user code may raise anything on import
            raise ToolFailure(f"tool module '{module_name}' could not be loaded: {type(exc).__name__}: {exc}") from None
        func = getattr(module, func_name, None)
        if not callable(func):
            raise ToolFailure(f"tool module '{module_name}' has no function '{func_name}'")
        self._cache[spec] = (func, _context_param(func))
        return self._cache[spec]

    def _import(self, module_name: str) -> types.ModuleType:
        top = module_name.split(".", maxsplit=1)[0]
        local = (self.base_dir / f"{top}.py").is_file() or (self.base_dir / top).is_dir()
        if not local:
            return importlib.import_module(module_name)
        with _IMPORT_LOCK:
            if self._package not in sys.modules:
                pkg = types.ModuleType(self._package)
                pkg.__path__ = [str(self.base_dir)]
                pkg.__package__ = self._package
                sys.modules[self._package] = pkg
            added = str(self.base_dir) not in sys.path
            before = set(sys.modules)
            if added:
                sys.path.insert(0, str(self.base_dir))
            try:
                return importlib.import_module(f"{self._package}.{module_name}")
            finally:
                if added:
                    try:
                        sys.path.remove(str(self.base_dir))
                    except ValueError:
                        pass
                    self._forget_top_level(set(sys.modules) - before)

    def _forget_top_level(self, names: set[str]) -> None:
        """Drop modules that sibling absolute imports put into ``sys.modules`` from base_dir, so
        another agent's ``tools`` package is not shadowed (the importing module keeps its refs).
        """
        for name in names:
            if name == self._package or name.startswith(self._package + "."):
                continue
            origin = getattr(sys.modules.get(name), "__file__", None) or ""
            try:
                inside = Path(origin).resolve().is_relative_to(self.base_dir)
            except (OSError, ValueError):
                inside = False
            if inside:
                sys.modules.pop(name, None)

    async def call(self, spec: str, args: dict[str, Any], ctx: Any) -> Any:
        """Call the function of ``spec`` with ``**args`` (and ``ctx=`` when it takes one); the
        return value made JSON-serialisable by :func:`to_jsonable`.

        Raises:
            ToolFailure: import problems. Exceptions of the function propagate to the runner.
        """
        func, ctx_param = self._resolve(spec)
        kwargs = dict(args)
        if ctx_param:
            kwargs[ctx_param] = ctx
        if inspect.iscoroutinefunction(func):
            value = await func(**kwargs)
        else:
            value = await asyncio.to_thread(func, **kwargs)
            if inspect.isawaitable(value):
                value = await value
        return to_jsonable(value)


def _context_param(func: Callable[..., Any]) -> str | None:
    """The keyword the call context is passed as: ``ctx``, else ``context`` (the name
    config/pytools.py also accepts), ``ctx`` for ``**kwargs``; None when the function takes none.
    """
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return None
    for name in ("ctx", "context"):
        p = params.get(name)
        if p is not None and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            return name
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return "ctx"
    return None


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """``value`` as JSON-serialisable data: dict keys become str, tuples/sets lists, dates ISO
    text, dataclasses and pydantic models dicts, Decimal float, Enum its value, bytes UTF-8 text,
    anything else ``str(value)``.
    """
    if _depth > 50:
        return str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value, _depth + 1)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), _depth + 1)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return to_jsonable(dump(mode="json"), _depth + 1)
        except Exception:  # noqa: BLE001
            pass
    return str(value)
