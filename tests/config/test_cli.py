"""``voiceagent validate`` / ``show`` / ``schema``: exit codes, output formats, masking."""

from __future__ import annotations

import json

from click.testing import CliRunner
from voiceagent.cli import main

GOOD = "name: demo\nprompt: You help.\n"
BAD = "name: demo\nprompt: You help.\nllm: {temprature: 1}\nflow: {initial: x, states: {a: {final: true}}}\n"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_validate_ok_exit_0(write):
    result = run("validate", str(write("good.yaml", GOOD)))
    assert result.exit_code == 0 and result.stdout == ""


def test_validate_errors_exit_1_gcc_lines(write):
    bad = write("bad.yaml", BAD)
    result = run("validate", str(write("good.yaml", GOOD)), str(bad))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{bad}:3:7: error: unknown key 'temprature' in llm; did you mean 'temperature'?",
        f"{bad}:4:17: error: initial state 'x' is not defined",
    ]


def test_validate_warnings_only_exit_0(write):
    path = write("w.yaml", GOOD + "variables: {k: 'sk-live_0123456789abcdefABCDEF'}\n")
    result = run("validate", str(path))
    assert result.exit_code == 0 and ": warning: " in result.stdout


def test_invalid_yaml_exit_1(write):
    result = run("validate", str(write("x.yaml", "name: [\n")))
    assert result.exit_code == 1 and "YAML syntax error" in result.stdout


def test_usage_errors_exit_2(tmp_path):
    assert run("validate").exit_code == 2
    assert run("validate", str(tmp_path / "missing.yaml")).exit_code == 2
    assert run("validate", "--format", "xml", str(tmp_path)).exit_code == 2
    assert run("validate", str(tmp_path)).exit_code == 2  # folder without yaml files


def test_folder_argument_expands_to_yaml_files(write, tmp_path):
    write("agents/a.yaml", GOOD)
    write("agents/b.yml", BAD)
    write("agents/readme.txt", "x")
    result = run("validate", str(tmp_path / "agents"))
    assert result.exit_code == 1 and "b.yml:3:7" in result.stdout


def test_json_format(write):
    bad = write("bad.yaml", BAD)
    result = run("validate", "--format", "json", str(bad))
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    assert items[0] == {
        "file": str(bad),
        "line": 3,
        "column": 7,
        "severity": "error",
        "message": "unknown key 'temprature' in llm; did you mean 'temperature'?",
        "path": "llm.temprature",
    }
    assert [set(i) for i in items] == [{"file", "line", "column", "severity", "message", "path"}] * 2
    ok = run("validate", "--format", "json", str(write("good.yaml", GOOD)))
    assert ok.exit_code == 0 and json.loads(ok.stdout) == []


def test_show_merges_and_masks(write):
    write(
        "support.yaml",
        "name: demo\nprompt: |\n  Line one.\n  Line two.\nvariables: {token: 'sk-live_0123456789abcdefABCDEF'}\n"
        "tools:\n  - name: t\n    description: d\n    http:\n      url: https://x.example\n"
        "      headers: {Authorization: 'Bearer abc123', X-Key: '${KEY}', X-Api-Key: plain}\n",
    )
    variant = write("support.hi.yaml", "extends: support.yaml\nlanguage: hi\n")
    result = run("show", "--json", str(variant))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["language"] == "hi" and data["name"] == "demo" and "extends" not in data
    assert data["tools"][0]["http"]["headers"] == {
        "Authorization": "Bearer ****",
        "X-Key": "${KEY}",
        "X-Api-Key": "****",
    }
    assert data["variables"]["token"] == "****"
    assert data["llm"]["temperature"] == 0.3  # defaults filled in
    text = run("show", str(variant)).stdout
    assert "prompt: |\n  Line one.\n  Line two.\n" in text and "abc123" not in text and "sk-live" not in text


def test_show_invalid_exit_1(write):
    result = run("show", str(write("bad.yaml", BAD)))
    assert result.exit_code == 1 and "did you mean 'temperature'" in result.stderr


def test_schema_command_prints_committed_schema():
    from voiceagent.config.schema import schema_text

    out = run("schema").stdout
    assert out == schema_text() and out.endswith("}\n")
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
