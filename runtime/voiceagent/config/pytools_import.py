"""Importing a ``python: module:function`` tool as ``run`` does (part of
:mod:`voiceagent.config.pytools`; this executes the module's top-level code).

A module of the agent's folder is imported under a private package name
(``_voiceagent_tools_<hash>.<module>``) so two agents with a ``tools/acme.py`` each do not clash;
the folder is on ``sys.path`` only while the module executes (so sibling absolute imports work),
and afterwards only modules loaded from that folder's own top-level names are forgotten.
Standard-library and third-party modules a tool imports stay imported exactly once (removing
them made a second ``asyncio`` whose exceptions differ from the running loop's).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import threading
import types
from collections.abc import Callable
from hashlib import sha1
from pathlib import Path
from typing import Any

from voiceagent.config.pytools_locate import is_local_top
from voiceagent.config.safe_files import inside

__all__ = ["import_tool_module", "load_function", "private_package", "runtime_signature"]

_IMPORT_LOCK = threading.Lock()


def private_package(base_dir: Path) -> str:
    """The private package name local tool modules of ``base_dir`` are imported under."""
    return "_voiceagent_tools_" + sha1(str(Path(base_dir).resolve()).encode()).hexdigest()[:12]


def import_tool_module(module: str, base_dir: Path) -> types.ModuleType:
    """Import ``module`` as ``run`` does (this executes the module's top-level code).

    A local module (see :func:`locate`) is imported as ``<private package>.<module>`` with
    ``base_dir`` on ``sys.path`` while it executes; afterwards only modules that came from
    ``base_dir``'s own top-level names are dropped from ``sys.modules`` (the tool keeps its
    references). Any other module is imported normally. Nothing else is removed.

    Raises:
        Exception: whatever importing the module raises (``ModuleNotFoundError``, errors of its
            top-level code).
    """
    base = Path(base_dir).resolve()
    if not is_local_top(base, module.split(".", maxsplit=1)[0]):
        return importlib.import_module(module)
    package = private_package(base)
    with _IMPORT_LOCK:
        if package not in sys.modules:
            pkg = types.ModuleType(package)
            pkg.__path__ = [str(base)]
            pkg.__package__ = package
            sys.modules[package] = pkg
        added = str(base) not in sys.path
        before = set(sys.modules)
        if added:
            sys.path.insert(0, str(base))
        try:
            return importlib.import_module(f"{package}.{module}")
        finally:
            if added:
                with contextlib.suppress(ValueError):
                    sys.path.remove(str(base))
                _forget_local(set(sys.modules) - before, base, package)


def _forget_local(names: set[str], base: Path, package: str) -> None:
    """Drop modules that sibling absolute imports loaded from ``base``'s own top-level names
    (``import tools.helpers`` inside a tool), so another agent's ``tools`` is not shadowed.
    """
    for name in names:
        if name == package or name.startswith(package + "."):
            continue
        if not is_local_top(base, name.split(".", maxsplit=1)[0]):
            continue  # stdlib / third-party / the runtime itself: imported once, kept
        mod = sys.modules.get(name)
        origins = [getattr(mod, "__file__", None) or "", *list(getattr(mod, "__path__", None) or [])]
        if any(origin and inside(Path(origin), base) for origin in origins):
            sys.modules.pop(name, None)


def load_function(spec: str, base_dir: Path) -> tuple[Callable[..., Any] | None, str | None]:
    """(the function named by ``spec``, or None; error text when it is not callable) after
    importing its module with :func:`import_tool_module` (exceptions of the import propagate).
    """
    module_name, _, func_name = spec.partition(":")
    module = import_tool_module(module_name, base_dir)
    func = getattr(module, func_name, None)
    if not callable(func):
        return None, f"tool module '{module_name}' has no function '{func_name}'"
    return func, None


def runtime_signature(func: Callable[..., Any]) -> inspect.Signature | None:
    """``inspect.signature(func)``, or None for callables without one (some builtins)."""
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None
