"""Adversarial tests of HTTP tools (issue 10, class 6) against real servers on 127.0.0.1 / ::1.

Arguments come from the LLM, which repeats what callers say: they must not change the host, the
path's structure, the query or a header's lines; answers are hostile too (huge, slow, deep,
compressed bombs, redirects elsewhere).
"""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from security_http import CTX, FakeApi, Seen, runner_for, send
from voiceagent.config.load import check_file
from voiceagent.testing._http import LAST_CHUNK, chunk, response_head, write


@pytest.fixture
async def api():
    server = await FakeApi().start()
    yield server
    await server.aclose()


@pytest.fixture
async def other():
    """A second server (another origin: same address, another port)."""
    server = await FakeApi().start()
    yield server
    await server.aclose()


def get_tool(url: str, **http: Any) -> dict[str, Any]:
    return {
        "name": "fetch",
        "parameters": {"id": {"type": "string"}, "q": {"type": "string"}, "note": {"type": "string"}},
        "required": [],
        "http": {"method": "GET", "url": url, **http},
    }


async def run(tool: dict[str, Any], args: dict[str, Any], **kw: Any):
    runner = runner_for(tool, **kw)
    try:
        return await runner.run(tool["name"], args, CTX)
    finally:
        await runner.aclose()


# -- the path: arguments stay inside their segment ------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("../../admin", "/users/..%2F..%2Fadmin/profile"),
        ("%2e%2e%2fadmin", "/users/%252e%252e%252fadmin/profile"),  # encoded traversal stays data
        ("..%2F..%2Fadmin", "/users/..%252F..%252Fadmin/profile"),
        ("José/../x", "/users/Jos%C3%A9%2F..%2Fx/profile"),
        ("\uff0e\uff0e/\u2215admin", "/users/%EF%BC%8E%EF%BC%8E%2F%E2%88%95admin/profile"),  # fullwidth
        ("a\\..\\admin", "/users/a%5C..%5Cadmin/profile"),
    ],
)
async def test_path_arguments_are_one_encoded_segment(api: FakeApi, value: str, target: str):
    res = await run(get_tool(api.base + "/users/{{ args.id }}/profile"), {"id": value})
    assert res.ok, res.error
    assert [s.target for s in api.seen] == [target]


@pytest.mark.parametrize("value", ["..", "."])
async def test_dot_segments_from_arguments_are_refused(api: FakeApi, value: str):
    res = await run(get_tool(api.base + "/users/{{ args.id }}/profile"), {"id": value})
    assert not res.ok and "'..'" in res.error
    assert api.seen == []  # nothing was sent (httpx would have turned /users/../profile into /profile)


async def test_query_injection_through_the_path_is_encoded(api: FakeApi):
    res = await run(get_tool(api.base + "/items/{{ args.id }}"), {"id": "1?role=admin#"})
    assert res.ok, res.error
    (seen,) = api.seen
    assert seen.target == "/items/1%3Frole%3Dadmin%23"
    assert "role" not in parse_qs(urlsplit(seen.target).query)


async def test_query_values_in_the_url_are_encoded(api: FakeApi):
    res = await run(get_tool(api.base + "/search?q={{ args.q }}&lang=en"), {"q": "x&role=admin#frag"})
    assert res.ok, res.error
    assert parse_qs(urlsplit(api.seen[0].target).query) == {"q": ["x&role=admin#frag"], "lang": ["en"]}


async def test_query_mapping_values_are_encoded_and_keep_the_urls_own_query(api: FakeApi):
    res = await run(get_tool(api.base + "/search?v=2", query={"q": "{{ args.q }}"}), {"q": "a&role=admin"})
    assert res.ok, res.error
    assert parse_qs(urlsplit(api.seen[0].target).query) == {"v": ["2"], "q": ["a&role=admin"]}


# -- the host: fixed when the agent loads ---------------------------------------------------------

HOST_TEMPLATES = [
    "http://api.example.invalid{{ args.id }}/v1",
    "http://{{ args.id }}/v1",
    "{{ args.id }}/v1",
    "http://api.example.invalid:{{ args.id }}/v1",
    "http://{{ args.id }}@api.example.invalid/v1",
    "http{{ args.id }}://api.example.invalid/v1",
]


@pytest.mark.parametrize("url", HOST_TEMPLATES)
@pytest.mark.parametrize("loopback", ["127.0.0.1", "::1"])
async def test_templated_host_never_reaches_another_server(url: str, loopback: str):
    server = await FakeApi(loopback).start()
    try:
        host = f"[{loopback}]" if ":" in loopback else loopback
        res = await run(get_tool(url), {"id": f"@{host}:{server.port}"})
        assert not res.ok and "misconfigured" in res.error
        assert server.seen == []
    finally:
        await server.aclose()


@pytest.mark.parametrize("url", HOST_TEMPLATES)
def test_validate_reports_a_templated_host_at_its_line(tmp_path: Path, url: str):
    f = tmp_path / "a.yaml"
    f.write_text(
        "name: a\nprompt: p\ntools:\n  - name: fetch\n    parameters: {id: {type: string}}\n"
        f"    http:\n      method: GET\n      url: '{url}'\n"
    )
    _, _, diags = check_file(f, import_tools=False)
    errors = [d for d in diags if d.severity == "error"]
    assert len(errors) == 1, diags
    assert (errors[0].line, errors[0].path) == (8, "tools[0].http.url")
    assert "host" in errors[0].message or "scheme" in errors[0].message


def test_validate_accepts_env_hosts_and_templated_paths(tmp_path: Path):
    f = tmp_path / "a.yaml"
    f.write_text(
        "name: a\nprompt: p\ntools:\n"
        "  - {name: a, http: {url: '${BASE}/v1/{{ args.id }}'}}\n"
        "  - {name: b, http: {url: 'https://${HOST}:8443/{{ args.id }}?q={{ args.q }}'}}\n"
        "  - {name: c, http: {url: 'http://[::1]:8080/x/{{ args.id }}', allowed_hosts: ['[::1]']}}\n"
        "  - {name: d, http: {url: '${BASE}{{ args.id }}'}}\n"
    )
    _, _, diags = check_file(f, import_tools=False)
    assert [(d.line, d.path) for d in diags if d.severity == "error"] == [(7, "tools[3].http.url")], diags


async def test_ipv6_literal_host_works(api: FakeApi):
    server = await FakeApi("::1").start()
    try:
        res = await run(get_tool(server.base + "/x/{{ args.id }}", allowed_hosts=["[::1]"]), {"id": "a/b"})
        assert res.ok, res.error
        assert [s.target for s in server.seen] == ["/x/a%2Fb"]
    finally:
        await server.aclose()


async def test_allowed_hosts_refuses_other_hosts(api: FakeApi, tmp_path: Path):
    res = await run(get_tool(api.base + "/x", allowed_hosts=["api.acme.example", "*.acme.example"]), {})
    assert not res.ok and "allowed_hosts" in res.error
    assert api.seen == []
    res = await run(get_tool(api.base + "/x", allowed_hosts=[f"127.0.0.1:{api.port}"]), {})
    assert res.ok, res.error
    f = tmp_path / "a.yaml"
    f.write_text(
        "name: a\nprompt: p\ntools:\n"
        "  - {name: a, http: {url: 'http://127.0.0.1:9/x', allowed_hosts: [api.acme.example]}}\n"
        "  - {name: b, http: {url: 'https://x.acme.example/x', allowed_hosts: ['*.acme.example']}}\n"
        "  - {name: c, http: {url: 'https://acme.example/x', allowed_hosts: ['bad host']}}\n"
    )
    _, _, diags = check_file(f, import_tools=False)
    assert [(d.line, d.path) for d in diags if d.severity == "error"] == [
        (4, "tools[0].http.url"),
        (6, "tools[2].http.allowed_hosts[0]"),
    ], diags


# -- headers --------------------------------------------------------------------------------------


@pytest.mark.parametrize("note", ["hi\r\nX-Admin: 1", "hi\nX-Admin: 1", "hi\rX-Admin: 1", "a\x00b"])
async def test_line_breaks_in_header_values_are_refused(api: FakeApi, note: str):
    res = await run(get_tool(api.base + "/x", headers={"X-Note": "{{ args.note }}"}), {"note": note})
    assert not res.ok
    assert "X-Note" in res.error and "X-Admin" not in res.error
    assert all("x-admin" not in s.headers for s in api.seen)


# -- redirects ------------------------------------------------------------------------------------


def redirect_to(location: str, status: int = 302):
    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await send(writer, status, "", {"Location": location})

    return handler


SECRET_HEADERS = {
    "Authorization": "Bearer tok-9f8e7d6c5b4a",
    "X-Api-Key": "key-0a1b2c3d4e5f",
    "Cookie": "session=abcdef123456",
    "X-Custom-Auth": "custom-77aa88bb99",
}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_not_followed_by_default(api: FakeApi, other: FakeApi, status: int):
    api.routes["/start"] = redirect_to(other.base + "/steal", status)
    res = await run(get_tool(api.base + "/start", headers=SECRET_HEADERS), {})
    assert not res.ok and f"HTTP {status}" in res.error and "redirect" in res.error
    assert other.seen == []


async def test_cross_origin_redirect_is_refused_unless_allowed(api: FakeApi, other: FakeApi):
    api.routes["/start"] = redirect_to(f"http://localhost:{other.port}/steal")
    res = await run(get_tool(api.base + "/start", headers=SECRET_HEADERS, follow_redirects=True), {})
    assert not res.ok and "another host" in res.error
    assert other.seen == []


async def test_allowed_cross_origin_redirect_drops_every_credential(api: FakeApi, other: FakeApi):
    api.routes["/start"] = redirect_to(other.base + "/landing?from=a")
    tool = get_tool(
        api.base + "/start",
        headers={**SECRET_HEADERS, "Accept": "application/json"},
        follow_redirects=True,
        allowed_hosts=["127.0.0.1"],
    )
    res = await run(tool, {})
    assert res.ok, res.error
    (seen,) = other.seen
    assert seen.target == "/landing?from=a"
    for name in SECRET_HEADERS:
        assert name.lower() not in seen.headers
    assert not any(v in json.dumps(seen.headers) for v in SECRET_HEADERS.values())
    # the first hop had them all
    assert {k.lower() for k in SECRET_HEADERS} <= set(api.seen[0].headers)


async def test_same_origin_redirect_is_followed_with_its_headers(api: FakeApi):
    api.routes["/start"] = redirect_to("/final")
    res = await run(get_tool(api.base + "/start", headers={"X-Api-Key": "key-0a1b2c3d4e5f"}, follow_redirects=True), {})
    assert res.ok, res.error
    assert [s.target for s in api.seen] == ["/start", "/final"]
    assert api.seen[1].headers["x-api-key"] == "key-0a1b2c3d4e5f"


async def test_cross_origin_307_never_resends_the_body(api: FakeApi, other: FakeApi):
    api.routes["/start"] = redirect_to(other.base + "/steal", 307)
    tool = {
        "name": "post",
        "parameters": {},
        "http": {
            "url": api.base + "/start",
            "json": {"card": "4111111111111111"},
            "follow_redirects": True,
            "allowed_hosts": ["127.0.0.1"],
        },
    }
    res = await run(tool, {})
    assert not res.ok and "body" in res.error
    assert other.seen == []


async def test_redirect_loop_ends(api: FakeApi):
    api.routes["/loop"] = redirect_to("/loop")
    res = await run(get_tool(api.base + "/loop", follow_redirects=True), {})
    assert not res.ok and "redirects" in res.error
    assert len(api.seen) == 6


# -- one total deadline ---------------------------------------------------------------------------


async def test_slow_drip_is_cut_at_the_total_deadline(api: FakeApi):
    async def drip(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await write(writer, response_head(200, {"Content-Type": "application/json", "Content-Length": "1000"}))
        for _ in range(1000):
            await write(writer, b" ")
            await asyncio.sleep(0.1)

    api.routes["/drip"] = drip
    started = time.monotonic()
    res = await run(get_tool(api.base + "/drip", timeout_ms=500), {})
    elapsed = time.monotonic() - started
    assert not res.ok and res.error == "HTTP request timed out after 500 ms"
    assert elapsed < 1.5  # the tool's own timeout_ms (5000 by default) did not have to step in


async def test_slow_drip_through_redirects_shares_one_deadline(api: FakeApi):
    async def slow_redirect(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.2)
        await send(writer, 302, "", {"Location": "/again"})

    api.routes["/"] = slow_redirect
    started = time.monotonic()
    res = await run(get_tool(api.base + "/start", timeout_ms=500, follow_redirects=True), {})
    assert not res.ok and "timed out after 500 ms" in res.error
    assert time.monotonic() - started < 1.2


# -- answers: size, compression, depth ------------------------------------------------------------


def streamed(total: int, piece: bytes, *, first: bytes = b"", encoding: str | None = None):
    """A handler sending ``first`` then ``piece`` repeated up to ``total`` bytes, chunked; it
    records how much it managed to write before the client went away."""
    state = {"written": 0}

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
        headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        if encoding:
            headers["Content-Encoding"] = encoding
        await write(writer, response_head(200, headers))
        data = first
        while state["written"] < total:
            data += piece
            await write(writer, chunk(data))
            state["written"] += len(data)
            data = b""
        await write(writer, LAST_CHUNK)

    return handler, state


async def test_huge_json_is_not_read_whole_and_reaches_the_model_capped(api: FakeApi):
    handler, state = streamed(100 * 1024 * 1024, b'{"k": "' + b"v" * 65000 + b'"},', first=b"[")
    api.routes["/huge"] = handler
    res = await run(get_tool(api.base + "/huge"), {})
    assert res.ok, res.error
    assert isinstance(res.result, str)
    assert "[truncated: the answer was larger than 1048576 bytes" in res.result
    assert len(res.for_llm()) < 4000 + 200
    assert state["written"] < 20 * 1024 * 1024  # the client stopped reading


async def test_result_cap_is_configurable_and_small_json_stays_json(api: FakeApi):
    async def medium(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await send(writer, 200, {"items": list(range(3000))})

    api.routes["/medium"] = medium
    res = await run(get_tool(api.base + "/medium", max_result_chars=500), {})
    assert res.ok and isinstance(res.result, str)
    assert res.result.startswith('{"items": [0, 1, 2')
    assert "[truncated: the answer had" in res.result and len(res.result) < 600
    res = await run(get_tool(api.base + "/medium", max_result_chars=100000), {})
    assert res.ok and res.result == {"items": list(range(3000))}


async def test_max_response_bytes_is_configurable(api: FakeApi):
    handler, _ = streamed(300_000, b"x" * 1000)
    api.routes["/big"] = handler
    res = await run(get_tool(api.base + "/big", max_response_bytes=2048, max_result_chars=100000), {})
    assert res.ok and res.result.startswith("x" * 2048 + " [truncated: the answer was larger than 2048 bytes")


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compression_bomb_is_decoded_within_the_limit(api: FakeApi, encoding: str):
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = b"0" * (1024 * 1024)
    bomb = b"".join(z.compress(zeros) for _ in range(200)) + z.flush()  # 200 MB in ~200 KB

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await send(writer, 200, bomb, {"Content-Type": "text/plain", "Content-Encoding": encoding})

    api.routes["/bomb"] = handler
    tracemalloc.start()
    try:
        res = await run(get_tool(api.base + "/bomb"), {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.ok, res.error
    assert res.result.startswith("0" * 4000 + " [truncated: the answer was larger than 1048576 bytes")
    assert peak < 40 * 1024 * 1024, peak


async def test_broken_or_unknown_encoding_is_a_clear_error(api: FakeApi):
    async def broken(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await send(writer, 200, b"not gzip at all", {"Content-Encoding": "gzip"})

    async def unknown(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await send(writer, 200, b"???", {"Content-Encoding": "x-weird"})

    api.routes["/broken"], api.routes["/unknown"] = broken, unknown
    res = await run(get_tool(api.base + "/broken"), {})
    assert not res.ok and res.error == "the answer could not be decoded (gzip)"
    res = await run(get_tool(api.base + "/unknown"), {})
    assert not res.ok and "unsupported Content-Encoding" in res.error


@pytest.mark.parametrize(
    "payload",
    [
        "[" * 100_000 + "]" * 100_000,  # the C parser's recursion limit
        "[" * 500 + "]" * 500,  # parses, but too deep for every later step
        '{"n": ' + "1" * 5000 + "}",  # over Python's int digit limit
    ],
)
async def test_hostile_json_becomes_capped_text(api: FakeApi, payload: str):
    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await send(writer, 200, payload.encode(), {"Content-Type": "application/json"})

    api.routes["/deep"] = handler
    res = await run(get_tool(api.base + "/deep"), {})
    assert res.ok, res.error
    assert isinstance(res.result, str) and res.result.startswith(payload[:50])
    assert len(res.for_llm()) < 4300


async def test_non_ascii_header_values_are_sent_as_utf8(api: FakeApi):
    res = await run(get_tool(api.base + "/x", headers={"X-Caller-Name": "{{ args.note }}"}), {"note": "José ✓"})
    assert res.ok, res.error
    raw = api.seen[0].headers["x-caller-name"]  # the server reads latin-1
    assert raw.encode("latin-1").decode("utf-8") == "José ✓"


@pytest.mark.parametrize("name", ["Host", "Content-Length", "Transfer-Encoding"])
async def test_routing_headers_never_come_from_templates(api: FakeApi, name: str):
    res = await run(get_tool(api.base + "/x", headers={name: "{{ args.note }}"}), {"note": "admin.internal"})
    assert not res.ok and "misconfigured" in res.error and name in res.error
    assert api.seen == []
