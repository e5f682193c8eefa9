"""A local Smallest AI server (Pulse STT WebSocket, Lightning TTS WebSocket + HTTP) on 127.0.0.1.

Everything is served on ONE ephemeral port under :attr:`FakeSmallest.base_url`
(``http://127.0.0.1:PORT/waves/v1``), so a client configured with that base URL finds every API:

* ``ws://…/waves/v1/stt/live`` (and legacy ``/pulse/get_text``) — :mod:`.fake_pulse`;
* ``ws://…/waves/v1/tts/live``, ``POST …/waves/v1/tts`` and SSE ``POST …/waves/v1/tts/live`` —
  :mod:`.fake_lightning`;
* ``ws://…/waves/v1/s2s`` (Hydra speech-to-speech) — :mod:`.fake_hydra`;
* any other path prefix given in ``mounts`` is passed through to another local server, e.g. the
  Electron fake (``FakeOpenAI``) for ``/waves/v1/chat/completions``.

How one port serves both: a small asyncio front end reads each request head. WebSocket upgrades
are piped byte-for-byte to an internal ``websockets`` server on a second, private port (the
``websockets`` HTTP parser accepts only GET without a body, so it cannot answer ``POST /tts``);
plain HTTP requests are answered by the front end itself; mounted prefixes are forwarded (one
request per connection, ``Connection: close``).

Usage::

    async with FakeSmallest(pulse=PulseOptions(transcripts=["namaste"])) as fake:
        stt = PulseSTT(api_key=fake.api_key, base_url=fake.base_url)
        ...
        assert fake.pulse.connections[0].params["language"] == "hi"

Latency knobs for benchmarks (no real-time pacing otherwise; chunks go out as fast as possible):
Pulse final ~64 ms after the end of speech: ``PulseOptions(endpointing_silence_ms=64)`` (the
final follows 64 ms of received trailing silence; audio arrives in real time from the transport)
or ``PulseOptions(final_delay_ms=64)`` when the client sends ``finalize`` at end of speech.
Lightning first audio ~175 ms: ``LightningOptions(first_audio_delay_ms=175)``; add
``chunk_interval_ms`` to pace the chunks.

Mounting the Electron fake on the same port::

    async with FakeOpenAI(api_key="sk_test_fake") as llm, \
            FakeSmallest(mounts={"/waves/v1/chat": llm.port}) as fake:
        ...  # fake.base_url serves /stt/live, /tts/live, /tts and /chat/completions

Protocol sources: Smallest's API reference (https://github.com/smallest-inc/smallest-ai-documentation,
``fern/apis/waves/asyncapi/stt-live-ws.yaml``, ``tts-ws.yaml``, ``openapi/tts-openapi.yaml``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import serve
from websockets.http11 import Request, Response

from voiceagent.testing._http import LocalServer, RequestHead, read_body, read_head, response_head
from voiceagent.testing.fake_hydra import FakeHydra, HydraOptions, HydraTurn
from voiceagent.testing.fake_lightning import (
    TTS_HTTP_PATH,
    TTS_WS_PATH,
    FakeLightning,
    LightningOptions,
    TTSRecord,
    tone_pcm,
)
from voiceagent.testing.fake_pulse import FakePulse, PulseConnection, PulseOptions, json_response

__all__ = [
    "FakeSmallest",
    "HydraOptions",
    "HydraTurn",
    "LightningOptions",
    "PulseConnection",
    "PulseOptions",
    "TTSRecord",
    "tone_pcm",
]


class FakeSmallest:
    """Fake Smallest AI speech APIs; ``async with FakeSmallest(...) as fake``.

    Args (keyword-only):
        api_key: the only accepted Bearer key (``sk_test_fake`` by default).
        pulse / lightning / hydra: behaviour switches (:class:`PulseOptions`,
            :class:`LightningOptions`, :class:`HydraOptions`).
        mounts: ``{path_prefix: port}`` of other 127.0.0.1 HTTP servers to forward to.

    Attributes: ``base_url``, ``ws_base_url``, ``port``; ``pulse`` (:class:`FakePulse`: its
    ``connections`` record params/headers/audio bytes/controls/frames sent, ``total_audio_bytes``);
    ``lightning`` (:class:`FakeLightning`: ``requests``, ``ws_connections``, ``ws_params``,
    ``audio_for(text, rate)``).
    """

    def __init__(
        self,
        *,
        api_key: str = "sk_test_fake",
        pulse: PulseOptions | None = None,
        lightning: LightningOptions | None = None,
        hydra: HydraOptions | None = None,
        mounts: dict[str, int] | None = None,
    ) -> None:
        self.api_key = api_key
        self.pulse = FakePulse(pulse or PulseOptions(), api_key)
        self.lightning = FakeLightning(lightning or LightningOptions(), api_key)
        self.hydra = FakeHydra(hydra or HydraOptions(), api_key)
        self.mounts = dict(mounts or {})
        self.port = 0
        self._ws_port = 0
        self._front = LocalServer(self._front_conn)
        self._ws_server: Any = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/waves/v1`` — pass as ``base_url`` to the clients."""
        return f"http://127.0.0.1:{self.port}/waves/v1"

    @property
    def ws_base_url(self) -> str:
        """``ws://127.0.0.1:PORT/waves/v1``."""
        return f"ws://127.0.0.1:{self.port}/waves/v1"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FakeSmallest:
        """Bind both listeners on 127.0.0.1 ephemeral ports."""
        self._ws_server = await serve(
            self._ws_handler,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            ping_interval=None,
            max_size=2**24,
            compression=None,
        )
        self._ws_port = self._ws_server.sockets[0].getsockname()[1]
        self.port = await self._front.start()
        return self

    async def aclose(self) -> None:
        """Stop serving and drop open connections."""
        await self._front.aclose()
        if self._ws_server is not None:
            self._ws_server.close()
            with contextlib.suppress(Exception):  # teardown
                await asyncio.wait_for(self._ws_server.wait_closed(), 2.0)

    async def __aenter__(self) -> FakeSmallest:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ WebSocket side
    def _process_request(self, connection: Any, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if self.pulse.handles(path):
            return self.pulse.process_request(request)
        if path == TTS_WS_PATH:
            return self.lightning.process_request(request)
        if self.hydra.handles(path):
            return self.hydra.process_request(request)
        return json_response(404, {"error": f"No WebSocket route {path}"})

    async def _ws_handler(self, ws: Any) -> None:
        path = urlsplit(ws.request.path).path
        if self.pulse.handles(path):
            await self.pulse.handle(ws)
        elif path == TTS_WS_PATH:
            await self.lightning.handle(ws)
        elif self.hydra.handles(path):
            await self.hydra.handle(ws)

    # ------------------------------------------------------------------ front end
    async def _front_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (head := await read_head(reader)) is not None:
            if head.headers.get("upgrade", "").lower() == "websocket":
                await self._pipe(head.raw, reader, writer, self._ws_port)
                return
            body = await read_body(reader, head.headers)
            path = head.path
            mount = next((p for p in self.mounts if path.startswith(p)), None)
            if mount is not None:
                await self._forward(head, body, writer, self.mounts[mount])
                return
            if path.rstrip("/") in (TTS_HTTP_PATH, TTS_WS_PATH):
                status, hdrs, payload = await self.lightning.http(
                    head.method, head.headers, body, sse=path.rstrip("/") == TTS_WS_PATH
                )
            else:
                status, hdrs, payload = (
                    404,
                    {"Content-Type": "application/json"},
                    b'{"error":"NotFound","message":"No route"}',
                )
            keep = head.keep_alive
            writer.write(
                response_head(
                    status,
                    {"Content-Length": str(len(payload)), "Connection": "keep-alive" if keep else "close", **hdrs},
                )
                + payload
            )
            await writer.drain()
            if not keep:
                return

    async def _pipe(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        """Relay one connection to 127.0.0.1:``port`` until either side closes."""
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        up_writer.write(head)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):  # the other side is already gone
                    dst.close()

        tasks = [asyncio.create_task(pump(reader, up_writer)), asyncio.create_task(pump(up_reader, writer))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            up_writer.close()

    async def _forward(self, head: RequestHead, body: bytes, writer: asyncio.StreamWriter, port: int) -> None:
        """Send one HTTP request to a mounted server and relay its answer, then close."""
        drop = ("connection:", "content-length:", "transfer-encoding:")
        lines = [ln for ln in head.raw.decode("latin-1").split("\r\n") if ln and not ln.lower().startswith(drop)]
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        up_writer.write(request)
        await up_writer.drain()
        try:
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            up_writer.close()
