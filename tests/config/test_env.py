"""``${NAME}`` / ``${NAME:-default}`` substitution in load_agent."""

from __future__ import annotations

import pytest
from voiceagent.config.diagnostics import ConfigError
from voiceagent.config.envsubst import references, substitute_text
from voiceagent.config.load import load_agent

AGENT = """\
name: demo
prompt: "Hello from ${COMPANY:-Acme}"
llm:
  base_url: ${LLM_BASE_URL:-}
  temperature: ${TEMP:-0.5}
tools:
  - name: t
    description: d
    http:
      url: https://api.example/${PATH_PART}
      headers: {Authorization: "Bearer ${ACME_TOKEN}"}
"""


def test_substitutes_values_and_defaults(write):
    agent = load_agent(write("a.yaml", AGENT), env={"PATH_PART": "v1", "ACME_TOKEN": "tok", "TEMP": "0.9"}).agent
    assert agent.prompt == "Hello from Acme"
    assert agent.llm.base_url is None and agent.llm.temperature == 0.9  # `${X:-}` unquoted: empty = unset
    assert agent.tools[0].http.url == "https://api.example/v1"
    assert agent.tools[0].http.headers == {"Authorization": "Bearer tok"}


def test_every_missing_variable_named_at_its_line(write):
    with pytest.raises(ConfigError) as info:
        load_agent(write("a.yaml", AGENT), env={})
    got = [(d.line, d.column, d.message) for d in info.value.diagnostics]
    assert got == [
        (
            10,
            12,
            "environment variable PATH_PART is not set; export PATH_PART=... or give a default: ${PATH_PART:-value}",
        ),
        (
            11,
            32,
            "environment variable ACME_TOKEN is not set; export ACME_TOKEN=... or give a default: ${ACME_TOKEN:-value}",
        ),
    ]
    assert "ACME_TOKEN" in str(info.value)


def test_without_env_references_stay(write):
    agent = load_agent(write("a.yaml", AGENT)).agent
    assert agent.tools[0].http.headers["Authorization"] == "Bearer ${ACME_TOKEN}"
    assert agent.prompt == "Hello from ${COMPANY:-Acme}"


def test_escape_and_helpers():
    assert substitute_text("$${HOME} ${A} ${B:-x}", {"A": "1"}) == ("${HOME} 1 x", [])
    assert substitute_text("${MISSING}", {}) == ("${MISSING}", ["MISSING"])
    assert references("$${X} ${Y} ${Z:-1}") == ["Y", "Z"]


def test_env_value_is_validated(write):
    with pytest.raises(ConfigError) as info:
        load_agent(write("a.yaml", "name: demo\nprompt: p\nllm: {temperature: '${T}'}\n"), env={"T": "hot"})
    assert [(d.line, d.column) for d in info.value.diagnostics] == [(3, 20)]
    assert "llm.temperature" in info.value.diagnostics[0].message


def test_loaded_agent_carries_warnings_and_paths(write):
    path = write("a.yaml", "name: demo\nprompt: p\nvariables: {k: 'sk-live_0123456789abcdefABCDEF'}\n")
    loaded = load_agent(path)
    assert loaded.path == path.resolve() and loaded.base_dir == path.resolve().parent
    assert [d.severity for d in loaded.warnings] == ["warning"]


def test_unquoted_whole_reference_gets_yaml_type(write):
    path = write(
        "a.yaml",
        """\
        name: demo
        prompt: p
        tts:
          sample_rate: ${RATE}
        behaviour:
          barge_in: ${BARGE:-true}
        variables:
          pin: '${PIN}'
          code: ${CODE}
          empty: ${NOTHING:-}
        """,
    )
    agent = load_agent(path, env={"RATE": "16000", "PIN": "0042", "CODE": "42"}).agent
    assert agent.tts.sample_rate == 16000 and agent.behaviour.barge_in is True
    assert agent.variables == {"pin": "0042", "code": 42, "empty": None}


SECRET_AGENT = """\
name: demo
prompt: hi
tools:
  - name: t
    description: d
    http:
      url: https://api.example/v1
      headers:
        X-Api-Key: ${ACME_KEY}
        X-Team: ${TEAM}
      timeout_ms: ${ACME_TOKEN}
"""


def test_substituted_secrets_never_reach_a_diagnostic(write):
    """A bad value from a credential-like variable is reported without quoting it."""
    env = {"ACME_KEY": "k3y-9f8e7d6c", "ACME_TOKEN": "hunter2", "TEAM": "blue"}
    with pytest.raises(ConfigError) as info:
        load_agent(write("a.yaml", SECRET_AGENT), env=env)
    messages = [d.message for d in info.value.diagnostics]
    assert "tools[0].http.timeout_ms: expected a whole number (got '****')" in messages
    assert not any("hunter2" in m or "k3y-9f8e7d6c" in m for m in messages)


def test_substituted_header_is_not_an_inline_secret_nor_in_the_repr(write):
    """The inline-secret warning is about the file as written; a key from the environment is
    neither warned about nor shown by the agent's repr."""
    key = "sk_live_0123456789abcdefABCDEF"
    text = SECRET_AGENT.replace("${ACME_TOKEN}", "4000")
    loaded = load_agent(write("a.yaml", text), env={"ACME_KEY": key, "TEAM": "blue"})
    assert loaded.agent.tools[0].http.headers["X-Api-Key"] == key
    assert not any("inline secret" in d.message for d in loaded.warnings)
    assert key not in repr(loaded) and key not in str(loaded.agent)


def test_keys_substituted_into_url_query_json_or_body_stay_out_of_the_repr(tmp_path):
    """A key can reach any templated HTTP field, not only headers: none of them is in the repr."""
    key = "sk_live_9876543210zyxwvuZYXWVU"
    path = tmp_path / "a.yaml"
    path.write_text(
        "version: 1\nname: a\nprompt: hi\ntools:\n"
        "  - name: t\n    description: d\n    http:\n"
        "      url: https://x.example/?key=${K}\n"
        "      query: {k: '${K}'}\n"
        "      json: {k: '${K}'}\n",
        encoding="utf-8",
    )
    loaded = load_agent(path, env={"K": key})
    http = loaded.agent.tools[0].http
    assert key in http.url and http.query["k"] == key and http.json_body["k"] == key
    assert key not in repr(loaded) and key not in str(loaded.agent)
