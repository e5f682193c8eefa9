"""The committed JSON Schema and reference doc match the models; the schema accepts real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from voiceagent.config.reference import render_reference
from voiceagent.config.schema import agent_json_schema, schema_text

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT.parent / "shared" / "spec" / "agent-format.md"  # the spec folder CI lays beside the clone


def test_committed_schema_is_current():
    committed = (ROOT / "schemas" / "agent.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run: python scripts/gen_reference.py"


def test_reference_doc_is_current():
    committed = (ROOT / "docs" / "agent-reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(), "run: python scripts/gen_reference.py"


def test_reference_documents_every_field():
    doc = render_reference()
    schema = agent_json_schema()
    for name, model in schema["$defs"].items():
        if name.endswith("Override") or name == "AgentVariant":
            continue
        for key in model.get("properties", {}):
            assert f"| `{key}` |" in doc, (name, key)
    assert "voiceagent-validate" in doc


def test_gen_reference_check_mode():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_reference.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def _validator():
    return jsonschema.Draft202012Validator(agent_json_schema())


def test_schema_is_valid_draft_2020_12():
    schema = agent_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_field_has_description_and_example():
    for name, model in agent_json_schema()["$defs"].items():
        if name.endswith("Override") or name == "AgentVariant":
            continue
        for key, prop in model.get("properties", {}).items():
            assert prop.get("description"), (name, key)
            assert prop.get("examples"), (name, key)


@pytest.mark.skipif(not SPEC.exists(), reason="shared spec not present")
def test_spec_example_validates_with_integer_level_keys():
    import re

    text = re.search(r"```yaml\n(.*?)```", SPEC.read_text(encoding="utf-8"), re.S).group(1)
    data = yaml.safe_load(text)
    assert 1 in data["guardrails"]["verification"]["levels"]
    assert list(_validator().iter_errors(data)) == []


def test_variant_validates_with_partial_fields():
    v = _validator()
    assert (
        list(v.iter_errors({"extends": "support.yaml", "language": "hi", "voice": {"speed": 1.2}, "greeting": None}))
        == []
    )
    assert list(v.iter_errors({"extends": "support.yaml", "flow": {"states": {"triage": {"instructions": "x"}}}})) == []
    bad = list(v.iter_errors({"extends": "support.yaml", "voice": {"sped": 1}}))
    assert bad
    # lists replace whole, so their items must be complete
    assert list(v.iter_errors({"extends": "s.yaml", "tools": [{"description": "no name"}]}))


def test_plain_agent_needs_required_keys():
    v = _validator()
    assert list(v.iter_errors({"name": "x", "prompt": "p"})) == []
    assert list(v.iter_errors({"name": "x"}))
    assert list(
        v.iter_errors(
            {
                "name": "x",
                "prompt": "p",
                "guardrails": {
                    "verification": {"factors": ["a"], "lookup": "t", "levels": {"one": {"min_factors": 1}}}
                },
            }
        )
    )


def test_check_jsonschema_cli_accepts_yaml_agents(write, tmp_path):
    exe = Path(sys.executable).parent / "check-jsonschema"
    if not exe.exists():
        pytest.skip("check-jsonschema not installed")
    write(
        "support.yaml",
        "name: s\nprompt: p\ntools:\n  - {name: look, python: 'tools.x:f'}\nguardrails:\n"
        "  verification:\n    factors: [name]\n    lookup: look\n    levels:\n      1: {min_factors: 1}\n",
    )
    write("support.hi.yaml", "extends: support.yaml\nlanguage: hi\nvoice: {id: x}\n")
    files = [str(tmp_path / "support.yaml"), str(tmp_path / "support.hi.yaml")]
    result = subprocess.run(
        [str(exe), "--schemafile", str(ROOT / "schemas" / "agent.schema.json"), *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    write("bad.hi.yaml", "extends: support.yaml\nllm: {temperature: 9}\n")
    result = subprocess.run(
        [str(exe), "--schemafile", str(ROOT / "schemas" / "agent.schema.json"), str(tmp_path / "bad.hi.yaml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1


def test_precommit_hook_definition():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    hook = next(h for h in hooks if h["id"] == "voiceagent-validate")
    assert hook["entry"] == "voiceagent validate" and hook["language"] == "python"
    import re

    assert re.search(hook["files"], "agents/support.hi.yaml") and re.search(hook["files"], "agents/bank.yml")
    assert not re.search(hook["files"], "docs/x.yaml")


def test_typed_fields_accept_env_references():
    v = _validator()
    ok = {"name": "x", "prompt": "p", "llm": {"temperature": "${T:-0.2}"}, "tts": {"sample_rate": "${RATE}"}}
    assert list(v.iter_errors(ok)) == []
    assert list(v.iter_errors({"name": "x", "prompt": "p", "llm": {"temperature": "hot"}}))
    assert list(v.iter_errors({"extends": "a.yaml", "behaviour": {"barge_in": "${BARGE}"}})) == []


def test_schema_requires_exactly_one_tool_kind_and_trigger():
    v = _validator()
    base = {"name": "x", "prompt": "p"}
    assert list(v.iter_errors({**base, "tools": [{"name": "t", "builtin": "end_call"}]})) == []
    assert list(v.iter_errors({**base, "tools": [{"name": "t"}]}))
    assert list(v.iter_errors({**base, "tools": [{"name": "t", "builtin": "end_call", "python": "m:f"}]}))
    flow = {"initial": "a", "states": {"a": {"transitions": [{"to": "a", "description": "d", "when": "x"}]}}}
    assert list(v.iter_errors({**base, "flow": flow}))
    flow["states"]["a"]["transitions"] = [{"to": "a", "when": "x"}]
    assert list(v.iter_errors({**base, "flow": flow})) == []
