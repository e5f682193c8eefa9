"""`voiceagent run` shows the agent file's warnings as written: a ``${VAR}`` that substitutes to a
token is not an "inline secret", a literal token is (with its position)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_run_bank import cli_env, run_cli
from voiceagent.testing.fake_openai import FakeOpenAI, TextReply

AGENT = """\
version: 1
name: warn
prompt: You help.
llm: {provider: openai, base_url: "${FAKE_LLM_URL}", model: tiny}
tools:
  - name: from_env
    description: A tool whose token comes from the environment.
    parameters: {}
    http: {method: GET, url: "http://127.0.0.1:9/a", headers: {Authorization: "Bearer ${TICKET_TOKEN}"}}
  - name: inline
    description: A tool with its token written into the file.
    parameters: {}
    http: {method: GET, url: "http://127.0.0.1:9/b", headers: {Authorization: "Bearer q7ZpL2vX9kR4mT8wY3nB6cD1"}}
"""


async def test_run_warns_about_literal_secrets_but_not_substituted_ones(tmp_path):
    pytest.importorskip("voiceagent.engine.session")
    pytest.importorskip("voiceagent.providers.openai_compat")
    agent = tmp_path / "warn.yaml"
    agent.write_text(AGENT)
    async with FakeOpenAI() as llm:
        llm.default = lambda req: TextReply("Hi.")
        env = cli_env(tmp_path, FAKE_LLM_URL=llm.base_url, TICKET_TOKEN="s3cr3tTokenValue12345")
        code, out, err = await run_cli([str(agent), "--text"], env, "hello\n")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning:" in line]
    assert len(warnings) == 1, err
    assert warnings[0].startswith(f"{agent}:13:") and "inline secret" in warnings[0]
    assert "s3cr3tTokenValue12345" not in err + out
    assert "q7ZpL2vX9kR4mT8wY3nB6cD1" not in err  # the warning names the place, not the value
