"""Plumbing of a test call: an event log one can wait on, an STT that also takes typed turns,
caller audio from WAV files or the offline voice, and the redaction leak check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from voiceagent.audio import AudioFrame
from voiceagent.engine.events import EventLog
from voiceagent.providers.base import STT, STTEvent, STTStream

FRAME_MS = 20


class WatchedEventLog(EventLog):
    """An in-memory :class:`EventLog` whose readers can wait for an event (no polling)."""

    def __init__(self) -> None:
        super().__init__(None)
        self._changed = asyncio.Event()

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        """Record the event (see :meth:`EventLog.emit`) and wake :meth:`wait_until`."""
        event = super().emit(type, **fields)
        self._changed.set()
        return event

    def poke(self) -> None:
        """Wake :meth:`wait_until` (e.g. when the call task ended)."""
        self._changed.set()

    async def wait_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``condition()`` holds (checked after every event); False after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not condition():
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return condition()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return condition()
        return True


_CLOSED = object()


class _InjectingStream:
    """An STT stream that passes audio to the real one and also delivers typed finals."""

    def __init__(self, inner: STTStream) -> None:
        self.inner = inner
        self._queue: asyncio.Queue[object] = asyncio.Queue()

    async def push_audio(self, frame: AudioFrame) -> None:
        await self.inner.push_audio(frame)

    async def finalize(self) -> None:
        await self.inner.finalize()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def inject(self, text: str) -> None:
        self._queue.put_nowait(STTEvent("final", text))

    async def events(self) -> AsyncIterator[STTEvent]:
        async def forward() -> None:
            try:
                async for event in self.inner.events():
                    self._queue.put_nowait(event)
            except Exception as exc:  # noqa: BLE001 - handed to the reader, which raises it
                self._queue.put_nowait(exc)
            finally:
                self._queue.put_nowait(_CLOSED)

        task = asyncio.create_task(forward(), name="stt-forward")
        try:
            while True:
                item = await self._queue.get()
                if item is _CLOSED:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, STTEvent)
                yield item
                if item.kind == "closed":
                    return
        finally:
            task.cancel()


class InjectingSTT:
    """Wraps the agent's STT: caller audio goes through it unchanged, and :meth:`inject` delivers
    a typed turn (``user:`` in a call that also has audio turns) as a final transcript.
    """

    def __init__(self, inner: STT) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self._stream: _InjectingStream | None = None

    async def open(self, *, language: str) -> _InjectingStream:
        """Open a stream of the real STT (the newest one receives injected turns)."""
        self._stream = _InjectingStream(await self.inner.open(language=language))
        return self._stream

    def inject(self, text: str) -> None:
        """Deliver ``text`` as the caller's next final transcript.

        Raises:
            RuntimeError: no stream is open yet.
        """
        if self._stream is None:
            raise RuntimeError("the STT stream is not open")
        self._stream.inject(text)


def frames_of(audio: AudioFrame, *, tail_silence_ms: float) -> list[AudioFrame]:
    """``audio`` cut into 20 ms frames, followed by ``tail_silence_ms`` of silence (so the STT's
    end-of-utterance detection sees the caller stop).
    """
    step = audio.sample_rate * FRAME_MS // 1000 * 2
    pcm = audio.pcm + b"\x00" * (int(audio.sample_rate * tail_silence_ms / 1000) * 2)
    return [AudioFrame(pcm[i : i + step], audio.sample_rate) for i in range(0, len(pcm), step)]


def wav_audio(path: Path) -> AudioFrame:
    """The WAV file at ``path`` as one PCM16 mono frame at its own rate.

    Raises:
        OSError / ValueError: unreadable or not a WAV file (the message says which).
    """
    from voiceagent.transports.wav import read_wav

    return read_wav(path)


async def spoken_audio(text: str, language: str) -> AudioFrame:
    """``text`` spoken by the offline voice (Piper, or espeak-ng) for ``language``.

    Raises:
        ImportError / OSError / RuntimeError: no offline voice is installed for ``language``.
    """
    from voiceagent.providers.local.tts import local_tts_for

    tts = local_tts_for(language)
    try:
        chunks = [frame async for frame in tts.synthesize(text)]
    finally:
        await tts.aclose()
    if not chunks:
        raise RuntimeError("the offline voice produced no audio")
    rate = chunks[0].sample_rate
    return AudioFrame(b"".join(c.resampled(rate).pcm for c in chunks), rate)


def find_leaks(events: list[dict[str, Any]], scrub: Callable[[Any], Any]) -> list[str]:
    """Where ``events`` still hold a value the redactor masks (``guardrails.redact`` values it
    learned during the call, secrets): ``["agent.text.text (turn 2)", ...]``. The values
    themselves are never returned.
    """
    out: list[str] = []
    for event in events:
        for key, value in event.items():
            if key in ("type", "t_ms"):
                continue
            if _differs(value, scrub(value)):
                where = f" (turn {event['turn']})" if isinstance(event.get("turn"), int) else ""
                out.append(f"{event.get('type')}.{key}{where}")
    return out


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) != list(b) or any(_differs(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) != len(b) or any(_differs(x, y) for x, y in zip(a, b, strict=True))
    return bool(a != b)
