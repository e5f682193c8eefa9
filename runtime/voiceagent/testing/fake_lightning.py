"""The Lightning TTS side of :class:`voiceagent.testing.fake_smallest.FakeSmallest`.

Built from Smallest's Lightning references only:
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/tts-ws.yaml and
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/openapi/tts-openapi.yaml


* WebSocket ``/waves/v1/tts/live``: JSON requests (text buffered while ``continue: true``,
  synthesised on a message without ``continue`` or with ``flush: true``; an empty flush yields no
  ``complete``); ``{"session_id", "request_id", "status": "chunk", "data": {"audio": base64}}``
  frames of PCM16 at the requested ``sample_rate`` then ``{"status": "complete"}``;
  ``external_session_id``/``external_request_id`` echoed when sent; socket kept open (or closed
  after ``complete``); the documented idle-timeout frame after ``?timeout=`` seconds (default 60)
  without activity, then a close; error frames in the nested (spec) or flat (timeout/LK) shape.
* HTTP ``POST /waves/v1/tts/live``: server-sent events ``event: audio`` /
  ``data: {"audio", "done": false, "status": "206"}`` then ``data: {"status": "200", "done": true}``.
* HTTP ``POST /waves/v1/tts``: raw PCM16 (``output_format: pcm``, the default) or RIFF (``wav``),
  ``Content-Type: audio/wav``, ``X-Session-Id``/``X-Request-Id``/``X-External-*`` headers; 400
  bodies in the spec shape (``{"error", "message"}``) for missing fields and the zod-issue shape
  (``{"error": [...]}``) for enum/voice problems; 401 ``{"error": "Unauthorized", ...}``.

Audio is a deterministic tone derived from the text (see :func:`tone_pcm`), so tests can check
exactly which request a chunk belongs to.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import time
import uuid
import wave
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from websockets.http11 import Request, Response

from voiceagent.testing.fake_pulse import json_response

TTS_WS_PATH = "/waves/v1/tts/live"
TTS_HTTP_PATH = "/waves/v1/tts"
SAMPLE_RATES = (8000, 16000, 24000, 44100)
OUTPUT_FORMATS = ["wav", "ulaw", "alaw", "pcm", "mp3"]


def tone_pcm(text: str, sample_rate: int, ms_per_char: float = 40.0) -> bytes:
    """The fake's audio for ``text``: a sine (220–659 Hz, picked by CRC-32 of the text) lasting
    ``len(text) * ms_per_char`` ms, PCM16 mono LE at ``sample_rate`` Hz.
    """
    n = round(len(text) * ms_per_char / 1000.0 * sample_rate)
    freq = 220 + zlib.crc32(text.encode()) % 440
    t = np.arange(n, dtype=np.float64) / sample_rate
    return np.round(8000.0 * np.sin(2 * math.pi * freq * t)).astype("<i2").tobytes()


@dataclass
class LightningOptions:
    """How the fake Lightning behaves.

    first_audio_delay_ms: pause before the first chunk of each request.
    chunk_ms: audio per ``chunk`` frame; chunk_interval_ms: pause between chunks.
    ms_per_char: audio length per character of text.
    close_after_complete: close the socket after each ``complete`` (the docs' reading).
    idle_timeout_s: overrides ``?timeout=`` (default 60 s) for the idle close.
    error_when_text_contains: requests whose text contains this get an error frame (WS) or a
        500 (HTTP) instead of audio; error_shape: ``nested`` (spec) or ``flat`` (top-level message).
    ws_error_when_text_contains: like ``error_when_text_contains`` for the WebSocket only (the
        HTTP ``/tts`` answers normally), to play a fallback from one transport to the other.
    drop_when_text_contains: a WebSocket request whose text contains this gets the first half of
        its audio, then the TCP connection is dropped (no close frame): a drop mid-sentence.
    known_voices: when set, other voice ids get ``Invalid Voice ID``.
    http_error: force every HTTP ``/tts`` answer to ``(status, json_body)``.
    """

    first_audio_delay_ms: float = 0.0
    chunk_ms: float = 100.0
    chunk_interval_ms: float = 0.0
    ms_per_char: float = 40.0
    close_after_complete: bool = False
    idle_timeout_s: float | None = None
    error_when_text_contains: str | None = None
    error_shape: Literal["nested", "flat"] = "nested"
    known_voices: set[str] | None = None
    http_error: tuple[int, Any] | None = None
    ws_error_when_text_contains: str | None = None
    drop_when_text_contains: str | None = None


@dataclass
class TTSRecord:
    """One synthesis request received (WS message or HTTP body), with its transport."""

    transport: Literal["ws", "http"]
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeLightning:
    """The Lightning endpoints; mounted by ``FakeSmallest``."""

    def __init__(self, options: LightningOptions, api_key: str) -> None:
        self.options = options
        self.api_key = api_key
        self.requests: list[TTSRecord] = []
        self.ws_connections = 0
        self.ws_params: list[dict[str, str]] = []
        self.completes_sent = 0
        self.chunks_sent = 0
        self.drops = 0
        """WebSocket connections dropped mid-request (``drop_when_text_contains``)."""

    def audio_for(self, text: str, sample_rate: int) -> bytes:
        """Exactly the PCM this fake returns for ``text`` at ``sample_rate``."""
        return tone_pcm(text, sample_rate, self.options.ms_per_char)

    def _error(self, message: str, code: str) -> dict[str, Any]:
        if self.options.error_shape == "flat":
            return {"status": "error", "message": message}
        return {"status": "error", "error": {"message": message, "code": code}}

    # ------------------------------------------------------------------ WebSocket
    def process_request(self, request: Request) -> Response | None:
        """401 before the upgrade for a missing/invalid key (presumed like HTTP)."""
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return json_response(401, {"error": "Unauthorized", "message": "Bearer token is missing or invalid."})
        return None

    async def handle(self, ws: Any) -> None:
        """Serve one ``/tts/live`` socket."""
        from websockets.exceptions import ConnectionClosed

        params = dict(parse_qsl(urlsplit(ws.request.path).query))
        self.ws_connections += 1
        self.ws_params.append(params)
        timeout = self.options.idle_timeout_s or float(params.get("timeout", "60"))
        session_id = f"ws_{uuid.uuid4().hex[:12]}"
        jobs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        state = {"busy": False, "last": time.monotonic(), "buffer": ""}
        worker = asyncio.create_task(self._worker(ws, session_id, jobs, state))
        idle = asyncio.create_task(self._idle(ws, timeout, state, jobs))
        try:
            async for raw in ws:
                state["last"] = time.monotonic()
                if isinstance(raw, str):
                    await self._message(ws, raw, session_id, jobs, state)
        except ConnectionClosed:
            pass
        finally:
            worker.cancel()
            idle.cancel()

    async def _idle(self, ws: Any, timeout: float, state: dict[str, Any], jobs: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            await asyncio.sleep(min(0.05, timeout / 4))
            if state["busy"] or not jobs.empty():
                continue
            if time.monotonic() - state["last"] >= timeout:
                shown = int(timeout) if float(timeout).is_integer() else timeout
                await ws.send(
                    json.dumps(
                        {"status": "error", "message": f"Connection timed out after {shown} seconds of inactivity"}
                    )
                )
                await ws.close(1000, "idle timeout")
                return

    async def _message(
        self, ws: Any, raw: str, session_id: str, jobs: asyncio.Queue[dict[str, Any]], state: dict[str, Any]
    ) -> None:
        try:
            msg = json.loads(raw)
            assert isinstance(msg, dict)
        except (ValueError, AssertionError):
            await ws.send(json.dumps(self._error("Invalid JSON message", "invalid_request")))
            return
        self.requests.append(TTSRecord("ws", msg))
        problem = self._validate(msg)
        if problem:
            await ws.send(json.dumps({"session_id": session_id, **self._error(*problem)}))
            return
        state["buffer"] += str(msg.get("text") or "")
        if msg.get("continue") and not msg.get("flush"):
            return
        text, state["buffer"] = state["buffer"], ""
        if not text.strip():
            return  # an empty segment produces no complete
        jobs.put_nowait({**msg, "text": text})

    def _validate(self, msg: dict[str, Any]) -> tuple[str, str] | None:
        if not msg.get("voice_id"):
            return ("The 'voice_id' field is required.", "invalid_request")
        if "text" not in msg:
            return ("The 'text' field is required.", "invalid_request")
        known = self.options.known_voices
        if known is not None and msg["voice_id"] not in known:
            return ("Invalid Voice ID", "invalid_voice")
        if int(msg.get("sample_rate") or 44100) not in SAMPLE_RATES:
            return (f"sample_rate must be one of {list(SAMPLE_RATES)}", "invalid_request")
        return None

    async def _worker(
        self, ws: Any, session_id: str, jobs: asyncio.Queue[dict[str, Any]], state: dict[str, Any]
    ) -> None:
        opts = self.options
        while True:
            job = await jobs.get()
            state["busy"] = True
            head: dict[str, Any] = {"session_id": session_id, "request_id": f"task_{uuid.uuid4().hex[:12]}"}
            if job.get("session_id"):
                head["external_session_id"] = job["session_id"]
            if job.get("request_id"):
                head["external_request_id"] = job["request_id"]
            text = job["text"]
            failing = [opts.error_when_text_contains, opts.ws_error_when_text_contains]
            if any(marker and marker in text for marker in failing):
                await ws.send(json.dumps({**head, **self._error("Synthesis failed", "internal_error")}))
                state["busy"], state["last"] = False, time.monotonic()
                continue
            rate = int(job.get("sample_rate") or 44100)
            pcm = self.audio_for(text, rate)
            step = max(2, int(rate * opts.chunk_ms / 1000.0) * 2)
            if opts.first_audio_delay_ms:
                await asyncio.sleep(opts.first_audio_delay_ms / 1000.0)
            drop_at = len(pcm) // 2 if opts.drop_when_text_contains and opts.drop_when_text_contains in text else None
            for i in range(0, len(pcm), step):
                if drop_at is not None and i >= drop_at:
                    self.drops += 1
                    ws.transport.abort()  # mid-sentence, no close frame
                    return
                if i and opts.chunk_interval_ms:
                    await asyncio.sleep(opts.chunk_interval_ms / 1000.0)
                audio = base64.b64encode(pcm[i : i + step]).decode()
                await ws.send(json.dumps({**head, "status": "chunk", "data": {"audio": audio}}))
                self.chunks_sent += 1
            await ws.send(json.dumps({**head, "status": "complete"}))
            self.completes_sent += 1
            state["busy"], state["last"] = False, time.monotonic()
            if opts.close_after_complete:
                await ws.close(1000, "complete")
                return

    # ------------------------------------------------------------------ HTTP
    async def http(
        self, method: str, headers: dict[str, str], body: bytes, *, sse: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer ``POST /waves/v1/tts`` (or, with ``sse``, ``POST /waves/v1/tts/live`` as
        server-sent events): ``(status, headers, body)``.
        """

        def js(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
            return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()

        if method != "POST":
            return js(405, {"error": "MethodNotAllowed", "message": "Use POST"})
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return js(401, {"error": "Unauthorized", "message": "Bearer token is missing or invalid."})
        try:
            req = json.loads(body or b"{}")
            assert isinstance(req, dict)
        except (ValueError, AssertionError):
            return js(400, {"error": "InvalidRequest", "message": "Body must be a JSON object."})
        self.requests.append(TTSRecord("http", req, {k: v for k, v in headers.items() if k != "authorization"}))
        if self.options.http_error is not None:
            return js(*self.options.http_error)
        for name in ("text", "voice_id"):
            if not req.get(name):
                return js(400, {"error": "InvalidRequest", "message": f"The '{name}' field is required."})
        fmt = req.get("output_format", "pcm")
        if fmt not in OUTPUT_FORMATS:
            return js(
                400,
                {
                    "error": [
                        {
                            "received": fmt,
                            "code": "invalid_enum_value",
                            "options": OUTPUT_FORMATS,
                            "path": ["output_format"],
                            "message": "Invalid enum value. Expected 'wav' | 'ulaw' | "
                            f"'alaw' | 'pcm' | 'mp3', received '{fmt}'",
                        }
                    ]
                },
            )
        known = self.options.known_voices
        if known is not None and req["voice_id"] not in known:
            return js(400, {"error": [{"code": "custom", "path": ["voice_id"], "message": "Invalid Voice ID"}]})
        rate = int(req.get("sample_rate") or 44100)
        if rate not in SAMPLE_RATES:
            return js(
                400,
                {
                    "error": [
                        {
                            "code": "invalid_enum_value",
                            "path": ["sample_rate"],
                            "message": f"Invalid sample_rate {rate}",
                        }
                    ]
                },
            )
        if self.options.error_when_text_contains and self.options.error_when_text_contains in req["text"]:
            return js(500, {"error": "InternalServerError", "message": "Synthesis failed"})
        if fmt not in ("pcm", "wav"):
            return js(400, {"error": "InvalidRequest", "message": f"output_format {fmt} is not produced by this fake"})
        pcm = self.audio_for(req["text"], rate)
        if self.options.first_audio_delay_ms:
            await asyncio.sleep(self.options.first_audio_delay_ms / 1000.0)
        ids = {
            "X-Session-Id": f"sess_{uuid.uuid4().hex[:12]}",
            "X-Request-Id": f"req_{uuid.uuid4().hex[:12]}",
            "X-External-Session-Id": str(req.get("session_id") or ""),
            "X-External-Request-Id": str(req.get("request_id") or ""),
        }
        if sse:
            step = max(2, int(rate * self.options.chunk_ms / 1000.0) * 2)
            events = [
                "event: audio\ndata: "
                + json.dumps({"audio": base64.b64encode(pcm[i : i + step]).decode(), "done": False, "status": "206"})
                for i in range(0, len(pcm), step)
            ]
            events.append("data: " + json.dumps({"status": "200", "done": True}))
            return 200, {"Content-Type": "text/event-stream", **ids}, ("\n\n".join(events) + "\n\n").encode()
        if fmt == "wav":
            buf = io.BytesIO()
            with wave.open(buf, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes(pcm)
            pcm = buf.getvalue()
        return 200, {"Content-Type": "audio/wav", **ids}, pcm
