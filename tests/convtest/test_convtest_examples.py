"""The example agents' conversation tests pass (as CI and pre-commit run them), and the published
test schema and reference match the models.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import jsonschema
import yaml
from convtest_helpers import ROOT
from voiceagent.convtest.reference import render_reference
from voiceagent.convtest.schema import schema_text, test_json_schema

TEST_FILES = sorted((ROOT / "agents" / "tests").glob("*.test.yaml"))


def test_voiceagent_test_agents_tests_passes_in_a_few_seconds(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "runtime"), "XDG_CACHE_HOME": str(tmp_path)}
    for key in ("SMALLEST_API_KEY", "OPENAI_API_KEY", "VOICEAGENT_JUDGE_LLM"):
        env.pop(key, None)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "voiceagent", "test", "agents/tests", "--junit-xml", str(tmp_path / "j.xml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1].endswith(" passed, 0 failed")
    passed = int(lines[-1].split()[0])
    assert passed >= 25 and passed == sum(line.endswith(" PASSED") for line in lines)
    for name in ("bank.test.yaml", "support.test.yaml", "support.hi.test.yaml"):
        assert any(line.startswith(f"agents/tests/{name}::") for line in lines), name
    assert proc.stderr == ""  # no warnings in the examples
    assert took < 60, f"agents/tests took {took:.1f} s; pre-commit needs it fast"
    assert not (tmp_path / "voiceagent" / "bank.db").exists()  # each scenario used its own database


def test_example_test_files_carry_the_schema_modeline_and_validate():
    names = {p.name for p in TEST_FILES}
    assert names >= {"bank.test.yaml", "support.test.yaml", "support.hi.test.yaml", "support.hinglish.test.yaml"}
    assert {f"support.{lang}.test.yaml" for lang in ("ta", "te", "kn", "mr", "gu")} <= names  # the Indic variants
    validator = jsonschema.Draft202012Validator(test_json_schema())
    for path in TEST_FILES:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/agent-test.schema.json", path
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        assert errors == [], (path, [e.message for e in errors])


def test_schema_rejects_what_the_loader_rejects():
    validator = jsonschema.Draft202012Validator(test_json_schema())
    base = {"agent": "a.yaml", "scenarios": [{"name": "x", "turns": [{"user": "hi"}]}]}
    assert list(validator.iter_errors(base)) == []
    for turn in ({"user": "hi", "say": "hi"}, {"expect": {}}, {"usr": "hi"}, {"user": "hi", "llm": [{}]}):
        bad = {**base, "scenarios": [{"name": "x", "turns": [turn]}]}
        assert list(validator.iter_errors(bad)), turn
    jsonschema.Draft202012Validator.check_schema(test_json_schema())


def test_committed_test_schema_and_reference_are_current():
    assert (ROOT / "schemas" / "agent-test.schema.json").read_text(encoding="utf-8") == schema_text(), (
        "run: python scripts/gen_reference.py"
    )
    assert (ROOT / "docs" / "test-reference.md").read_text(encoding="utf-8") == render_reference(), (
        "run: python scripts/gen_reference.py"
    )


def test_reference_documents_every_key():
    doc = render_reference()
    for name, model in test_json_schema()["$defs"].items():
        for key in model.get("properties", {}):
            assert f"| `{key}` |" in doc, (name, key)


def test_pre_commit_hook_is_published():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = [h for h in hooks if h["id"] == "voiceagent-test"]
    assert hook["entry"] == "voiceagent test" and hook["pass_filenames"] is False


def test_validate_accepts_the_example_test_files_as_the_pre_commit_hook_passes_them():
    from click.testing import CliRunner
    from voiceagent.cli import main

    result = CliRunner().invoke(main, ["validate", *map(str, TEST_FILES)])
    assert result.exit_code == 0, result.output
    assert result.output == ""
