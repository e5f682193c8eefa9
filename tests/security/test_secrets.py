"""Adversarial tests of secrets in HTTP tools (issue 10, class 5).

Every value the environment puts into an HTTP tool (``${VAR}`` in url, headers, query, json,
body), whatever the variable is called, must stay out of what the model sees, the event log,
error messages, logs and ``voiceagent show`` -- also when a hostile API echoes it back in its
answer (JSON, text, headers, percent-encoded, in a 401).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from security_http import CTX, FakeApi, Seen, runner_for, send
from voiceagent.cli import main
from voiceagent.config.diagnostics import ConfigError
from voiceagent.config.load import load_agent
from voiceagent.engine.call import build_call
from voiceagent.engine.redaction import Redactor
from voiceagent.testing.fakes import FakeLLM, FakeTransport, tool_call

# Names the old "ends in KEY/TOKEN/SECRET/PASSWORD" rule did not recognise.
ENV = {
    "ACME_APIKEY": "ak7Hq2mZ9xLp4Wn8Rt",
    "ACME_AUTH": "dXNlcjpodW50ZXIyMjI=",
    "CRM_CREDENTIALS": "crm-user:Tr0ub4dor&3",
    "STRIPE_SK": "strp/AbC+123=xyz9",
    "PARTNER_ID": "partner-4471-zeta",
    "BODY_SEAL": "seal-0x5eed-c0de",
}
SPELLINGS = {
    v: [v, v.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D").replace("&", "%26").replace(":", "%3A")]
    for v in ENV.values()
}


def agent_yaml(base: str, path: str = "/echo") -> str:
    return f"""\
name: sec
prompt: p
tools:
  - name: check
    description: Check the account.
    parameters: {{}}
    http:
      method: POST
      url: {base}{path}
      headers:
        X-Api-Key: ${{ACME_APIKEY}}
        Authorization: Basic ${{ACME_AUTH}}
        X-Crm: ${{CRM_CREDENTIALS}}
      query: {{sk: "${{STRIPE_SK}}", partner: "${{PARTNER_ID}}"}}
      json: {{seal: "${{BODY_SEAL}}", n: 1}}
"""


def leaks(text: str) -> list[str]:
    return [s for value in ENV.values() for s in SPELLINGS[value] if s in text]


async def echo_401(seen: Seen, writer: asyncio.StreamWriter) -> None:
    """A 401 that echoes everything: the headers and target in JSON, the key in headers."""
    payload = {
        "error": f"invalid credentials {seen.headers.get('x-api-key')}",
        "target": seen.target,
        "crm": seen.headers.get("x-crm"),
        "auth": seen.headers.get("authorization"),
        "you_sent": {"headers": seen.headers, "body": seen.body.decode()},
    }
    await send(
        writer,
        401,
        payload,
        {"WWW-Authenticate": f'Basic realm="{seen.headers.get("x-api-key")}"', "X-Echo": seen.target},
    )


async def echo_text(seen: Seen, writer: asyncio.StreamWriter) -> None:
    await send(writer, 200, f"request {seen.method} {seen.target}\n{seen.headers}\n{seen.body.decode()}")


@pytest.fixture
async def api():
    server = await FakeApi().start()
    server.routes["/deny"] = echo_401
    server.routes["/text"] = echo_text
    yield server
    await server.aclose()


async def one_call(tmp_path: Path, yaml_text: str) -> tuple[Any, FakeLLM]:
    f = tmp_path / "sec.yaml"
    f.write_text(yaml_text)
    loaded = load_agent(f, env=ENV, import_tools=False)

    def policy(request):
        return ["Done."] if request.messages[-1]["role"] == "tool" else [tool_call("check")]

    llm = FakeLLM([policy] * 4)
    transport = FakeTransport("text", plays_audio=False, close_input=True, lines=["check my account"])
    providers = SimpleNamespace(stt=None, llm=llm, tts=None)
    async with build_call(loaded, providers, transport, env={}) as call:
        await call.run()
    return call, llm


@pytest.mark.parametrize("path", ["/deny", "/echo", "/text"])
async def test_echoed_env_values_reach_neither_the_model_nor_the_event_log(api: FakeApi, tmp_path: Path, path: str):
    call, llm = await one_call(tmp_path, agent_yaml(api.base, path))
    (seen,) = api.seen  # the request carried every secret
    assert seen.headers["x-api-key"] == ENV["ACME_APIKEY"]
    assert json.loads(seen.body)["seal"] == ENV["BODY_SEAL"]
    results = [e for e in call.events.events if e["type"] == "tool.result"]
    assert len(results) == 1
    assert results[0]["ok"] is (path != "/deny")
    assert leaks(json.dumps(call.events.events, default=str)) == []
    tool_messages = [m for r in llm.requests for m in r.messages if m["role"] == "tool"]
    assert tool_messages, "the model got the tool's answer"
    assert leaks(json.dumps(tool_messages)) == []
    if path == "/deny":
        assert "HTTP 401" in tool_messages[0]["content"] and "invalid credentials" in tool_messages[0]["content"]


async def test_tool_secrets_are_registered_with_the_calls_redactor(api: FakeApi, tmp_path: Path):
    f = tmp_path / "sec.yaml"
    f.write_text(agent_yaml(api.base))
    loaded = load_agent(f, env=ENV, import_tools=False)
    providers = SimpleNamespace(stt=None, llm=FakeLLM(), tts=None)
    async with build_call(loaded, providers, FakeTransport("text"), env={}) as call:
        line = " ".join(ENV.values())
        assert leaks(call.redactor.scrub_text(line)) == []
        # log records through the call's logging filter (attach it to any handler)
        record = logging.LogRecord("voiceagent", logging.ERROR, __file__, 1, "tool said %s", (line,), None)
        assert call.redactor.logging_filter().filter(record)
        assert leaks(record.getMessage()) == []


async def test_url_userinfo_password_is_a_secret(api: FakeApi):
    host = api.base.removeprefix("http://")
    tool = {"name": "t", "parameters": {}, "http": {"method": "GET", "url": f"http://svc:pw-Zq81-secret@{host}/echo"}}
    redactor = Redactor([], env={})
    runner = runner_for(tool, redactor=redactor)
    try:
        res = await runner.run("t", {}, CTX)
    finally:
        await runner.aclose()
    assert res.ok, res.error
    assert api.seen[0].headers["authorization"].startswith("Basic ")
    text = json.dumps(res.result)
    basic = api.seen[0].headers["authorization"].split()[1]
    assert "pw-Zq81-secret" not in text and basic not in text
    assert redactor.scrub_text(f"x {basic} pw-Zq81-secret") == "x [redacted] [redacted]"


def test_load_errors_never_quote_env_values_in_a_tool(tmp_path: Path):
    f = tmp_path / "sec.yaml"
    f.write_text(
        "name: sec\nprompt: p\ntools:\n  - name: t\n    description: d\n    http:\n"
        "      url: ${ACME_URL}\n      query: ${ACME_QUERY}\n      headers: ${ACME_HDRS}\n"
        "      allowed_hosts: [api.acme.example]\n"
    )
    env = {
        "ACME_URL": "https://crm-secret-host-91.internal/x",
        "ACME_QUERY": "not-a-mapping-secret",
        "ACME_HDRS": "hdr-secret-value-3",
    }
    with pytest.raises(ConfigError) as info:
        load_agent(f, env=env, import_tools=False)
    text = "\n".join(d.format() for d in info.value.diagnostics)
    assert "tools[0].http.query" in text and "tools[0].http.headers" in text and "allowed_hosts" in text
    for value in ["crm-secret-host-91", "not-a-mapping-secret", "hdr-secret-value-3"]:
        assert value not in text


SHOW_YAML = """\
name: sec
prompt: p
tools:
  - name: t
    description: d
    http:
      url: https://svc:hunter2hunter@api.example/v1?api_key=abc123def&x=1&token={{ args.t }}
      headers:
        X-Api-Key: ${ACME_APIKEY:-dev-fallback-key}
        X-Partner: ${PARTNER_ID:-partner-default-77}
      query: {sk: "${STRIPE_SK:-strp-default-secret}", sig: "literal-signature-9"}
      json: {callback: "https://hook:cb-pass-123@hooks.example/x?access_token=tok-555"}
"""


@pytest.mark.parametrize("as_json", [False, True])
def test_show_masks_url_passwords_query_literals_and_env_defaults(tmp_path: Path, as_json: bool):
    f = tmp_path / "sec.yaml"
    f.write_text(SHOW_YAML)
    result = CliRunner().invoke(main, ["show", str(f)] + (["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    out = result.output
    for secret in [
        "hunter2hunter",
        "abc123def",
        "dev-fallback-key",
        "partner-default-77",
        "strp-default-secret",
        "literal-signature-9",
        "cb-pass-123",
        "tok-555",
    ]:
        assert secret not in out, secret
    # what is not secret stays readable
    for kept in [
        "https://svc:****@api.example/v1",
        "x=1",
        "token={{ args.t }}",
        "${ACME_APIKEY:-****}",
        "hooks.example",
    ]:
        assert kept in out, kept
