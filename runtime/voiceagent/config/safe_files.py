"""Reading the files an agent names, safely: regular files only, bounded, inside one tree.

``validate`` and ``run`` read agent files, their ``extends`` parents and (statically) python tool
modules. Any of them may come from a stranger's pull request, so:

- only **regular files** are read: a symlink to ``/dev/zero``, a FIFO, a socket or a device is
  refused before it is opened for reading (the file is opened with ``O_NONBLOCK`` and checked
  with ``fstat``, so a FIFO swapped in after the check cannot block either);
- at most ``limit`` bytes are read, whatever the file claims or grows to;
- parents and tool modules must lie inside the **source tree** of the agent: the nearest folder
  at or above the agent file's folder that holds ``.git`` (the repository root), else the agent
  file's own folder. Paths are compared after resolving symlinks.
"""

from __future__ import annotations

import os
import stat
from functools import lru_cache
from pathlib import Path

__all__ = ["UnsafeFile", "inside", "read_regular", "source_root"]


class UnsafeFile(Exception):
    """A file that is not read: not a regular file, too large, or unreadable.

    The message is one sentence for the user (no file content is ever quoted).
    """


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``limit`` bytes.

    Args:
        path: the file.
        limit: the largest size accepted, in bytes.

    Raises:
        UnsafeFile: missing or unreadable, not a regular file (FIFO, device, socket, folder), or
            larger than ``limit`` bytes.
    """
    try:
        before = os.stat(path)
    except OSError as exc:
        raise UnsafeFile(f"cannot read file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(before.st_mode):
        raise UnsafeFile(f"refused to read it: it is {_kind(before.st_mode)}, not a regular file")
    if before.st_size > limit:
        raise UnsafeFile(f"file is too large ({before.st_size} bytes; the limit is {limit})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise UnsafeFile(f"cannot read file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):  # swapped after the first check
            raise UnsafeFile(f"refused to read it: it is {_kind(mode)}, not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"file is too large (more than {limit} bytes)")
    return data


@lru_cache(maxsize=256)
def _root_of(folder: Path) -> Path:
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def source_root(agent_file: Path) -> Path:
    """The tree an agent may read files from: the nearest folder at or above ``agent_file``'s
    folder that holds ``.git`` (a repository root; a worktree's ``.git`` file counts), else the
    agent file's folder itself. Returned resolved (symlinks followed).
    """
    return _root_of(Path(agent_file).resolve().parent)


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (resolved, symlinks followed) is ``root`` or below it."""
    try:
        return Path(path).resolve().is_relative_to(root)
    except (OSError, ValueError, RuntimeError):
        return False
