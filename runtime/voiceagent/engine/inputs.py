"""The caller's side of a call, as one queue of :class:`InputItem` for the session loop.

Audio transports: caller frames are pumped into an STT stream; its ``speech_started`` and
``final`` events become items (a non-empty ``interim`` counts as ``speech_started``). Text
transports: each non-blank line is a ``final`` item. When the input ends (hang-up, EOF, STT closed
or failed) an ``end`` item follows; :attr:`CallerInput.failure` then says whether a failure ended
it (the session says last words to the caller, ``engine.farewell``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from voiceagent.providers.base import STT
from voiceagent.transports.base import Transport


@dataclass(slots=True, eq=False)
class InputItem:
    """One thing the caller did.

    kind: ``speech_started`` (barge-in), ``final`` (an utterance: ``text``), ``end`` (input over).
    language: the language the STT detected on a ``final`` (None when it reported none, and for text).
    t_ms: when the session received it (session clock, ms): the EOU of a ``final``.
    done: set by the session when the turn this item started has finished (only in
        one-at-a-time mode, see :class:`CallerInput`).
    """

    kind: Literal["speech_started", "final", "end"]
    text: str = ""
    t_ms: float = 0.0
    done: asyncio.Event | None = None
    language: str | None = None


class CallerInput:
    """Reads the caller through ``transport`` (and ``stt`` for audio) into a queue.

    Args:
        transport: a ``transports.base.Transport``.
        stt: a ``providers.base.STT`` (required for audio transports).
        language: BCP-47 language the STT stream is opened with.
        clock_ms: the session clock (ms).
        on_error: ``(where, exception, fatal)``; fatal errors end the input.
        max_reopens: how many times a failed STT stream is replaced by a new one before the input ends.
        reopen_delays_s: pause (s) before each replacement (the last one repeats): a concurrency
            limit (Pulse close 1008) or a server error often clears within seconds.
        one_at_a_time: text only: read the next line only after the previous line's turn is done
            (a text transport without audio answers instantly, so piped lines must not barge in).
    """

    def __init__(
        self,
        transport: Transport,
        stt: STT | None,
        *,
        language: str,
        clock_ms: Callable[[], float],
        on_error: Callable[[str, BaseException, bool], None],
        one_at_a_time: bool = False,
        max_reopens: int = 2,
        reopen_delays_s: tuple[float, ...] = (0.5, 2.0),
    ) -> None:
        self.transport = transport
        self.stt = stt
        self.language = language
        self.clock_ms = clock_ms
        self.on_error = on_error
        self.one_at_a_time = one_at_a_time
        self.max_reopens = max_reopens
        self.reopen_delays_s = reopen_delays_s or (0.0,)
        self.failure: BaseException | None = None
        self._changed = asyncio.Event()  # the STT stream was replaced, or the reader gave up
        """The error that ended the input (STT gave up, input unreadable), or None."""
        self._queue: asyncio.Queue[InputItem] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self._stream: Any = None  # an STTStream once started (audio)

    async def start(self) -> None:
        """Open the STT stream (audio) and start reading.

        Raises:
            ValueError: an audio transport without an STT.
            providers.base.ProviderError: the STT stream could not be opened.
        """
        if self.transport.kind == "audio":
            if self.stt is None:
                raise ValueError("an audio transport needs an STT provider")
            self._stream = await self.stt.open(language=self.language)
            self._tasks.append(asyncio.create_task(self._pump_audio(), name="stt-pump"))
            self._tasks.append(asyncio.create_task(self._read_stt(), name="stt-events"))
        else:
            self._tasks.append(asyncio.create_task(self._read_text(), name="text-input"))

    async def get(self) -> InputItem:
        """The next item (waits)."""
        return await self._queue.get()

    async def aclose(self) -> None:
        """Stop reading and close the STT stream. Idempotent."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._stream is not None:
            with contextlib.suppress(Exception):
                await self._stream.aclose()

    def _put(
        self,
        kind: Literal["speech_started", "final", "end"],
        text: str = "",
        *,
        wait: bool = False,
        language: str | None = None,
    ) -> InputItem:
        item = InputItem(kind, text, self.clock_ms(), asyncio.Event() if wait else None, language)
        self._queue.put_nowait(item)
        return item

    async def _pump_audio(self) -> None:
        try:
            async for frame in self.transport.caller_audio():
                stream = self._stream
                try:
                    await stream.push_audio(frame)
                except Exception:  # noqa: BLE001 - the reader sees the same failure and reopens
                    if await self._replaced(stream):
                        with contextlib.suppress(Exception):
                            await self._stream.push_audio(frame)
        except Exception as exc:  # noqa: BLE001 - reported; the STT close below ends the input
            self.on_error("stt", exc, False)
        finally:
            with contextlib.suppress(Exception):
                await self._stream.aclose()  # flushes: the last utterance still arrives as a final

    async def _read_stt(self) -> None:
        """Read STT events; a stream that fails (after the provider's own reconnects) is replaced
        by a new one up to ``max_reopens`` times, so a dead socket costs the audio of the gap, not
        the call. Past that, or when a new stream cannot be opened, the input ends (fatal).
        """
        reopens = 0
        try:
            while True:
                try:
                    await self._forward(self._stream)
                    return
                except Exception as exc:  # noqa: BLE001 - a dead STT never crashes the call
                    if reopens >= self.max_reopens:
                        self._fatal("stt", exc)
                        return
                    self.on_error("stt", exc, False)
                    await asyncio.sleep(self.reopen_delays_s[min(reopens, len(self.reopen_delays_s) - 1)])
                    reopens += 1
                    old = self._stream
                    assert self.stt is not None  # audio input starts only with an STT
                    try:
                        self._stream = await self.stt.open(language=self.language)
                    except Exception as open_exc:  # noqa: BLE001
                        self._fatal("stt", open_exc)
                        return
                    self._changed.set()
                    with contextlib.suppress(Exception):
                        await old.aclose()
        finally:
            self._put("end")

    def _fatal(self, where: str, exc: BaseException) -> None:
        if self.failure is None:
            self.failure = exc
        self._changed.set()
        self.on_error(where, exc, True)

    async def _replaced(self, failed: Any, wait_s: float = 5.0) -> bool:
        """Wait (at most ``wait_s``) for the reader to replace the ``failed`` stream; True if it did.
        Returns at once when the reader gave up.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                while self._stream is failed and self.failure is None:
                    self._changed.clear()
                    await self._changed.wait()
        return self._stream is not failed

    async def _forward(self, stream: Any) -> None:
        """Turn one stream's events into input items until it closes (raises on failure)."""
        async for ev in stream.events():
            if ev.kind == "closed":
                return
            if ev.kind == "speech_started" or (ev.kind == "interim" and ev.text.strip()):
                # an interim transcript also proves the caller is talking: STTs without VAD
                # events still get barge-in
                self._put("speech_started")
            elif ev.kind == "final" and ev.text.strip():
                text = ev.text.strip()
                self._put("final", text, language=ev.language)
                await self.transport.show("caller", text)

    async def _read_text(self) -> None:
        try:
            async for line in self.transport.caller_text():
                text = line.strip()
                if text:
                    item = self._put("final", text, wait=self.one_at_a_time)
                    if item.done is not None:
                        await item.done.wait()
        except Exception as exc:  # noqa: BLE001
            self._fatal("input", exc)
        finally:
            self._put("end")
