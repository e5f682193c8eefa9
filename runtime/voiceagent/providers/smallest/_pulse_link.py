"""The connection side of a Pulse stream: one logical socket that survives drops.

Used by :class:`voiceagent.providers.smallest.stt.PulseStream`, which owns the stream API and
turns frames into events. Here: connect with ``Authorization: Bearer``, read text frames,
WebSocket pings plus 100 ms of silence after a quiet spell (the server closes idle sockets),
close 1008 = concurrency limit, and on any other unexpected close a reconnect with backoff that
resends the audio since the last final (:mod:`._resend`), a pending ``finalize`` and, while
closing, ``close_stream``.

Sources (Smallest's API documentation):

- https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
- https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/api-references/authentication.mdx
- https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/api-references/concurrency-and-limits.mdx
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from voiceagent.providers.base import ProviderError
from voiceagent.providers.smallest._common import scrub, ws_connect
from voiceagent.providers.smallest._resend import FINALIZE, ResendBuffer

SERVICE = "Pulse STT"
RECONNECT_DELAYS_S = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)
"""Pause before each reconnect attempt (the last one repeats)."""
FINALIZE_MSG = json.dumps({"type": "finalize"})
CLOSE_STREAM_MSG = json.dumps({"type": "close_stream"})


class PulseLink:
    """A Pulse WebSocket with keep-alive and reconnect-and-resend.

    Args:
        url: the ``/stt/live?...`` WebSocket URL. api_key: Smallest key (sent as a header only).
        rate: stream sample rate (Hz), for the keep-alive silence (PCM16 mono LE).
        keepalive_interval_s: ping period (s). idle_silence_s: send 100 ms of silence after this
            long (s) without audio. max_reconnects: attempts per disconnect, and disconnects in a
            row without a transcript before giving up. max_buffer_s: audio kept for resending (s).
        on_text: called with each text frame received (in order, on the reader task).
        on_fail: called once with the :class:`ProviderError` that ends the stream.
        on_done: called when the server closes normally (1000) after ``close_stream``.
        finished: set by the owner when the stream is over; the reader and keep-alive stop.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        rate: int,
        keepalive_interval_s: float,
        idle_silence_s: float,
        max_reconnects: int,
        max_buffer_s: float,
        on_text: Callable[[str], None],
        on_fail: Callable[[ProviderError], None],
        on_done: Callable[[], None],
        finished: asyncio.Event,
    ) -> None:
        self._url = url
        self._api_key = api_key
        self._rate = rate
        self._keepalive_interval_s = keepalive_interval_s
        self._idle_silence_s = idle_silence_s
        self._max_reconnects = max_reconnects
        self._on_text, self._on_fail, self._on_done = on_text, on_fail, on_done
        self._finished = finished
        self._ws: Any = None
        self._connected = False
        self._send_lock = asyncio.Lock()
        self._resend = ResendBuffer(int(max_buffer_s * rate) * 2)
        self._last_send = time.monotonic()
        self._drops_in_a_row = 0
        self._tasks: list[asyncio.Task[None]] = []
        self.closing = False
        """True once ``close_stream`` is sent (also resent after a reconnect)."""
        self.reconnects = 0
        """How many times the socket was reopened after an unexpected disconnect."""

    def __repr__(self) -> str:  # never shows the key
        return f"PulseLink(url={self._url!r}, reconnects={self.reconnects})"

    # ------------------------------------------------------------------ lifecycle
    async def _connect(self) -> Any:
        return await ws_connect(
            self._url,
            self._api_key,
            SERVICE,
            ping_interval=self._keepalive_interval_s,
            ping_timeout=20,
            close_timeout=2,
            max_size=2**22,
        )

    async def start(self) -> None:
        """Open the socket and start the reader and keep-alive tasks.

        Raises:
            ProviderError: the handshake was refused (401/400, see :func:`._common.ws_connect`)
                or the host is unreachable.
        """
        self._ws = await self._connect()
        self._connected = True
        self._tasks = [
            asyncio.create_task(self._reader(), name="pulse-reader"),
            asyncio.create_task(self._keepalive(), name="pulse-keepalive"),
        ]

    async def aclose(self) -> None:
        """Stop the tasks and close the socket. Never raises."""
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):  # cancelled reader/keepalive
                await task
        await self._close_ws()

    async def _close_ws(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):  # a broken socket is closed all the same
                await self._ws.close()

    # ------------------------------------------------------------------ sending
    async def _send(self, data: bytes | str) -> None:
        from websockets.exceptions import ConnectionClosed

        async with self._send_lock:
            if not self._connected:
                return  # audio, finalize and close_stream are all resent on reconnect
            try:
                await self._ws.send(data)
            except ConnectionClosed:
                self._connected = False

    async def send_audio(self, chunk: bytes) -> None:
        """Send one binary frame of PCM16 mono LE at ``rate``; kept for resending until its
        final arrives. While disconnected it is only kept (sent on reconnect).
        """
        self._resend.append(chunk)
        self._last_send = time.monotonic()
        await self._send(chunk)

    async def send_finalize(self) -> None:
        """Send ``{"type": "finalize"}``; resent after a reconnect until its final."""
        self._resend.mark_finalize()
        await self._send(FINALIZE_MSG)

    async def send_close_stream(self) -> None:
        """Send ``{"type": "close_stream"}`` and mark the link as closing."""
        self.closing = True
        await self._send(CLOSE_STREAM_MSG)

    def transcript_received(self, *, final: bool) -> None:
        """A transcript arrived: the connection is healthy again; a final also releases the
        audio it covers from the resend buffer.
        """
        self._drops_in_a_row = 0
        if final:
            self._resend.final_received()

    # ------------------------------------------------------------------ receiving
    async def _reader(self) -> None:
        from websockets.exceptions import ConnectionClosed

        while not self._finished.is_set():
            ws = self._ws
            try:
                while True:
                    raw = await ws.recv()
                    if isinstance(raw, str):
                        self._on_text(raw)
                    if self._finished.is_set():
                        break
            except ConnectionClosed:
                pass
            except Exception as exc:  # noqa: BLE001 - never let the reader die silently
                self._on_fail(
                    ProviderError(f"{SERVICE}: receive failed: {scrub(str(exc), self._api_key)}", retryable=True)
                )
            if self._finished.is_set():
                break
            code = ws.close_code
            self._connected = False
            if code == 1008:
                reason = (ws.close_reason or "").strip()
                self._on_fail(
                    ProviderError(
                        f"{SERVICE}: closed by the server with 1008 (policy): concurrency limit of "
                        f"open streaming sessions reached" + (f" ({reason})" if reason else ""),
                        retryable=True,
                        status=1008,
                    )
                )
                break
            if self.closing and code == 1000:
                self._on_done()  # closed after close_stream without is_last: treat as done
                break
            if not await self._reconnect():
                break
        await self._close_ws()

    async def _reconnect(self) -> bool:
        """Open a new socket and resend buffered audio (and a pending finalize/close).

        The send lock is held only while swapping sockets, so senders never wait for the
        backoff; audio sent meanwhile lands in the resend buffer and is resent here.
        """
        self._connected = False
        self._drops_in_a_row += 1
        if self._drops_in_a_row > self._max_reconnects:
            self._on_fail(
                ProviderError(
                    f"{SERVICE}: the connection keeps dropping "
                    f"({self._drops_in_a_row - 1} reconnects without a "
                    "transcript)",
                    retryable=True,
                )
            )
            return False
        attempts = max(1, self._max_reconnects)
        for attempt in range(attempts):
            await asyncio.sleep(RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)])
            if self._finished.is_set():
                return False
            try:
                ws = await self._connect()
            except ProviderError as exc:
                if not exc.retryable or attempt + 1 >= attempts:
                    self._on_fail(
                        ProviderError(f"{SERVICE}: reconnect failed: {exc}", retryable=exc.retryable, status=exc.status)
                    )
                    return False
                continue
            async with self._send_lock:
                self._ws = ws
                self.reconnects += 1
                try:
                    for item in self._resend.replay():
                        await ws.send(FINALIZE_MSG if item is FINALIZE else item)
                    if self.closing:
                        await ws.send(CLOSE_STREAM_MSG)
                except Exception:  # noqa: BLE001 - dropped again: the reader retries
                    return True
                self._connected = True
            return True
        return False

    async def _keepalive(self) -> None:
        silence = b"\x00\x00" * (self._rate // 10)
        while not self._finished.is_set():
            await asyncio.sleep(min(1.0, self._idle_silence_s))
            if self._connected and not self.closing and time.monotonic() - self._last_send >= self._idle_silence_s:
                self._last_send = time.monotonic()
                await self._send(silence)  # not kept in the ring: nothing to transcribe
