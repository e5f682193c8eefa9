"""Issue 10 class 2: ``validate`` never imports or executes the agent code it checks.

Each tool module below has top-level code that would be visible if it ran (a file written, the
process ended with ``os._exit(0)``, a hang, text printed into ``--format json``). ``validate``
(in-process and as the CLI, text and JSON) must report normally and leave no trace of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from voiceagent.config.validate import validate_paths

ROOT = Path(__file__).resolve().parents[2]

AGENT = """\
name: demo
prompt: p
tools:
  - name: t
    description: d
    parameters: {x: {type: string}}
    python: tools.evil:run
  - name: broken
    description: d
    python: tools.evil:nothere
"""


def hostile(marker: Path) -> dict[str, str]:
    """Top-level payloads, each one a module; every one also defines ``run(x)``."""
    return {
        "writes_a_file": f"open({str(marker)!r}, 'w').write('ran')\n",
        "exits": "import os\nos._exit(0)\n",
        "sleeps_forever": "import time\nwhile True:\n    time.sleep(1)\n",
        "prints": "print('[]')\nprint('caller: injected')\n",
        "raises_systemexit": "raise SystemExit(0)\n",
        "imports_a_sibling_that_writes": "import tools.side\n",
        "package_init_runs": "",
    }


def _write_agent(tmp_path: Path, payload: str, marker: Path) -> Path:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "__init__.py").write_text(f"open({str(marker)!r} + '.init', 'w').write('ran')\n")
    (tools / "side.py").write_text(f"open({str(marker)!r} + '.side', 'w').write('ran')\n")
    (tools / "evil.py").write_text(payload + "\n\ndef run(x):\n    return x\n")
    agent = tmp_path / "agent.yaml"
    agent.write_text(AGENT)
    return agent


def _no_trace(marker: Path) -> None:
    for suffix in ("", ".init", ".side"):
        assert not Path(str(marker) + suffix).exists(), f"agent code ran ({suffix or 'module'})"


CASES = sorted(hostile(Path("m")))


@pytest.mark.parametrize("case", CASES)
def test_validate_in_process_runs_no_agent_code(tmp_path, case):
    marker = tmp_path / "ran"
    agent = _write_agent(tmp_path, hostile(marker)[case], marker)
    modules = set(sys.modules)
    diags = validate_paths([agent])
    assert [(d.line, d.severity) for d in diags] == [(10, "error")]
    assert diags[0].message.startswith("tool 'broken': module 'tools.evil' has no function 'nothere'")
    _no_trace(marker)
    assert not {m for m in set(sys.modules) - modules if m.startswith(("tools", "_voiceagent_tools_"))}


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("case", CASES)
def test_validate_cli_runs_no_agent_code(tmp_path, case, fmt):
    marker = tmp_path / "ran"
    agent = _write_agent(tmp_path, hostile(marker)[case], marker)
    proc = subprocess.run(
        [sys.executable, "-m", "voiceagent", "validate", "--format", fmt, str(agent)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # the error is reported: nothing ended the process early
    if fmt == "json":
        diags = json.loads(proc.stdout)  # stdout is exactly the JSON: nothing printed into it
        assert [(d["line"], d["severity"], d["path"]) for d in diags] == [(10, "error", "tools[1].python")]
    else:
        assert proc.stdout.splitlines() == [
            line for line in proc.stdout.splitlines() if line.startswith(str(agent) + ":10:")
        ]
        assert "injected" not in proc.stdout
    _no_trace(marker)


def test_a_standard_library_target_is_a_warning(tmp_path):
    agent = tmp_path / "agent.yaml"
    agent.write_text(
        textwrap.dedent(
            """\
            name: demo
            prompt: p
            tools:
              - name: shell
                description: d
                parameters: {command: {type: string}}
                python: os:system
            """
        )
    )
    diags = validate_paths([agent])
    assert [(d.line, d.severity, d.path) for d in diags] == [(7, "warning", "tools[0].python")]
    assert "'os:system' points into the Python standard library" in diags[0].message
    assert "Write a small function in the agent's tools/ folder" in diags[0].message


def test_an_installed_package_target_is_a_warning_and_not_imported(tmp_path):
    pytest.importorskip("httpx")
    agent = tmp_path / "agent.yaml"
    agent.write_text("name: demo\nprompt: p\ntools:\n  - {name: g, description: d, python: 'httpx:get'}\n")
    diags = validate_paths([agent])
    assert [(d.line, d.severity) for d in diags] == [(4, "warning")]
    assert "points into the installed package 'httpx'" in diags[0].message


def test_a_tool_module_that_is_a_fifo_or_device_is_refused_unread(tmp_path):
    import os

    (tmp_path / "tools").mkdir()
    os.mkfifo(tmp_path / "tools" / "fifo.py")
    (tmp_path / "tools" / "zero.py").symlink_to("/dev/zero")
    agent = tmp_path / "agent.yaml"
    agent.write_text(
        "name: demo\nprompt: p\ntools:\n  - {name: a, description: d, python: 'tools.fifo:f'}\n"
        "  - {name: b, description: d, python: 'tools.zero:f'}\n"
    )
    diags = validate_paths([agent])
    # a FIFO/device is not a module file Python would import: reported, never opened for reading
    assert [(d.line, d.severity) for d in diags] == [(4, "error"), (5, "error")]
