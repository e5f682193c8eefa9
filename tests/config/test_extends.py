"""``extends``: merge rules, chains, missing parents, cycles, positions after merging."""

from __future__ import annotations

from voiceagent.config.load import load_agent
from voiceagent.config.validate import validate_paths

PARENT = """\
name: support
prompt: Parent prompt.
voice: {id: meher, speed: 1.2}
greeting: Hello
variables: {company: Acme, city: Pune}
tools:
  - {name: a, description: d, builtin: end_call}
  - {name: b, description: d, builtin: end_call}
flow:
  initial: start
  states:
    start:
      instructions: Start here.
      tools: [a, b]
      transitions:
        - {to: done, description: finished}
    done: {final: true}
"""


def test_mappings_merge_lists_and_scalars_replace_tools_merge_by_name(write):
    write("support.yaml", PARENT)
    child = write(
        "support.hi.yaml",
        """\
        extends: support.yaml
        language: hi
        voice: {id: arvind}
        variables: {city: Delhi}
        tools:
          - {name: a, description: other, builtin: end_call}
        flow:
          states:
            start:
              tools: [a]
        """,
    )
    agent = load_agent(child).agent
    assert agent.name == "support" and agent.language == "hi" and agent.prompt == "Parent prompt."
    assert (agent.voice.id, agent.voice.speed) == ("arvind", 1.2)
    assert agent.variables == {"company": "Acme", "city": "Delhi"}
    assert [(t.name, t.description) for t in agent.tools] == [("a", "other"), ("b", "d")]
    start = agent.flow.states["start"]
    assert start.tools == ["a"] and start.instructions == "Start here." and start.transitions[0].to == "done"
    assert agent.extends is None


def test_explicit_null_removes_inherited_key(write):
    write("support.yaml", PARENT)
    child = write("v.yaml", "extends: support.yaml\ngreeting: null\nvariables: {city: null}\nvoice: {speed: null}\n")
    agent = load_agent(child).agent
    assert agent.greeting is None
    assert agent.variables == {"company": "Acme"}
    assert agent.voice.speed == 1.0  # back to the default


def test_chain_of_three(write):
    write(".git/HEAD", "ref: refs/heads/main\n")  # a repository: parents may be anywhere inside it
    write("support.yaml", PARENT)
    write("mid.yaml", "extends: support.yaml\ngreeting: Mid\nlanguage: hi\n")
    leaf = write("sub/leaf.yaml", "extends: ../mid.yaml\ngreeting: Leaf\n")
    agent = load_agent(leaf).agent
    assert (agent.greeting, agent.language, agent.prompt) == ("Leaf", "hi", "Parent prompt.")


def test_missing_parent_reported_at_extends(write):
    child = write("v.yaml", "language: hi\nextends: nothere.yaml\n")
    diags = validate_paths([child])
    assert [(d.line, d.column, d.path) for d in diags] == [(2, 10, "extends")]
    assert "parent file 'nothere.yaml' not found" in diags[0].message


def test_cycle_reported_at_extends(write):
    a = write("a.yaml", "extends: b.yaml\nname: a\nprompt: p\n")
    write("b.yaml", "name: b\nextends: a.yaml\n")
    diags = validate_paths([a])
    # in the file being validated (at its extends line) and in the other file
    assert [(d.file.rsplit("/", 1)[-1], d.line, d.column) for d in diags] == [("a.yaml", 1, 10), ("b.yaml", 2, 10)]
    assert {d.message for d in diags} == {"extends cycle: a.yaml -> b.yaml -> a.yaml"}


def test_self_cycle(write):
    a = write("a.yaml", "extends: a.yaml\n")
    assert validate_paths([a])[0].message == "extends cycle: a.yaml -> a.yaml"


def test_errors_point_at_contributing_file(write):
    write("support.yaml", PARENT.replace("    done: {final: true}\n", "    done: {final: true, tools: [zz]}\n"))
    child = write("v.yaml", "extends: support.yaml\nvoice: {speed: 5}\nflow: {initial: nowhere}\n")
    diags = validate_paths([str(child)])
    got = [(d.file.rsplit("/", 1)[-1], d.line, d.column) for d in diags if d.severity == "error"]
    assert got == [("support.yaml", 17, 33), ("v.yaml", 2, 16), ("v.yaml", 3, 17)]


def test_invalid_parent_yaml(write):
    write("support.yaml", "name: [oops\n")
    child = write("v.yaml", "extends: support.yaml\n")
    diags = validate_paths([child])
    assert diags[0].file.endswith("support.yaml") and diags[0].message.startswith("YAML syntax error")


def test_parent_display_name_relative_to_child(write, tmp_path, monkeypatch):
    write("agents/support.yaml", "name: s\nprompt: p\nvoice: {id: x, speed: 9}\n")
    write("agents/support.hi.yaml", "extends: support.yaml\n")
    monkeypatch.chdir(tmp_path)
    diags = validate_paths(["agents/support.hi.yaml"])
    assert [d.file for d in diags] == ["agents/support.yaml"]


def test_same_parent_problem_reported_once(write):
    write("support.yaml", "name: s\nprompt: p\nvoice: {id: x, speed: 9}\n")
    a = write("a.yaml", "extends: support.yaml\n")
    b = write("b.yaml", "extends: support.yaml\n")
    assert len(validate_paths([a, b])) == 1
