"""Run the app on uvicorn with the server's own signal handling: SIGTERM / SIGINT start a drain
(``/healthz`` 503 at once, no new calls, running calls get ``--drain-timeout`` seconds, then the
rest hear a goodbye and are hung up), and only then does uvicorn stop. Exit status 0.

uvicorn's own handlers would close every WebSocket at once (cutting calls mid-sentence), so they
are replaced (https://www.uvicorn.org/deployment/#running-programmatically).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator

import uvicorn

from voiceagent.serve.app import create_app
from voiceagent.serve.runner import ServeContext

__all__ = ["serve_forever"]

log = logging.getLogger("voiceagent.serve")


MAX_FRAME_BYTES = 1 << 20
"""Largest WebSocket message accepted (1 MiB; a telephony frame is a few hundred bytes)."""


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the drain installs its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def serve_forever(
    ctx: ServeContext,
    *,
    host: str,
    port: int,
    drain_timeout: float,
    reload: bool,
    announce: Callable[[str], None] | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT, drain, stop. Returns the exit status (0).

    Args:
        ctx: the server's state (agents already loaded).
        host: the interface to listen on.
        port: the TCP port (0: any free port; :func:`announce` gets the chosen one).
        drain_timeout: seconds running calls get to finish after a signal.
        reload: watch the agent files.
        announce: called with ``http://host:port`` once listening (the real port when 0 was asked).
    """
    app = create_app(ctx, reload=reload)
    # No permessage-deflate: base64 audio barely compresses, and inflating 50 frames a second per
    # call cost CPU for nothing (docs/performance.md, section 5).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        ws_ping_interval=20,
        ws_per_message_deflate=False,
        ws_max_size=MAX_FRAME_BYTES,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    draining: asyncio.Task[None] | None = None

    async def drain() -> None:
        await ctx.registry.drain(drain_timeout)
        server.should_exit = True

    def on_signal(sig: signal.Signals) -> None:
        nonlocal draining
        if draining is None:
            log.info("%s: draining (%d call(s) in progress)", sig.name, len(ctx.registry))
            ctx.registry.draining = True
            draining = asyncio.create_task(drain())
        else:
            log.info("%s again: stopping now", sig.name)
            for call in list(ctx.registry.active.values()):
                call.end_now.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)

    async def tell_when_started() -> None:
        while not server.started:  # noqa: ASYNC110 - uvicorn has no started event to wait on
            await asyncio.sleep(0.02)
        sockets = [s for srv in server.servers for s in srv.sockets]
        bound = sockets[0].getsockname()[1] if sockets else port
        if announce is not None:
            announce(f"http://{host}:{bound}")

    teller = asyncio.create_task(tell_when_started())
    try:
        await server.serve()
    finally:
        teller.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        if draining is not None and not draining.done():
            await draining
    return 0
