"""Python tools: ``python: module:function`` (agent format "tools").

Where a module comes from and how it is imported is decided by the one resolver,
:mod:`voiceagent.config.pytools` (``validate`` checks the same module statically): a module of
the agent file's folder is imported under a private package name
(``_voiceagent_tools_<hash>.<module>``) so that two agents with a ``tools/acme.py`` each do not
clash; other modules (installed packages) are imported normally, and standard-library or
third-party modules a tool imports are never removed from ``sys.modules``. Imports are cached
per loader.

Sync functions run on a daemon thread, coroutine functions in a task of their own
(:func:`voiceagent.engine.tool_exec.call_function`: ``sys.exit`` and self-cancellation become
tool errors).
``ctx=`` (a :class:`~voiceagent.engine.tools.ToolContext`) is passed only when the function has
a ``ctx`` parameter or ``**kwargs`` (or as ``context=`` when it has a ``context`` parameter). A
timeout cannot stop a sync function's thread: it keeps running in the background, its result
discarded (a daemon thread: it never keeps the process alive).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from voiceagent.config.pytools import context_param, load_function, private_package, runtime_signature
from voiceagent.engine.tool_exec import call_function
from voiceagent.engine.tool_schema import ToolFailure

__all__ = ["PythonToolLoader", "to_jsonable"]


class PythonToolLoader:
    """Resolves and calls ``module:function`` specs relative to ``base_dir``."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir).resolve()
        self._package = private_package(self.base_dir)
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
        module_name = spec.partition(":")[0]
        try:
            func, missing = load_function(spec, self.base_dir)
        except Exception as exc:  # noqa: BLE001 - user code may raise anything on import
            raise ToolFailure(f"tool module '{module_name}' could not be loaded: {type(exc).__name__}: {exc}") from None
        if func is None:
            raise ToolFailure(missing or f"'{spec}' is not a function")
        self._cache[spec] = (func, context_param(runtime_signature(func)))
        return self._cache[spec]

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
        # daemon thread / own task, exits and self-cancellation contained: engine/tool_exec.py
        value = await call_function(func, kwargs, name=spec)
        return to_jsonable(value)


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
        return value if math.isfinite(value) else str(value)
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
        except Exception:  # noqa: BLE001 - a model that cannot dump itself is shown as text
            return str(value)
    return str(value)
