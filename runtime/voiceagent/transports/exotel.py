"""Exotel AgentStream (the Voicebot applet), bidirectional: base64 PCM16 at 8, 16 or 24 kHz.

Protocol: https://developer.exotel.com/docs/agentstream/websocket-protocol. Exotel sends
``connected``, ``start`` (``stream_sid``, ``call_sid``, ``from``, ``to``, ``custom_parameters``,
``media_format.sample_rate``), ``media`` (``payload``: base64 PCM16 mono LE), ``dtmf``, ``mark``
and ``stop``; the server sends ``media`` (chunks a multiple of 320 bytes, as Exotel asks),
``mark`` and ``clear``. The audio is PCM16 already: nothing is transcoded. Chunks sent are at least 3.2 kB
(Exotel's minimum) and multiples of 320 bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voiceagent.transports.media_stream import MediaStream, Send, StreamStart

__all__ = ["EXOTEL_RATES", "ExotelDialect", "ExotelTransport"]

EXOTEL_RATES = (8000, 16000, 24000)
"""Rates (Hz) the Voicebot applet streams at (``sample-rate`` on the stream URL)."""
CHUNK_BYTES = 320


class ExotelDialect:
    """Exotel's framing (``stream_sid`` in every server message; PCM16 payloads).

    Args:
        default_rate: the rate when ``start`` does not say (Hz).
    """

    name = "exotel"

    min_chunk_bytes = 3200
    """Exotel's minimum chunk (https://support.exotel.com/support/solutions/articles/3000108630):
    3.2 kB, multiples of 320 bytes; smaller chunks risk audio gaps."""

    def __init__(self, default_rate: int = 8000) -> None:
        self.default_rate = default_rate

    def parse_start(self, message: dict[str, Any]) -> StreamStart:
        """``start`` -> :class:`StreamStart`.

        Raises:
            ValueError: no ``stream_sid``, or a rate other than 8000/16000/24000.
        """
        start = message.get("start")
        if not isinstance(start, dict):
            raise ValueError("start message without a start object")
        stream_id = start.get("stream_sid") or message.get("stream_sid")
        if not isinstance(stream_id, str) or not stream_id:
            raise ValueError("start message without a stream_sid")
        fmt = start.get("media_format")
        rate_raw = fmt.get("sample_rate") if isinstance(fmt, dict) else None
        rate = int(rate_raw) if rate_raw not in (None, "") else self.default_rate
        if rate not in EXOTEL_RATES:
            raise ValueError(f"unsupported sample_rate {rate}")
        params_raw = start.get("custom_parameters")
        params = {str(k): str(v) for k, v in params_raw.items()} if isinstance(params_raw, dict) else {}
        return StreamStart(
            stream_id=stream_id,
            call_id=str(start.get("call_sid") or stream_id),
            phone=str(start["from"]) if start.get("from") else None,
            to=str(start["to"]) if start.get("to") else None,
            sample_rate=rate,
            parameters=params,
        )

    def decode(self, payload: bytes) -> bytes:
        """PCM16 already."""
        return payload

    def encode(self, pcm: bytes) -> bytes:
        """PCM16, padded with silence to a multiple of 320 bytes."""
        short = -len(pcm) % CHUNK_BYTES
        return pcm + b"\x00" * short if short else pcm

    def frame(self, event: str, stream_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """``{"event", "stream_sid", <event>: body}`` (``clear`` has no body)."""
        message: dict[str, Any] = {"event": event, "stream_sid": stream_id}
        if body is not None:
            message[event] = body
        return message


class ExotelTransport(MediaStream):
    """One Exotel AgentStream call (a :class:`~.media_stream.MediaStream` with the Exotel dialect).

    Args:
        send: coroutine function sending one text frame on the WebSocket.
        default_rate: the rate when ``start`` does not say (Hz; the URL's ``sample-rate``).
        on_dtmf: called with each digit the caller presses.
    """

    def __init__(self, send: Send, *, default_rate: int = 8000, on_dtmf: Callable[[str], None] | None = None) -> None:
        super().__init__(ExotelDialect(default_rate), send, on_dtmf=on_dtmf)
