"""The static python-tool check: module files found as run finds them, functions read with ast."""

from __future__ import annotations

import pytest
from config_helpers import errors, where
from voiceagent.config.pytools import check_tool, clear_cache, locate

HEAD = "name: demo\nprompt: p\ntools:\n"


def tool(spec: str, params: str = "{}", extra: str = "") -> str:
    return HEAD + f"  - name: t\n    description: d\n    parameters: {params}\n{extra}    python: {spec}\n"


@pytest.fixture(autouse=True)
def _fresh():
    clear_cache()


def test_async_def_keyword_only_and_ctx_are_understood(check, write):
    write("tools/acme.py", "async def get(account_id, *, verbose=False, ctx=None):\n    return {}\n")
    assert check(tool("tools.acme:get", "{account_id: {}}")) == []


def test_function_defined_inside_a_module_level_if_or_try(check, write):
    write(
        "tools/acme.py",
        "try:\n    import fastjson\nexcept ImportError:\n    fastjson = None\nif True:\n"
        "    def get(account_id):\n        return {}\n",
    )
    assert check(tool("tools.acme:get", "{account_id: {}}")) == []


def test_a_nested_function_is_not_module_level(check, write):
    write("tools/acme.py", "def outer():\n    def get(a):\n        return a\n    return get\n")
    diags = check(tool("tools.acme:get", "{a: {}}"))
    assert where(errors(diags)) == [
        (
            7,
            13,
            "tool 't': module 'tools.acme' has no function 'get'; define it there (def get(...):) or correct the name",
        )
    ]


def test_missing_function_suggests_the_nearest_public_one(check, write):
    write("tools/acme.py", "def get_account(a):\n    return a\ndef _get_accountt(a):\n    return a\n")
    diags = check(tool("tools.acme:get_acount", "{a: {}}"))
    assert diags[0].message.endswith("has no function 'get_acount'; did you mean 'get_account'?")


def test_positional_only_and_missing_parameters(check, write):
    write("tools/acme.py", "def f(a, /, b, *, c):\n    return a\n")
    diags = check(tool("tools.acme:f", "{a: {}, b: {}}"))
    messages = [d.message for d in errors(diags)]
    assert any("does not accept parameter 'a'" in m for m in messages)
    assert any("requires parameter 'c' that the tool does not declare" in m for m in messages)
    assert all(d.line == 7 and d.path == "tools[0].python" for d in diags)


def test_module_file_missing_in_an_existing_local_package(check, write):
    write("tools/other.py", "def f():\n    return 1\n")
    diags = check(tool("tools.acme:f"))
    assert len(diags) == 1 and diags[0].line == 7
    assert "module 'tools.acme' not found (looked for tools/acme.py in " in diags[0].message
    assert "modules are found relative to the agent file's folder" in diags[0].message


def test_package_init_and_single_file_modules(check, write):
    write("tools/acme/__init__.py", "def f(x):\n    return x\n")
    write("helpers.py", "def g(x):\n    return x\n")
    assert check(tool("tools.acme:f", "{x: {}}")) == []
    assert check(tool("helpers:g", "{x: {}}")) == []


def test_syntax_error_in_the_tool_module_names_its_line(check, write):
    write("tools/acme.py", "def f(x):\n    return x\n\ndef g(:\n")
    diags = check(tool("tools.acme:f", "{x: {}}"))
    assert len(diags) == 1 and diags[0].severity == "error" and diags[0].line == 7
    assert "tools/acme.py) line 4: Python syntax error" in diags[0].message


def test_reexport_from_a_local_module_is_followed(check, write):
    write("tools/__init__.py", "")
    write("tools/impl.py", "def run(x):\n    return x\n")
    write("tools/acme.py", "from .impl import run\nfrom tools.impl import run as run2\n")
    assert check(tool("tools.acme:run", "{x: {}}")) == []
    assert check(tool("tools.acme:run2", "{x: {}}")) == []
    diags = check(tool("tools.acme:run", "{y: {}}"))
    assert "does not accept parameter 'y'" in diags[0].message


def test_reexport_from_an_installed_package_or_assignment_or_class_is_a_warning(check, write):
    write(
        "tools/acme.py",
        "from json import dumps\nimport functools\nrun = functools.partial(print)\nclass Thing:\n    pass\n",
    )
    for name in ("dumps", "run", "Thing"):
        diags = check(tool(f"tools.acme:{name}"))
        assert [(d.line, d.severity) for d in diags] == [(7, "warning")], name


def test_huge_or_deeply_nested_module_does_not_crash(check, write):
    write("tools/deep.py", "x = " + "(" * 5000 + "1" + ")" * 5000 + "\ndef f():\n    return 1\n")
    diags = check(tool("tools.deep:f"))
    assert [(d.line, d.severity) for d in diags] == [(7, "error")]
    assert "tools/deep.py" in diags[0].message


def test_constant_folding_bomb_in_the_module_is_not_evaluated(check, write):
    write("tools/bomb.py", "X = 9 ** (9 ** 10)\nY = 'A' * 10 ** 12\ndef f():\n    return 1\n")
    assert check(tool("tools.bomb:f")) == []


def test_locate_kinds(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "a.py").write_text("")
    assert locate("tools.a", tmp_path).kind == "local"
    assert locate("tools.b", tmp_path).kind == "missing"
    assert locate("os.path", tmp_path).kind == "stdlib"
    assert locate("pydantic", tmp_path).kind == "installed"
    assert locate("no_such_package_xyz", tmp_path).kind == "missing"


def test_tool_module_outside_the_source_tree_is_not_read(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def f():\n    return 1\n")
    agent_dir = tmp_path / "agent"
    (agent_dir / "tools").mkdir(parents=True)
    (agent_dir / "tools" / "link.py").symlink_to(outside / "secret.py")
    result = check_tool("tools.link:f", agent_dir, root=agent_dir)
    assert result.error and "outside the agent's source tree" in result.error


def test_validate_resolves_from_the_agent_files_folder_as_run_does(write):
    from voiceagent.config.validate import validate_paths

    write(".git/HEAD", "")
    write("base/acme_tools_zz/acme.py", "def f():\n    return 1\n")
    write("base/base.yaml", tool("acme_tools_zz.acme:f"))
    child = write("variant/child.yaml", "extends: ../base/base.yaml\n")
    # run imports acme_tools_zz.acme from variant/ (the agent file's folder): validate says so too
    diags = validate_paths([child])
    assert [d.severity for d in diags] == ["error"] and "not found" in diags[0].message


def test_malformed_module_paths_are_errors(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "__init__.py").write_text("")
    (tmp_path / "tools" / "acme.py").write_text("def f():\n    return 1\n")
    for spec in ("tools..acme:f", ".tools:f", "tools.:f"):
        result = check_tool(spec, tmp_path)
        assert result.error and "is not module:function" in result.error, spec
    assert check_tool("tools.acme:f", tmp_path).signature is not None
