"""A broken copy of any example agent fails `voiceagent validate` with FILE:LINE:COL (issue 2)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from voiceagent.cli import main

AGENTS = Path(__file__).resolve().parents[2] / "agents"
EXAMPLES = sorted(p.name for p in AGENTS.glob("*.yaml"))


@pytest.fixture
def agents_copy(tmp_path: Path) -> Path:
    """A copy of agents/ (YAML and tools) to break."""
    shutil.copytree(AGENTS, tmp_path / "agents", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "agents"


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, result.output


def _line_of(path: Path, prefix: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith(prefix):
            return number
    raise AssertionError(f"{prefix!r} not in {path}")


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_copy_is_valid_before_it_is_broken(agents_copy: Path, name: str) -> None:
    code, output = _validate(agents_copy / name)
    assert code == 0, output


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_misspelt_key_points_at_its_line_with_a_suggestion(agents_copy: Path, name: str) -> None:
    path = agents_copy / name
    path.write_text(path.read_text(encoding="utf-8") + "langauge: en\n", encoding="utf-8")
    line = _line_of(path, "langauge:")
    code, output = _validate(path)
    assert code == 1
    assert re.search(rf"^{re.escape(str(path))}:{line}:1: error: .*langauge.*'language'", output, re.M), output


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_bad_value_points_at_the_value(agents_copy: Path, name: str) -> None:
    path = agents_copy / name
    text = path.read_text(encoding="utf-8")
    if re.search(r"^name:", text, re.M):
        text = re.sub(r"^name: .*$", "name: Not A Valid Name", text, count=1, flags=re.M)
    else:  # a variant without its own name: give it a bad one
        text += "name: Not A Valid Name\n"
    path.write_text(text, encoding="utf-8")
    line = _line_of(path, "name:")
    code, output = _validate(path)
    assert code == 1
    assert re.search(rf"^{re.escape(str(path))}:{line}:7: error: ", output, re.M), output


def test_a_variant_whose_parent_is_missing_points_at_extends(agents_copy: Path) -> None:
    (agents_copy / "support.yaml").unlink()
    path = agents_copy / "support.hi.yaml"
    line = _line_of(path, "extends:")
    code, output = _validate(path)
    assert code == 1
    assert re.search(rf"^{re.escape(str(path))}:{line}:\d+: error: .*support\.yaml", output, re.M), output
