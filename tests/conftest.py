"""Markers for tests that need an optional extra or a Debian program: they skip, naming the fix.

- ``@pytest.mark.needs_local("piper", ...)``: modules of the ``[local]`` extra (no argument: all).
- ``@pytest.mark.needs_device``: the ``[device]`` extra (sounddevice, PortAudio).
- ``@pytest.mark.needs_program("sox", ...)``: programs from Debian packages on ``PATH``.
- ``@pytest.mark.needs_espeak``: shorthand for ``needs_program("espeak-ng")``.

The tables and messages live in ``tests/optional_deps.py``.
"""

from __future__ import annotations

import pytest
from optional_deps import missing_device, missing_local, missing_program


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers (so ``pytest --markers`` lists them)."""
    for line in (
        "needs_local(*modules): skip unless these [local] extra modules import (none: the whole extra)",
        "needs_device: skip unless the [device] extra (sounddevice) is installed",
        "needs_program(*names): skip unless these Debian programs are on PATH",
        "needs_espeak: skip unless espeak-ng is on PATH",
    ):
        config.addinivalue_line("markers", line)


def _skip_reason(item: pytest.Item) -> str | None:
    """The first reason one of ``item``'s ``needs_*`` markers gives to skip it, else ``None``."""
    reasons = [missing_local(*m.args) for m in item.iter_markers("needs_local")]
    if item.get_closest_marker("needs_device"):
        reasons.append(missing_device())
    reasons += [missing_program(*m.args) for m in item.iter_markers("needs_program")]
    if item.get_closest_marker("needs_espeak"):
        reasons.append(missing_program("espeak-ng"))
    return next((r for r in reasons if r), None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test whose needs are not met as skipped (reported at the test, with the fix)."""
    for item in items:
        reason = _skip_reason(item)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
