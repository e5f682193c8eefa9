"""Twilio Media Streams, bidirectional: base64 μ-law 8 kHz JSON text frames.

Protocol: https://www.twilio.com/docs/voice/media-streams/websocket-messages. Twilio sends
``connected``, ``start`` (``streamSid``, ``callSid``, ``customParameters``: the ``<Parameter>``s
of the TwiML ``<Stream>``, where the server puts ``From``/``To``/``CallSid``), ``media``
(``payload``: base64 μ-law, 20 ms), ``dtmf``, ``mark`` (echo of ours once played) and ``stop``;
the server sends ``media``, ``mark`` and ``clear``. Only ``media.payload`` is audio; it is never
transcoded beyond μ-law <-> PCM16 (lossless expansion, :mod:`.mulaw`), and never resampled
when the STT runs at 8 kHz.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voiceagent.transports import mulaw
from voiceagent.transports.media_stream import MediaStream, Send, StreamStart

__all__ = ["TWILIO_RATE", "TwilioDialect", "TwilioTransport"]

TWILIO_RATE = 8000
"""Media Streams audio is always μ-law at 8 kHz."""


class TwilioDialect:
    """Twilio's framing (``streamSid`` in every server message; μ-law payloads)."""

    name = "twilio"
    min_chunk_bytes = 0

    def parse_start(self, message: dict[str, Any]) -> StreamStart:
        """``start`` -> :class:`StreamStart`; ``From``/``To`` come from ``customParameters``.

        Raises:
            ValueError: no ``streamSid``.
        """
        start = message.get("start")
        if not isinstance(start, dict):
            raise ValueError("start message without a start object")
        stream_id = start.get("streamSid") or message.get("streamSid")
        if not isinstance(stream_id, str) or not stream_id:
            raise ValueError("start message without a streamSid")
        params_raw = start.get("customParameters")
        params = {str(k): str(v) for k, v in params_raw.items()} if isinstance(params_raw, dict) else {}
        call_id = str(start.get("callSid") or params.get("CallSid") or stream_id)
        return StreamStart(
            stream_id=stream_id,
            call_id=call_id,
            phone=params.get("From") or None,
            to=params.get("To") or None,
            sample_rate=TWILIO_RATE,
            parameters=params,
        )

    def decode(self, payload: bytes) -> bytes:
        """μ-law -> PCM16."""
        return mulaw.decode(payload)

    def encode(self, pcm: bytes) -> bytes:
        """PCM16 -> μ-law."""
        return mulaw.encode(pcm)

    def frame(self, event: str, stream_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """``{"event", "streamSid", <event>: body}`` (``clear`` has no body)."""
        message: dict[str, Any] = {"event": event, "streamSid": stream_id}
        if body is not None:
            message[event] = body
        return message


class TwilioTransport(MediaStream):
    """One Twilio Media Streams call (a :class:`~.media_stream.MediaStream` with the Twilio dialect).

    Args:
        send: coroutine function sending one text frame on the WebSocket.
        on_dtmf: called with each digit the caller presses.
    """

    def __init__(self, send: Send, *, on_dtmf: Callable[[str], None] | None = None) -> None:
        super().__init__(TwilioDialect(), send, on_dtmf=on_dtmf)
