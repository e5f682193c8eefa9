"""The Hydra speech-to-speech side of :class:`voiceagent.testing.fake_smallest.FakeSmallest`.

Built from Smallest's public Hydra docs (https://github.com/smallest-inc/smallest-ai-documentation,
``fern/apis/waves/asyncapi/hydra-ws.yaml``, ``pages/speech-to-speech/*.mdx``) only:
``/waves/v1/s2s?model=..&api_key=..``; HTTP 401 at the handshake for a bad key; a ``warning``
frame before ``session.created`` for the deprecated ``model=hydra``; audio dropped until
``session.configure`` -> ``session.configured``; base64 PCM16 16 kHz in (``invalid_audio`` for
frames under 320 bytes), base64 PCM16 48 kHz out; ``session.update`` (tools only); the documented turn
sequence; barge-in cancels the response in flight (``response.done`` ``cancelled`` /
``interrupted``), ``response.cancel`` -> ``client_cancelled``; tool calls answered by
``conversation.item.create`` + ``response.create``; ``tool_response_timeout``; ``server_full``
+ close 1013; idle close 1000.

There is no model: an energy VAD (RMS threshold) finds each caller utterance, and each utterance
consumes the next :class:`HydraTurn` of :attr:`HydraOptions.turns`: a spoken reply (a tone whose
length follows the text, :func:`~voiceagent.testing.fake_lightning.tone_pcm`) and/or a tool call.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
from websockets.http11 import Request, Response

from voiceagent.testing.fake_lightning import tone_pcm
from voiceagent.testing.fake_pulse import json_response

S2S_PATH = "/waves/v1/s2s"
VOICES = {
    "hydra-v1.1": {"zoe", "maya", "elena", "ivy", "grace", "alex", "aria", "leo", "sam", "kai"},
    "hydra-v1.0": {
        "vaughn",
        "brooks",
        "cole",
        "hayes",
        "pierce",
        "sterling",
        "ellis",
        "lane",
        "quinn",
        "arden",
        "rowan",
        "blair",
        "emery",
        "sawyer",
    },
    "hydra": {"wren", "sloane", "marlowe", "reed", "knox", "tate"},
}
IN_RATE = 16000
OUT_RATE = 48000
MIN_FRAME_BYTES = 320


@dataclass
class HydraTurn:
    """One scripted answer: ``say`` (spoken text, as a tone) and/or ``tool_call``
    (``{"name": ..., "arguments": {...}}``) followed, once the client answered it, by ``then_say``.
    """

    say: str | None = None
    tool_call: dict[str, Any] | None = None
    then_say: str | None = None


@dataclass
class HydraOptions:
    """How the fake Hydra behaves. Times in ms of *received audio* unless named ``delay``.

    turns: answers, consumed one per caller utterance; then ``default_turn``.
    greeting: what the model says with ``generate_initial_response: true``.
    speech_rms: int16 RMS above which a received chunk is speech; end_of_speech_ms: the silence
        that ends an utterance.
    response_delay_ms: wall-clock pause from ``speech_stopped`` (or a tool output) to the first
        audio delta; chunk_ms: audio per delta; realtime: pace deltas at playback speed (so a
        caller can barge in while a reply is "playing").
    idle_timeout_s: close 1000 after this long without any client frame.
    server_full: answer ``error`` ``server_full`` and close 1013 right after the upgrade.
    tool_response_timeout_s: no ``function_call_output`` within this -> ``tool_response_timeout``.
    drop_after_turns: drop the TCP connection (no close frame) after this many finished responses.
    """

    turns: list[HydraTurn] = field(default_factory=lambda: [HydraTurn(say="Hello, how can I help?")])
    default_turn: HydraTurn = field(default_factory=lambda: HydraTurn(say="Okay."))
    greeting: str = "Hi, thanks for calling."
    speech_rms: float = 300.0
    end_of_speech_ms: float = 500.0
    response_delay_ms: float = 0.0
    chunk_ms: float = 40.0
    realtime: bool = True
    idle_timeout_s: float = 30.0
    server_full: bool = False
    tool_response_timeout_s: float = 10.0
    drop_after_turns: int | None = None


@dataclass
class HydraConnection:
    """What one session received and sent (for assertions)."""

    params: dict[str, str]
    configure: dict[str, Any] | None = None
    updates: list[dict[str, Any]] = field(default_factory=list)
    tool_outputs: list[dict[str, Any]] = field(default_factory=list)
    response_creates: int = 0
    cancels: int = 0
    audio_bytes: int = 0
    audio_before_configured: int = 0
    chunk_sizes: list[int] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    """``time.monotonic()`` when each frame of :attr:`sent` was sent (for latency benchmarks)."""
    errors: list[dict[str, Any]] = field(default_factory=list)


class FakeHydra:
    """The Hydra WebSocket endpoint; mounted by ``FakeSmallest``."""

    def __init__(self, options: HydraOptions, api_key: str) -> None:
        self.options = options
        self.api_key = api_key
        self.connections: list[HydraConnection] = []
        self._turns = list(options.turns)

    def handles(self, path: str) -> bool:
        """Whether ``path`` (no query) is the Hydra path."""
        return path.rstrip("/") == S2S_PATH

    def next_turn(self) -> HydraTurn:
        """The scripted answer to the next utterance."""
        return self._turns.pop(0) if self._turns else self.options.default_turn

    def process_request(self, request: Request) -> Response | None:
        """Pre-upgrade: 401 for a missing or wrong ``api_key`` query parameter, 400 bad model."""
        params = dict(parse_qsl(urlsplit(request.path).query))
        if params.get("api_key") != self.api_key:
            return json_response(401, {"error": "unauthorized"})
        if params.get("model", "hydra-v1.1") not in VOICES:
            return json_response(400, {"error": f"Invalid model: {params.get('model')}"})
        return None

    async def handle(self, ws: Any) -> None:
        """Serve one session (``ws`` is a websockets ``ServerConnection``)."""
        params = dict(parse_qsl(urlsplit(ws.request.path).query))
        params.pop("api_key", None)
        conn = HydraConnection(params=params)
        self.connections.append(conn)
        await _Session(self, ws, conn).run()


class _Session:
    def __init__(self, fake: FakeHydra, ws: Any, conn: HydraConnection) -> None:
        self.fake, self.ws, self.conn, self.opts = fake, ws, conn, fake.options
        self.model = conn.params.get("model", "hydra-v1.1")
        self.configured = False
        self.received_ms = 0.0
        self.speaking = False
        self.silence_ms = 0.0
        self.speech_start_ms = 0.0
        self.response: asyncio.Task[None] | None = None
        self.response_id: str | None = None
        self.pending_call: tuple[str, HydraTurn] | None = None
        self.tool_timer: asyncio.Task[None] | None = None
        self.finished = 0
        self.last_frame = time.monotonic()

    async def send(self, msg: dict[str, Any]) -> None:
        msg.setdefault("event_id", f"sv_{uuid.uuid4().hex[:16]}")
        self.conn.sent.append(msg)
        self.conn.sent_at.append(time.monotonic())
        await self.ws.send(json.dumps(msg))

    async def error(self, code: str, message: str, *, etype: str = "invalid_request_error", **extra: Any) -> None:
        err = {"type": etype, "code": code, "message": message, **extra}
        self.conn.errors.append(err)
        await self.send({"type": "error", "error": err})

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        if self.opts.server_full:
            await self.error("server_full", "Server is at capacity, try again later", etype="server_error")
            await self.ws.close(1013, "try again later")
            return
        if self.model == "hydra":
            await self.send({"type": "warning", "code": "model_deprecated", "message": "hydra is deprecated"})
        await self.send({"type": "session.created", "session_id": str(uuid.uuid4())})
        idle = asyncio.create_task(self._idle_watch())
        try:
            async for raw in self.ws:
                self.last_frame = time.monotonic()
                await self._on_frame(raw)
        except ConnectionClosed:
            pass
        finally:
            idle.cancel()
            for task in (self.response, self.tool_timer):
                if task is not None:
                    task.cancel()

    async def _idle_watch(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            if time.monotonic() - self.last_frame > self.opts.idle_timeout_s:
                await self.ws.close(1000, "idle timeout")
                return

    async def _on_frame(self, raw: Any) -> None:
        try:
            msg = json.loads(raw)
        except (TypeError, ValueError):
            await self.error("invalid_frame", "frames must be JSON text", etype="invalid_frame")
            return
        kind = msg.get("type")
        if kind == "session.configure":
            await self._configure(msg)
        elif kind == "input_audio_buffer.append":
            await self._audio(msg)
        elif kind == "session.update":
            session = msg.get("session") or {}
            if set(session) - {"tools"}:
                await self.error("invalid_frame", "session.update accepts only tools", etype="invalid_frame")
                return
            self.conn.updates.append(session)
            await self.send({"type": "session.updated", "session": session})
        elif kind == "conversation.item.create":
            item = msg.get("item") or {}
            self.conn.tool_outputs.append(item)
            if self.tool_timer is not None:
                self.tool_timer.cancel()
        elif kind == "response.create":
            self.conn.response_creates += 1
            if self.pending_call is not None:
                _, turn = self.pending_call
                self.pending_call = None
                self._respond(turn.then_say, None)
        elif kind == "response.cancel":
            self.conn.cancels += 1
            await self._cancel("client_cancelled")

    async def _configure(self, msg: dict[str, Any]) -> None:
        if self.configured:
            return  # later ones are ignored
        session = dict(msg.get("session") or {})
        voice = session.get("voice")
        if voice is not None and voice not in VOICES[self.model]:
            await self.error("invalid_request_error", f"unknown voice {voice}", param="session.configure.session.voice")
            return
        self.conn.configure = session
        self.configured = True
        await self.send({"type": "session.configured", "session": session})
        if session.get("generate_initial_response"):
            self._respond(self.opts.greeting, None)

    async def _audio(self, msg: dict[str, Any]) -> None:
        try:
            pcm = base64.b64decode(msg.get("audio") or "", validate=True)
        except ValueError:
            await self.error("invalid_audio", "audio is not base64", param="audio")
            return
        if not self.configured:
            self.conn.audio_before_configured += len(pcm)
            return
        if len(pcm) < MIN_FRAME_BYTES:
            await self.error("invalid_audio", f"audio frame too small ({len(pcm)} bytes, need 320)", param="audio")
            return
        self.conn.audio_bytes += len(pcm)
        self.conn.chunk_sizes.append(len(pcm))
        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
        ms = 1000.0 * samples.size / IN_RATE
        rms = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
        self.received_ms += ms
        if rms >= self.opts.speech_rms:
            self.silence_ms = 0.0
            if not self.speaking:
                self.speaking = True
                self.speech_start_ms = self.received_ms - ms
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": round(self.speech_start_ms),
                        "item_id": f"item_{uuid.uuid4().hex[:8]}",
                    }
                )
                await self._cancel("interrupted")
        elif self.speaking:
            self.silence_ms += ms
            if self.silence_ms >= self.opts.end_of_speech_ms:
                self.speaking = False
                item = {"id": f"item_{uuid.uuid4().hex[:8]}", "type": "message", "role": "user", "status": "completed"}
                await self.send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": round(self.received_ms)})
                await self.send({"type": "conversation.item.done", "item": item})
                turn = self.fake.next_turn()
                self._respond(turn.say, turn if turn.tool_call else None)

    def _respond(self, text: str | None, tool_turn: HydraTurn | None) -> None:
        self.response = asyncio.create_task(self._response(text, tool_turn))

    async def _response(self, text: str | None, tool_turn: HydraTurn | None) -> None:
        from websockets.exceptions import ConnectionClosed

        rid = f"resp_{uuid.uuid4().hex[:12]}"
        self.response_id = rid
        try:
            await asyncio.sleep(self.opts.response_delay_ms / 1000.0)
            await self.send({"type": "response.created", "response": {"id": rid}})
            item_id = f"item_{uuid.uuid4().hex[:8]}"
            await self.send(
                {
                    "type": "conversation.item.added",
                    "item": {"id": item_id, "role": "assistant", "status": "in_progress"},
                }
            )
            if text:
                pcm = tone_pcm(text, OUT_RATE)
                step = int(OUT_RATE * self.opts.chunk_ms / 1000) * 2
                for i in range(0, len(pcm), step):
                    delta = base64.b64encode(pcm[i : i + step]).decode("ascii")
                    await self.send({"type": "response.output_audio.delta", "response_id": rid, "delta": delta})
                    if self.opts.realtime:
                        await asyncio.sleep(self.opts.chunk_ms / 1000.0)
                await self.send({"type": "response.output_audio.done", "response_id": rid})
            if tool_turn is not None and tool_turn.tool_call is not None:
                call_id = f"call_{uuid.uuid4().hex[:8]}"
                name = str(tool_turn.tool_call["name"])
                args = json.dumps(tool_turn.tool_call.get("arguments") or {})
                await self.send(
                    {
                        "type": "response.function_call_arguments.delta",
                        "response_id": rid,
                        "call_id": call_id,
                        "name": name,
                        "delta": args,
                    }
                )
                await self.send(
                    {
                        "type": "response.function_call_arguments.done",
                        "response_id": rid,
                        "call_id": call_id,
                        "name": name,
                        "arguments": args,
                    }
                )
                self.pending_call = (call_id, tool_turn)
                self.tool_timer = asyncio.create_task(self._tool_timeout())
            await self.send(
                {"type": "conversation.item.done", "item": {"id": item_id, "role": "assistant", "status": "completed"}}
            )
            await self.send({"type": "response.done", "response": {"id": rid, "status": "completed"}})
            self.response_id = None
            self.finished += 1
            if self.opts.drop_after_turns is not None and self.finished >= self.opts.drop_after_turns:
                transport = self.ws.transport
                if transport is not None:
                    transport.abort()
        except ConnectionClosed:
            pass

    async def _tool_timeout(self) -> None:
        await asyncio.sleep(self.opts.tool_response_timeout_s)
        if self.pending_call is not None:
            self.pending_call = None
            with contextlib.suppress(Exception):
                await self.error("tool_response_timeout", "no function_call_output in time", etype="server_error")

    async def _cancel(self, reason: str) -> None:
        task, rid = self.response, self.response_id
        if task is None or task.done() or rid is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.response_id = None
        await self.send(
            {
                "type": "response.done",
                "response": {"id": rid, "status": "cancelled", "status_details": {"reason": reason}},
            }
        )
