"""Fixtures for the security tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from voiceagent.config.diagnostics import Diagnostic
from voiceagent.config.validate import validate_paths


@pytest.fixture
def check_dir(tmp_path: Path) -> Callable[..., list[Diagnostic]]:
    """check_dir(text, name='agent.yaml') -> diagnostics of that file, written into tmp_path."""

    def _check(text: str, name: str = "agent.yaml") -> list[Diagnostic]:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return validate_paths([path])

    return _check
