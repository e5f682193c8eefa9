"""The Pulse streaming STT side of :class:`voiceagent.testing.fake_smallest.FakeSmallest`.

Built from Smallest's Pulse reference only (source:
https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
): ``/waves/v1/stt/live`` (and the legacy ``/waves/v1/pulse/get_text``), 401 before the upgrade
for a bad key, 400 before the upgrade without ``model=pulse``; binary PCM16 in; ``transcription``
frames out (``transcript`` and ``transcription``, ``is_final``/``is_last``, ``language``/``languages``
on finals only); ``speech_started``/``speech_ended`` with ``vad_events`` (or ``vad``); finals on
``{"type": "finalize"}`` and on endpointing (trailing silence in the received PCM); a terminal
``is_last`` on ``{"type": "close_stream"}`` (also the legacy ``{"type": "end"}`` and
``{"flag": "END"}``) followed by a close; close 1008 for the concurrency limit.

There is no recogniser: each utterance (speech detected by an RMS threshold) consumes the next
entry of :attr:`PulseOptions.transcripts`; interims reveal it word by word.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from voiceagent.testing._http import STATUS_TEXT

STT_PATH = "/waves/v1/stt/live"
LEGACY_STT_PATH = "/waves/v1/pulse/get_text"
STREAM_LANGUAGES = {
    "en",
    "hi",
    "de",
    "es",
    "ru",
    "it",
    "fr",
    "nl",
    "pt",
    "zh",
    "yue",
    "ja",
    "ko",
    "gu",
    "mr",
    "or",
    "bn",
    "ta",
    "te",
    "kn",
    "ml",
    "north_indic",
    "multi-asian",
    "multi-south-indic",
    "multi",
    "multi-eu",
}
SAMPLE_RATES = {8000, 16000, 22050, 24000, 44100, 48000}


def json_response(status: int, payload: Any, reason: str = "") -> Response:
    """A pre-upgrade HTTP answer with a JSON body (what the real server sends on 400/401)."""
    body = json.dumps(payload).encode()
    headers = Headers(
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")]
    )
    return Response(status, reason or STATUS_TEXT.get(status, "Error"), headers, body)


@dataclass
class PulseOptions:
    """How the fake Pulse behaves. Times in ms of *received audio* unless named ``delay``.

    transcripts: one text per utterance, consumed in order; then ``default_transcript``.
    transcript_languages: the ``language`` a final of that text reports (a caller who switches
        language); texts not listed report the URL's ``language`` (``en`` for an aggregator).
    interim_every_ms: an interim per this much speech (revealing one more word each time).
    endpointing_silence_ms: trailing silence that ends an utterance (a final); default the URL's
        ``eou_timeout_ms`` (800). ``endpointing=false`` in the URL turns it off.
    final_delay_ms: processing delay before a final is sent (after endpointing or ``finalize``).
    speech_rms: int16 RMS above which a received frame counts as speech.
    close_1008: close every stream with 1008 right after the upgrade (concurrency limit);
        ``max_streams``: the same once this many streams are open.
    disconnect_after_bytes: drop the TCP connection (no close frame) once a stream received this
        many audio bytes; ``disconnect_times`` limits how many connections get dropped.
    error_frame: sent after the first audio frame, then the server closes with 1011.
    fail_streams: ``close_1008`` and ``error_frame`` apply to the first this many streams only
        (None: to every stream), so a transient failure that a new stream recovers from can be played.
    frame_style: ``unified`` (``type`` + ``transcript`` + ``transcription``), ``legacy`` (no
        ``type``, ``transcript`` only) or ``transcription_only``.
    """

    transcripts: list[str] = field(default_factory=lambda: ["hello there"])
    default_transcript: str = "okay"
    transcript_languages: dict[str, str] = field(default_factory=dict)
    interim_every_ms: float = 200.0
    endpointing_silence_ms: float | None = None
    final_delay_ms: float = 0.0
    speech_rms: float = 300.0
    close_1008: bool = False
    max_streams: int | None = None
    disconnect_after_bytes: int | None = None
    disconnect_times: int = 1
    error_frame: dict[str, Any] | None = None
    fail_streams: int | None = None
    frame_style: Literal["unified", "legacy", "transcription_only"] = "unified"


@dataclass
class PulseConnection:
    """What one Pulse stream received: query ``params``, ``headers`` (lower-case, no
    Authorization), ``audio_bytes``, JSON ``controls`` and the frames ``sent`` back.
    """

    params: dict[str, str]
    headers: dict[str, str]
    path: str
    audio_bytes: int = 0
    controls: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    dropped: bool = False
    fails: bool = True


def _qtrue(value: str | None, default: bool) -> bool:
    return default if value is None else value.lower() == "true"


class FakePulse:
    """The Pulse WebSocket endpoint; mounted by ``FakeSmallest``."""

    def __init__(self, options: PulseOptions, api_key: str) -> None:
        self.options = options
        self.api_key = api_key
        self.connections: list[PulseConnection] = []
        self.total_audio_bytes = 0
        self._transcripts = list(options.transcripts)
        self._drops = 0
        self._open = 0

    def handles(self, path: str) -> bool:
        """Whether ``path`` (no query) is a Pulse streaming path."""
        return path in (STT_PATH, STT_PATH + "/", LEGACY_STT_PATH)

    def next_transcript(self) -> str:
        """The scripted text for the next utterance."""
        return self._transcripts.pop(0) if self._transcripts else self.options.default_transcript

    def process_request(self, request: Request) -> Response | None:
        """Pre-upgrade checks: 401 bad key, 400 bad/missing model or language."""
        parts = urlsplit(request.path)
        params = dict(parse_qsl(parts.query))
        auth = request.headers.get("Authorization")
        if auth is None:
            return json_response(401, {"message": "Unauthorized: No tokens provided"})
        if auth != f"Bearer {self.api_key}":
            return json_response(401, {"error": "unauthorized"})
        rid = str(uuid.uuid4())
        if parts.path != LEGACY_STT_PATH:
            model = params.get("model")
            if model is None:
                return json_response(
                    400,
                    {
                        "error": "Missing required query param: model. Supported values: pulse | pulse-pro.",
                        "request_id": rid,
                    },
                )
            if model == "pulse-pro":
                return json_response(
                    400,
                    {
                        "error": "Pulse Pro has no streaming transport. Use "
                        "POST /waves/v1/stt/?model=pulse-pro instead.",
                        "request_id": rid,
                    },
                )
            if model != "pulse":
                return json_response(
                    400, {"error": f"Invalid model: {model}. Supported values: pulse.", "request_id": rid}
                )
            if not params.get("language"):
                return json_response(400, {"error": "Missing required query param: language.", "request_id": rid})
        lang = params.get("language")
        if lang is not None and lang not in STREAM_LANGUAGES:
            return json_response(400, {"error": f"Unsupported language: {lang}", "request_id": rid})
        if int(params.get("sample_rate", "16000")) not in SAMPLE_RATES:
            return json_response(400, {"error": "Unsupported sample_rate", "request_id": rid})
        return None

    async def handle(self, ws: Any) -> None:
        """Serve one upgraded stream (``ws`` is a websockets ``ServerConnection``)."""
        request = ws.request
        parts = urlsplit(request.path)
        conn = PulseConnection(
            params=dict(parse_qsl(parts.query)),
            path=parts.path,
            headers={k.lower(): v for k, v in request.headers.raw_items() if k.lower() != "authorization"},
        )
        self.connections.append(conn)
        opts = self.options
        conn.fails = opts.fail_streams is None or len(self.connections) <= opts.fail_streams
        if (opts.close_1008 and conn.fails) or (opts.max_streams is not None and self._open >= opts.max_streams):
            await ws.close(1008, "Concurrency limit reached")
            return
        self._open += 1
        try:
            await _PulseSession(self, ws, conn).run()
        finally:
            self._open -= 1


class _PulseSession:
    def __init__(self, fake: FakePulse, ws: Any, conn: PulseConnection) -> None:
        self.fake, self.ws, self.conn, self.opts = fake, ws, conn, fake.options
        p = conn.params
        self.rate = int(p.get("sample_rate", "16000"))
        self.language = p.get("language") or "en"
        self.vad = _qtrue(p.get("vad_events"), _qtrue(p.get("vad"), False))
        self.words = _qtrue(p.get("word_timestamps"), conn.path == LEGACY_STT_PATH)
        endpointing = _qtrue(p.get("endpointing"), True)
        eou = float(p.get("eou_timeout_ms", "800"))
        self.endpoint_ms = None if not endpointing else self.opts.endpointing_silence_ms or eou
        self.session_id = str(uuid.uuid4())
        self.out: asyncio.Queue[tuple[float, dict[str, Any] | None]] = asyncio.Queue()
        self.audio_s = 0.0
        self.in_speech = False
        self.text: str | None = None  # current utterance's transcript
        self.speech_ms = 0.0
        self.silence_ms = 0.0
        self.interims = 0
        self.error_sent = False
        self.closing = False

    def send(self, msg: dict[str, Any] | None, delay_ms: float = 0.0) -> None:
        self.out.put_nowait((time.monotonic() + delay_ms / 1000.0, msg))

    async def sender(self) -> None:
        while True:
            due, msg = await self.out.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if msg is None:
                await self.ws.close(1000, "")
                return
            self.conn.sent.append(msg)
            await self.ws.send(json.dumps(msg))

    def transcription(
        self, text: str, *, final: bool, last: bool = False, from_finalize: bool = False
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "transcription",
            "status": "success",
            "session_id": self.session_id,
            "transcript": text,
            "transcription": text,
            "is_final": final,
            "is_last": last,
        }
        if final:
            lang = (
                self.language
                if self.language
                in STREAM_LANGUAGES - {"multi", "multi-eu", "north_indic", "multi-asian", "multi-south-indic"}
                else "en"
            )
            lang = self.opts.transcript_languages.get(text, lang)
            msg.update(language=lang, languages=[lang])
            if from_finalize:
                msg["from_finalize"] = True
        if self.words and text:
            msg["words"] = [
                {"word": w, "start": round(0.3 * i, 2), "end": round(0.3 * i + 0.25, 2), "confidence": 0.99}
                for i, w in enumerate(text.split())
            ]
        style = self.opts.frame_style
        if style == "legacy":
            for key in ("type", "transcription"):
                msg.pop(key)
        elif style == "transcription_only":
            msg.pop("transcript")
        return msg

    def final(self, *, last: bool = False, from_finalize: bool = False) -> None:
        text = self.text or ""
        self.text, self.in_speech, self.interims = None, False, 0
        self.speech_ms = self.silence_ms = 0.0
        self.send(
            self.transcription(text, final=True, last=last, from_finalize=from_finalize), self.opts.final_delay_ms
        )

    def audio(self, data: bytes) -> bool:
        """Process received PCM16; False when the connection must be dropped."""
        self.conn.audio_bytes += len(data)
        self.fake.total_audio_bytes += len(data)
        opts = self.opts
        if (
            opts.disconnect_after_bytes is not None
            and self.fake._drops < opts.disconnect_times
            and self.conn.audio_bytes >= opts.disconnect_after_bytes
        ):
            self.fake._drops += 1
            self.conn.dropped = True
            return False
        if opts.error_frame is not None and not self.error_sent and self.conn.fails:
            self.error_sent = True
            self.send(opts.error_frame)
            self.send(None)
            return True
        x = np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2").astype(np.float64)
        if x.size == 0:
            return True
        dur_ms = 1000.0 * x.size / self.rate
        rms = float(np.sqrt(np.mean(x * x)))
        if rms >= opts.speech_rms:
            if not self.in_speech:
                self.in_speech = True
                if self.text is None:
                    self.text = self.fake.next_transcript()
                if self.vad:
                    self.send(
                        {"type": "speech_started", "session_id": self.session_id, "timestamp": round(self.audio_s, 3)}
                    )
            self.silence_ms = 0.0
            self.speech_ms += dur_ms
            if self.speech_ms >= (self.interims + 1) * opts.interim_every_ms:
                self.interims += 1
                words = (self.text or "").split()
                self.send(self.transcription(" ".join(words[: self.interims]), final=False))
        elif self.in_speech:
            self.silence_ms += dur_ms
            if self.endpoint_ms is not None and self.silence_ms >= self.endpoint_ms:
                if self.vad:
                    self.send(
                        {
                            "type": "speech_ended",
                            "session_id": self.session_id,
                            "timestamp": round(self.audio_s + dur_ms / 1000.0, 3),
                        }
                    )
                self.final()
        self.audio_s += dur_ms / 1000.0
        return True

    def control(self, raw: str) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            self.send({"type": "error", "status": "error", "message": "Invalid JSON message"})
            return
        if not isinstance(msg, dict):
            return
        self.conn.controls.append(msg)
        kind = msg.get("type")
        if kind == "finalize":
            self.final(from_finalize=True)
        elif kind in ("close_stream", "end") or msg.get("flag") == "END":
            self.closing = True
            self.final(last=True, from_finalize=False)
            self.send(None)

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        sender = asyncio.create_task(self.sender())
        try:
            async for raw in self.ws:
                if isinstance(raw, bytes):
                    if self.closing:
                        continue
                    if not self.audio(raw):
                        self.ws.transport.abort()
                        return
                elif not self.closing:
                    self.control(raw)
            # client closed: let queued frames go, then stop
        except ConnectionClosed:
            pass
        finally:
            if self.text is not None:
                # The utterance never got its final here: a reconnecting client resends it, so
                # the next connection must hear the same words.
                self.fake._transcripts.insert(0, self.text)
                self.text = None
            if not sender.done():
                with contextlib.suppress(Exception):  # timed out, or the client's socket closed
                    await asyncio.wait_for(asyncio.shield(sender), 0.05 if not self.closing else 5)
                sender.cancel()
