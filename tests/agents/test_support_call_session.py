"""The Acme support agent through the real session loop, its Python tool, its HTTP tool against a
local ticket server (127.0.0.1, ephemeral port) and the warm transfer. Only the LLM is scripted."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from voiceagent.config.load import load_agent
from voiceagent.engine.call import Providers, build_call
from voiceagent.testing.fakes import FakeLLM, FakeTransport, tool_call

AGENTS = Path(__file__).resolve().parents[2] / "agents"


@pytest.fixture
def ticket_server():
    """A ticket API on 127.0.0.1 that records each request and answers 201 with a ticket id."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append({"path": self.path, "auth": self.headers.get("Authorization"), "json": json.loads(body)})
            payload = json.dumps({"ticket_id": "T-1001", "status": "open"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tickets", received
    server.shutdown()
    server.server_close()


def policy(request):
    last = request.messages[-1]
    if last["role"] == "tool":
        return ["Done."]
    text = str(last.get("content", "")).lower()
    if "12345" in text:
        return [tool_call("get_account_info", json.dumps({"account_id": "12345"}))]
    if "broken" in text:
        return [tool_call("create_ticket", json.dumps({"summary": "Router keeps rebooting"}))]
    if "person" in text:
        return [tool_call("transfer_to_human", json.dumps({"reason": "wants a person"}))]
    return ["How else can I help?"]


async def test_support_call_uses_each_tool_and_ends_in_a_warm_transfer(ticket_server, tmp_path):
    url, received = ticket_server
    loaded = load_agent(AGENTS / "support.yaml", env={"ACME_TICKETS_URL": url})
    transport = FakeTransport(
        "text",
        plays_audio=False,
        close_input=True,
        caller={"phone": "+15550123"},
        lines=["What's on account 12345?", "My router is broken", "Let me talk to a person", "Hello?"],
    )
    llm = FakeLLM([policy] * 20)
    async with build_call(loaded, Providers(llm=llm), transport, env={}) as call:
        reason = await call.run()
    events = call.events
    results = {e["name"]: e for e in events.events if e["type"] == "tool.result"}
    assert results["get_account_info"]["result"]["name"] == "Priya Sharma"
    assert results["create_ticket"]["ok"], results["create_ticket"]
    assert received == [
        {
            "path": "/tickets",
            "auth": "Bearer demo-token",
            "json": {"summary": "Router keeps rebooting", "caller": "+15550123"},
        }
    ]
    spoken = [e["text"] for e in events.events if e["type"] == "agent.text"]
    assert spoken[0] == "Hi, this is Acme Corp support. How can I help?"
    assert any(t.startswith("Let me check your account.") for t in spoken)
    (transfer,) = [e for e in events.events if e["type"] == "call.transfer"]
    assert transfer["to"] == "+15550100" and transfer["mode"] == "warm"
    assert "Acme customer escalation: wants a person" in json.dumps(transfer)
    assert reason != "input_closed"  # the transfer ended the call, not the end of input
    assert not any(e["type"] == "user.transcript" and e["text"] == "Hello?" for e in events.events)
