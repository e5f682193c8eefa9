"""Issue 10 class 3: ``validate`` cannot be made to hang, eat memory or crash (``--no-import``
or not). The outcomes are asserted here; the time per file (< 1 s) is measured by
``benchmarks/validate_speed.py --hostile-only`` (its corpus: ``benchmarks/validate_hostile.py``).

Cases that hung or exhausted memory before run the CLI in a subprocess with a timeout, so a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from voiceagent import templating
from voiceagent.config.validate import validate_paths

HEAD = "name: demo\nprompt: p\n"


@pytest.fixture
def check_dir(tmp_path: Path):
    """check_dir(text) -> diagnostics of that text written as tmp_path/agent.yaml."""

    def _check(text: str):
        path = tmp_path / "agent.yaml"
        path.write_text(text, encoding="utf-8")
        return validate_paths([path])

    return _check


def cli(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voiceagent", "validate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def flow(transition: str) -> str:
    return HEAD + f"flow:\n  initial: a\n  states:\n    a:\n      transitions:\n        - {transition}\n"


BOMBS = {
    "pow": "9**(9**10)",
    "repeat": "'A' * 200000000",
    "filter": "'A' | center(200000000)",
    "replace_chain": "'a'" + "|replace('a','aaaaaaaaaa')" * 12,
    "format_width": "'%0999999999d' % 1",
}


@pytest.mark.parametrize("where", ["prompt", "when"])
def test_constant_folding_bombs_are_not_evaluated(tmp_path, where):
    files = []
    for name, expr in BOMBS.items():
        text = HEAD.replace("prompt: p", f'prompt: "{{{{ {expr} }}}}"') if where == "prompt" else None
        if where == "when":
            text = flow(f'{{to: a, when: "{expr}"}}')
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        files.append(str(path))
    proc = cli("--format", "json", *files, cwd=tmp_path, timeout=60)  # hung / took 800 MB before
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [d for d in json.loads(proc.stdout) if d["severity"] == "error"] == []


@pytest.mark.parametrize("expr", sorted(BOMBS))
def test_the_same_bombs_are_refused_when_rendered(expr):
    with pytest.raises(templating.TemplateError, match=r"too large|too long|not allowed"):
        templating.render("{{ " + BOMBS[expr] + " }}", {})
    with pytest.raises(templating.TemplateError):
        templating.evaluate(BOMBS[expr], {})


def test_bounded_operators_still_compute_ordinary_values():
    assert templating.render("{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ '%05.1f' % 3.14159 }} {{ 'x'|center(5) }}", {}) == (
        "1024 ababab 003.1   x  "
    )
    assert templating.evaluate("session.turns * 2 > 3", {"session": {"turns": 2}}) is True


def test_deep_nesting_is_an_error_at_the_offending_line_and_json_keeps_every_file(tmp_path):
    parens = tmp_path / "parens.yaml"
    parens.write_text("name: demo\nprompt: |\n  Line one.\n  {{ " + "(" * 300 + "1" + ")" * 300 + " }}\n")
    nots = tmp_path / "nots.yaml"
    nots.write_text(flow('{to: a, when: "' + "not " * 1000 + 'x"}'))
    ifs = tmp_path / "ifs.yaml"
    ifs.write_text(HEAD.replace("prompt: p", 'prompt: "' + "{% if x %}" * 2000 + "{% endif %}" * 2000 + '"'))
    other = tmp_path / "other.yaml"
    other.write_text("name: demo\nprompt: p\nvoice: {id: x, speed: 9}\n")
    proc = cli("--format", "json", str(parens), str(nots), str(ifs), str(other), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    diags = json.loads(proc.stdout)
    got = {(Path(d["file"]).name, d["line"], d["path"]) for d in diags}
    assert got == {
        ("parens.yaml", 4, "prompt"),
        ("nots.yaml", 8, "flow.states.a.transitions[0].when"),
        ("ifs.yaml", 2, "prompt"),
        ("other.yaml", 3, "voice.speed"),
    }
    by_file = {Path(d["file"]).name: d["message"] for d in diags}
    assert "nested too deeply" in by_file["parens.yaml"] and "nested too deeply" in by_file["nots.yaml"]


def test_long_operator_chains_are_refused_not_crashed(check_dir):
    diags = check_dir(HEAD.replace("prompt: p", 'prompt: "{{ x' + "|upper" * 5000 + ' }}"'))
    assert [(d.line, d.severity) for d in diags] == [(2, "error")]
    assert "more than 100 operators" in diags[0].message


def test_a_recursion_error_anywhere_is_one_diagnostic_and_other_files_are_still_checked(tmp_path, monkeypatch):
    from voiceagent.config import load

    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD)
    good = tmp_path / "good.yaml"
    good.write_text("name: demo\nprompt: p\nvoice: {id: x, speed: 9}\n")
    real = load._check

    def boom(path, *args):
        if path.name == "bad.yaml":
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, *args)

    monkeypatch.setattr(load, "_check", boom)
    diags = validate_paths([bad, good])
    assert [(Path(d.file).name, d.line, d.severity) for d in diags] == [
        ("bad.yaml", 1, "error"),
        ("good.yaml", 3, "error"),
    ]
    assert "nested too deeply" in diags[0].message


def test_did_you_mean_over_thousands_of_states_is_bounded(tmp_path):
    n = 3000
    states = "".join(
        f"    state_{i:05d}:\n      transitions:\n        - {{to: stat_{i:05d}, description: next}}\n" for i in range(n)
    )
    path = tmp_path / "flow.yaml"
    path.write_text(HEAD + "flow:\n  initial: state_00000\n  states:\n" + states)
    diags = [d for d in validate_paths([path]) if "undefined state" in d.message]
    assert len(diags) == n  # every typo is still reported, at its line
    suggested = [d for d in diags if "did you mean" in d.message]
    assert diags[0].message.endswith("did you mean 'state_00000'?")
    assert 0 < len(suggested) < 20  # the search stops when its budget is spent (quadratic before)


def test_template_budget_gives_one_error_and_stops(tmp_path):
    from voiceagent.config.checks import MAX_TEMPLATES

    states = "".join(f'    s{i}:\n      instructions: "Hi {{{{ company }}}} {i}"\n' for i in range(MAX_TEMPLATES + 50))
    path = tmp_path / "many.yaml"
    path.write_text(HEAD + "variables: {company: Acme}\nflow:\n  initial: s0\n  states:\n" + states)
    errors = [d for d in validate_paths([path]) if d.severity == "error"]
    assert len(errors) == 1 and "more template text than validate checks" in errors[0].message
    assert errors[0].path == f"flow.states.s{MAX_TEMPLATES}.instructions"


@pytest.mark.parametrize("kind", ["dev_zero", "fifo"])
def test_non_regular_agent_files_are_refused_unread(tmp_path, kind):
    path = tmp_path / "agent.yaml"
    if kind == "dev_zero":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
    proc = cli("--format", "json", str(path), cwd=tmp_path, timeout=30)  # read forever / hung before
    diags = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(d["line"], d["severity"]) for d in diags] == [(1, "error")]
    assert "not a regular file" in diags[0]["message"]


def test_extends_outside_the_tree_is_refused_and_never_read_or_quoted(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "agents").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("name: s\nprompt: p\nvoice: {speed: hunter2-secret}\n")
    os.mkfifo(outside / "pipe.yaml")  # opening it would hang: proves it is never opened
    agents = repo / "agents"
    for name, target in {
        "rel.yaml": "../../outside/secret.yaml",
        "abs.yaml": "/etc/passwd",
        "pipe.yaml": str(outside / "pipe.yaml"),
    }.items():
        (agents / name).write_text(f"extends: {target}\nname: x\n")
    proc = cli(
        "--format", "json", str(agents / "rel.yaml"), str(agents / "abs.yaml"), str(agents / "pipe.yaml"), cwd=repo
    )
    diags = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [(Path(d["file"]).name, d["line"], d["path"]) for d in diags] == [
        ("rel.yaml", 1, "extends"),
        ("abs.yaml", 1, "extends"),
        ("pipe.yaml", 1, "extends"),
    ]
    assert all("outside the agent's source tree" in d["message"] for d in diags)
    assert "hunter2" not in proc.stdout and "root:" not in proc.stdout


def test_extends_inside_the_repository_and_non_regular_parents(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "base.yaml").write_text("name: base\nprompt: p\n")
    (repo / "agents").mkdir()
    ok = repo / "agents" / "ok.yaml"
    ok.write_text("extends: ../base.yaml\n")
    assert validate_paths([ok]) == []  # anywhere under the repository root
    os.mkfifo(repo / "fifo.yaml")
    bad = repo / "agents" / "fifo.yaml"
    bad.write_text("extends: ../fifo.yaml\n")
    diags = validate_paths([bad])
    assert [(d.line, d.path) for d in diags] == [(1, "extends")]
    assert "is not a regular file" in diags[0].message


def test_without_a_repository_the_tree_is_the_agents_folder(tmp_path):
    (tmp_path / "base.yaml").write_text("name: base\nprompt: p\n")
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"
    child.write_text("extends: ../base.yaml\n")
    if any((p / ".git").exists() for p in (tmp_path, *tmp_path.parents)):
        pytest.skip("the temporary folder is inside a git repository")
    diags = validate_paths([child])
    assert [(d.line, d.path) for d in diags] == [(1, "extends")]
    assert "under the agent file's folder" in diags[0].message


def test_a_dense_prompt_hits_the_tag_budget_with_one_error(check_dir):
    from voiceagent.config.checks import MAX_TEMPLATE_TAGS

    diags = check_dir('name: demo\nprompt: "' + "{{ x }}" * (MAX_TEMPLATE_TAGS + 1) + '"\n')
    assert [(d.line, d.severity, d.path) for d in diags] == [(2, "error", "prompt")]
    assert "tags" in diags[0].message


def test_nesting_limit_is_exact_and_short_guards_need_no_scan():
    limit = templating.MAX_NESTING
    templating.check_template("{{ " + "(" * limit + "1" + ")" * limit + " }}")
    with pytest.raises(templating.TemplateError, match="nested too deeply"):
        templating.check_template("{{ " + "(" * (limit + 1) + "1" + ")" * (limit + 1) + " }}")
    with pytest.raises(templating.TemplateError, match="nested too deeply"):
        templating.check_expression("not " * (limit + 1) + "x")
    templating.check_expression("session.turns > 5 and session.verification_level >= 1")
