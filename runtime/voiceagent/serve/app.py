"""The Starlette application of ``voiceagent serve``: every route of docs/serve.md.

| route | what |
|---|---|
| ``GET /healthz`` | ``{"status", "calls", "max_calls", "agents"}``; 503 while draining |
| ``GET /metrics`` | Prometheus text (:mod:`.metrics`) |
| ``GET /agents`` | one item per agent file (:meth:`.catalogue.Catalogue.listing`) |
| ``GET /`` | a page listing the agents with links to their call pages |
| ``GET /call/{agent}`` | the browser call page (:mod:`.pages`) |
| ``WS /ws/{agent}`` | the generic WebSocket protocol (:mod:`voiceagent.transports.websocket`) |
| ``POST /twilio/{agent}`` | Twilio voice webhook: TwiML ``<Connect><Stream>`` |
| ``WS /twilio/{agent}/stream`` | Twilio Media Streams |
| ``WS /exotel/{agent}`` | Exotel AgentStream |

An unknown agent is 404 (HTTP) or close code 1008 (WebSocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from voiceagent.demo_tickets import demo_ticket_service
from voiceagent.serve import pages
from voiceagent.serve.metrics import CONTENT_TYPE_LATEST
from voiceagent.serve.runner import AfterCall, Listener, ServeContext
from voiceagent.serve.streams import CLOSE_POLICY, Outbox, refuse, serve_stream
from voiceagent.serve.twilio_web import STREAM_PARAMETERS, TwilioRest, busy_twiml, signature_valid, stream_twiml
from voiceagent.transports.exotel import EXOTEL_RATES, ExotelTransport
from voiceagent.transports.media_stream import MediaStream
from voiceagent.transports.twilio import TwilioTransport
from voiceagent.transports.websocket import WebSocketTransport

__all__ = ["create_app"]

log = logging.getLogger("voiceagent.serve")
XML = "application/xml"


def _external_base(ctx: ServeContext, request: Request | WebSocket) -> str:
    """``https://host`` as the caller reached us: ``--public-url``, else X-Forwarded-Proto + Host."""
    if ctx.public_url:
        return ctx.public_url.rstrip("/")
    proto = request.headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip() or "http"
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    return f"{proto}://{host.split(',')[0].strip()}"


def _ws_base(http_base: str) -> str:
    if http_base.startswith("https://"):
        return "wss://" + http_base[len("https://") :]
    if http_base.startswith("http://"):
        return "ws://" + http_base[len("http://") :]
    return http_base


def _token_ok(ctx: ServeContext, given: str | None) -> bool:
    if not ctx.auth_token:
        return True
    return bool(given) and hmac.compare_digest(str(given).encode(), ctx.auth_token.encode())


def _events_of(call: Any, kind: str) -> list[dict[str, Any]]:
    return [e for e in call.events.events if e.get("type") == kind]


def create_app(ctx: ServeContext, *, reload: bool = True) -> Starlette:
    """The ASGI app for ``ctx``; with ``reload`` the catalogue watches its files while it runs."""
    # ------------------------------------------------------------------ plain HTTP

    async def healthz(_: Request) -> Response:
        body = {
            "status": "draining" if ctx.registry.draining else "ok",
            "calls": len(ctx.registry),
            "max_calls": ctx.registry.max_calls,
            "agents": len(ctx.catalogue.names()),
        }
        return JSONResponse(body, status_code=503 if ctx.registry.draining else 200)

    async def metrics(_: Request) -> Response:
        return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def agents(_: Request) -> Response:
        return JSONResponse(ctx.catalogue.listing())

    async def favicon(_: Request) -> Response:
        return Response(status_code=204)

    async def index(_: Request) -> Response:
        return HTMLResponse(pages.index_page(ctx.catalogue.listing()))

    async def call_page(request: Request) -> Response:
        name = request.path_params["agent"]
        if not _token_ok(ctx, request.query_params.get("token")):
            return PlainTextResponse("unauthorized: add ?token=<the server's auth token>", status_code=401)
        version = ctx.catalogue.get(name)
        if version is None:
            return PlainTextResponse(f"no agent named '{name}'", status_code=404)
        return HTMLResponse(pages.call_page(name, version.loaded.agent.description or ""))

    # ------------------------------------------------------------------ Twilio

    async def twilio_webhook(request: Request) -> Response:
        name = request.path_params["agent"]
        # Twilio posts application/x-www-form-urlencoded; parsed with the stdlib (no multipart needed)
        params = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        token = ctx.env.get("TWILIO_AUTH_TOKEN")
        if token:
            url = (
                _external_base(ctx, request) + request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            if not signature_valid(token, url, params, request.headers.get("x-twilio-signature")):
                log.warning("twilio webhook for %s refused: missing or invalid X-Twilio-Signature", name)
                return PlainTextResponse("invalid X-Twilio-Signature", status_code=403)
        if ctx.catalogue.get(name) is None:
            return PlainTextResponse(f"no agent named '{name}'", status_code=404)
        refusal = ctx.registry.refusal()
        if refusal is not None:
            ctx.metrics.call_ended(name, f"refused_{refusal}")
            return Response(busy_twiml(), media_type=XML)
        values = dict(params)
        stream_url = _ws_base(_external_base(ctx, request)) + f"/twilio/{name}/stream"
        return Response(stream_twiml(stream_url, {k: values.get(k, "") for k in STREAM_PARAMETERS}), media_type=XML)

    def twilio_after(transport: MediaStream, _outbox: Outbox) -> AfterCall:
        async def after(outcome: str, call: Any) -> None:
            rest = TwilioRest.from_env(ctx.env)
            sid = transport.start.call_id if transport.start else ""
            if outcome == "transfer":
                transfers = _events_of(call, "call.transfer")
                to = str(transfers[-1].get("to")) if transfers else ""
                if rest is not None and to and not transport.stopped:
                    result = await rest.transfer(sid, to)
                    call.events.emit("telephony.transfer", to=to, via="twilio-rest", **result)
                else:
                    call.events.emit("telephony.transfer", to=to, via="event-log")
            elif rest is not None and not transport.stopped:
                result = await rest.hang_up(sid)
                call.events.emit("telephony.hangup", via="twilio-rest", **result)

        return after

    async def twilio_stream(ws: WebSocket) -> None:
        await serve_stream(ctx, ws, ws.path_params["agent"], "twilio", TwilioTransport, after=twilio_after)

    # ------------------------------------------------------------------ Exotel

    def exotel_after(transport: MediaStream, _outbox: Outbox) -> AfterCall:
        async def after(outcome: str, call: Any) -> None:
            if outcome == "transfer":
                transfers = _events_of(call, "call.transfer")
                to = str(transfers[-1].get("to")) if transfers else ""
                call.events.emit("telephony.transfer", to=to, via="event-log")

        return after

    async def exotel_stream(ws: WebSocket) -> None:
        raw = ws.query_params.get("sample-rate") or ws.query_params.get("sample_rate") or "8000"
        rate = int(raw) if raw.isdigit() and int(raw) in EXOTEL_RATES else 8000

        def make(send: Any) -> MediaStream:
            return ExotelTransport(send, default_rate=rate)

        await serve_stream(ctx, ws, ws.path_params["agent"], "exotel", make, after=exotel_after)

    # ------------------------------------------------------------------ browser

    def live_view(_transport: MediaStream, outbox: Outbox) -> list[Listener]:
        def forward(event: dict[str, Any]) -> None:
            outbox.send_json({"event": "call", "call": event})

        return [forward]

    def browser_after(_transport: MediaStream, outbox: Outbox) -> AfterCall:
        async def after(outcome: str, _call: Any) -> None:
            outbox.send_json({"event": "end", "reason": outcome})

        return after

    def browser_ready(transport: MediaStream, outbox: Outbox, call_id: str) -> None:
        outbox.send_json({"event": "ready", "call_id": call_id, "sample_rate": transport.sample_rate})

    async def browser_stream(ws: WebSocket) -> None:
        if not _token_ok(ctx, ws.query_params.get("token")):
            await refuse(ws, CLOSE_POLICY, "unauthorized")
            return
        await serve_stream(
            ctx,
            ws,
            ws.path_params["agent"],
            "browser",
            WebSocketTransport,
            after=browser_after,
            listeners=live_view,
            on_ready=browser_ready,
        )

    # ------------------------------------------------------------------ lifespan

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        watcher = asyncio.create_task(ctx.catalogue.watch(stop)) if reload else None
        demo = contextlib.ExitStack()
        for name in ctx.catalogue.names():  # an agent posting to the demo ticket URL gets the service
            version = ctx.catalogue.get(name)
            if version is None:
                continue
            service = demo.enter_context(demo_ticket_service(version.loaded.agent, dict(ctx.catalogue.env)))
            if service is not None:
                log.info("tickets: demo service on %s (stored in %s)", service.url, service.db_path)
                break
        try:
            yield
        finally:
            demo.close()
            stop.set()
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher

    routes = [
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/agents", agents),
        Route("/", index),
        Route("/favicon.ico", favicon),
        Route("/call/{agent}", call_page),
        Mount("/static", StaticFiles(directory=str(pages.STATIC_DIR)), name="static"),
        WebSocketRoute("/ws/{agent}", browser_stream),
        Route("/twilio/{agent}", twilio_webhook, methods=["POST"]),
        WebSocketRoute("/twilio/{agent}/stream", twilio_stream),
        WebSocketRoute("/exotel/{agent}", exotel_stream),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
