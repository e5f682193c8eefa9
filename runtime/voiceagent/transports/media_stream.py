"""The playback bookkeeping shared by the telephony transports (Twilio Media Streams, Exotel
AgentStream): caller audio in, agent audio out as ``media`` messages each followed by a
``mark``, ``clear`` on barge-in.

Both providers echo a ``mark`` when the audio sent before it has been played to the caller, so
:meth:`MediaStream.played_ms` counts only audio whose mark came back: after a barge-in the
session keeps in its history exactly what the caller heard. After a ``clear`` the provider may
still echo the marks of the audio it dropped; those are ignored (their names are forgotten).

Wire formats: https://www.twilio.com/docs/voice/media-streams/websocket-messages and
https://developer.exotel.com/docs/agentstream/websocket-protocol. The dialect modules
(:mod:`.twilio`, :mod:`.exotel`) parse the provider's ``start`` message and build its frames;
this module owns the queue of caller frames, the marks and the waiting.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, Protocol

from voiceagent.audio import AudioFrame, Resampler

__all__ = ["Dialect", "MediaStream", "StreamStart"]

Send = Callable[[str], Awaitable[None]]

MARK_GRACE_S = 2.0
"""How long past the expected end of playback :meth:`MediaStream.wait_played` waits for marks
that never come back (a client that does not echo them) before counting the audio as played."""
COALESCE_S = 0.03
"""How long a tail shorter than ``Dialect.min_chunk_bytes`` waits for more audio before it is sent."""
MAX_CHUNK_MS = 400
"""Longest agent audio per ``media`` message (ms): a barge-in then loses at most this much of
the history's precision, and the mark round trips stay few (a few per second per call)."""


class StreamStart:
    """What a ``start`` message said: the stream and call ids, the caller's number, the rate.

    Attributes:
        stream_id: the provider's stream id (``streamSid`` / ``stream_sid``), echoed in every
            message the server sends.
        call_id: the provider's call id (``callSid`` / ``call_sid``).
        phone: the caller's number (``From``), or None.
        to: the number called, or None.
        sample_rate: caller and agent audio rate (Hz) on the wire.
        parameters: the custom parameters of the stream (strings).
    """

    def __init__(
        self,
        *,
        stream_id: str,
        call_id: str,
        phone: str | None,
        to: str | None,
        sample_rate: int,
        parameters: dict[str, str],
    ) -> None:
        self.stream_id = stream_id
        self.call_id = call_id
        self.phone = phone
        self.to = to
        self.sample_rate = sample_rate
        self.parameters = parameters


class Dialect(Protocol):
    """One provider's framing (implemented by :mod:`.twilio` and :mod:`.exotel`)."""

    name: str
    min_chunk_bytes: int
    """Agent audio is sent in ``media`` messages of at least this many PCM16 bytes (Exotel asks
    for 100 ms); shorter pieces are joined (a tail waits at most :data:`COALESCE_S`)."""

    def parse_start(self, message: dict[str, Any]) -> StreamStart:
        """The ``start`` message -> :class:`StreamStart` (raises ``ValueError`` when malformed)."""

    def decode(self, payload: bytes) -> bytes:
        """Wire audio bytes -> PCM16 mono LE at the stream's rate."""

    def encode(self, pcm: bytes) -> bytes:
        """PCM16 mono LE at the stream's rate -> wire audio bytes."""

    def frame(self, event: str, stream_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """A server -> provider message of ``event`` (``media``, ``mark``, ``clear``)."""


class MediaStream:
    """One telephony call's audio, implementing ``transports.base.Transport`` (``kind == "audio"``).

    The server feeds every text frame it receives to :meth:`handle` and awaits :meth:`started`
    before building the call. Agent audio is resampled to the wire rate, sent as ``media``
    messages of at most :data:`MAX_CHUNK_MS` each followed by a ``mark``.

    Args:
        dialect: the provider's framing.
        send: coroutine function sending one text frame to the provider.
        on_dtmf: called with each DTMF digit the caller presses.
        clock: monotonic seconds (injectable for tests).
    """

    plays_audio = True

    def __init__(
        self,
        dialect: Dialect,
        send: Send,
        *,
        on_dtmf: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dialect = dialect
        self._send = send
        self.on_dtmf = on_dtmf
        self._clock = clock
        self.caller: dict[str, Any] = {"phone": None, "id": None, "metadata": {}}
        self.start: StreamStart | None = None
        self._started = asyncio.Event()
        self._frames: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self._pending: OrderedDict[str, float] = OrderedDict()  # mark name -> ms of audio before it
        self._played_ms = 0.0
        self._progress = asyncio.Event()
        self._seq = 0
        self._resampler: Resampler | None = None
        self._play_end = 0.0  # monotonic s when the audio sent so far should have finished playing
        self.closed = False
        self.stopped = False
        self._input_ended = False
        self._out = bytearray()  # agent audio (wire PCM16) not sent yet: see Dialect.min_chunk_bytes
        self._out_ms = 0.0
        self._flush_timer: asyncio.TimerHandle | None = None
        self.marks_sent = 0
        self.clears_sent = 0
        self.media_bytes_sent = 0

    @property
    def kind(self) -> Literal["audio"]:
        """Always ``"audio"``."""
        return "audio"

    @property
    def sample_rate(self) -> int:
        """The wire rate (Hz); 8000 until ``start`` arrived."""
        return self.start.sample_rate if self.start is not None else 8000

    # ------------------------------------------------------------------ from the provider

    def handle(self, text: str) -> str | None:
        """Handle one text frame from the provider; returns its ``event`` (None when unreadable).

        Unknown events and malformed frames are ignored (returns None for the latter), so a
        provider adding fields or events never ends a call.
        """
        try:
            message = json.loads(text)
        except ValueError:
            return None
        if not isinstance(message, dict):
            return None
        event = str(message.get("event") or "")
        if event == "start":
            if self.start is None:
                try:
                    start = self.dialect.parse_start(message)
                except (ValueError, KeyError, TypeError):
                    return None
                self.start = start
                self.caller = {
                    "phone": start.phone,
                    "id": start.call_id,
                    "metadata": {"to": start.to, "stream_id": start.stream_id, **start.parameters},
                }
                self._started.set()
        elif event == "media":
            self._media(message)
        elif event == "mark":
            mark = message.get("mark")
            name = mark.get("name") if isinstance(mark, dict) else None
            if isinstance(name, str):
                self._mark(name)
        elif event == "dtmf":
            dtmf = message.get("dtmf")
            digit = dtmf.get("digit") if isinstance(dtmf, dict) else None
            if isinstance(digit, str) and self.on_dtmf is not None:
                self.on_dtmf(digit)
        elif event == "stop":
            self.caller_hung_up()
        return event

    def _media(self, message: dict[str, Any]) -> None:
        media = message.get("media")
        if self.start is None or self._input_ended or not isinstance(media, dict):
            return
        track = media.get("track")
        if track not in (None, "inbound", "inbound_track"):
            return  # our own audio echoed on an outbound track
        try:
            raw = base64.b64decode(str(media.get("payload") or ""), validate=True)
        except ValueError:
            return
        pcm = self.dialect.decode(raw)
        if len(pcm) % 2:
            pcm = pcm[:-1]
        if pcm:
            self._frames.put_nowait(AudioFrame(pcm, self.sample_rate))

    def _mark(self, name: str) -> None:
        if name not in self._pending:
            return  # a mark of audio dropped by clear, or not ours
        while self._pending:  # marks come back in order: everything up to this one was played
            key, ms = self._pending.popitem(last=False)
            self._played_ms += ms
            if key == name:
                break
        self._progress.set()

    async def started(self, timeout: float = 10.0) -> StreamStart:
        """Wait for the ``start`` message.

        Raises:
            TimeoutError: none within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            await self._started.wait()
        assert self.start is not None
        return self.start

    def end_input(self) -> None:
        """End :meth:`caller_audio` (the session then ends the call); agent audio still plays,
        so the server can end a call with words. Idempotent.
        """
        if not self._input_ended:
            self._input_ended = True
            self._frames.put_nowait(None)

    def caller_hung_up(self) -> None:
        """The caller is gone (``stop``, or the socket closed): end the input, stop sending."""
        self.stopped = True
        self.end_input()
        self._progress.set()

    # ------------------------------------------------------------------ Transport

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """Caller frames (PCM16 at the wire rate, 20 ms from both providers) until the caller hangs up."""
        while True:
            frame = await self._frames.get()
            if frame is None:
                return
            yield frame

    async def caller_text(self) -> AsyncIterator[str]:
        """Telephony carries no caller text."""
        return
        yield  # pragma: no cover

    async def play(self, frame: AudioFrame) -> None:
        """Send agent audio (any rate) as ``media`` + ``mark`` messages; returns at once."""
        if self.closed or self.stopped or self.start is None or not frame.pcm:
            return
        rate = self.sample_rate
        if frame.sample_rate != rate:
            if self._resampler is None or self._resampler.in_rate != frame.sample_rate:
                self._resampler = Resampler(frame.sample_rate, rate)
            wire_pcm = self._resampler.process(frame).pcm
        else:
            wire_pcm = frame.pcm
        self._out += wire_pcm
        self._out_ms += frame.duration_ms
        now = self._clock()
        self._play_end = max(self._play_end, now) + frame.duration_ms / 1000.0
        if len(self._out) >= self.dialect.min_chunk_bytes:
            await self._flush_out()
        elif self._flush_timer is None:  # a short tail: send it unless more audio comes at once
            loop = asyncio.get_running_loop()
            self._flush_timer = loop.call_later(COALESCE_S, lambda: loop.create_task(self._flush_out()))

    async def _flush_out(self) -> None:
        """Send the agent audio waiting in the coalescing buffer: ``media`` of at most
        :data:`MAX_CHUNK_MS` each, each followed by a ``mark``.
        """
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        pcm, total_ms = bytes(self._out), self._out_ms
        self._out.clear()
        self._out_ms = 0.0
        if not pcm or self.start is None or self.closed or self.stopped:
            return
        step = max(2, int(self.sample_rate * MAX_CHUNK_MS / 1000) * 2)
        n_chunks = max(1, -(-len(pcm) // step))
        for i in range(n_chunks):
            payload = self.dialect.encode(pcm[i * step : (i + 1) * step])
            self.media_bytes_sent += len(payload)
            b64 = base64.b64encode(payload).decode("ascii")
            await self._emit(self.dialect.frame("media", self.start.stream_id, {"payload": b64}))
            self._seq += 1
            name = f"m{self._seq}"
            self._pending[name] = total_ms / n_chunks
            await self._emit(self.dialect.frame("mark", self.start.stream_id, {"name": name}))
            self.marks_sent += 1

    async def clear(self) -> None:
        """Barge-in: send ``clear`` at once and forget the marks of unplayed audio."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        self._out.clear()
        self._out_ms = 0.0
        self._pending.clear()
        self._resampler = None
        self._play_end = self._clock()
        self._progress.set()
        if self.closed or self.stopped or self.start is None:
            return
        self.clears_sent += 1
        await self._emit(self.dialect.frame("clear", self.start.stream_id, None))

    async def wait_played(self) -> None:
        """Return when every mark sent came back, the caller hung up, or (for a client that does
        not echo marks) :data:`MARK_GRACE_S` after the audio should have finished.
        """
        await self._flush_out()
        while self._pending and not self.stopped and not self.closed:
            self._progress.clear()
            remaining = self._play_end - self._clock() + MARK_GRACE_S
            if remaining <= 0:
                while self._pending:
                    self._played_ms += self._pending.popitem(last=False)[1]
                return
            try:
                async with asyncio.timeout(remaining):
                    await self._progress.wait()
            except TimeoutError:
                continue

    def played_ms(self) -> float:
        """Agent audio the caller heard (its mark came back), ms since the call started."""
        return self._played_ms

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Telephony shows no text."""

    async def aclose(self) -> None:
        """Stop sending; the server closes the socket. Idempotent."""
        self.closed = True
        self.end_input()
        self._progress.set()

    async def _emit(self, message: dict[str, Any]) -> None:
        try:
            await self._send(json.dumps(message, separators=(",", ":")))
        except Exception:  # noqa: BLE001 - the socket went away: the caller hung up
            self.closed = True
            self.caller_hung_up()
