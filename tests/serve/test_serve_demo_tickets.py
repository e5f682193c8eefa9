"""``voiceagent serve`` starts the demo ticket service for an agent whose ticket tool posts to the
demo address (as ``run`` and ``test`` do), and stops it with the server."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from serve_helpers import running_server
from voiceagent.demo_tickets import DEMO_TICKETS_URL

AGENTS = Path(__file__).resolve().parents[2] / "agents"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def test_serve_runs_the_demo_ticket_service_while_it_runs(tmp_path):
    port = int(DEMO_TICKETS_URL.split(":")[2].split("/")[0])
    if not _port_free(port):
        pytest.skip(f"something else listens on 127.0.0.1:{port} (an offline suite run?)")
    env = {"VOICEAGENT_TICKETS_DB": str(tmp_path / "tickets.db")}
    async with running_server([AGENTS / "support.yaml", AGENTS / "bank.yaml"], env):
        async with httpx.AsyncClient() as http:
            made = await http.post(
                DEMO_TICKETS_URL, json={"summary": "Router is down"}, headers={"Authorization": "Bearer demo-token"}
            )
        assert made.status_code == 201 and made.json()["id"] == "T-1001"
        assert (tmp_path / "tickets.db").exists()
    assert _port_free(port)  # stopped with the server
