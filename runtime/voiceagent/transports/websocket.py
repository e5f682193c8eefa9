"""The generic WebSocket protocol of ``voiceagent serve`` (``/ws/{agent}``): the browser call
page's, and any other client's (a mobile app, a SIP gateway).

JSON text frames shaped like Twilio's, with PCM16 instead of μ-law, documented for client
authors in the project's ``docs/websocket-protocol.md``:

* client -> server: ``{"event": "start", "start": {"sample_rate": 16000, "from": "...",
  "parameters": {...}}}`` once, then ``{"event": "media", "media": {"payload": base64 PCM16}}``,
  ``{"event": "mark", "mark": {"name": ...}}`` (echo of each server mark once its audio played),
  ``{"event": "dtmf", "dtmf": {"digit": "5"}}`` and ``{"event": "stop"}`` (hang up);
* server -> client: ``media`` (agent audio, PCM16 at the same rate), ``mark``, ``clear`` (drop
  queued audio now: barge-in), ``transcript`` (each sentence of the agent as it is queued for
  speech), plus ``ready`` (call id), ``call`` (each event of the call for a live view) and
  ``end`` (the outcome) sent by the server.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Literal

from voiceagent.transports.media_stream import MediaStream, Send, StreamStart

__all__ = ["WS_RATES", "WebSocketDialect", "WebSocketTransport"]

WS_RATES = (8000, 16000, 24000, 48000)
"""Rates (Hz) a client may stream at."""


class WebSocketDialect:
    """The ``/ws`` framing: ``stream_id`` in server messages, PCM16 payloads."""

    name = "browser"
    min_chunk_bytes = 0

    def parse_start(self, message: dict[str, Any]) -> StreamStart:
        """``start`` -> :class:`StreamStart` (``sample_rate`` default 16000).

        Raises:
            ValueError: a ``sample_rate`` other than 8000/16000/24000/48000.
        """
        start = message.get("start")
        start = start if isinstance(start, dict) else {}
        rate = int(start.get("sample_rate") or 16000)
        if rate not in WS_RATES:
            raise ValueError(f"unsupported sample_rate {rate}")
        params_raw = start.get("parameters")
        params = {str(k): str(v) for k, v in params_raw.items()} if isinstance(params_raw, dict) else {}
        stream_id = uuid.uuid4().hex
        return StreamStart(
            stream_id=stream_id,
            call_id=stream_id,
            phone=str(start["from"]) if start.get("from") else None,
            to=None,
            sample_rate=rate,
            parameters=params,
        )

    def decode(self, payload: bytes) -> bytes:
        """PCM16 already."""
        return payload

    def encode(self, pcm: bytes) -> bytes:
        """PCM16 already."""
        return pcm

    def frame(self, event: str, stream_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """``{"event", "stream_id", <event>: body}``."""
        message: dict[str, Any] = {"event": event, "stream_id": stream_id}
        if body is not None:
            message[event] = body
        return message


class WebSocketTransport(MediaStream):
    """One ``/ws`` call (a :class:`~.media_stream.MediaStream` with the generic dialect).

    Args:
        send: coroutine function sending one text frame on the WebSocket.
        on_dtmf: called with each digit the client sends.
    """

    def __init__(self, send: Send, *, on_dtmf: Callable[[str], None] | None = None) -> None:
        super().__init__(WebSocketDialect(), send, on_dtmf=on_dtmf)

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Send the text being spoken as ``{"event": "transcript", "transcript": {"role", "text"}}``."""
        if self.start is not None and not self.closed:
            await self._emit(
                {"event": "transcript", "stream_id": self.start.stream_id, "transcript": {"role": role, "text": text}}
            )
