"""``extends``: the top-level ``tools`` list merges by ``name`` (spec "Locale variants")."""

from __future__ import annotations

from pathlib import Path

import yaml
from voiceagent.config.load import load_agent
from voiceagent.config.validate import validate_paths

AGENTS = Path(__file__).resolve().parents[2] / "agents"

PARENT = """\
name: support
prompt: Parent prompt.
tools:
  - name: lookup
    description: Look up an account.
    parameters:
      account_id: {type: string, pattern: "^[0-9]{4,12}$"}
    filler: Let me check.
    python: tools.x:lookup
  - {name: hang_up, description: End the call., builtin: end_call}
  - {name: transfer, description: To a person., builtin: transfer, to: "+15550100"}
"""


TOOL_MODULE = "def lookup(account_id: str) -> dict:\n    return {'found': False}\n"


def _parent(write, text: str = PARENT) -> None:
    write("tools/x.py", TOOL_MODULE)
    write("support.yaml", text)


def _variant(write, tools: str) -> Path:
    _parent(write)
    return write("v.yaml", "extends: support.yaml\ntools:\n" + tools)


def test_override_changes_only_the_fields_it_sets_and_keeps_the_order(write):
    path = _variant(write, '  - {name: lookup, filler: "एक पल।"}\n')
    tools = load_agent(path).agent.tools
    assert [t.name for t in tools] == ["lookup", "hang_up", "transfer"]
    lookup = tools[0]
    assert lookup.filler == "एक पल।"
    assert lookup.description == "Look up an account." and lookup.python == "tools.x:lookup"
    assert lookup.parameters["account_id"].pattern == "^[0-9]{4,12}$"


def test_nested_mappings_of_a_tool_merge_key_by_key(write):
    path = _variant(write, "  - name: lookup\n    parameters:\n      account_id: {description: digits only}\n")
    param = load_agent(path).agent.tools[0].parameters["account_id"]
    assert param.description == "digits only" and param.pattern == "^[0-9]{4,12}$"


def test_new_names_are_appended_after_the_inherited_tools(write):
    path = _variant(write, "  - {name: extra, description: New., builtin: end_call}\n  - {name: lookup, filler: x}\n")
    assert [t.name for t in load_agent(path).agent.tools] == ["lookup", "hang_up", "transfer", "extra"]


def test_remove_true_drops_an_inherited_tool(write):
    path = _variant(write, "  - {name: transfer, remove: true}\n")
    assert [t.name for t in load_agent(path).agent.tools] == ["lookup", "hang_up"]


def test_remove_false_keeps_the_tool_and_is_not_a_tool_field(write):
    path = _variant(write, "  - {name: transfer, remove: false, description: Still here.}\n")
    tools = load_agent(path).agent.tools
    assert tools[2].name == "transfer" and tools[2].description == "Still here."


def test_removing_a_name_that_is_not_inherited_is_an_error_at_its_line(write):
    path = _variant(write, "  - {name: lookup, filler: x}\n  - name: transfr\n    remove: true\n")
    errors = [d for d in validate_paths([path]) if d.severity == "error"]
    assert len(errors) == 1
    d = errors[0]
    assert d.file.endswith("v.yaml") and (d.line, d.column) == (5, 5)
    assert "no inherited tool is named 'transfr'" in d.message and "transfer" in d.message


def test_an_invalid_override_is_reported_at_the_variants_line(write):
    path = _variant(write, "  - {name: lookup, timeout_ms: -5}\n")
    errors = [d for d in validate_paths([path]) if d.severity == "error"]
    assert errors, "a negative timeout must be refused"
    assert all(d.file.endswith("v.yaml") and d.line == 3 for d in errors), errors


def test_an_error_in_an_inherited_field_points_at_the_parent(write):
    _parent(write, PARENT.replace("    filler: Let me check.\n", "    filler: Let me check.\n    timeout_ms: -5\n"))
    path = write("v.yaml", "extends: support.yaml\ntools:\n  - {name: lookup, filler: x}\n")
    errors = [d for d in validate_paths([path]) if d.severity == "error"]
    assert errors and all(d.file.endswith("support.yaml") and d.line == 9 for d in errors), errors


def test_tools_lists_elsewhere_still_replace(write):
    """Only the agent's own ``tools`` merges by name; a state's ``tools`` list replaces."""
    _parent(
        write,
        PARENT + "flow:\n  initial: s\n  states:\n    s: {instructions: go, tools: [lookup, hang_up]}\n",
    )
    path = write("v.yaml", "extends: support.yaml\nflow:\n  states:\n    s: {tools: [hang_up]}\n")
    assert load_agent(path).agent.flow.states["s"].tools == ["hang_up"]


def test_hindi_example_variant_holds_no_copied_tool_fields():
    """agents/support.hi.yaml sets only what is Hindi: no tool field repeats support.yaml's value."""
    base = {t["name"]: t for t in yaml.safe_load((AGENTS / "support.yaml").read_text(encoding="utf-8"))["tools"]}
    variant = yaml.safe_load((AGENTS / "support.hi.yaml").read_text(encoding="utf-8"))["tools"]

    def copied(mine: dict, theirs: dict, path: str) -> list[str]:
        out = []
        for key, value in mine.items():
            if key == "name":
                continue
            if isinstance(value, dict) and isinstance(theirs.get(key), dict):
                out += copied(value, theirs[key], f"{path}.{key}")
            elif theirs.get(key) == value:
                out.append(f"{path}.{key}")
        return out

    for tool in variant:
        assert tool["name"] in base, f"{tool['name']} is not a support.yaml tool"
        assert copied(tool, base[tool["name"]], tool["name"]) == []
