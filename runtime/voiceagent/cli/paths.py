"""Checks on the files ``voiceagent run`` reads and writes, before the call starts.

An output (``--output``, ``--recording``, ``--replies``, ``--events``) must never be one of the
files the call reads (the agent file, ``--input``): the same path, a relative spelling of it, a
symlink to it or a hard link all count. Two outputs must not be the same file either. Each
output must be creatable: its folder exists (or can be made) and it can be opened for writing.
Problems are one line each, naming the option and the fix.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["PathProblem", "check_outputs", "same_file"]


class PathProblem(Exception):
    """An output path that cannot be used; ``str()`` is the line to print."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage
        """True for a misuse of the options (exit 2), False for an unwritable place (exit 1)."""


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether ``a`` and ``b`` name the same file: ``os.path.samefile`` when both exist (symlinks
    and hard links), else the fully resolved paths are compared.
    """
    pa, pb = Path(a), Path(b)
    with contextlib.suppress(OSError):
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    try:
        return pa.resolve() == pb.resolve()
    except (OSError, RuntimeError):  # a symlink loop: not the same as anything usable
        return False


def check_outputs(inputs: Mapping[str, str | None], outputs: Mapping[str, str | None]) -> None:
    """Refuse outputs that would overwrite an input or each other, or cannot be written.

    Args:
        inputs: option name (``FILE``, ``--input``) -> path read by the call (None: not given).
        outputs: option name (``--output``, ``--events``...) -> path written (None: not given).

    Raises:
        PathProblem: the first problem found, as one line.
    """
    given_in = {k: v for k, v in inputs.items() if v}
    given_out = {k: v for k, v in outputs.items() if v}
    for out_opt, out in given_out.items():
        for in_opt, src in given_in.items():
            if same_file(out, src):
                what = "the agent file" if in_opt == "FILE" else f"{in_opt} {src}"
                raise PathProblem(
                    f"{out_opt} {out} is {what}: it would be overwritten; choose another path for {out_opt}",
                    usage=True,
                )
    names = list(given_out)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if same_file(given_out[a], given_out[b]):
                raise PathProblem(f"{a} and {b} are the same file ({given_out[a]}); give each its own path", usage=True)
    for opt, out in given_out.items():
        _check_writable(opt, Path(out))


def _check_writable(opt: str, path: Path) -> None:
    if path.is_dir():
        raise PathProblem(f"{opt} {path}: is a folder; give a file path")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PathProblem(f"{opt} {path}: cannot create the folder {parent}: {exc.strerror or exc}") from None
    existed = path.exists()
    try:
        with path.open("ab"):
            pass
    except OSError as exc:
        raise PathProblem(f"{opt} {path}: cannot write there: {exc.strerror or exc}") from None
    if not existed:
        with contextlib.suppress(OSError):
            path.unlink()  # only probed: the call writes it
