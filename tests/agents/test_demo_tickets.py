"""The demo ticket service: the support example's create_ticket HTTP tool works with nothing set up."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from voiceagent.config.load import load_agent
from voiceagent.demo_tickets import DEMO_TICKETS_URL, DemoTicketService, demo_ticket_service, tickets_db_path
from voiceagent.engine.call import Providers, build_call
from voiceagent.testing.fakes import FakeLLM, FakeTransport, tool_call

AGENTS = Path(__file__).resolve().parents[2] / "agents"


@pytest.fixture
def service(tmp_path):
    svc = DemoTicketService(tmp_path / "tickets.db", port=0)
    assert svc.start()
    yield svc
    svc.close()


def test_a_ticket_is_stored_and_listed(service):
    auth = {"Authorization": "Bearer demo-token"}
    made = httpx.post(service.url, json={"summary": " Router keeps rebooting ", "caller": "+15550123"}, headers=auth)
    assert made.status_code == 201 and made.json() == {
        "id": "T-1001",
        "status": "open",
        "summary": "Router keeps rebooting",
    }
    assert httpx.post(service.url, json={"summary": "Second"}, headers=auth).json()["id"] == "T-1002"
    rows = sqlite3.connect(service.db_path).execute("SELECT id, summary, caller FROM tickets").fetchall()
    assert rows == [(1001, "Router keeps rebooting", "+15550123"), (1002, "Second", None)]
    assert [t["id"] for t in httpx.get(service.url, headers=auth).json()] == ["T-1001", "T-1002"]


@pytest.mark.parametrize(
    "kwargs, status",
    [
        ({"json": {"summary": "x"}}, 401),  # no bearer token
        ({"content": b"not json", "headers": {"Authorization": "Bearer t"}}, 400),
        ({"json": {"summary": "   "}, "headers": {"Authorization": "Bearer t"}}, 400),
        ({"json": ["summary"], "headers": {"Authorization": "Bearer t"}}, 400),
        ({"content": b"x" * (64 * 1024 + 1), "headers": {"Authorization": "Bearer t"}}, 400),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(service, kwargs, status):
    response = httpx.post(service.url, **kwargs)
    assert response.status_code == status and "error" in response.json()
    assert not service.db_path.exists() or sqlite3.connect(service.db_path).execute(
        "SELECT COUNT(*) FROM tickets"
    ).fetchone() == (0,)
    assert (
        httpx.post(
            service.url.replace("/tickets", "/other"), json={}, headers={"Authorization": "Bearer t"}
        ).status_code
        == 404
    )


def test_concurrent_tickets_get_distinct_ids(service):
    ids: list[str] = []

    def post(i: int) -> None:
        r = httpx.post(service.url, json={"summary": f"s{i}"}, headers={"Authorization": "Bearer t"})
        ids.append(r.json()["id"])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 8


def test_it_starts_only_for_the_demo_address_and_a_free_port(tmp_path):
    env = {"VOICEAGENT_TICKETS_DB": str(tmp_path / "t.db")}
    assert tickets_db_path(env) == tmp_path / "t.db"
    default = load_agent(AGENTS / "support.yaml", env={}).agent
    assert default.tool("create_ticket").http.url == DEMO_TICKETS_URL
    custom = load_agent(AGENTS / "support.yaml", env={"ACME_TICKETS_URL": "https://tickets.example/t"}).agent
    with demo_ticket_service(custom, env) as svc:
        assert svc is None
    bank = load_agent(AGENTS / "bank.yaml", env={}).agent
    with demo_ticket_service(bank, env) as svc:
        assert svc is None
    blocker = DemoTicketService(tmp_path / "other.db")  # something already listens on 8787
    blocker.start()  # (or something else already does)
    try:
        with demo_ticket_service(default, env) as svc:
            assert svc is None
    finally:
        blocker.close()


async def test_the_support_agent_opens_a_ticket_through_its_http_tool(tmp_path):
    env = {"VOICEAGENT_TICKETS_DB": str(tmp_path / "t.db")}
    loaded = load_agent(AGENTS / "support.yaml", env={})
    transport = FakeTransport(
        "text", plays_audio=False, close_input=True, caller={"phone": "+15550123"}, lines=["My router is broken"]
    )
    llm = FakeLLM([[tool_call("create_ticket", json.dumps({"summary": "Router keeps rebooting"}))], ["Ticket opened."]])
    with demo_ticket_service(loaded.agent, env) as svc:
        if svc is None:
            pytest.skip("port 8787 is taken on this machine")
        async with build_call(loaded, Providers(llm=llm), transport, env={}) as call:
            await call.run()
    (result,) = [e for e in call.events.events if e["type"] == "tool.result" and e["name"] == "create_ticket"]
    assert result["ok"] and result["result"]["id"] == "T-1001", result
    rows = sqlite3.connect(tmp_path / "t.db").execute("SELECT summary, caller FROM tickets").fetchall()
    assert rows == [("Router keeps rebooting", "+15550123")]
