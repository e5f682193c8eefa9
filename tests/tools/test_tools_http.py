"""HTTP tools: request shape via httpx.MockTransport, and the real wire against a local server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from voiceagent.config.models import Agent
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tool_http import MAX_TEXT_CHARS
from voiceagent.engine.tools import ToolContext, ToolRunner


def http_agent(base_url: str) -> Agent:
    return Agent.model_validate(
        {
            "name": "http-agent",
            "prompt": "p",
            "variables": {"base_url": base_url, "token": "tok-abcdef123456", "company": "Acme"},
            "tools": [
                {
                    "name": "create_ticket",
                    "parameters": {
                        "ticket_id": {"type": "string"},
                        "summary": {"type": "string"},
                        "amount": {"type": "number"},
                        "q": {"type": "string"},
                    },
                    "required": ["ticket_id", "summary"],
                    "http": {
                        "method": "PUT",
                        "url": base_url + "/tickets/{{ args.ticket_id }}",
                        "headers": {"Authorization": "Bearer {{ token }}", "X-Caller": "{{ caller.phone }}"},
                        "query": {"q": "{{ args.q }}", "company": "{{ company }}", "fixed": 3},
                        "json": {
                            "summary": "{{ args.summary }}",
                            "text": "Ticket: {{ args.summary }} ({{ variables.company }})",
                            "meta": {
                                "caller": "{{ caller.phone }}",
                                "amount": "{{ args.amount }}",
                                "tags": ["{{ session.state }}", "fixed"],
                            },
                            "n": 5,
                        },
                    },
                },
                {
                    "name": "form_post",
                    "parameters": {"summary": {"type": "string"}},
                    "http": {
                        "url": base_url + "/echo",
                        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                        "body": "summary={{ args.summary | urlencode }}&turn={{ session.turns }}",
                    },
                },
                {"name": "get_echo", "http": {"method": "GET", "url": base_url + "/echo?x=1"}},
                {"name": "not_found", "http": {"method": "GET", "url": base_url + "/status/404"}},
                {"name": "server_error", "http": {"method": "GET", "url": base_url + "/status/500"}},
                {"name": "text", "http": {"method": "GET", "url": base_url + "/text"}},
                {"name": "big", "http": {"method": "GET", "url": base_url + "/big"}},
                {"name": "slow_http", "http": {"method": "GET", "url": base_url + "/slow", "timeout_ms": 200}},
                {
                    "name": "slow_tool",
                    "timeout_ms": 200,
                    "http": {"method": "GET", "url": base_url + "/slow", "timeout_ms": 5000},
                },
                {"name": "bad_template", "http": {"method": "GET", "url": "{{ base_url }/x"}},
            ],
        }
    )


@pytest.fixture
def http_ctx() -> ToolContext:
    return ToolContext(
        caller={"phone": "+15557654321"},
        session={"state": "service", "turns": 4, "verification_level": 1, "language": "en"},
        variables={"base_url": "", "token": "tok-abcdef123456", "company": "Acme"},
    )


# -- request shape with MockTransport ---------------------------------------------------------


async def test_request_is_rendered_from_templates(tmp_path: Path, http_ctx: ToolContext):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "T-1", "status": "open"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    agent = http_agent("https://api.acme.example")
    http_ctx.variables["base_url"] = "https://api.acme.example"
    runner = ToolRunner(agent, base_dir=tmp_path, redactor=Redactor([], env={}), http_client=client)
    res = await runner.run(
        "create_ticket", {"ticket_id": "42", "summary": "Card lost", "amount": 12.5, "q": "a b"}, http_ctx
    )
    assert res.ok, res.error
    assert res.result == {"id": "T-1", "status": "open"}
    (req,) = seen
    assert req.method == "PUT"
    url = urlsplit(str(req.url))
    assert (url.scheme, url.netloc, url.path) == ("https", "api.acme.example", "/tickets/42")
    assert parse_qs(url.query) == {"q": ["a b"], "company": ["Acme"], "fixed": ["3"]}
    assert req.headers["authorization"] == "Bearer tok-abcdef123456"
    assert req.headers["x-caller"] == "+15557654321"
    assert json.loads(req.content) == {
        "summary": "Card lost",
        "text": "Ticket: Card lost (Acme)",
        "meta": {"caller": "+15557654321", "amount": 12.5, "tags": ["service", "fixed"]},
        "n": 5,
    }
    # the runner does not close a client it was given
    await runner.aclose()
    assert not client.is_closed
    await client.aclose()


async def test_undefined_query_values_are_left_out(tmp_path: Path, http_ctx: ToolContext):
    seen: list[httpx.Request] = []
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json={})))
    runner = ToolRunner(http_agent("http://h"), base_dir=tmp_path, redactor=Redactor([], env={}), http_client=client)
    http_ctx.variables["base_url"] = "http://h"
    res = await runner.run("create_ticket", {"ticket_id": "1", "summary": "s"}, http_ctx)
    assert res.ok, res.error
    assert "q=" not in str(seen[0].url)
    assert json.loads(seen[0].content)["meta"]["amount"] is None
    await client.aclose()


async def test_transport_error_is_tool_error(tmp_path: Path, http_ctx: ToolContext):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    runner = ToolRunner(http_agent("http://h"), base_dir=tmp_path, redactor=Redactor([], env={}), http_client=client)
    res = await runner.run("get_echo", {}, http_ctx)
    assert not res.ok and res.error == "HTTP request failed: ConnectError"
    await client.aclose()


# -- the real wire: a minimal HTTP/1.1 server on 127.0.0.1 ------------------------------------


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = urlsplit(target).path
        status, ctype, payload = 200, "application/json", b""
        if path == "/echo" or path.startswith("/tickets/"):
            payload = json.dumps(
                {"method": method, "target": target, "headers": headers, "body": body.decode()}
            ).encode()
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            payload = json.dumps({"error": "no such thing", "detail": "x" * 500}).encode()
        elif path == "/text":
            ctype, payload = "text/plain", b"plain words"
        elif path == "/big":
            ctype, payload = "text/plain", b"y" * (MAX_TEXT_CHARS * 2)
        elif path == "/slow":
            await asyncio.sleep(3)
            payload = b"{}"
        reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "X")
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def server_url():
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()


@pytest.fixture
async def http_runner(server_url: str, tmp_path: Path):
    runner = ToolRunner(http_agent(server_url), base_dir=tmp_path, redactor=Redactor([], env={}))
    yield runner
    await runner.aclose()


@pytest.fixture
def live_ctx(http_ctx: ToolContext, server_url: str) -> ToolContext:
    http_ctx.variables["base_url"] = server_url
    return http_ctx


async def test_real_socket_json_round_trip(http_runner: ToolRunner, live_ctx: ToolContext):
    res = await http_runner.run("create_ticket", '{"ticket_id": "7", "summary": "Hi", "q": "x"}', live_ctx)
    assert res.ok, res.error
    echo: dict[str, Any] = res.result
    assert echo["method"] == "PUT"
    assert echo["target"].startswith("/tickets/7?")
    assert parse_qs(urlsplit(echo["target"]).query) == {"q": ["x"], "company": ["Acme"], "fixed": ["3"]}
    # sent (see test_request_is_rendered_from_templates), but never shown to the model when echoed
    assert echo["headers"]["authorization"] == "Bearer [redacted]"
    assert echo["headers"]["content-type"] == "application/json"
    assert json.loads(echo["body"])["summary"] == "Hi"


async def test_real_socket_raw_body(http_runner: ToolRunner, live_ctx: ToolContext):
    res = await http_runner.run("form_post", {"summary": "a&b c"}, live_ctx)
    assert res.ok, res.error
    assert res.result["method"] == "POST"
    assert res.result["body"] == "summary=a%26b%20c&turn=4"
    assert res.result["headers"]["content-type"] == "application/x-www-form-urlencoded"


async def test_non_2xx_is_error_with_status_and_excerpt(http_runner: ToolRunner, live_ctx: ToolContext):
    res = await http_runner.run("not_found", {}, live_ctx)
    assert not res.ok
    assert res.error.startswith("HTTP 404 Not Found: ")
    assert "no such thing" in res.error
    assert len(res.error) < 260
    assert "127.0.0.1" not in res.error  # no URL in messages
    res = await http_runner.run("server_error", {}, live_ctx)
    assert not res.ok and res.error.startswith("HTTP 500")


async def test_text_response_and_truncation(http_runner: ToolRunner, live_ctx: ToolContext):
    res = await http_runner.run("text", {}, live_ctx)
    assert res.ok and res.result == "plain words"
    res = await http_runner.run("big", {}, live_ctx)
    assert res.ok
    assert res.result.startswith("y" * MAX_TEXT_CHARS + " [truncated: ")
    assert len(res.result) < MAX_TEXT_CHARS + 100


async def test_http_timeout(http_runner: ToolRunner, live_ctx: ToolContext):
    res = await http_runner.run("slow_http", {}, live_ctx)
    assert not res.ok and res.error == "HTTP request timed out after 200 ms"


async def test_tool_timeout_bounds_http(http_runner: ToolRunner, live_ctx: ToolContext):
    res = await http_runner.run("slow_tool", {}, live_ctx)
    assert not res.ok and res.error == "tool 'slow_tool' timed out after 200 ms"


async def test_broken_template_is_tool_error(http_runner: ToolRunner, live_ctx: ToolContext):
    res = await http_runner.run("bad_template", {}, live_ctx)
    assert not res.ok and "misconfigured" in res.error


async def test_error_excerpt_never_carries_the_token(tmp_path: Path, http_ctx: ToolContext):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text=f"bad credentials {request.headers['authorization']} for you")

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    redactor = Redactor([], env={"ACME_TOKEN": "tok-abcdef123456"})
    runner = ToolRunner(http_agent("http://h"), base_dir=tmp_path, redactor=redactor, http_client=client)
    http_ctx.variables["base_url"] = "http://h"
    res = await runner.run("create_ticket", {"ticket_id": "1", "summary": "s"}, http_ctx)
    assert not res.ok
    assert res.error.startswith("HTTP 401")
    assert "bad credentials" in res.error
    assert "tok-abcdef123456" not in res.error
    await client.aclose()
