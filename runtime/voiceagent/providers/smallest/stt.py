"""Pulse streaming STT over WebSocket (``wss://api.smallest.ai/waves/v1/stt/live``).

Protocol: /work/shared/spec/smallest-protocols.md §2 (docs.smallest.ai
``asyncapi/stt-live-ws.yaml``, ``pages/speech-to-text/realtime/*``):

* connect ``/stt/live?model=pulse&language=..&sample_rate=..&encoding=linear16&eou_timeout_ms=..
  &vad_events=true`` with ``Authorization: Bearer``; 401/400 come back before the upgrade;
* send raw PCM16 binary frames (here 20–100 ms each), ``{"type": "finalize"}`` at a turn boundary,
  ``{"type": "close_stream"}`` at the end, then wait for ``is_last``;
* receive ``transcription`` frames (``transcript`` or ``transcription``; ``type`` may be missing),
  ``speech_started``/``speech_ended`` VAD frames, and ``error`` frames; close 1008 = concurrency
  limit.

Keep-alive: WebSocket pings every ``keepalive_interval_s`` and 100 ms of silence after
``idle_silence_s`` without audio (§2.6). On an unexpected disconnect the stream reconnects with
backoff and resends the audio sent since the last final (kept in a bounded buffer), so nothing the
caller said is lost.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator, Mapping
from urllib.parse import urlencode

from voiceagent.audio import AudioFrame, Resampler
from voiceagent.providers.base import ProviderError, STTEvent
from voiceagent.providers.smallest._common import (
    resolve_api_key,
    resolve_base_url,
    ws_connect,
    ws_url,
)
from voiceagent.providers.smallest._pulse_frames import parse_frame
from voiceagent.providers.smallest._resend import FINALIZE, ResendBuffer
from voiceagent.providers.smallest.models import STT_LANGUAGES, STT_SAMPLE_RATES, base_language

__all__ = ["PulseSTT", "PulseStream"]

SERVICE = "Pulse STT"
_RECONNECT_DELAYS_S = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)
_FINALIZE = json.dumps({"type": "finalize"})
_CLOSE_STREAM = json.dumps({"type": "close_stream"})


def _qbool(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


class PulseSTT:
    """Smallest AI Pulse streaming speech-to-text (implements :class:`providers.base.STT`).

    Args (keyword-only):
        api_key: Smallest key; default ``$SMALLEST_API_KEY``.
        base_url: REST base, default ``$SMALLEST_BASE_URL`` or ``https://api.smallest.ai/waves/v1``;
            the WebSocket URL is derived (https -> wss, http -> ws).
        sample_rate: Hz sent to Pulse (8000, 16000, 22050, 24000, 44100, 48000); input audio at
            other rates is resampled.
        eou_timeout_ms: end-of-utterance silence ceiling, 100–10000 ms (0 breaks the socket, §2.2).
        model: ``pulse`` (the only streaming model).
        vad_events: ask for ``speech_started`` VAD frames (barge-in).
        extra_params: more query parameters (``keywords``, ``endpointing``, ``punctuate``...);
            booleans become ``"true"``/``"false"``.
        keepalive_interval_s: WebSocket ping period (s). idle_silence_s: send 100 ms of silence
            after this long without audio (s). max_reconnects: reconnect attempts per disconnect, and
            disconnects in a row without a transcript in between before giving up.
        close_timeout_s: how long :meth:`PulseStream.aclose` waits for ``is_last``.
        max_buffer_s: audio kept for resending after a reconnect (s).

    Raises:
        ProviderError: no API key. ValueError: unsupported ``sample_rate``/``eou_timeout_ms``.
    """

    name = "smallest-pulse"

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 sample_rate: int = 16000, eou_timeout_ms: int = 800, model: str = "pulse",
                 vad_events: bool = True, extra_params: Mapping[str, Any] | None = None,
                 keepalive_interval_s: float = 5.0, idle_silence_s: float = 10.0,
                 max_reconnects: int = 5, close_timeout_s: float = 5.0,
                 max_buffer_s: float = 60.0) -> None:
        if sample_rate not in STT_SAMPLE_RATES:
            raise ValueError(f"Pulse sample_rate must be one of {STT_SAMPLE_RATES}, got {sample_rate}")
        if not 100 <= eou_timeout_ms <= 10000:
            raise ValueError(f"eou_timeout_ms must be 100..10000, got {eou_timeout_ms}")
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.sample_rate = sample_rate
        self.eou_timeout_ms = eou_timeout_ms
        self.model = model
        self.vad_events = vad_events
        self.extra_params = dict(extra_params or {})
        self.keepalive_interval_s = keepalive_interval_s
        self.idle_silence_s = idle_silence_s
        self.max_reconnects = max_reconnects
        self.close_timeout_s = close_timeout_s
        self.max_buffer_s = max_buffer_s

    def __repr__(self) -> str:  # never shows the key
        return f"PulseSTT(base_url={self.base_url!r}, sample_rate={self.sample_rate})"

    def url(self, language: str) -> str:
        """The ``/stt/live`` WebSocket URL for ``language`` (a Pulse code, §2.7)."""
        params: dict[str, Any] = {
            "model": self.model, "language": language, "sample_rate": self.sample_rate,
            "encoding": "linear16", "eou_timeout_ms": self.eou_timeout_ms,
            "vad_events": self.vad_events,
        }
        params.update(self.extra_params)
        query = urlencode({k: _qbool(v) for k, v in params.items() if v is not None})
        return f"{ws_url(self.base_url)}/stt/live?{query}"

    async def open(self, *, language: str) -> "PulseStream":
        """Connect one stream for a call in ``language`` (``en``, ``hi``, ``en-IN`` -> ``en``...).

        Raises:
            ProviderError: unsupported language; 401 (check ``SMALLEST_API_KEY``); 400 (the
                server's message); unreachable host.
        """
        lang = base_language(language)
        if lang not in STT_LANGUAGES:
            raise ProviderError(f"{SERVICE}: language {language!r} is not available for streaming; "
                                f"use one of {sorted(STT_LANGUAGES)}")
        stream = PulseStream(self, self.url(lang), lang)
        await stream._start()
        return stream


class PulseStream:
    """One caller's audio stream to Pulse (implements :class:`providers.base.STTStream`).

    Created by :meth:`PulseSTT.open`. Events come from :meth:`events`; a fatal failure (close
    1008, error frame, reconnect impossible) makes :meth:`events` raise :class:`ProviderError`
    after the events already received, and makes :meth:`push_audio` raise it too.
    """

    def __init__(self, stt: PulseSTT, url: str, language: str) -> None:
        self._stt = stt
        self._url = url
        self.language = language
        self.rate = stt.sample_rate
        self._ws: Any = None
        self._connected = False
        self._send_lock = asyncio.Lock()
        self._queue: asyncio.Queue[STTEvent | ProviderError] = asyncio.Queue()
        self._resend = ResendBuffer(int(stt.max_buffer_s * self.rate) * 2)
        self._pending = bytearray()
        self._min_chunk = self.rate // 50 * 2      # 20 ms of PCM16
        self._max_chunk = self.rate // 10 * 2      # 100 ms
        self._resampler: Resampler | None = None
        self._closing = False
        self._finished = asyncio.Event()
        self._error: ProviderError | None = None
        self._in_speech = False
        self._last_send = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []
        self._drops_in_a_row = 0
        self.reconnects = 0
        """How many times the stream reconnected after an unexpected disconnect."""

    # ------------------------------------------------------------------ connection
    async def _connect(self) -> Any:
        return await ws_connect(self._url, self._stt._api_key, SERVICE,
                                ping_interval=self._stt.keepalive_interval_s, ping_timeout=20,
                                close_timeout=2, max_size=2**22)

    async def _start(self) -> None:
        self._ws = await self._connect()
        self._connected = True
        self._tasks = [asyncio.create_task(self._reader(), name="pulse-reader"),
                       asyncio.create_task(self._keepalive(), name="pulse-keepalive")]

    async def _reconnect(self) -> bool:
        """Open a new socket and resend buffered audio (and a pending finalize/close).

        The send lock is held only while swapping sockets, so :meth:`push_audio` never waits for
        the backoff; audio pushed meanwhile lands in the resend buffer and is resent here.
        """
        self._connected = False
        self._drops_in_a_row += 1
        if self._drops_in_a_row > self._stt.max_reconnects:
            self._fail(ProviderError(f"{SERVICE}: the connection keeps dropping "
                                     f"({self._drops_in_a_row - 1} reconnects without a transcript)",
                                     retryable=True))
            return False
        attempts = max(1, self._stt.max_reconnects)
        for attempt in range(attempts):
            await asyncio.sleep(_RECONNECT_DELAYS_S[min(attempt, len(_RECONNECT_DELAYS_S) - 1)])
            if self._finished.is_set():
                return False
            try:
                ws = await self._connect()
            except ProviderError as exc:
                if not exc.retryable or attempt + 1 >= attempts:
                    self._fail(ProviderError(f"{SERVICE}: reconnect failed: {exc}",
                                             retryable=exc.retryable, status=exc.status))
                    return False
                continue
            async with self._send_lock:
                self._ws = ws
                self.reconnects += 1
                try:
                    for item in self._resend.replay():
                        await ws.send(_FINALIZE if item is FINALIZE else item)
                    if self._closing:
                        await ws.send(_CLOSE_STREAM)
                except Exception:  # noqa: BLE001 - dropped again: the reader retries
                    return True
                self._connected = True
            return True
        return False

    def _fail(self, error: ProviderError) -> None:
        if self._error is None and not self._finished.is_set():
            self._error = error
            self._queue.put_nowait(error)
        self._finished.set()

    def _finish(self) -> None:
        if not self._finished.is_set():
            self._finished.set()
            self._queue.put_nowait(STTEvent("closed", t_ms=time.monotonic() * 1000.0))

    # ------------------------------------------------------------------ receiving
    async def _reader(self) -> None:
        from websockets.exceptions import ConnectionClosed

        while not self._finished.is_set():
            ws = self._ws
            try:
                while True:
                    raw = await ws.recv()
                    if isinstance(raw, str):
                        self._handle(raw)
                    if self._finished.is_set():
                        break
            except ConnectionClosed:
                pass
            except Exception as exc:  # noqa: BLE001 - never let the reader die silently
                self._fail(ProviderError(f"{SERVICE}: receive failed: {exc}", retryable=True))
            if self._finished.is_set():
                break
            code = ws.close_code
            self._connected = False
            if code == 1008:
                reason = (ws.close_reason or "").strip()
                self._fail(ProviderError(
                    f"{SERVICE}: closed by the server with 1008 (policy): concurrency limit of "
                    f"open streaming sessions reached" + (f" ({reason})" if reason else ""),
                    retryable=True, status=1008))
                break
            if self._closing and code == 1000:
                self._finish()  # closed after close_stream without is_last: treat as done
                break
            if not await self._reconnect():
                break
        await self._close_ws()

    def _handle(self, raw: str) -> None:
        now = time.monotonic() * 1000.0
        frame = parse_frame(raw)
        if frame is None:
            return
        if frame.kind == "transcript":
            self._drops_in_a_row = 0
        if frame.kind == "error":
            self._fail(ProviderError(f"{SERVICE} error: {frame.text}"))
        elif frame.kind == "speech_started":
            self._speech_started(now)
        elif frame.kind == "transcript" and frame.is_final:
            if frame.text:
                self._speech_started(now)
                self._queue.put_nowait(
                    STTEvent("final", frame.text, frame.language or self.language, now))
            self._in_speech = False
            self._resend.final_received()
            if frame.is_last:
                self._finish()
        elif frame.kind == "transcript" and frame.text:
            self._speech_started(now)
            self._queue.put_nowait(STTEvent("interim", frame.text, frame.language, now))

    def _speech_started(self, now: float) -> None:
        if not self._in_speech:
            self._in_speech = True
            self._queue.put_nowait(STTEvent("speech_started", t_ms=now))

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

    async def _send_audio(self, chunk: bytes) -> None:
        self._resend.append(chunk)
        self._last_send = time.monotonic()
        await self._send(chunk)

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._finished.is_set() or self._closing:
            raise ProviderError(f"{SERVICE}: the stream is closed")

    async def push_audio(self, frame: AudioFrame) -> None:
        """Send PCM16 mono audio at any rate (resampled to the stream rate), re-chunked into
        20–100 ms binary frames.

        Raises:
            ProviderError: the stream failed (close 1008, error frame) or is closed.
        """
        self._check()
        if frame.sample_rate != self.rate:
            if self._resampler is None or self._resampler.in_rate != frame.sample_rate:
                self._resampler = Resampler(frame.sample_rate, self.rate)
            frame = self._resampler.process(frame)
        self._pending += frame.pcm
        while len(self._pending) >= self._min_chunk:
            n = min(len(self._pending), self._max_chunk)
            n -= n % 2
            chunk = bytes(self._pending[:n])
            del self._pending[:n]
            await self._send_audio(chunk)

    async def _flush(self) -> None:
        if self._resampler is not None and self._resampler.in_rate != self.rate:
            tail = self._resampler.process(AudioFrame(b"", self._resampler.in_rate), last=True)
            self._resampler = None
            self._pending += tail.pcm
        if self._pending:
            n = len(self._pending) - len(self._pending) % 2
            chunk = bytes(self._pending[:n])
            self._pending.clear()
            if chunk:
                await self._send_audio(chunk)

    async def finalize(self) -> None:
        """Flush buffered audio and send ``{"type": "finalize"}``: Pulse answers with one
        ``is_final`` transcript and keeps the socket open (§2.3, §2.5).

        Raises:
            ProviderError: the stream failed or is closed.
        """
        self._check()
        await self._flush()
        self._resend.mark_finalize()
        await self._send(_FINALIZE)

    async def aclose(self) -> None:
        """Flush, send ``{"type": "close_stream"}``, wait (at most ``close_timeout_s``) for the
        ``is_last`` transcript, then close. Idempotent; never raises for a failed stream."""
        if not self._closing and not self._finished.is_set():
            try:
                await self._flush()
            except Exception:  # noqa: BLE001 - closing anyway
                pass
            self._closing = True
            await self._send(_CLOSE_STREAM)
            try:
                await asyncio.wait_for(self._finished.wait(), self._stt.close_timeout_s)
            except asyncio.TimeoutError:
                pass
        self._closing = True
        self._finish()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        for task in self._tasks:
            try:
                await task
            except BaseException:  # noqa: BLE001 - cancelled reader/keepalive
                pass
        await self._close_ws()

    async def _close_ws(self) -> None:
        if self._ws is not None:
            try:
                await self._ws.close()
            except Exception:  # noqa: BLE001
                pass

    async def _keepalive(self) -> None:
        silence = b"\x00\x00" * (self.rate // 10)
        while not self._finished.is_set():
            await asyncio.sleep(min(1.0, self._stt.idle_silence_s))
            if (self._connected and not self._closing
                    and time.monotonic() - self._last_send >= self._stt.idle_silence_s):
                self._last_send = time.monotonic()
                await self._send(silence)  # not kept in the ring: nothing to transcribe

    async def events(self) -> AsyncIterator[STTEvent]:
        """Events as they arrive: ``speech_started`` (VAD frame, or the first words of an
        utterance), ``interim``, ``final``, then ``closed``.

        Raises:
            ProviderError: the stream failed (after the events received before the failure).
        """
        while True:
            item = await self._queue.get()
            if isinstance(item, ProviderError):
                raise item
            yield item
            if item.kind == "closed":
                return
