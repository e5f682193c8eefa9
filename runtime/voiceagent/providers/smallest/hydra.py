"""Smallest Hydra speech-to-speech over one WebSocket (``wss://api.smallest.ai/waves/v1/s2s``).

Hydra takes the caller's audio and answers with audio, with its own turn detection, barge-in and
tool calls. Protocol (Smallest's public docs, https://github.com/smallest-inc/smallest-ai-documentation,
``fern/apis/waves/asyncapi/hydra-ws.yaml`` and ``fern/products/waves/pages/speech-to-speech/*.mdx``):

* connect ``/s2s?model=hydra-v1.1&api_key=<KEY>`` (the key is a query parameter here, not a
  header); a bad key is HTTP 401 at the handshake;
* the server sends ``session.created`` (``model=hydra`` is deprecated: a ``warning`` frame comes
  first); the client sends exactly one ``session.configure`` (instructions, voice, flat tools,
  ``generate_initial_response``) and waits for ``session.configured``: audio sent before it is
  dropped silently;
* caller audio: PCM16 LE mono 16 kHz, base64 in ``input_audio_buffer.append``, 20-40 ms chunks,
  continuous (silence included: ~30 s without traffic closes the socket with 1000);
* agent audio: PCM16 LE mono 48 kHz, base64 in ``response.output_audio.delta``;
* tools: ``response.function_call_arguments.done`` -> the client runs the tool, then sends
  ``conversation.item.create`` (``function_call_output``, a string) and ``response.create``
  (debounced ~200 ms so several outputs of one turn get one narration);
* ``session.update`` changes only ``tools``; errors are ``{"type": "error", "error": {code, ...}}``,
  non-fatal unless a close follows (``server_full`` + close 1013).

:class:`HydraS2S` opens sessions; :class:`HydraSession` sends audio and tool results and yields
typed :data:`HydraEvent` values. The API key never appears in an error or a log line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from voiceagent.audio import AudioFrame, Resampler
from voiceagent.providers.base import ProviderError
from voiceagent.providers.realtime import (
    ItemDone,
    RealtimeClosed,
    RealtimeConfig,
    RealtimeError,
    RealtimeEvent,
    ResponseAudio,
    ResponseAudioDone,
    ResponseDone,
    ResponseStarted,
    SpeechStarted,
    SpeechStopped,
    ToolCall,
)
from voiceagent.providers.smallest._common import (
    error_text,
    http_error,
    resolve_api_key,
    resolve_base_url,
    scrub,
    ws_url,
)
from voiceagent.providers.smallest.models import DEFAULT_HYDRA_MODEL, HYDRA_VOICES, check_hydra_voice

__all__ = [
    "HYDRA_VOICES",
    "HydraAudio",
    "HydraAudioDone",
    "HydraClosed",
    "HydraConfig",
    "HydraError",
    "HydraEvent",
    "HydraItem",
    "HydraResponseDone",
    "HydraResponseStarted",
    "HydraS2S",
    "HydraSession",
    "HydraSpeechStarted",
    "HydraSpeechStopped",
    "HydraToolCall",
    "check_hydra_voice",
    "flat_tools",
    "session_payload",
]

SERVICE = "Hydra"
S2S_PATH = "/s2s"
INPUT_RATE = 16000
"""Hz of the caller audio Hydra takes."""
OUTPUT_RATE = 48000
"""Hz of the agent audio Hydra sends."""
CHUNK_MS = 20
"""Caller audio is sent in chunks of this many ms (20-40 ms allowed; 320 bytes minimum)."""
RESPONSE_DEBOUNCE_S = 0.2
"""Wait after the last tool output before ``response.create`` (one narration for several tools)."""
DEFAULT_MODEL = DEFAULT_HYDRA_MODEL

# The provider-neutral events (voiceagent.providers.realtime) under their Hydra names.
HydraSpeechStarted = SpeechStarted
HydraSpeechStopped = SpeechStopped
HydraResponseStarted = ResponseStarted
HydraAudio = ResponseAudio
"""Agent audio: PCM16 mono LE at 48 kHz (``response.output_audio.delta``)."""
HydraAudioDone = ResponseAudioDone
HydraToolCall = ToolCall
HydraItem = ItemDone
HydraResponseDone = ResponseDone
HydraError = RealtimeError
HydraClosed = RealtimeClosed
HydraEvent = RealtimeEvent
HydraConfig = RealtimeConfig
"""What ``session.configure`` sends (:func:`session_payload`)."""


# --------------------------------------------------------------------------- configuration


def flat_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI chat tool definitions (``{"type": "function", "function": {...}}``) in Hydra's flat
    shape ``{"type": "function", "name", "description", "parameters"}``; flat ones pass through.
    """
    out: list[dict[str, Any]] = []
    for tool in tools:
        nested = tool.get("function")
        fn: Mapping[str, Any] = nested if isinstance(nested, Mapping) else tool
        out.append(
            {
                "type": "function",
                "name": fn["name"],
                "description": fn.get("description", ""),
                "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
            }
        )
    return out


def session_payload(config: RealtimeConfig) -> dict[str, Any]:
    """The ``session`` object of ``session.configure`` for ``config`` (tools in the flat shape)."""
    session: dict[str, Any] = {
        "instructions": config.instructions,
        "tools": flat_tools(config.tools),
        "generate_initial_response": config.generate_initial_response,
    }
    if config.voice:
        session["voice"] = config.voice
    return session


# --------------------------------------------------------------------------- client


class HydraS2S:
    """Opens Hydra sessions (one per call).

    Args (keyword-only):
        api_key: Smallest key; default ``$SMALLEST_API_KEY``.
        base_url: REST base (``$SMALLEST_BASE_URL`` or ``https://api.smallest.ai/waves/v1``); the
            WebSocket URL is derived (https -> wss).
        model: ``hydra-v1.1`` (default), ``hydra-v1.0`` or the deprecated ``hydra``.
        open_timeout_s: how long to wait for the handshake, ``session.created`` and
            ``session.configured`` each.

    Raises:
        ProviderError: no API key; ValueError: an unknown model.
    """

    name = "smallest-hydra"
    input_rate = INPUT_RATE
    output_rate = OUTPUT_RATE

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL,
        open_timeout_s: float = 10.0,
    ) -> None:
        if model not in HYDRA_VOICES:
            raise ValueError(f"unknown Hydra model {model!r}; use one of {sorted(HYDRA_VOICES)}")
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.model = model
        self.open_timeout_s = open_timeout_s

    async def aclose(self) -> None:
        """Nothing shared to release: each session owns its socket."""

    def url(self) -> str:
        """The WebSocket URL including the key (never log it)."""
        query = urlencode({"model": self.model, "api_key": self._api_key})
        return f"{ws_url(self.base_url)}{S2S_PATH}?{query}"

    async def connect(self, config: HydraConfig) -> HydraSession:
        """Open a socket, configure the session and return it once ``session.configured`` arrived.

        Raises:
            ProviderError: refused handshake (401 names ``SMALLEST_API_KEY``), ``server_full``
                (``retryable=True``), an error or close instead of ``session.configured``, or a
                timeout.
        """
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, InvalidStatus

        try:
            ws = await connect(
                self.url(), open_timeout=self.open_timeout_s, max_size=2**24, compression=None, ping_interval=20
            )
        except InvalidStatus as exc:
            resp = exc.response
            raise http_error(SERVICE, resp.status_code, bytes(resp.body or b""), self._api_key) from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise ProviderError(
                f"{SERVICE}: cannot connect: {scrub(str(exc), self._api_key)}", retryable=True
            ) from None
        session = HydraSession(ws, api_key=self._api_key)
        try:
            await session.configure(config, timeout_s=self.open_timeout_s)
        except BaseException:
            await session.aclose()
            raise
        return session


class HydraSession:
    """One configured Hydra session. Made by :meth:`HydraS2S.connect`.

    Send with :meth:`send_audio`, :meth:`update_tools`, :meth:`send_tool_output`,
    :meth:`cancel_response`; read :meth:`events` (one consumer). :meth:`aclose` is idempotent.
    """

    def __init__(self, ws: Any, *, api_key: str) -> None:
        self._ws = ws
        self._api_key = api_key
        self.session_id: str | None = None
        self.warnings: list[str] = []
        self._resampler: Resampler | None = None
        self._pending = bytearray()
        self._queue: asyncio.Queue[HydraEvent] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._respond: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._send_lock = asyncio.Lock()

    # -- setup ----------------------------------------------------------------------------

    async def configure(self, config: HydraConfig, *, timeout_s: float) -> None:
        """Wait for ``session.created``, send ``session.configure``, wait for ``session.configured``.

        Raises:
            ProviderError: an ``error`` frame, a close, or no answer within ``timeout_s``.
        """
        created = await self._expect("session.created", timeout_s)
        self.session_id = created.get("session_id")
        await self._send({"type": "session.configure", "session": session_payload(config)})
        await self._expect("session.configured", timeout_s)
        self._reader = asyncio.create_task(self._read(), name="hydra-reader")

    async def _expect(self, kind: str, timeout_s: float) -> dict[str, Any]:
        from websockets.exceptions import ConnectionClosed

        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    msg = self._decode(await self._ws.recv())
                    if msg.get("type") == kind:
                        return msg
                    if msg.get("type") == "warning":
                        self.warnings.append(error_text(msg))
                    elif msg.get("type") == "error":
                        err = msg.get("error") or {}
                        code = err.get("code") if isinstance(err, dict) else None
                        raise ProviderError(
                            f"{SERVICE}: {scrub(error_text(msg), self._api_key)}", retryable=code == "server_full"
                        )
        except TimeoutError:
            raise ProviderError(f"{SERVICE}: no {kind} within {timeout_s:g} s", retryable=True) from None
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            raise ProviderError(
                f"{SERVICE}: the server closed the socket before {kind} (code {code})", retryable=code in (1013, None)
            ) from None

    @staticmethod
    def _decode(raw: Any) -> dict[str, Any]:
        try:
            msg = json.loads(raw)
        except (TypeError, ValueError):
            return {}
        return msg if isinstance(msg, dict) else {}

    async def _send(self, msg: dict[str, Any]) -> None:
        msg.setdefault("event_id", f"evt_{uuid.uuid4().hex[:16]}")
        async with self._send_lock:
            await self._ws.send(json.dumps(msg, ensure_ascii=False))

    # -- sending --------------------------------------------------------------------------

    async def send_audio(self, frame: AudioFrame) -> None:
        """Caller audio at any rate: resampled to 16 kHz and sent in 20 ms chunks.

        Silence must be sent too (Hydra's turn detection and idle timer need a continuous stream).
        Audio after :meth:`aclose` is dropped.
        """
        if self._closing:
            return
        if frame.sample_rate != INPUT_RATE:
            if self._resampler is None or self._resampler.in_rate != frame.sample_rate:
                self._resampler = Resampler(frame.sample_rate, INPUT_RATE)
            frame = self._resampler.process(frame)
        self._pending += frame.pcm
        chunk = INPUT_RATE * CHUNK_MS // 1000 * 2
        while len(self._pending) >= chunk:
            data, self._pending = bytes(self._pending[:chunk]), self._pending[chunk:]
            await self._send_quietly(
                {"type": "input_audio_buffer.append", "audio": base64.b64encode(data).decode("ascii")}
            )

    async def _send_quietly(self, msg: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        with contextlib.suppress(ConnectionClosed):  # the reader reports the close as a HydraClosed event
            await self._send(msg)

    async def update_tools(self, tools: Sequence[Mapping[str, Any]]) -> None:
        """``session.update`` with a new tool list (a flow transition); other fields cannot change."""
        await self._send_quietly({"type": "session.update", "session": {"tools": flat_tools(tools)}})

    async def send_tool_output(self, call_id: str, output: str) -> None:
        """Answer a :class:`HydraToolCall`; ``response.create`` follows after a short debounce, so
        several outputs of one turn get one narration.
        """
        await self._send_quietly(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output},
            }
        )
        if self._respond is not None:
            self._respond.cancel()
        self._respond = asyncio.create_task(self._debounced_response())

    async def _debounced_response(self) -> None:
        await asyncio.sleep(RESPONSE_DEBOUNCE_S)
        await self._send_quietly({"type": "response.create"})

    async def cancel_response(self) -> None:
        """``response.cancel``: stop the response in flight (a no-op when there is none)."""
        await self._send_quietly({"type": "response.cancel"})

    # -- receiving ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[HydraEvent]:
        """Events as they arrive; ends after a :class:`HydraClosed`."""
        while True:
            event = await self._queue.get()
            yield event
            if isinstance(event, HydraClosed):
                return

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        code: int | None = None
        reason = ""
        try:
            async for raw in self._ws:
                for event in self._parse(self._decode(raw)):
                    self._queue.put_nowait(event)
            code, reason = self._ws.close_code, self._ws.close_reason or ""
        except ConnectionClosed as exc:
            code, reason = (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd is not None else (None, "connection lost")
        except asyncio.CancelledError:
            code, reason = 1000, "closed by the client"
            raise
        finally:
            self._queue.put_nowait(HydraClosed(code, reason, by_client=self._closing))

    def _parse(self, msg: dict[str, Any]) -> list[HydraEvent]:
        kind = msg.get("type")
        if kind == "input_audio_buffer.speech_started":
            return [HydraSpeechStarted(float(msg.get("audio_start_ms") or 0))]
        if kind == "input_audio_buffer.speech_stopped":
            return [HydraSpeechStopped(float(msg.get("audio_end_ms") or 0))]
        if kind == "response.created":
            return [HydraResponseStarted(str((msg.get("response") or {}).get("id") or ""))]
        if kind == "response.output_audio.delta":
            try:
                pcm = base64.b64decode(msg.get("delta") or "", validate=True)
            except ValueError:
                return [HydraError("invalid_audio", "undecodable audio delta from the server")]
            if len(pcm) % 2:
                pcm = pcm[:-1]
            return [HydraAudio(str(msg.get("response_id") or ""), AudioFrame(pcm, OUTPUT_RATE))]
        if kind == "response.output_audio.done":
            return [HydraAudioDone(str(msg.get("response_id") or ""))]
        if kind == "response.function_call_arguments.done":
            return [
                HydraToolCall(
                    str(msg.get("response_id") or ""),
                    str(msg.get("call_id") or ""),
                    str(msg.get("name") or ""),
                    str(msg.get("arguments") or "{}"),
                )
            ]
        if kind == "conversation.item.done":
            item = msg.get("item") or {}
            texts = [str(c["text"]) for c in item.get("content") or [] if isinstance(c, dict) and c.get("text")]
            return [
                HydraItem(
                    str(item.get("id") or ""),
                    str(item.get("type") or ""),
                    item.get("role"),
                    item.get("status"),
                    " ".join(texts) if texts else None,
                )
            ]
        if kind == "response.done":
            resp = msg.get("response") or {}
            details = resp.get("status_details") or {}
            return [HydraResponseDone(str(resp.get("id") or ""), str(resp.get("status") or ""), details.get("reason"))]
        if kind == "error":
            err = msg.get("error") or {}
            code = str(err.get("code") or err.get("type") or "error") if isinstance(err, dict) else "error"
            return [HydraError(code, scrub(error_text(msg), self._api_key))]
        return []

    async def aclose(self) -> None:
        """Close the socket and stop the reader (the events end with :class:`HydraClosed`)."""
        if self._closed:
            return
        self._closed = self._closing = True
        if self._respond is not None:
            self._respond.cancel()
        with contextlib.suppress(Exception):
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._reader, 2.0)
        else:
            self._queue.put_nowait(HydraClosed(1000, "closed by the client", by_client=True))
