"""requirements.lock pins everything pyproject.toml declares (so a forgotten `make lock` fails CI),
and the pre-commit hooks run the locked tool versions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
assert _spec is not None and _spec.loader is not None
check_lock = importlib.util.module_from_spec(_spec)
sys.modules["check_lock"] = check_lock
_spec.loader.exec_module(check_lock)

PYPROJECT = """\
[project]
name = "x"
dependencies = ["PyYAML>=6.0", "Jinja2>=3.1,<4"]

[project.optional-dependencies]
local = ["llama-cpp-python[server]==0.3.36"]
dev = ["pytest>=8", "pywin32>=300; sys_platform == 'win32'"]
"""
HEADER = "#    uv pip compile pyproject.toml --extra local --extra dev -o requirements.lock\n"
LOCK = HEADER + "jinja2==3.1.6\n    # via x\nllama-cpp-python==0.3.36\npytest==8.4.0\npyyaml==6.0.3\n"


def test_the_committed_lock_pins_every_declared_dependency():
    found = check_lock.problems(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"), (ROOT / "requirements.lock").read_text(encoding="utf-8")
    )
    assert found == []


def test_a_lock_in_sync_has_no_problems():
    assert check_lock.problems(PYPROJECT, LOCK) == []  # names compare canonically (PyYAML == pyyaml)


def test_a_dependency_missing_from_the_lock_is_named_with_the_fix():
    found = check_lock.problems(PYPROJECT.replace('"pytest>=8"', '"pytest>=8", "ruff>=0.15"'), LOCK)
    assert found == ["'ruff>=0.15' (extra [dev]) is not pinned in requirements.lock: run `make lock`"]


def test_a_pin_outside_the_declared_range_is_named():
    found = check_lock.problems(PYPROJECT.replace("Jinja2>=3.1,<4", "Jinja2>=3.2"), LOCK)
    assert found == ["requirements.lock pins Jinja2==3.1.6, outside 'Jinja2>=3.2' (dependencies): run `make lock`"]


def test_an_extra_the_lock_was_not_compiled_with_is_named():
    pyproject = PYPROJECT + 'device = ["pytest>=8"]\n'
    found = check_lock.problems(pyproject, LOCK)
    assert len(found) == 1 and "--extra device" in found[0] and "LOCK_ARGS" in found[0]


def test_bad_input_is_reported_not_raised(tmp_path, capsys):
    assert check_lock.problems(PYPROJECT.replace('"pytest>=8"', '"pytest >>> 8"'), LOCK)[0].startswith(
        "pyproject.toml extra [dev]: 'pytest >>> 8' is not a valid requirement"
    )
    (tmp_path / "pyproject.toml").write_text("[project\n", encoding="utf-8")
    (tmp_path / "requirements.lock").write_text(LOCK, encoding="utf-8")
    assert check_lock.main([str(tmp_path / "pyproject.toml"), str(tmp_path / "requirements.lock")]) == 1
    assert "check_lock:" in capsys.readouterr().err
    assert check_lock.main([str(tmp_path / "missing.toml")]) == 1


def test_pre_commit_runs_the_locked_ruff():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    ruff = next(r for r in config["repos"] if r["repo"].endswith("/ruff-pre-commit"))
    locked = check_lock.locked_versions((ROOT / "requirements.lock").read_text(encoding="utf-8"))["ruff"]
    assert ruff["rev"] == f"v{locked}", f"set rev: v{locked} for ruff-pre-commit in .pre-commit-config.yaml"
    hooks = {h["id"] for r in config["repos"] for h in r["hooks"]}
    assert {"ruff", "ruff-format", "mypy", "voiceagent-validate", "requirements-lock"} <= hooks
