"""Fixtures for the ``voiceagent test`` tests: write test files next to copies of the example agents."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from convtest_helpers import AGENTS


@pytest.fixture
def agents_dir(tmp_path: Path) -> Path:
    """A copy of agents/ (agents, tools) in tmp_path, so tests never touch the repository."""
    target = tmp_path / "agents"
    shutil.copytree(AGENTS, target, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    (target / "tests").mkdir()
    return target


@pytest.fixture
def write_test(agents_dir: Path) -> Callable[..., Path]:
    """write_test(text, name='t.test.yaml') -> path of a test file in agents/tests/ (dedented)."""

    def _write(text: str, name: str = "t.test.yaml") -> Path:
        path = agents_dir / "tests" / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write
