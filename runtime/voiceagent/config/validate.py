"""``validate_paths``: the check behind ``voiceagent validate`` and the pre-commit hook."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from voiceagent.config.diagnostics import Diagnostic
from voiceagent.config.load import check_file


def validate_paths(
    paths: Iterable[str | Path], *, check_tools: bool = True, import_tools: bool | None = None
) -> list[Diagnostic]:
    """Every problem (errors and warnings) of every file in ``paths``; no environment needed
    (``${VAR}`` references are left alone). A problem in a parent reached through ``extends``
    by several files is reported once. An empty list means every file is valid and clean.

    Nothing of the agents is imported or executed: python tools are checked from their source
    (``check_tools=False`` skips that check; ``import_tools`` is its old name).
    """
    if import_tools is not None:
        check_tools = import_tools
    from voiceagent.config.pytools import clear_cache

    clear_cache()
    from voiceagent.convtest.load import check_test_file, is_test_file

    out: list[Diagnostic] = []
    for path in paths:
        if is_test_file(path):  # conversation tests (voiceagent test) have their own schema
            out.extend(check_test_file(path, import_tools=False)[1])
            continue
        out.extend(check_file(Path(path) if not isinstance(path, Path) else path, check_tools=check_tools)[2])
    return list(dict.fromkeys(out))
