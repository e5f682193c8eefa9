"""The demo ticket service: what the support example's ``create_ticket`` HTTP tool talks to offline.

``agents/support.yaml`` opens tickets with an ``http:`` tool that POSTs ``{"summary", "caller"}``
to ``${ACME_TICKETS_URL:-http://127.0.0.1:8787/tickets}`` with a bearer token. So that a new user
with nothing configured sees the whole agent work, ``voiceagent run`` and ``voiceagent test``
start this service when an agent's HTTP tool targets exactly :data:`DEMO_TICKETS_URL` and
nothing listens on that port yet (they print one line saying so). Point ``ACME_TICKETS_URL`` at
a real service and it is not started. The tool really goes over HTTP: the request, headers,
timeouts and error handling are the ones a production service gets.

Routes: ``POST /tickets`` with a JSON object body -> ``201 {"id": "T-1001", "status": "open",
"summary": ...}``; the ticket is stored in a SQLite database (stdlib ``sqlite3``,
https://docs.python.org/3/library/sqlite3.html) at ``$VOICEAGENT_TICKETS_DB``, else
``$XDG_CACHE_HOME/voiceagent/tickets.db``, else ``~/.cache/voiceagent/tickets.db``.
``GET /tickets`` lists them. A body that is not a JSON object with a non-empty ``summary`` gets
``400``; a request without ``Authorization: Bearer ...`` gets ``401``. HTTP semantics:
https://www.rfc-editor.org/rfc/rfc9110.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["DEMO_TICKETS_URL", "DemoTicketService", "demo_ticket_service", "tickets_db_path", "wants_demo_tickets"]

DEMO_TICKETS_URL = "http://127.0.0.1:8787/tickets"
"""The address the support example uses when ``ACME_TICKETS_URL`` is not set."""

_MAX_BODY = 64 * 1024
_FIRST_ID = 1001


def tickets_db_path(env: dict[str, str] | None = None) -> Path:
    """Where tickets are stored (see the module docstring)."""
    env = dict(os.environ if env is None else env)
    if env.get("VOICEAGENT_TICKETS_DB"):
        return Path(env["VOICEAGENT_TICKETS_DB"])
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "voiceagent" / "tickets.db"


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=5.0)
    db.execute(
        "CREATE TABLE IF NOT EXISTS tickets (id INTEGER PRIMARY KEY, summary TEXT NOT NULL, "
        "caller TEXT, fields TEXT NOT NULL, created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    return db


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the call's own event log records the tool call

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> bool:
        if urlsplit(self.path).path.rstrip("/") != urlsplit(DEMO_TICKETS_URL).path:
            self._reply(404, {"error": "not found"})
            return False
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            self._reply(401, {"error": "missing Authorization: Bearer token"})
            return False
        return True

    def do_GET(self) -> None:
        if not self._route():
            return
        with contextlib.closing(_connect(self.server.db_path)) as db:
            rows = db.execute("SELECT id, summary, caller, created FROM tickets ORDER BY id").fetchall()
        self._reply(200, [{"id": f"T-{r[0]}", "summary": r[1], "caller": r[2], "created": r[3]} for r in rows])

    def do_POST(self) -> None:
        if not self._route():
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= _MAX_BODY:
            self._reply(400, {"error": f"send a JSON body of 1 to {_MAX_BODY} bytes"})
            return
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            body = None
        summary = body.get("summary") if isinstance(body, dict) else None
        if not isinstance(summary, str) or not summary.strip():
            self._reply(400, {"error": 'send a JSON object with a non-empty "summary"'})
            return
        with self.server.lock, contextlib.closing(_connect(self.server.db_path)) as db:
            caller = body.get("caller")
            cur = db.execute(
                "INSERT INTO tickets (id, summary, caller, fields) VALUES "
                "((SELECT COALESCE(MAX(id), ?) + 1 FROM tickets), ?, ?, ?)",
                (_FIRST_ID - 1, summary.strip(), str(caller) if caller else None, json.dumps(body)),
            )
            db.commit()
            ticket = cur.lastrowid
        self._reply(201, {"id": f"T-{ticket}", "status": "open", "summary": summary.strip()})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    db_path: Path
    lock: threading.Lock


class DemoTicketService:
    """The demo ticket service on ``host:port`` (a background thread).

    Args:
        db_path: the SQLite file (default :func:`tickets_db_path`).
        host, port: where to listen (default those of :data:`DEMO_TICKETS_URL`; port 0 picks one).
    """

    def __init__(self, db_path: Path | None = None, *, host: str = "127.0.0.1", port: int = 8787) -> None:
        self.db_path = db_path or tickets_db_path()
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The tickets URL it serves."""
        return f"http://{self.host}:{self.port}/tickets"

    def start(self) -> bool:
        """Listen and serve in a daemon thread; False (nothing started) when the port is taken."""
        try:
            server = _Server((self.host, self.port), _Handler)
        except OSError:
            return False
        server.db_path = self.db_path
        server.lock = threading.Lock()
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name="demo-tickets", daemon=True)
        self._thread.start()
        return True

    def close(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def wants_demo_tickets(urls: Iterable[str | None]) -> bool:
    """Whether one of an agent's HTTP tool URLs (after ``${VAR}`` substitution) is the demo one."""
    return any(u == DEMO_TICKETS_URL for u in urls)


@contextlib.contextmanager
def demo_ticket_service(agent: Any, env: dict[str, str] | None = None) -> Iterator[DemoTicketService | None]:
    """The demo ticket service while the block runs, when ``agent`` (a loaded ``Agent``) has an
    HTTP tool posting to :data:`DEMO_TICKETS_URL` and the port is free; else None.
    """
    urls = [t.http.url for t in getattr(agent, "tools", []) if getattr(t, "http", None) is not None]
    service = DemoTicketService(tickets_db_path(env)) if wants_demo_tickets(urls) else None
    if service is not None and not service.start():
        service = None  # something already listens there (a real or an earlier demo service)
    try:
        yield service
    finally:
        if service is not None:
            service.close()
