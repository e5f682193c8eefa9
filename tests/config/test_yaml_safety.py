"""Safe YAML loading: syntax errors, refused constructs and limits, each at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_helpers import errors, where
from voiceagent.config import yamlnodes
from voiceagent.config.yamlnodes import load_text


def _refusal(text: str) -> str:
    """The message of the YamlError that loading ``text`` must raise."""
    with pytest.raises(yamlnodes.YamlError) as info:
        load_text(text, "f.yaml")
    return info.value.diagnostic.message


def test_syntax_error_points_at_line(check):
    diags = check("name: demo\nprompt: [unclosed\nlanguage: en\n")
    assert len(diags) == 1
    d = diags[0]
    assert d.severity == "error" and d.message.startswith("YAML syntax error")
    assert d.line == 3


def test_bad_indentation(check):
    diags = check("name: demo\nprompt: hi\nvoice:\n  id: a\n speed: 1\n")
    assert diags[0].message.startswith("YAML syntax error") and diags[0].line == 5


def test_python_tag_is_refused_not_constructed(check, tmp_path):
    marker = tmp_path / "pwned"
    diags = check(
        f"""\
        name: demo
        prompt: hi
        variables:
          x: !!python/object/apply:os.system ["touch {marker}"]
        """
    )
    assert not marker.exists()
    assert where(diags) == [
        (4, 6, "YAML tag '!!python/object/apply:os.system' is not allowed; agent files hold plain data only")
    ]


def test_custom_tag_on_scalar_refused(check):
    diags = check("name: demo\nprompt: !secret hello\n")
    assert next((d.line, d.column) for d in errors(diags)) == (2, 9)
    assert "'!secret' is not allowed" in diags[0].message


def test_duplicate_key_is_an_error_at_second_key(check):
    diags = check("name: demo\nprompt: hi\nname: other\n")
    assert where(diags) == [(3, 1, "duplicate key 'name' (first defined at line 1)")]


def test_duplicate_key_nested_and_other_errors_reported_together(check):
    diags = check("name: demo\nprompt: hi\nllm:\n  temperature: 0.1\n  temperature: 0.2\n  temprature: 1\n")
    assert [(d.line, d.column) for d in diags] == [(5, 3), (6, 3)]
    assert "duplicate key 'temperature'" in diags[0].message
    assert "did you mean 'temperature'?" in diags[1].message


def test_billion_laughs_refused_quickly(check):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    text = "name: demo\nprompt: hi\nvariables:\n" + "\n".join("  " + line for line in lines) + "\n"
    diags = check(text)
    assert len(diags) == 1
    assert "too many alias expansions" in diags[0].message or "document is too large" in diags[0].message


def test_recursive_alias_refused(check):
    diags = check("name: demo\nprompt: hi\nvariables: &v\n  self: *v\n")
    assert "recursive YAML alias" in diags[0].message


def test_plain_aliases_still_work(check):
    assert check("name: demo\nprompt: &p hello\ngreeting: *p\n") == []


def test_huge_file_refused(write, monkeypatch):
    from voiceagent.config.validate import validate_paths

    monkeypatch.setattr(yamlnodes, "MAX_FILE_BYTES", 1000)
    path = write("big.yaml", "name: demo\nprompt: " + "x" * 2000 + "\n")
    diags = validate_paths([path])
    assert diags[0].line == 1 and "file is too large" in diags[0].message


def test_node_limit(monkeypatch):
    monkeypatch.setattr(yamlnodes, "MAX_NODES", 50)
    text = "items: [" + ", ".join(str(i) for i in range(100)) + "]\n"
    assert "document is too large" in _refusal(text)


def test_deep_nesting_refused():
    text = "a: " + "[" * 200 + "]" * 200 + "\n"
    assert "too deep" in _refusal(text)


def test_merge_key_refused(check):
    diags = check("base: &b {x: 1}\nname: demo\nprompt: hi\nvariables:\n  <<: *b\n")
    assert (5, 3) in [(d.line, d.column) for d in diags]
    assert any("merge keys" in d.message for d in diags)


def test_empty_file_and_non_mapping(check):
    assert "file is empty" in check("")[0].message
    assert "must be a mapping" in check("- a\n- b\n")[0].message


def test_yaml_1_2_core_scalars():
    text = (
        "dob: 1990-01-02\nn: 3\nb: yes\nt: true\nlang: no\nx: null\ne:\nz: 0042\nh: 0x1F\nf: 1.5e3\n"
        "time: 1:30\nq: '7'\n"
    )
    node, problems = load_text(text, "f.yaml")
    assert problems == []
    assert node.plain() == {
        "dob": "1990-01-02",
        "n": 3,
        "b": "yes",
        "t": True,
        "lang": "no",
        "x": None,
        "e": None,
        "z": 42,
        "h": 31,
        "f": 1500.0,
        "time": "1:30",
        "q": "7",
    }


def test_deep_flow_nesting_does_not_crash():
    """Refused with a located diagnostic, not a RecursionError or MemoryError. Which layer refuses
    (our depth limit, or PyYAML's own limit since 6.0.4) and its words are not the property."""
    text = "a: " + "[" * 300_000 + "]" * 300_000 + "\n"
    with pytest.raises(yamlnodes.YamlError) as info:
        load_text(text, "f.yaml")
    d = info.value.diagnostic
    assert d.severity == "error" and d.file == "f.yaml" and d.line == 1
    assert "nesting" in d.message or "too deep" in d.message


def test_second_document_refused(check):
    diags = check("name: demo\nprompt: hi\n---\nname: other\n")
    assert where(diags) == [(3, 1, "only one YAML document per agent file (remove the second '---')")]


def test_positions_are_one_based():
    node, _ = load_text("a:\n  b: hello\n", "f.yaml")
    b = node.get("a").get("b")
    assert (b.key_line, b.key_col, b.line, b.col) == (2, 3, 2, 6)


def test_not_utf8(write):
    from voiceagent.config.validate import validate_paths

    path = write("x.yaml", "")
    Path(path).write_bytes(b"name: \xff\xfe\n")
    assert "not UTF-8" in validate_paths([path])[0].message
