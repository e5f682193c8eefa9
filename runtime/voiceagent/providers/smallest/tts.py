"""Lightning TTS: streaming over WebSocket (``/tts/live``) and one-shot over HTTP (``POST /tts``).

Protocol (Smallest's Lightning references):
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/tts-ws.yaml
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/openapi/tts-openapi.yaml
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/text-to-speech/stream-tts.mdx


* WebSocket: one JSON request per sentence ``{"voice_id", "text", "language", "sample_rate",
  "speed", "model", "request_id"}`` without ``continue``/``flush`` (one-shot pattern); the
  server answers ``{"status": "chunk", "data": {"audio": <base64 PCM16>}}`` frames then
  ``{"status": "complete"}``. The socket is kept for the next request (every integration reuses
  it) and reopened transparently when the server closed it (after ``complete``, or
  the idle timeout frame ``{"status": "error", "message": "Connection timed out ..."}``).
* Error frames come as a top-level ``message`` or nested ``error{message, code}``.
* HTTP: ``POST /tts`` with ``Accept: audio/wav`` returns raw PCM16 (``output_format: pcm``) or a
  RIFF file (``wav``); 400 bodies are ``{"error": str, "message": str}`` or zod issue arrays.

Fallback: when the WebSocket fails for a piece of text before any of its audio arrived (an error
frame, a refused or dropped connection), :meth:`LightningTTS.synthesize` says that piece through
the HTTP one-shot endpoint instead, so one bad socket does not silence a sentence; only when both
fail does it raise. A drop after audio started is raised as is (the caller heard part of it: the
speaker logs only that part, see ``engine.speaker``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import uuid
import wave
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import numpy as np

from voiceagent.audio import AudioFrame
from voiceagent.providers.base import ProviderError
from voiceagent.providers.smallest._common import (
    auth_headers,
    error_text,
    http_error,
    resolve_api_key,
    resolve_base_url,
    scrub,
    split_text,
    ws_connect,
    ws_url,
)
from voiceagent.providers.smallest.models import (
    DEFAULT_TTS_MODEL,
    TTS_LANGUAGES,
    TTS_SAMPLE_RATES,
    base_language,
    default_voice,
)

__all__ = ["LightningTTS", "decode_wav"]

SERVICE = "Lightning TTS"


def decode_wav(data: bytes) -> AudioFrame:
    """A RIFF/WAVE PCM16 file as one mono :class:`AudioFrame` at the file's own rate (channels
    are averaged).

    Raises:
        ProviderError: not 16-bit PCM or unreadable.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ProviderError(f"{SERVICE}: unreadable WAV answer: {exc}") from None
    if width != 2:
        raise ProviderError(f"{SERVICE}: expected 16-bit WAV, got {8 * width}-bit")
    if channels > 1:
        x = np.frombuffer(frames, dtype="<i2").reshape(-1, channels).mean(axis=1)
        frames = np.round(x).astype("<i2").tobytes()
    return AudioFrame(frames, rate)


def _is_idle_timeout(msg: dict[str, Any]) -> bool:
    text = error_text(msg).lower()
    return "timed out" in text or "inactivity" in text


class LightningTTS:
    """Smallest AI Lightning text-to-speech (implements :class:`providers.base.TTS`).

    Args (keyword-only):
        api_key: default ``$SMALLEST_API_KEY``. base_url: default ``$SMALLEST_BASE_URL`` or
            ``https://api.smallest.ai/waves/v1`` (WebSocket URL derived: https -> wss).
        voice_id: default :func:`models.default_voice` for ``model`` and ``language``.
        model: ``lightning_v3.1`` or ``lightning_v3.1_pro``. language: Lightning code (``en``,
            ``hi``, ``auto``...). sample_rate: output Hz, one of 8000/16000/24000/44100.
        speed: 0.5–2.0. idle_timeout_s: the ``?timeout=`` the server uses to drop an idle socket
            (server default 60 s). drain_timeout_s: after a cancelled synthesis, how long to read
            and discard that request's remaining audio before reopening the socket instead.
        http_timeout_s: whole-request timeout (s) of :meth:`synthesize_http`.
        http_fallback: say a piece over HTTP when the WebSocket fails before its first audio.
        extra: more request fields (``number_pronunciation_language``, ``math_notation``...).

    Raises:
        ProviderError: no API key. ValueError: unsupported ``sample_rate`` or ``speed``.
    """

    name = "smallest-lightning"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        voice_id: str | None = None,
        model: str = DEFAULT_TTS_MODEL,
        language: str = "en",
        sample_rate: int = 24000,
        speed: float = 1.0,
        idle_timeout_s: int | None = None,
        drain_timeout_s: float = 2.0,
        http_timeout_s: float = 30.0,
        extra: Mapping[str, Any] | None = None,
        http_fallback: bool = True,
    ) -> None:
        if sample_rate not in TTS_SAMPLE_RATES:
            raise ValueError(f"Lightning sample_rate must be one of {TTS_SAMPLE_RATES}, got {sample_rate}")
        if not 0.5 <= speed <= 2.0:
            raise ValueError(f"Lightning speed must be 0.5..2.0, got {speed}")
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        self.model = model
        self.language = base_language(language) or "en"
        self.voice_id = voice_id or default_voice(model, self.language)
        self.sample_rate = sample_rate
        self.speed = speed
        self.idle_timeout_s = idle_timeout_s
        self.drain_timeout_s = drain_timeout_s
        self.extra = dict(extra or {})
        self._http_timeout_s = http_timeout_s
        self._ws: Any = None
        self._lock = asyncio.Lock()
        self._drain_task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self.connects = 0
        """How many WebSocket connections were opened (1 while the socket is reused)."""
        self.http_fallback = http_fallback
        self.http_fallbacks = 0
        """How many pieces were said over HTTP because the WebSocket failed."""

    def __repr__(self) -> str:  # never shows the key
        return f"LightningTTS(base_url={self.base_url!r}, model={self.model!r}, voice_id={self.voice_id!r})"

    # ------------------------------------------------------------------ request body
    def request_body(self, text: str, language: str | None = None) -> dict[str, Any]:
        """The JSON body for ``text``: ``voice_id``, ``text``, ``language`` (``language`` when it is
        a Lightning code, else the TTS's own), ``sample_rate`` (Hz), ``speed``, ``model`` plus
        ``extra`` (WebSocket message and HTTP body share it).
        """
        lang = base_language(language)
        body: dict[str, Any] = {
            "voice_id": self.voice_id,
            "text": text,
            "language": lang if lang in TTS_LANGUAGES else self.language,
            "sample_rate": self.sample_rate,
            "speed": self.speed,
            "model": self.model,
        }
        body.update(self.extra)
        return body

    @property
    def ws_endpoint(self) -> str:
        """``wss://…/tts/live`` (with ``?timeout=`` when ``idle_timeout_s`` is set)."""
        url = f"{ws_url(self.base_url)}/tts/live"
        return url if self.idle_timeout_s is None else f"{url}?timeout={int(self.idle_timeout_s)}"

    # ------------------------------------------------------------------ WebSocket
    async def _socket(self) -> Any:
        from websockets.protocol import State

        if self._ws is not None and self._ws.state is State.OPEN:
            return self._ws
        await self._drop_socket()
        self._ws = await ws_connect(
            self.ws_endpoint, self._api_key, SERVICE, ping_interval=20, ping_timeout=20, close_timeout=1, max_size=2**24
        )
        self.connects += 1
        return self._ws

    async def _drop_socket(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):  # a broken socket is dropped all the same
                await ws.close()

    def synthesize_in(self, text: str, language: str) -> AsyncIterator[AudioFrame]:
        """:meth:`synthesize` with the request's ``language`` set to ``language`` (an agent whose
        caller switches language: each sentence is spoken in the caller's current one, with the
        same voice; implements ``providers.base.MultilingualTTS``).
        """
        return self.synthesize(text, language=language)

    async def synthesize(self, text: str, *, language: str | None = None) -> AsyncIterator[AudioFrame]:
        """Stream PCM16 mono LE frames at ``sample_rate`` Hz for ``text`` (split at 250
        characters); frame sizes follow the server's chunks (odd bytes carried over).
        ``language``: this request's Lightning ``language`` (default: the TTS's own).

        Whitespace-only text yields nothing. Closing the iterator early (barge-in) leaves the
        socket usable: the rest of that request's audio is read and discarded in the background
        (or the socket is reopened). One request at a time per socket.

        Raises:
            ProviderError: 401 (check ``SMALLEST_API_KEY``), an error frame (either shape) or a
                refused socket when the HTTP fallback failed too (or is off), the socket closing
                mid-stream after audio of the piece was yielded.
        """
        pieces = split_text(text)
        if not pieces:
            return
        await self._lock.acquire()
        handed_over = False
        try:
            for piece in pieces:
                rid = f"va_{uuid.uuid4().hex[:16]}"
                state: dict[str, Any] = {"done": False, "ws": None, "audio": False}
                try:
                    async for frame in self._one_request(piece, rid, state, language):
                        yield frame
                except (ProviderError, OSError) as ws_exc:
                    refused = isinstance(ws_exc, ProviderError) and ws_exc.status in (400, 401, 403)
                    if state["audio"] or refused or not self.http_fallback:
                        raise  # heard in part, or HTTP would be refused the same way (key, voice)
                    state["done"] = True  # nothing of it is left on the socket
                    async for frame in self._http_instead(piece, ws_exc, language):
                        yield frame
                finally:
                    if not state["done"] and state["ws"] is not None:
                        # Cancelled mid-request: discard the rest of it in the background.
                        self._drain_task = asyncio.create_task(self._drain(state["ws"], rid), name="lightning-drain")
                        handed_over = True
        finally:
            if not handed_over:
                self._lock.release()

    async def _http_instead(
        self, piece: str, ws_exc: BaseException, language: str | None = None
    ) -> AsyncIterator[AudioFrame]:
        """``piece`` through ``POST /tts`` after the WebSocket failed (``ws_exc``), in 100 ms frames.

        Raises:
            ProviderError: the HTTP request failed too (both reasons in the message).
        """
        try:
            frame = await self.synthesize_http(piece, output_format="pcm", language=language)
        except (ProviderError, OSError) as http_exc:
            raise ProviderError(
                f"{SERVICE}: WebSocket and HTTP both failed: {ws_exc}; HTTP: {http_exc}", retryable=True
            ) from None
        self.http_fallbacks += 1
        if frame.sample_rate != self.sample_rate:
            frame = frame.resampled(self.sample_rate)
        step = max(2, self.sample_rate // 10 * 2)
        for i in range(0, len(frame.pcm), step):
            yield AudioFrame(frame.pcm[i : i + step], self.sample_rate)

    async def _one_request(
        self, text: str, rid: str, state: dict[str, Any], language: str | None = None
    ) -> AsyncIterator[AudioFrame]:
        from websockets.exceptions import ConnectionClosed

        payload = json.dumps({**self.request_body(text, language), "request_id": rid})
        for attempt in range(2):
            ws = await self._socket()
            got_audio = False
            carry = b""
            try:
                await ws.send(payload)
                state["ws"] = ws
                while True:
                    msg = self._parse(await ws.recv())
                    if msg is None or not self._mine(msg, rid):
                        continue
                    status = msg.get("status")
                    if status == "chunk":
                        audio = base64.b64decode((msg.get("data") or {}).get("audio") or "")
                        audio, carry = carry + audio, b""
                        if len(audio) % 2:
                            audio, carry = audio[:-1], audio[-1:]
                        if audio:
                            got_audio = state["audio"] = True
                            yield AudioFrame(audio, self.sample_rate)
                    elif status == "complete":
                        state["done"] = True
                        return
                    elif status == "error" or "error" in msg:
                        if not got_audio and attempt == 0 and _is_idle_timeout(msg):
                            state["ws"] = None
                            await self._drop_socket()  # stale idle-timeout frame: reopen
                            break
                        state["done"] = True
                        await self._drop_socket()
                        raise ProviderError(f"{SERVICE} error: {scrub(error_text(msg), self._api_key)}")
            except ConnectionClosed as exc:
                state["ws"] = None
                await self._drop_socket()
                if got_audio or attempt == 1:
                    raise ProviderError(
                        f"{SERVICE}: connection closed mid-synthesis (code {exc.rcvd.code if exc.rcvd else 'none'})",
                        retryable=True,
                    ) from None
                # closed after the previous complete or by the idle timeout: reopen and resend

    def _parse(self, raw: Any) -> dict[str, Any] | None:
        if not isinstance(raw, str):
            return None
        try:
            msg = json.loads(raw)
        except ValueError:
            return None
        return msg if isinstance(msg, dict) else None

    @staticmethod
    def _mine(msg: dict[str, Any], rid: str) -> bool:
        """Frames echo our ``request_id`` as ``external_request_id``; frames of an older
        (cancelled) request are skipped. Frames without the echo are taken as ours.
        """
        ext = msg.get("external_request_id")
        return ext is None or ext == rid

    async def _drain(self, ws: Any, rid: str) -> None:
        """Read and drop the rest of a cancelled request until its ``complete``; reopen on
        timeout. Holds (then releases) the request lock.
        """
        try:
            async with asyncio.timeout(self.drain_timeout_s):
                while True:
                    msg = self._parse(await ws.recv())
                    if msg is None or not self._mine(msg, rid):
                        continue
                    if msg.get("status") in ("complete", "error") or "error" in msg:
                        break
        except BaseException:  # noqa: BLE001 - timeout, closed socket, cancellation
            if ws is self._ws:
                await self._drop_socket()
        finally:
            self._lock.release()

    # ------------------------------------------------------------------ HTTP
    async def synthesize_http(
        self, text: str, *, output_format: str = "wav", language: str | None = None
    ) -> AudioFrame:
        """One-shot ``POST /tts`` (``Accept: audio/wav``): the whole audio for ``text`` as one
        frame. ``output_format`` is ``wav`` (decoded with :mod:`wave`) or ``pcm`` (raw PCM16 at
        ``sample_rate``). Whitespace-only text gives an empty frame without a request. ``language``:
        as for :meth:`request_body`.

        Raises:
            ProviderError: HTTP errors with the server's message (both 400 body shapes),
                401 naming ``SMALLEST_API_KEY``, unreachable host.
            ValueError: ``output_format`` is neither ``wav`` nor ``pcm``.
        """
        if output_format not in ("wav", "pcm"):
            raise ValueError("output_format must be 'wav' or 'pcm'")
        if not text.strip():
            return AudioFrame(b"", self.sample_rate)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._http_timeout_s)
        body = {**self.request_body(text.strip(), language), "output_format": output_format}
        headers = {**auth_headers(self._api_key), "Accept": "audio/wav"}
        try:
            resp = await self._http.post(f"{self.base_url}/tts", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderError(f"{SERVICE}: request failed: {type(exc).__name__}", retryable=True) from None
        if resp.status_code != 200:
            raise http_error(
                SERVICE, resp.status_code, resp.content, self._api_key, retry_after=resp.headers.get("Retry-After")
            )
        data = resp.content
        if data[:4] == b"RIFF":
            frame = decode_wav(data)
            return frame
        return AudioFrame(data[: len(data) - len(data) % 2], self.sample_rate)

    async def aclose(self) -> None:
        """Close the WebSocket and the HTTP client."""
        if self._drain_task is not None and not self._drain_task.done():
            self._drain_task.cancel()
            with contextlib.suppress(BaseException):  # the cancelled drain
                await self._drain_task
        await self._drop_socket()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
