"""`voiceagent run`: problems are reported before the call starts, one clear line each, exit 1."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from voiceagent.cli import main

AGENT = """\
version: 1
name: t
prompt: You help.
greeting: "Hello from {{ company }}."
variables:
  company: ${COMPANY_NAME}
llm:
  provider: {llm}
  base_url: ${{LLM_URL:-http://127.0.0.1:9/v1}}
tools:
  - name: ticket
    http:
      url: https://example.invalid/t
      headers: {{Authorization: "Bearer ${{TICKET_TOKEN}}"}}
"""


def write_agent(tmp_path: Path, llm: str = "openai") -> Path:
    p = tmp_path / "agent.yaml"
    p.write_text(AGENT.replace("${COMPANY_NAME}", "${{COMPANY_NAME}}").format(llm=llm))
    return p


def run(args, env=None, input=""):
    runner = CliRunner()
    return runner.invoke(main, ["run", *args], env=env or {}, input=input, catch_exceptions=False)


def test_each_missing_variable_is_named_with_its_position(tmp_path, monkeypatch):
    for var in ("COMPANY_NAME", "TICKET_TOKEN", "SMALLEST_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    path = write_agent(tmp_path)
    res = run([str(path), "--text"])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2, res.stderr
    assert lines[0].startswith(f"{path}:6:12: error:") and "COMPANY_NAME" in lines[0]
    assert "TICKET_TOKEN" in lines[1] and ":14:" in lines[1]
    assert "agent:" not in res.stdout  # the call never started


def test_explicit_smallest_without_key_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("SMALLEST_API_KEY", raising=False)
    path = write_agent(tmp_path, llm="smallest")
    res = run([str(path), "--text"], env={"COMPANY_NAME": "Acme", "TICKET_TOKEN": "x"})
    assert res.exit_code == 1
    *warnings, error = res.stderr.strip().splitlines()
    assert error == (
        f"{path}: error: llm.provider is smallest but SMALLEST_API_KEY is not set: "
        "export SMALLEST_API_KEY=... or set llm.provider: local"
    )
    # the file's own warnings come first; "Bearer ${TICKET_TOKEN}" is not an inline secret
    assert warnings == [
        f"{path}:11:5: warning: tool 'ticket' has no description; "
        "the LLM decides when to call a tool from its description"
    ]


def test_input_needs_output(tmp_path):
    path = write_agent(tmp_path)
    wav = tmp_path / "c.wav"
    wav.write_bytes(b"")
    res = CliRunner().invoke(main, ["run", str(path), "--input", str(wav)])
    assert res.exit_code == 2 and "--input and --output go together" in res.output


def test_bad_var_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(main, ["run", str(write_agent(tmp_path)), "--text", "--var", "novalue"])
    assert res.exit_code == 2 and "KEY=VALUE" in res.output


def test_missing_file_is_one_line(tmp_path):
    res = run([str(tmp_path / "nope.yaml"), "--text"])
    assert res.exit_code == 1
    assert len(res.stderr.strip().splitlines()) == 1 and "nope.yaml" in res.stderr


def test_unreadable_caller_wav_is_one_clear_line(tmp_path):
    path = write_agent(tmp_path)
    bad = tmp_path / "caller.wav"
    bad.write_bytes(b"ID3\x03 this is an mp3 tag, not a wav")
    res = run(
        [str(path), "--input", str(bad), "--output", str(tmp_path / "out.wav")],
        env={"COMPANY_NAME": "Acme", "TICKET_TOKEN": "x", "SMALLEST_API_KEY": "sk_test_0123456789"},
    )
    assert res.exit_code == 1
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "caller.wav" in errors[0] and "ffmpeg -i" in errors[0]
    assert not (tmp_path / "out.wav").exists()
