"""Where a ``python: module:function`` module comes from, seen from the agent file's folder
(part of :mod:`voiceagent.config.pytools`); nothing is imported or executed.

- **local**: the first part of ``module`` is ``base_dir/<name>.py`` or a folder
  ``base_dir/<name>/``; ``tools.acme`` is then ``base_dir/tools/acme.py`` (or
  ``base_dir/tools/acme/__init__.py``);
- **stdlib**: a standard-library module (``os``, ``subprocess``...);
- **installed**: on the Python path (not the current folder) or found by an import hook;
- **missing**: none of these.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import pkgutil
import site
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from voiceagent.config.safe_files import inside

__all__ = ["Located", "clear_locate_cache", "inside_cached", "is_local_top", "locate"]

Kind = Literal["local", "stdlib", "installed", "missing"]


@dataclass(frozen=True)
class Located:
    """Where ``module`` comes from, seen from ``base_dir``.

    Attributes:
        kind: ``local`` / ``stdlib`` / ``installed`` / ``missing`` (see the module doc).
        module: the dotted name as written.
        file: for ``local``: the module's source file (``None`` when the name is a folder only).
        looked_for: for ``local`` and ``missing``: the paths that were tried, for messages.
    """

    kind: Kind
    module: str
    file: Path | None = None
    looked_for: str = ""


def _local_part(folder: Path, part: str) -> tuple[Path | None, Path | None]:
    """(package folder, module file) for one dotted part, in the order Python's finder uses:
    a folder with ``__init__.py``, then ``<part>.py``, then a namespace folder.
    """
    sub = folder / part
    if (sub / "__init__.py").is_file():
        return sub, sub / "__init__.py"
    if (folder / f"{part}.py").is_file():
        return None, folder / f"{part}.py"
    if sub.is_dir():
        return sub, None
    return None, None


MAX_FIND_SPEC = 50
"""Names not found among the installed top-level modules that are looked up one by one in the
environment's import hooks (editable installs), per batch; the rest count as missing."""
_FIND_SPEC_BUDGET = [MAX_FIND_SPEC]


@lru_cache(maxsize=1)
def _site_dirs() -> tuple[str, ...]:
    """Where installed packages live: site-packages and every ``sys.path`` entry except the
    current folder (``PYTHONPATH`` entries and ``.pth`` paths of editable installs count).
    """
    here = {"", ".", os.getcwd()}
    dirs = {*site.getsitepackages(), site.getusersitepackages()}
    dirs |= {p for p in sys.path if p not in here}
    return tuple(sorted(d for d in dirs if os.path.isdir(d)))


@lru_cache(maxsize=1)
def _path_modules() -> frozenset[str]:
    """Top-level module names in the installed-package folders (listed, never imported)."""
    return frozenset(m.name for m in pkgutil.iter_modules(list(_site_dirs())))


def _installed(top: str) -> bool:
    """Whether ``top`` is an installed package: on the Python path (not the current folder:
    tools are found relative to the agent), or found by an import hook of the environment.
    """
    if top in _path_modules():
        return True
    if _FIND_SPEC_BUDGET[0] <= 0:
        return False
    _FIND_SPEC_BUDGET[0] -= 1
    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder:
            continue  # the path's folders were listed above
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        try:
            if find_spec(top, None) is not None:
                return True
        except Exception:  # noqa: BLE001 - a broken import hook of the environment: not found
            continue
    return False


def is_local_top(base: Path, top: str) -> bool:
    """Whether ``top`` names a module or folder directly in ``base`` (run then imports it from there)."""
    return (base / f"{top}.py").is_file() or (base / top).is_dir()


_LISTING: dict[str, frozenset[str]] = {}


def _local_tops(base: Path) -> frozenset[str]:
    """Names ``is_local_top`` accepts in ``base`` (``x`` for ``x.py`` files and ``x/`` folders),
    from one listing of the folder, remembered until :func:`clear_locate_cache`.
    """
    key = str(base)
    hit = _LISTING.get(key)
    if hit is None:
        names: set[str] = set()
        try:
            with os.scandir(base) as entries:
                for entry in entries:
                    if entry.name.endswith(".py") and entry.is_file():
                        names.add(entry.name[:-3])
                    elif entry.is_dir():
                        names.add(entry.name)
        except OSError:
            pass
        hit = _LISTING[key] = frozenset(names)
    return hit


_LOCATED: dict[tuple[str, str], Located] = {}
_INSIDE: dict[tuple[Path, Path], bool] = {}


def inside_cached(file: Path, root: Path) -> bool:
    """:func:`voiceagent.config.safe_files.inside`, remembered until :func:`clear_locate_cache`."""
    key = (file, root)
    if key not in _INSIDE:
        _INSIDE[key] = inside(file, root)
    return _INSIDE[key]


def locate(module: str, base_dir: Path) -> Located:
    """Where ``module`` (``tools.acme``) resolves from ``base_dir``; nothing is imported.

    A local first part decides: ``tools.acme`` with a ``base_dir/tools/`` folder but no
    ``acme.py`` in it is ``missing`` (run would not look elsewhere either). Cached until
    :func:`clear_cache`.
    """
    key = (module, str(base_dir))
    hit = _LOCATED.get(key)
    if hit is None:
        hit = _LOCATED[key] = _locate(module, base_dir)
    return hit


def _locate(module: str, base_dir: Path) -> Located:
    parts = module.split(".")
    base = Path(base_dir)
    top = parts[0]
    if top in _local_tops(base):
        folder: Path | None = base
        file: Path | None = None
        for part in parts:
            if folder is None:  # a module file has no sub-modules
                file = None
                break
            folder, file = _local_part(folder, part)
            if folder is None and file is None:
                break
        tried = "/".join(parts[:-1] + [f"{parts[-1]}.py"])
        return Located("local" if file is not None else "missing", module, file, f"{tried} in {base}")
    if top in sys.stdlib_module_names:
        return Located("stdlib", module)
    if _installed(top):
        return Located("installed", module)
    return Located("missing", module, looked_for=f"{top}.py or {top}/ in {base}, and the installed packages")


def clear_locate_cache() -> None:
    """Forget located modules (a new batch may see edited folders)."""
    _LOCATED.clear()
    _INSIDE.clear()
    _LISTING.clear()
    _FIND_SPEC_BUDGET[0] = MAX_FIND_SPEC
