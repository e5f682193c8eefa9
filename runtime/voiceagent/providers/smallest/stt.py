"""Pulse streaming STT over WebSocket (``wss://api.smallest.ai/waves/v1/stt/live``).

Protocol (Smallest's Pulse WebSocket reference and realtime guides):
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
https://github.com/smallest-inc/smallest-ai-documentation/tree/main/fern/products/waves/pages/speech-to-text/realtime


* connect ``/stt/live?model=pulse&language=..&sample_rate=..&encoding=linear16&eou_timeout_ms=..
  &vad_events=true`` with ``Authorization: Bearer``; 401/400 come back before the upgrade;
* send raw PCM16 binary frames (here 20–100 ms each), ``{"type": "finalize"}`` at a turn boundary,
  ``{"type": "close_stream"}`` at the end, then wait for ``is_last``;
* receive ``transcription`` frames (``transcript`` or ``transcription``; ``type`` may be missing),
  ``speech_started``/``speech_ended`` VAD frames, and ``error`` frames; close 1008 = concurrency
  limit.

Keep-alive: WebSocket pings every ``keepalive_interval_s`` and 100 ms of silence after
``idle_silence_s`` without audio. On an unexpected disconnect the stream reconnects with
backoff and resends the audio sent since the last final (kept in a bounded buffer), so nothing the
caller said is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from voiceagent.audio import AudioFrame, Resampler
from voiceagent.providers.base import ProviderError, STTEvent
from voiceagent.providers.smallest._common import (
    resolve_api_key,
    resolve_base_url,
    scrub,
    ws_url,
)
from voiceagent.providers.smallest._pulse_frames import parse_frame
from voiceagent.providers.smallest._pulse_link import SERVICE, PulseLink
from voiceagent.providers.smallest.models import STT_LANGUAGES, STT_SAMPLE_RATES, base_language, pulse_language_for

__all__ = ["PulseSTT", "PulseStream"]

MIN_CHUNK_MS = 20
"""Smallest and largest binary audio frame sent to Pulse, in ms."""
MAX_CHUNK_MS = 100


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
        eou_timeout_ms: end-of-utterance silence ceiling, 100–10000 ms (0 breaks the socket).
        model: ``pulse`` (the only streaming model).
        vad_events: ask for ``speech_started`` VAD frames (barge-in).
        extra_params: more query parameters (``keywords``, ``endpointing``, ``punctuate``...);
            booleans become ``"true"``/``"false"``.
        keepalive_interval_s: WebSocket ping period (s). idle_silence_s: send 100 ms of silence
            after this long without audio (s). max_reconnects: reconnect attempts per disconnect, and
            disconnects in a row without a transcript in between before giving up.
        close_timeout_s: how long :meth:`PulseStream.aclose` waits for ``is_last``.
        languages: every language the caller may speak (an agent's ``languages``): the stream is
            opened with the one Pulse code that recognises them all
            (:func:`models.pulse_language_for`: ``[hi, en]`` -> ``hi``, which covers Hinglish);
            finals carry the language Pulse detected. None: the language given to :meth:`open`.
        max_buffer_s: audio kept for resending after a reconnect (s): everything sent since the
            last final, oldest dropped past this. Memory per call at most ``max_buffer_s`` ×
            ``sample_rate`` × 2 bytes: 15 s (the default) is 480 KB at 16 kHz, 240 KB at 8 kHz
            (60 s, the old default, held 1.9 MB per call whenever the caller stayed silent for a
            minute; a resend only needs the current utterance; docs/performance.md, Profile §5).
        min_chunk_ms: smallest binary audio frame sent, 20-100 ms (Pulse takes 20-100 ms frames).
            20 (the default) sends each 20 ms frame at once. 40 halves the WebSocket messages of
            the caller's upload, the largest per-call CPU cost (−57 % CPU per call-minute at
            50 calls, measured), but Pulse gets the audio that completes the end-of-utterance
            silence up to 20 ms later (barge-in's ``speech_started`` likewise): for dense
            deployments that accept it (docs/performance.md, Profile §3).

    Raises:
        ProviderError: no API key. ValueError: unsupported ``sample_rate``/``eou_timeout_ms``/
            ``min_chunk_ms``, or ``max_buffer_s`` ≤ 0.
    """

    name = "smallest-pulse"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        sample_rate: int = 16000,
        eou_timeout_ms: int = 800,
        model: str = "pulse",
        vad_events: bool = True,
        extra_params: Mapping[str, Any] | None = None,
        keepalive_interval_s: float = 5.0,
        idle_silence_s: float = 10.0,
        max_reconnects: int = 5,
        close_timeout_s: float = 5.0,
        max_buffer_s: float = 15.0,
        min_chunk_ms: int = 20,
        languages: Sequence[str] | None = None,
    ) -> None:
        if sample_rate not in STT_SAMPLE_RATES:
            raise ValueError(f"Pulse sample_rate must be one of {STT_SAMPLE_RATES}, got {sample_rate}")
        if not 100 <= eou_timeout_ms <= 10000:
            raise ValueError(f"eou_timeout_ms must be 100..10000, got {eou_timeout_ms}")
        if not MIN_CHUNK_MS <= min_chunk_ms <= MAX_CHUNK_MS:
            raise ValueError(f"min_chunk_ms must be {MIN_CHUNK_MS}..{MAX_CHUNK_MS}, got {min_chunk_ms}")
        if max_buffer_s <= 0:
            raise ValueError(f"max_buffer_s must be > 0, got {max_buffer_s}")
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
        self.min_chunk_ms = min_chunk_ms
        self.languages = tuple(languages) if languages else None
        if self.languages is not None and pulse_language_for(self.languages) is None:
            raise ValueError(f"Pulse cannot stream {', '.join(self.languages)} on one connection")

    def __repr__(self) -> str:  # never shows the key
        return f"PulseSTT(base_url={self.base_url!r}, sample_rate={self.sample_rate})"

    def url(self, language: str) -> str:
        """The ``/stt/live`` WebSocket URL for ``language`` (a Pulse code)."""
        params: dict[str, Any] = {
            "model": self.model,
            "language": language,
            "sample_rate": self.sample_rate,
            "encoding": "linear16",
            "eou_timeout_ms": self.eou_timeout_ms,
            "vad_events": self.vad_events,
        }
        params.update(self.extra_params)
        query = urlencode({k: _qbool(v) for k, v in params.items() if v is not None})
        return f"{ws_url(self.base_url)}/stt/live?{query}"

    async def open(self, *, language: str) -> PulseStream:
        """Connect one stream for a call in ``language`` (``en``, ``hi``, ``en-IN`` -> ``en``...).

        Raises:
            ProviderError: unsupported language; 401 (check ``SMALLEST_API_KEY``); 400 (the
                server's message); unreachable host.
        """
        lang = (pulse_language_for(self.languages) or "") if self.languages else base_language(language)
        if lang not in STT_LANGUAGES:
            raise ProviderError(
                f"{SERVICE}: language {language!r} is not available for streaming; use one of {sorted(STT_LANGUAGES)}"
            )
        stream = PulseStream(self, self.url(lang), lang)
        await stream._start()
        return stream


class PulseStream:
    """One caller's audio stream to Pulse (implements :class:`providers.base.STTStream`).

    Created by :meth:`PulseSTT.open`. Events come from :meth:`events`; a fatal failure (close
    1008, error frame, reconnect impossible) makes :meth:`events` raise :class:`ProviderError`
    after the events already received, and makes :meth:`push_audio` raise it too. The socket,
    keep-alive and reconnects live in :class:`._pulse_link.PulseLink`.
    """

    def __init__(self, stt: PulseSTT, url: str, language: str) -> None:
        self.language = language
        self.rate = stt.sample_rate
        self._close_timeout_s = stt.close_timeout_s
        self._queue: asyncio.Queue[STTEvent | ProviderError] = asyncio.Queue()
        self._pending = bytearray()
        self._min_chunk = self.rate * stt.min_chunk_ms // 1000 * 2  # bytes of PCM16
        self._max_chunk = self.rate * MAX_CHUNK_MS // 1000 * 2
        self._resampler: Resampler | None = None
        self._closing = False
        self._finished = asyncio.Event()
        self._error: ProviderError | None = None
        self._in_speech = False
        self._api_key = stt._api_key  # only to scrub it from server messages
        self._link = PulseLink(
            url,
            stt._api_key,
            rate=self.rate,
            keepalive_interval_s=stt.keepalive_interval_s,
            idle_silence_s=stt.idle_silence_s,
            max_reconnects=stt.max_reconnects,
            max_buffer_s=stt.max_buffer_s,
            on_text=self._handle,
            on_fail=self._fail,
            on_done=self._finish,
            finished=self._finished,
        )

    @property
    def reconnects(self) -> int:
        """How many times the stream reconnected after an unexpected disconnect."""
        return self._link.reconnects

    async def _start(self) -> None:
        await self._link.start()

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
    def _handle(self, raw: str) -> None:
        """One text frame -> events on the queue."""
        now = time.monotonic() * 1000.0
        frame = parse_frame(raw)
        if frame is None:
            return
        if frame.kind == "transcript":
            self._link.transcript_received(final=frame.is_final)
        if frame.kind == "error":
            self._fail(ProviderError(f"{SERVICE} error: {scrub(frame.text, self._api_key)}"))
        elif frame.kind == "speech_started":
            self._speech_started(now)
        elif frame.kind == "transcript" and frame.is_final:
            if frame.text:
                self._speech_started(now)
                self._queue.put_nowait(STTEvent("final", frame.text, frame.language or self.language, now))
            self._in_speech = False
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
    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._finished.is_set() or self._closing:
            raise ProviderError(f"{SERVICE}: the stream is closed")

    async def push_audio(self, frame: AudioFrame) -> None:
        """Send PCM16 mono LE audio at any rate (resampled to the stream rate), re-chunked into
        20–100 ms binary frames, at least ``min_chunk_ms`` each (the tail at close may be
        shorter).

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
            await self._link.send_audio(chunk)

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
                await self._link.send_audio(chunk)

    async def finalize(self) -> None:
        """Flush buffered audio and send ``{"type": "finalize"}``: Pulse answers with one
        ``is_final`` transcript and keeps the socket open.

        Raises:
            ProviderError: the stream failed or is closed.
        """
        self._check()
        await self._flush()
        await self._link.send_finalize()

    async def aclose(self) -> None:
        """Flush, send ``{"type": "close_stream"}``, wait (at most ``close_timeout_s``) for the
        ``is_last`` transcript, then close. Idempotent; never raises for a failed stream.
        """
        if not self._closing and not self._finished.is_set():
            with contextlib.suppress(Exception):  # closing anyway
                await self._flush()
            self._closing = True
            await self._link.send_close_stream()
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for may swallow a cancellation
                async with asyncio.timeout(self._close_timeout_s):
                    await self._finished.wait()
            except TimeoutError:
                pass
        self._closing = True
        self._finish()
        await self._link.aclose()

    async def events(self) -> AsyncIterator[STTEvent]:
        """Events as they arrive: ``speech_started`` (VAD frame, or the first words of an
        utterance), ``interim``, ``final`` (text, language), then ``closed``; ``t_ms`` is
        ``time.monotonic()`` in ms at receipt.

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
