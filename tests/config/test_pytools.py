"""python tools: validate checks them per folder from the source; run imports them per folder
(private package), sys.path restored, nothing of the standard library removed."""

from __future__ import annotations

import inspect
import sys

from voiceagent.config.pytools import import_tool_module, signature_problems
from voiceagent.config.validate import validate_paths

AGENT = "name: demo\nprompt: p\ntools:\n  - {name: t, description: d, parameters: {x: {}}, python: 'tools.impl:run'}\n"


def test_two_agent_folders_with_same_package_name(write):
    write("one/tools/__init__.py", "")
    write("one/tools/impl.py", "def run(x):\n    return x\n")
    write("two/tools/__init__.py", "")
    write("two/tools/impl.py", "def run(y):\n    return y\n")
    one = write("one/agent.yaml", AGENT)
    two = write("two/agent.yaml", AGENT)
    diags = validate_paths([one, two])
    assert [(d.file == str(two), d.severity) for d in diags if d.severity == "error"] == [
        (True, "error"),
        (True, "error"),
    ]
    assert "does not accept parameter 'x'" in diags[0].message or "does not accept parameter 'x'" in diags[1].message


def test_run_import_forgets_the_agents_own_modules_and_keeps_the_standard_library(write, tmp_path):
    write("tools/__init__.py", "")
    write("tools/impl.py", "import asyncio\nimport tools.helper\ndef run(x):\n    return tools.helper.twice(x)\n")
    write("tools/helper.py", "def twice(x):\n    return 2 * x\n")
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name == "tools" or name.startswith("tools.")}
    path_before = list(sys.path)
    asyncio_before = sys.modules["asyncio"]
    try:
        module = import_tool_module("tools.impl", tmp_path)
        assert module.run(3) == 6
        leaked = [
            name
            for name, mod in sys.modules.items()
            if str(getattr(mod, "__file__", None) or "").startswith(str(tmp_path))
            and not name.startswith("_voiceagent")
        ]
        assert leaked == []  # the sibling import's `tools` is forgotten again (another agent has its own)
        assert sys.path == path_before
        assert sys.modules["asyncio"] is asyncio_before  # the standard library is never re-imported
    finally:
        for name in [n for n in sys.modules if n == "tools" or n.startswith("tools.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def test_import_does_not_run_other_agent_code(write, tmp_path):
    marker = tmp_path / "ran"
    write("tools/__init__.py", "")
    write("tools/impl.py", "def run(x):\n    return x\n")
    write("tools/other.py", f"open({str(marker)!r}, 'w').close()\n")
    assert validate_paths([write("agent.yaml", AGENT)]) == []
    assert not marker.exists()


def test_signature_rules():
    def f(account_id, *, ctx=None):
        return account_id

    def g(context, a, b=1):
        return a

    def h(**kwargs):
        return kwargs

    def p(a, /):
        return a

    assert signature_problems(inspect.signature(f), ["account_id"], ["account_id"]) == []
    assert signature_problems(inspect.signature(g), ["a", "b"], ["a"]) == []
    assert signature_problems(inspect.signature(h), ["anything"], ["anything"]) == []
    assert signature_problems(inspect.signature(g), ["a"], []) == [
        ("warning", "parameter 'a' is optional for the tool but has no default in the function")
    ]
    assert signature_problems(inspect.signature(p), ["a"], ["a"]) == [
        ("error", "the function does not accept parameter 'a' declared by the tool")
    ]


def test_no_import_flag_skips_the_tool_check(write):
    path = write("agent.yaml", AGENT.replace("tools.impl:run", "agent_tools_zz.nothere:run"))
    assert validate_paths([path], check_tools=False) == []
    assert "module 'agent_tools_zz.nothere' not found" in validate_paths([path])[0].message
