"""In-process fakes of the provider and transport Protocols, for tests and benchmarks.

* :class:`FakeLLM` (``providers.base.LLM``): plays scripted replies (text pieces, tool calls,
  delays, errors), records every request and when its stream opened and closed.
* :class:`FakeTTS` (``providers.base.TTS``): deterministic PCM16 audio, ``ms_per_char`` ms per
  character, in ``chunk_ms`` chunks with an optional delay each; records texts and times.
* :class:`FakeSTT` (``providers.base.STT``): a stream whose events you push (or script against
  the amount of audio received).
* :class:`FakeTransport` (``transports.base.Transport``): text or audio kind; records played
  frames and shown text; playback is instant or simulated in real time (``playback_speed``).

Times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from voiceagent.audio import AudioFrame
from voiceagent.providers.base import (
    NO_CAPABILITIES,
    ChatRequest,
    LLMEvent,
    ProviderError,
    STTEvent,
    TextDelta,
    ToolCallRequest,
    Usage,
)

# --------------------------------------------------------------------------- LLM


@dataclass(frozen=True, slots=True)
class Delay:
    """A pause of ``seconds`` inside a scripted LLM reply."""

    seconds: float


Step = str | ToolCallRequest | Delay | BaseException | Usage
Reply = list[Step] | Callable[[ChatRequest], list[Step]]


def tool_call(name: str, arguments: str = "{}", id: str | None = None) -> ToolCallRequest:
    """Shorthand for a ``ToolCallRequest`` in a script (``id`` defaults to ``call_<name>``)."""
    return ToolCallRequest(id=id or f"call_{name}", name=name, arguments=arguments)


@dataclass(slots=True)
class LLMCall:
    """One recorded request: the request, when its stream opened, and when it ended (or None)."""

    request: ChatRequest
    started: float
    ended: float | None = None
    cancelled: bool = False


class FakeLLM:
    """A scripted streaming LLM.

    Args:
        replies: one entry per request, in order: a list of steps (``str`` -> ``TextDelta``,
            ``ToolCallRequest``, :class:`Delay`, an exception to raise, an explicit ``Usage``), or a
            callable ``(request) -> steps``. When the script runs out, ``default`` is used.
        default: steps for requests beyond the script.
        request_id_prefix: ``Usage.request_id`` is ``f"{prefix}{n}"`` (n from 1).
    """

    name = "fake-llm"
    model = "fake"
    capabilities = NO_CAPABILITIES

    def __init__(
        self, replies: Iterable[Reply] = (), *, default: list[Step] | None = None, request_id_prefix: str = "req-"
    ) -> None:
        self.replies: list[Reply] = list(replies)
        self.default: list[Step] = default if default is not None else ["OK."]
        self.calls: list[LLMCall] = []
        self.request_id_prefix = request_id_prefix
        self.closed = False

    @property
    def requests(self) -> list[ChatRequest]:
        """Requests received so far."""
        return [c.request for c in self.calls]

    async def stream(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        """Play the next scripted reply (see the class docstring)."""
        call = LLMCall(request=request, started=time.monotonic())
        self.calls.append(call)
        n = len(self.calls)
        reply = self.replies[n - 1] if n <= len(self.replies) else self.default
        steps = reply(request) if callable(reply) else reply
        usage_sent = False
        try:
            for step in steps:
                if isinstance(step, Delay):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, BaseException):
                    raise step
                elif isinstance(step, str):
                    yield TextDelta(step)
                elif isinstance(step, Usage):
                    usage_sent = True
                    yield step
                else:
                    yield step
            if not usage_sent:
                yield Usage(
                    prompt_tokens=10 * len(request.messages),
                    completion_tokens=len(steps),
                    request_id=f"{self.request_id_prefix}{n}",
                )
        except (asyncio.CancelledError, GeneratorExit):
            call.cancelled = True
            raise
        finally:
            call.ended = time.monotonic()

    async def aclose(self) -> None:
        """Mark the LLM closed."""
        self.closed = True


# --------------------------------------------------------------------------- TTS


@dataclass(slots=True)
class TTSRequest:
    """One ``synthesize`` call: its text, when it began, when its first frame was yielded, and
    whether it finished.
    """

    text: str
    started: float
    first_frame: float | None = None
    finished: bool = False


class FakeTTS:
    """Deterministic TTS: each character is ``ms_per_char`` ms of a constant sample value
    (``ord(char) % 1000 * 8``), yielded in ``chunk_ms`` chunks after ``chunk_delay`` seconds each
    (``first_delay`` before the first). ``fail_on`` texts raise ``ProviderError``.
    """

    name = "fake-tts"

    def __init__(
        self,
        *,
        sample_rate: int = 16000,
        ms_per_char: float = 10.0,
        chunk_ms: float = 100.0,
        chunk_delay: float = 0.0,
        first_delay: float = 0.0,
        fail_on: Iterable[str] = (),
    ) -> None:
        self.sample_rate = sample_rate
        self.ms_per_char = ms_per_char
        self.chunk_ms = chunk_ms
        self.chunk_delay = chunk_delay
        self.first_delay = first_delay
        self.fail_on = set(fail_on)
        self.requests: list[TTSRequest] = []

    @property
    def texts(self) -> list[str]:
        """Texts received, in order."""
        return [r.text for r in self.requests]

    def pcm_for(self, text: str) -> bytes:
        """The full PCM16 audio this TTS produces for ``text``."""
        per_char = round(self.sample_rate * self.ms_per_char / 1000.0)
        out = bytearray()
        for ch in text:
            out += (ord(ch) % 1000 * 8).to_bytes(2, "little", signed=True) * per_char
        return bytes(out)

    async def synthesize(self, text: str) -> AsyncIterator[AudioFrame]:
        """Yield the audio of ``text`` chunk by chunk (see the class docstring)."""
        req = TTSRequest(text=text, started=time.monotonic())
        self.requests.append(req)
        if text in self.fail_on:
            raise ProviderError("fake TTS failure")
        pcm = self.pcm_for(text)
        step = max(2, int(self.sample_rate * self.chunk_ms / 1000.0) * 2)
        if self.first_delay:
            await asyncio.sleep(self.first_delay)
        for i in range(0, len(pcm), step):
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            if req.first_frame is None:
                req.first_frame = time.monotonic()
            yield AudioFrame(pcm[i : i + step], self.sample_rate)
        req.finished = True

    async def aclose(self) -> None:
        """Nothing to release."""


# --------------------------------------------------------------------------- STT


class FakeSTTStream:
    """A stream whose events are pushed by the test (:meth:`push`), or released from ``script``
    once the audio received reaches each entry's ``at_ms``.
    """

    def __init__(self, script: Iterable[tuple[float, STTEvent]] = ()) -> None:
        self.script = sorted(script, key=lambda x: x[0])
        self.audio_ms = 0.0
        self.frames: list[AudioFrame] = []
        self.closed = False
        self._events: asyncio.Queue[STTEvent] = asyncio.Queue()

    def push(self, event: STTEvent) -> None:
        """Deliver ``event`` to the session now."""
        self._events.put_nowait(event)

    async def push_audio(self, frame: AudioFrame) -> None:
        """Record ``frame`` and release the scripted events its audio reaches."""
        self.frames.append(frame)
        self.audio_ms += frame.duration_ms
        while self.script and self.script[0][0] <= self.audio_ms:
            self.push(self.script.pop(0)[1])

    async def finalize(self) -> None:
        """No-op (events are pushed or scripted)."""

    async def aclose(self) -> None:
        """Release the rest of the script, then ``closed``. Idempotent."""
        if not self.closed:
            self.closed = True
            for _, ev in self.script:
                self.push(ev)
            self.script = []
            self.push(STTEvent("closed"))

    async def events(self) -> AsyncIterator[STTEvent]:
        """Pushed events in order, ending after ``closed``."""
        while True:
            ev = await self._events.get()
            yield ev
            if ev.kind == "closed":
                return


class FakeSTT:
    """An STT whose ``open`` returns a :class:`FakeSTTStream` (kept as ``.stream``)."""

    name = "fake-stt"

    def __init__(self, script: Iterable[tuple[float, STTEvent]] = (), *, sample_rate: int = 16000) -> None:
        self.sample_rate = sample_rate
        self.script = list(script)
        self.stream: FakeSTTStream | None = None
        self.opened = asyncio.Event()
        self.language: str | None = None

    async def open(self, *, language: str) -> FakeSTTStream:
        """A new :class:`FakeSTTStream` with this STT's script; sets :attr:`opened`."""
        self.language = language
        self.stream = FakeSTTStream(self.script)
        self.opened.set()
        return self.stream


# --------------------------------------------------------------------------- transport


@dataclass(slots=True)
class Played:
    """A frame handed to :meth:`FakeTransport.play` and when (monotonic s)."""

    frame: AudioFrame
    t: float


class FakeTransport:
    """A scripted call.

    Args:
        kind: ``"text"`` (input from ``lines`` / :meth:`send`) or ``"audio"`` (input from
            ``frames`` / :meth:`send_audio`).
        lines: caller lines queued at start (text kind).
        frames: caller audio queued at start (audio kind).
        plays_audio: whether ``play`` counts (False: a text terminal).
        playback_speed: None plays audio instantly (``played_ms`` = everything queued); a number
            simulates real-time playback at that speed (10.0: one second of audio in 100 ms).
        close_input: end the caller input after the initial ``lines`` / ``frames``; otherwise call
            :meth:`hang_up`.
    """

    def __init__(
        self,
        kind: Literal["text", "audio"] = "text",
        *,
        lines: Iterable[str] = (),
        frames: Iterable[AudioFrame] = (),
        plays_audio: bool = True,
        playback_speed: float | None = None,
        close_input: bool = False,
        caller: dict[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.plays_audio = plays_audio
        self.caller = caller or {"phone": "+15550100", "id": "test-caller", "metadata": {}}
        self.playback_speed = playback_speed
        self.played: list[Played] = []
        self.shown: list[tuple[str, str]] = []
        self.cleared = 0
        self.closed = False
        self._input: asyncio.Queue[Any] = asyncio.Queue()
        for item in lines if kind == "text" else frames:
            self._input.put_nowait(item)
        if close_input:
            self._input.put_nowait(None)
        self._queued_ms = 0.0
        self._base_ms = 0.0
        self._since = time.monotonic()

    # input
    def send(self, line: str) -> None:
        """The caller types ``line`` (text kind)."""
        self._input.put_nowait(line)

    def send_audio(self, frame: AudioFrame) -> None:
        """The caller says ``frame`` (audio kind)."""
        self._input.put_nowait(frame)

    def hang_up(self) -> None:
        """End the caller input."""
        self._input.put_nowait(None)

    async def _items(self) -> AsyncIterator[Any]:
        while True:
            item = await self._input.get()
            if item is None:
                return
            yield item

    async def caller_text(self) -> AsyncIterator[str]:
        """Lines given or :meth:`send`-ed, until :meth:`hang_up`."""
        async for item in self._items():
            yield item

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """Frames given or :meth:`send_audio`-ed, until :meth:`hang_up`."""
        async for item in self._items():
            yield item

    # output
    def played_ms(self) -> float:
        """Agent audio played so far (ms): all of it when instant, else by the simulated clock."""
        if self.playback_speed is None:
            return self._queued_ms
        elapsed = (time.monotonic() - self._since) * 1000.0 * self.playback_speed
        return min(self._queued_ms, self._base_ms + elapsed)

    async def play(self, frame: AudioFrame) -> None:
        """Record ``frame`` (see :attr:`played`) and queue it on the playback clock."""
        if self.playback_speed is not None and self.played_ms() >= self._queued_ms:
            self._base_ms, self._since = self._queued_ms, time.monotonic()  # playback (re)starts now
        self.played.append(Played(frame, time.monotonic()))
        self._queued_ms += frame.duration_ms

    async def clear(self) -> None:
        """Drop the unplayed audio; counts calls in :attr:`cleared`."""
        self.cleared += 1
        now_played = self.played_ms()
        self._queued_ms = self._base_ms = now_played
        self._since = time.monotonic()

    async def wait_played(self) -> None:
        """Return once the simulated playback has caught up."""
        while self.played_ms() < self._queued_ms:
            remaining = (self._queued_ms - self.played_ms()) / 1000.0 / (self.playback_speed or 1.0)
            await asyncio.sleep(max(0.001, min(remaining, 0.05)))

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Record ``(role, text)`` in :attr:`shown`."""
        self.shown.append((role, text))

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True

    @property
    def audio_ms(self) -> float:
        """Total agent audio handed to ``play`` (ms), cleared or not."""
        return sum(p.frame.duration_ms for p in self.played)
