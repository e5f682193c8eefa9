"""The agents a server serves: every agent file of the given paths, by ``name``, each validated
before it serves and its last good version kept when an edit breaks it.

A call takes the :class:`AgentVersion` current when it starts and keeps it to the end: a reload
replaces the catalogue's entry, never the object a running call holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voiceagent.config.load import LoadedAgent
from voiceagent.engine.compiler import CompiledAgent

__all__ = ["AgentEntry", "AgentVersion", "Catalogue"]

log = logging.getLogger("voiceagent.serve")

AGENT_SUFFIXES = (".yaml", ".yml")
MAX_ERROR_LINES = 10


@dataclass(frozen=True)
class AgentVersion:
    """One validated, compiled version of an agent file.

    Attributes:
        loaded: the agent as :func:`voiceagent.config.load.load_agent` returned it.
        compiled: its compiled state machine (compiled once, shared by the calls of this version).
        version: 1 for the first good load of the file, +1 for every good reload.
        loaded_at: wall-clock time of the load (s since the epoch).
    """

    loaded: LoadedAgent
    compiled: CompiledAgent
    version: int
    loaded_at: float

    @property
    def name(self) -> str:
        """The agent's ``name``."""
        return self.loaded.agent.name


@dataclass
class AgentEntry:
    """One agent file: its last good version (or None) and the error of its last load (or None)."""

    file: Path
    current: AgentVersion | None = None
    error: str | None = None
    versions: int = 0
    mtime: float = field(default=0.0)

    def as_json(self) -> dict[str, Any]:
        """The ``GET /agents`` item: ``name``, ``file``, ``language``, ``valid``, ``error``
        (plus ``version``). ``valid`` is whether the file as it is now on disk is valid; a file
        whose last edit broke it is ``valid: false`` with the error, while its last good version
        (``name``) keeps serving.
        """
        agent = self.current.loaded.agent if self.current is not None else None
        return {
            "name": agent.name if agent else None,
            "file": str(self.file),
            "language": agent.language if agent else None,
            "valid": self.error is None,
            "error": self.error,
            "version": self.current.version if self.current else None,
            "serving": self.current is not None,
        }


def _load(path: Path, env: Mapping[str, str]) -> AgentVersion | str:
    """Load and compile ``path``; the formatted error (file:line:col lines) when it is invalid."""
    from voiceagent.config.diagnostics import ConfigError
    from voiceagent.config.load import load_agent
    from voiceagent.engine.compiler import compile_agent

    try:
        loaded = load_agent(path, env=env)
        compiled = compile_agent(loaded)
    except ConfigError as exc:
        lines = [d.format() for d in exc.diagnostics if d.severity == "error"]
        more = len(lines) - MAX_ERROR_LINES
        return "\n".join(lines[:MAX_ERROR_LINES] + ([f"... and {more} more"] if more > 0 else []))
    except Exception as exc:  # noqa: BLE001 - any failure to load is reported, never raised
        return f"{path}: {type(exc).__name__}: {exc}"
    return AgentVersion(loaded=loaded, compiled=compiled, version=0, loaded_at=time.time())


class Catalogue:
    """Agent files by path and agents by name.

    Args:
        paths: agent files or folders (a folder stands for its ``*.yaml`` / ``*.yml`` files).
        env: the environment ``${VAR}`` references are filled from (``os.environ``).
    """

    def __init__(self, paths: Iterable[str | Path], env: Mapping[str, str]) -> None:
        self.paths = [Path(p).resolve() for p in paths]
        self.env = env
        self.entries: dict[Path, AgentEntry] = {}
        self._by_name: dict[str, Path] = {}
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ files

    def agent_files(self) -> list[Path]:
        """The agent files the paths stand for now, sorted."""
        out: set[Path] = set()
        for p in self.paths:
            if p.is_dir():
                out.update(f.resolve() for f in p.iterdir() if f.suffix in AGENT_SUFFIXES and f.is_file())
            elif p.is_file():
                out.add(p)
        return sorted(out)

    def load_all(self) -> None:
        """(Re)load every agent file (blocking: used at start-up)."""
        for f in self.agent_files():
            self._apply(f, _load(f, self.env))
        self._forget_missing()

    async def reload(self, changed: Iterable[Path] | None = None) -> list[AgentEntry]:
        """Reload the changed agent files (all of them when ``changed`` is None or names a file
        that is not an agent file, such as a python tool or an ``extends`` parent). Loading runs
        in a thread, so calls in progress are not held up. Returns the entries reloaded.
        """
        async with self._lock:
            targets = await asyncio.to_thread(self._targets, changed)
            results = await asyncio.to_thread(lambda: [(f, _load(f, self.env)) for f in targets])
            touched = [self._apply(f, r) for f, r in results]
            await asyncio.to_thread(self._forget_missing)
            return touched

    def _targets(self, changed: Iterable[Path] | None) -> list[Path]:
        files = self.agent_files()
        if changed is None:
            return files
        paths = {Path(c).resolve() for c in changed}
        return sorted(paths) if paths <= set(files) else files

    def _apply(self, path: Path, result: AgentVersion | str) -> AgentEntry:
        entry = self.entries.setdefault(path, AgentEntry(file=path))
        try:
            entry.mtime = path.stat().st_mtime
        except OSError:
            entry.mtime = 0.0
        if isinstance(result, str):
            entry.error = result
            kept = f"; still serving version {entry.current.version}" if entry.current else ""
            log.warning("agent file %s is invalid%s:\n%s", path, kept, result)
            return entry
        owner = self._by_name.get(result.name)
        if owner is not None and owner != path and owner in self.entries:
            entry.error = f"{path}: name '{result.name}' is already served from {owner}; give this agent another name"
            log.warning("%s", entry.error)
            return entry
        if entry.current is not None and entry.current.name != result.name:
            self._by_name.pop(entry.current.name, None)
        entry.versions += 1
        entry.current = AgentVersion(result.loaded, result.compiled, entry.versions, result.loaded_at)
        entry.error = None
        self._by_name[result.name] = path
        log.info("agent %s version %d serving from %s", result.name, entry.versions, path)
        return entry

    def _forget_missing(self) -> None:
        present = set(self.agent_files())
        for path in [p for p in self.entries if p not in present]:
            entry = self.entries.pop(path)
            if entry.current is not None and self._by_name.get(entry.current.name) == path:
                del self._by_name[entry.current.name]
                log.info("agent %s removed (%s is gone)", entry.current.name, path)

    # ------------------------------------------------------------------ lookup

    def get(self, name: str) -> AgentVersion | None:
        """The version of agent ``name`` a new call starts with, or None (unknown or never valid)."""
        path = self._by_name.get(name)
        entry = self.entries.get(path) if path is not None else None
        return entry.current if entry is not None else None

    def names(self) -> list[str]:
        """Names of the agents served, sorted."""
        return sorted(self._by_name)

    def listing(self) -> list[dict[str, Any]]:
        """``GET /agents``: one item per agent file (see :meth:`AgentEntry.as_json`)."""
        return [self.entries[p].as_json() for p in sorted(self.entries)]

    # ------------------------------------------------------------------ watching

    def watch_roots(self) -> list[Path]:
        """What to watch: the folders given and the folders of the files given."""
        roots = {p if p.is_dir() else p.parent for p in self.paths}
        return sorted(r for r in roots if r.exists())

    async def watch(self, stop: asyncio.Event, *, debounce_ms: int = 200) -> None:
        """Reload on file changes (``watchfiles``) until ``stop`` is set."""
        from watchfiles import awatch

        roots = self.watch_roots()
        if not roots:
            return

        def interesting(_change: object, path: str) -> bool:
            return path.endswith((".yaml", ".yml", ".py", ".json", ".txt", ".md", ".j2"))

        async for changes in awatch(*roots, stop_event=stop, watch_filter=interesting, debounce=debounce_ms):
            try:
                await self.reload({Path(p) for _, p in changes})
            except Exception:
                log.exception("reload failed")
