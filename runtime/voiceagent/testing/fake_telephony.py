"""Fake telephony for tests and benchmarks: a Twilio / Exotel media-stream *client* that calls a
real ``voiceagent serve`` over WebSocket, and a fake Twilio REST API on 127.0.0.1.

:class:`FakePhoneCall` plays the provider's side of the wire exactly as documented
(https://www.twilio.com/docs/voice/media-streams/websocket-messages,
https://developer.exotel.com/docs/agentstream/websocket-protocol): ``connected``, ``start``, 20 ms
``media`` frames of the caller's audio at real time, ``dtmf``, ``stop``. It also plays the agent's
audio to a virtual caller **at real time**: received audio is queued, consumed at the wire rate,
and each ``mark`` is echoed once the audio sent before it has been played; ``clear`` drops the
queued audio at once (and, like Twilio, echoes the marks it dropped). ``heard`` is what the
caller heard, sample for sample.

:class:`FakeTwilioRest` records call updates (``POST /2010-04-01/Accounts/{sid}/Calls/{sid}.json``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from voiceagent.testing._http import LocalServer, read_body, read_head, response_head, write
from voiceagent.transports import mulaw

__all__ = ["FakePhoneCall", "FakeTwilioRest", "RestRequest"]

FRAME_MS = 20
SPEECH_RMS = 300.0
UNDERRUN_GAP_S = 0.3
"""A pause in the agent's audio shorter than this (s) counts as an underrun, not a turn boundary."""


@dataclass
class FakePhoneCall:
    """One caller on a Twilio (``dialect="twilio"``) or Exotel (``"exotel"``) stream.

    Args:
        url: the server's stream URL (``ws://127.0.0.1:PORT/twilio/NAME/stream``).
        caller_pcm: the caller's audio, PCM16 mono at ``rate`` (Hz), streamed at real time.
        rate: wire rate (Twilio: 8000; Exotel: 8000/16000/24000).
        phone: the caller's number (``From``). call_sid: the call id.
        echo_marks: echo marks once played (a client that never echoes sets False).
        hang_up_after_s: send ``stop`` this long after the caller audio ended (None: wait for
            the server to close).
        end_silence_ms: caller silence after speech that makes an end of utterance in
            ``speech_ends`` (the STT's end-of-utterance timeout).
        after_greeting: stream silence until the agent's first words were heard (played out
            and 300 ms of quiet), then the caller audio: a caller who lets the greeting finish.

    Attributes (after :meth:`run`): ``heard`` (PCM16 the caller heard), ``received_ms`` (agent
    audio received), ``clears`` (monotonic s of each ``clear``), ``marks_echoed``,
    ``close_code``, ``first_audio_at`` (monotonic s), ``speech_end_at`` (monotonic s when the
    last caller audio frame above silence was sent), ``speech_ends`` (each end of caller speech,
    monotonic s: the last frame with RMS >= 300, the fake Pulse's speech threshold, before
    silence), ``answers`` (the first agent audio received after each of them, or None),
    ``underruns`` (gaps under :data:`UNDERRUN_GAP_S` in the agent's audio: the queue ran dry and
    more audio of the same reply arrived shortly after).
    """

    url: str
    caller_pcm: bytes
    rate: int = 8000
    dialect: Literal["twilio", "exotel"] = "twilio"
    phone: str = "+15550001111"
    to: str = "+15559990000"
    call_sid: str = "CA00000000000000000000000000000001"
    stream_sid: str = "MZ00000000000000000000000000000001"
    echo_marks: bool = True
    hang_up_after_s: float | None = None
    after_greeting: bool = False
    end_silence_ms: float = 300.0
    dtmf: list[tuple[float, str]] = field(default_factory=list)
    heard: bytearray = field(default_factory=bytearray)
    received_ms: float = 0.0
    clears: list[float] = field(default_factory=list)
    marks_echoed: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    first_audio_at: list[float] = field(default_factory=list)
    speech_end_at: float | None = None
    speech_start_at: float | None = None
    speech_ends: list[float] = field(default_factory=list)
    answers: list[float | None] = field(default_factory=list)
    underruns: int = 0

    def __post_init__(self) -> None:
        self._queue: list[tuple[bytes, str | None]] = []  # (pcm, mark name) in arrival order
        self._ws: ClientConnection | None = None
        self._closed = asyncio.Event()
        self._empty_at: float | None = None
        self._in_speech = False

    # ------------------------------------------------------------------ framing

    def _sid_key(self) -> str:
        return "streamSid" if self.dialect == "twilio" else "stream_sid"

    def _start_message(self) -> dict[str, Any]:
        if self.dialect == "twilio":
            return {
                "event": "start",
                "sequenceNumber": "1",
                "streamSid": self.stream_sid,
                "start": {
                    "accountSid": "AC00000000000000000000000000000000",
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": {"From": self.phone, "To": self.to, "CallSid": self.call_sid},
                },
            }
        return {
            "event": "start",
            "sequence_number": 1,
            "stream_sid": self.stream_sid,
            "start": {
                "stream_sid": self.stream_sid,
                "call_sid": self.call_sid,
                "account_sid": "exotel-test",
                "from": self.phone,
                "to": self.to,
                "custom_parameters": {},
                "media_format": {"encoding": "base64", "sample_rate": str(self.rate), "bit_rate": "128kbps"},
            },
        }

    def _encode(self, pcm: bytes) -> bytes:
        return mulaw.encode(pcm) if self.dialect == "twilio" else pcm

    def _decode(self, payload: bytes) -> bytes:
        return mulaw.decode(payload) if self.dialect == "twilio" else payload

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.send(json.dumps(message))

    # ------------------------------------------------------------------ the call

    async def run(self, timeout: float = 60.0) -> FakePhoneCall:
        """Call, stream the caller audio, play the agent, until the server closes (or ``timeout``)."""
        # Telephony providers do not negotiate permessage-deflate; neither does this caller.
        async with connect(self.url, max_size=None, open_timeout=10, compression=None) as ws:
            self._ws = ws
            await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await self._send(self._start_message())
            tasks = [
                asyncio.create_task(self._receive(ws)),
                asyncio.create_task(self._speak()),
            ]
            try:
                async with asyncio.timeout(timeout):
                    await self._closed.wait()
            except TimeoutError:
                pass
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            self.close_code = ws.close_code
        return self

    async def _receive(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                message = json.loads(raw)
                self.messages.append(message)
                event = message.get("event")
                if event == "media":
                    pcm = self._decode(base64.b64decode(message["media"]["payload"]))
                    now = time.monotonic()
                    if not self.first_audio_at:
                        self.first_audio_at.append(now)
                    if len(self.answers) < len(self.speech_ends):
                        self.answers += [None] * (len(self.speech_ends) - len(self.answers) - 1) + [now]
                    if self._empty_at is not None and now - self._empty_at < UNDERRUN_GAP_S:
                        self.underruns += 1
                    self._empty_at = None
                    self.received_ms += 1000 * len(pcm) / 2 / self.rate
                    self._queue.append((pcm, None))
                elif event == "mark":
                    self._queue.append((b"", message["mark"]["name"]))
                elif event == "clear":
                    self.clears.append(time.monotonic())
                    dropped = [name for _, name in self._queue if name]
                    self._queue.clear()
                    for name in dropped:  # Twilio sends back the marks of the audio it dropped
                        await self._echo(name)
        except Exception:  # noqa: BLE001, S110 - the server closed: the call is over
            pass
        finally:
            self._closed.set()

    async def _echo(self, name: str) -> None:
        if self.echo_marks:
            self.marks_echoed.append(name)
            await self._send({"event": "mark", self._sid_key(): self.stream_sid, "mark": {"name": name}})

    async def _speak(self) -> None:
        """Caller audio as 20 ms frames at real time, then silence; then ``stop`` if asked. The
        same 20 ms tick plays the agent's audio (one task per call keeps many calls cheap).
        """
        n = self.rate * FRAME_MS // 1000 * 2
        silence = b"\x00" * n
        t0 = time.monotonic()
        i = 0
        chunk = 0
        pcm = self.caller_pcm
        dtmf = sorted(self.dtmf)
        quiet_since: float | None = None
        while self.after_greeting:
            await self._send(
                {
                    "event": "media",
                    self._sid_key(): self.stream_sid,
                    "media": {"payload": base64.b64encode(self._encode(silence)).decode()},
                }
            )
            chunk += 1
            now = time.monotonic()
            if self.first_audio_at and not self._queue:
                quiet_since = quiet_since or now
                if now - quiet_since >= 0.3:
                    break
            else:
                quiet_since = None
            await self._play_tick()
            await asyncio.sleep(max(0.0, t0 + chunk * FRAME_MS / 1000 - time.monotonic()))
        t0 = time.monotonic()
        chunk = 0
        last_speech_at = t0
        self.speech_start_at = t0
        while True:
            frame = pcm[i : i + n] if i < len(pcm) else silence
            if len(frame) < n:
                frame += b"\x00" * (n - len(frame))
            samples = np.frombuffer(frame, "<i2").astype(np.float64)
            speech = i < len(pcm) and float(np.sqrt(np.mean(samples * samples))) >= SPEECH_RMS
            if speech:
                self._in_speech = True
            elif self._in_speech and time.monotonic() - last_speech_at >= self.end_silence_ms / 1000:
                self._in_speech = False  # silence long enough for an end of utterance
                self.speech_end_at = last_speech_at
                self.speech_ends.append(last_speech_at)
            payload = base64.b64encode(self._encode(frame)).decode()
            chunk += 1
            media: dict[str, Any] = {"payload": payload}
            if self.dialect == "twilio":
                media.update(track="inbound", chunk=str(chunk), timestamp=str(chunk * FRAME_MS))
            else:
                media.update(chunk=chunk, timestamp=str(chunk * FRAME_MS))
            await self._send({"event": "media", self._sid_key(): self.stream_sid, "media": media})
            if speech:
                last_speech_at = time.monotonic()
            elapsed = time.monotonic() - t0
            while dtmf and dtmf[0][0] <= elapsed:
                digit = dtmf.pop(0)[1]
                await self._send({"event": "dtmf", self._sid_key(): self.stream_sid, "dtmf": {"digit": digit}})
            i += n
            if (
                self.hang_up_after_s is not None
                and i >= len(pcm)
                and elapsed >= len(pcm) / 2 / self.rate + self.hang_up_after_s
            ):
                await self.hang_up()
                return
            await self._play_tick()
            next_at = t0 + chunk * FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def hang_up(self) -> None:
        """Send ``stop`` and close (the caller hangs up)."""
        await self._send({"event": "stop", self._sid_key(): self.stream_sid, "stop": {"callSid": self.call_sid}})
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    async def _play_tick(self) -> None:
        """Play 20 ms of queued agent audio (real time: called once per caller frame); echo the
        marks reached.
        """
        per_tick = self.rate * FRAME_MS // 1000 * 2
        budget = per_tick
        while self._queue and (budget > 0 or self._queue[0][1] is not None):
            pcm, name = self._queue[0]
            if name is not None:
                self._queue.pop(0)
                await self._echo(name)
                continue
            take = pcm[:budget]
            self.heard += take
            budget -= len(take)
            if len(take) == len(pcm):
                self._queue.pop(0)
            else:
                self._queue[0] = (pcm[len(take) :], None)
        if not self._queue and budget < per_tick and self._empty_at is None:
            self._empty_at = time.monotonic()  # ran dry this tick


@dataclass
class RestRequest:
    """One request the fake Twilio REST API received."""

    method: str
    path: str
    form: dict[str, str]
    authorization: str | None


class FakeTwilioRest:
    """Twilio's call-update endpoint on 127.0.0.1: ``async with FakeTwilioRest() as rest``; point
    ``TWILIO_API_BASE_URL`` at :attr:`base_url`. Answers 200 with a call resource; ``status``
    makes it answer that instead (e.g. 500).
    """

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.requests: list[RestRequest] = []
        self._server = LocalServer(self._handle)
        self.base_url = ""

    async def __aenter__(self) -> FakeTwilioRest:
        port = await self._server.start()
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.aclose()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_head(reader)
            if head is None:
                return
            body = await read_body(reader, head.headers)
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            self.requests.append(RestRequest(head.method, head.path, form, head.headers.get("authorization")))
            sid = head.path.rsplit("/", 1)[-1].removesuffix(".json")
            payload = json.dumps({"sid": sid, "status": form.get("Status", "in-progress")}).encode()
            await write(
                writer,
                response_head(self.status, {"Content-Type": "application/json", "Content-Length": str(len(payload))})
                + payload,
            )
