"""The WebSocket side of every call (Twilio, Exotel, browser): accept, check the agent and the
capacity, read frames into the transport, run the call, close.

All frames a call sends go through one writer task (:class:`Outbox`), so media, marks, clears
and live-view events leave in order and never interleave on the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from voiceagent.serve.runner import AfterCall, Listener, ServeContext, run_call
from voiceagent.transports.media_stream import MediaStream, Send

__all__ = ["CLOSE_BUSY", "CLOSE_POLICY", "Outbox", "serve_stream"]

log = logging.getLogger("voiceagent.serve")

CLOSE_POLICY = 1008
"""Unknown agent, or a missing / wrong auth token."""
CLOSE_BUSY = 1013
"""At capacity or draining: try again later."""
START_TIMEOUT_S = 10.0


class Outbox:
    """A single writer for one WebSocket: :meth:`send` queues, a task writes in order."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._write())
        self.failed = False

    async def send(self, text: str) -> None:
        """Queue one text frame (raises ``ConnectionError`` once the socket failed)."""
        if self.failed:
            raise ConnectionError("the WebSocket is closed")
        self._queue.put_nowait(text)

    def send_json(self, message: dict[str, Any]) -> None:
        """Queue one JSON frame (dropped once the socket failed)."""
        if not self.failed:
            self._queue.put_nowait(json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str))

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            try:
                await self.ws.send_text(text)
            except Exception:  # noqa: BLE001 - the peer went away
                self.failed = True
                return

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Write what is queued, then close the socket."""
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5.0):
                await self._task
        self._task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)


async def _read(ws: WebSocket, transport: MediaStream) -> None:
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is not None:
                transport.handle(text)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        transport.caller_hung_up()


async def refuse(ws: WebSocket, code: int, reason: str) -> None:
    """Accept then close with ``code`` (a close frame the client can read)."""
    await ws.accept()
    await ws.close(code, reason)


async def serve_stream(
    ctx: ServeContext,
    ws: WebSocket,
    agent: str,
    kind: str,
    make_transport: Callable[[Send], MediaStream],
    *,
    after: Callable[[MediaStream, Outbox], AfterCall] | None = None,
    listeners: Callable[[MediaStream, Outbox], list[Listener]] | None = None,
    on_ready: Callable[[MediaStream, Outbox, str], None] | None = None,
) -> None:
    """One call on ``ws`` for agent ``agent``: 1008 when unknown, 1013 when refused, else run it.

    Args:
        ctx: the server's shared state.
        ws: the WebSocket (not yet accepted).
        agent: the agent's name from the path.
        kind: ``twilio``, ``exotel`` or ``browser`` (logs, metrics).
        make_transport: builds the transport around the outbox's ``send``.
        after: builds the runner's ``after`` hook for this transport (transfer, hang-up).
        listeners: builds extra event listeners (the browser's live view).
        on_ready: called once the call is admitted, with its id.
    """
    version = ctx.catalogue.get(agent)
    if version is None:
        await refuse(ws, CLOSE_POLICY, "unknown agent")
        return
    refusal = ctx.registry.refusal()
    if refusal is not None:
        ctx.metrics.call_ended(agent, f"refused_{refusal}")
        await refuse(ws, CLOSE_BUSY, f"try again later ({refusal})")
        return
    await ws.accept()
    outbox = Outbox(ws)
    transport = make_transport(outbox.send)
    reader = asyncio.create_task(_read(ws, transport))
    try:
        try:
            start = await transport.started(START_TIMEOUT_S)
        except TimeoutError:
            log.warning("%s stream for %s sent no valid start in %.0f s", kind, agent, START_TIMEOUT_S)
            await outbox.aclose(1002, "no start message")
            return
        active = ctx.registry.admit(agent, kind, start.call_id)
        if active is None:
            ctx.metrics.call_ended(agent, f"refused_{ctx.registry.refusal() or 'capacity'}")
            await outbox.aclose(CLOSE_BUSY, "try again later")
            return
        if on_ready is not None:
            on_ready(transport, outbox, active.id)
        await run_call(
            ctx,
            active,
            version,
            transport,
            listeners=listeners(transport, outbox) if listeners is not None else None,
            after=after(transport, outbox) if after is not None else None,
        )
        await transport.aclose()
        await outbox.aclose(1000, "call ended")
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
