"""Fixtures for the agent-config tests: write small YAML agents into tmp_path.

Plain helpers (``errors``, ``where``) live in ``config_helpers.py``: importing from a module named
``conftest`` is ambiguous once another test folder has one too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from voiceagent.config.diagnostics import Diagnostic
from voiceagent.config.validate import validate_paths

MINIMAL = """\
name: demo
prompt: You help people.
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(name, text) -> path; text is dedented."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def check(write: Callable[..., Path]) -> Callable[..., list[Diagnostic]]:
    """check(text, name='agent.yaml') -> diagnostics of that file."""

    def _check(text: str, name: str = "agent.yaml") -> list[Diagnostic]:
        return validate_paths([write(name, text)])

    return _check
