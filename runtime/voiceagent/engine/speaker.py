"""The agent's mouth: sentences -> TTS -> ``transport.play``, in order, interruptible.

``say()`` returns at once; a worker task synthesises queued sentences one after another and
hands each frame to the transport as soon as TTS yields it. Every sentence is a
:class:`Segment` placed on the agent-audio timeline (ms of agent audio handed to the
transport), so after a barge-in ``transport.played_ms()`` tells which sentences the caller
actually heard (fully or partly).

Without TTS, or when the transport plays no audio, sentences are only shown, and count as
spoken the moment they are shown.

The runtime's fixed lines (the fillers, ``say(..., keep=True)``, and the fallback phrase, also
where it replaces a sentence whose synthesis failed) are synthesised once per call: their frames
are kept after the first complete synthesis and played again from memory, so the second "Let me
check your account." starts at once instead of after the TTS's time to first audio (a round trip
for a cloud TTS). At most :data:`KEPT_LINES` lines are kept; a synthesis that failed, broke off
or was stopped by barge-in is never kept.

TTS faults never silence a turn, and the log says only what the caller heard:

* a sentence whose synthesis fails before any audio is replaced by the agent's fallback phrase
  (``behaviour.fallback``): the segment's text becomes the phrase, so ``agent.text`` and the
  history say what was actually heard; if the phrase fails too, the sentence is lost (an ``error``
  event each time) and the next one is tried;
* a synthesis that breaks off mid-sentence keeps, as the segment's text, only the words that fit
  in the audio played (estimated from this call's speaking rate, ms per character), never the
  whole sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from voiceagent.audio import AudioFrame
from voiceagent.engine.speech import strip_markdown
from voiceagent.providers.base import TTS, multilingual_of
from voiceagent.transports.base import Transport

_EPS_MS = 0.5
KEPT_LINES = 8
"""Most fixed lines whose audio one call keeps (oldest dropped first)."""


@dataclass(slots=True, eq=False)
class Segment:
    """One spoken sentence.

    start_ms: position of its first frame on the agent-audio timeline (None until a frame exists);
    dur_ms: audio handed to the transport so far; audio: False when shown only (text mode);
    language: the language it is spoken in (None: the TTS's own; agents with ``languages``).
    """

    text: str
    audio: bool
    start_ms: float | None = None
    dur_ms: float = 0.0
    done: bool = False
    language: str | None = None
    keep: bool = False
    """A fixed line: its audio is kept for the next time it is said (see the module docstring)."""
    fault: str | None = None
    """None, or what a TTS fault did to it: ``replaced`` (the fallback phrase was said instead),
    ``cut`` (synthesis broke off: ``text`` is the part heard) or ``lost`` (nothing was heard)."""

    def heard(self, played_ms: float) -> bool:
        """Whether the caller heard this sentence at least partly, given ``played_ms``."""
        if not self.audio:
            return True
        return self.start_ms is not None and self.dur_ms > 0 and played_ms > self.start_ms + _EPS_MS


class SpeechListener(Protocol):
    """Receives a speaker's per-sentence callbacks (the current turn)."""

    def on_segment(self, segment: Segment, group: object) -> None:
        """A sentence was queued (``group``: what :meth:`Speaker.say` was given)."""

    def on_tts_request(self, t_ms: float) -> None:
        """A sentence was sent to TTS at ``t_ms`` (session clock)."""

    def on_first_frame(self, t_ms: float, segment: Segment) -> None:
        """The first audio frame of ``segment`` went to the transport (text mode: it was shown)."""


class Speaker:
    """Plays sentences through ``tts`` into ``transport``.

    Args:
        transport: a ``transports.base.Transport``.
        tts: a ``providers.base.TTS`` or None (text only).
        clock_ms: the session clock in ms (``EventLog.now_ms``).
        on_error: called with the exception when TTS fails for a sentence.
        fallback: said instead of a sentence whose synthesis failed before any audio (None: the
            sentence is only lost); see the module docstring.
        language: for agents with several ``languages``: the language to speak a sentence in
            (given its text); a TTS that implements ``providers.base.MultilingualTTS`` gets it
            with each request. None: every sentence in the TTS's own language.
    """

    DEFAULT_MS_PER_CHAR = 65.0
    """Speaking-rate estimate before any sentence of the call was synthesised in full."""

    def __init__(
        self,
        transport: Transport,
        tts: TTS | None,
        *,
        clock_ms: Callable[[], float],
        on_error: Callable[[BaseException], None],
        fallback: str | None = None,
        language: Callable[[str], str] | None = None,
    ) -> None:
        self.transport = transport
        self.tts = tts
        self.multilingual = multilingual_of(tts) if language is not None else None
        self._language = language
        self.last_language: str | None = None
        """The language of the last sentence sent to TTS (None until one was, or without ``language``)."""
        self.audio = tts is not None and transport.plays_audio
        self.listener: SpeechListener | None = None
        self._clock_ms = clock_ms
        self._on_error = on_error
        self._queue: asyncio.Queue[Segment] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._timeline_ms = 0.0
        self.fallback = strip_markdown(fallback) if fallback else None
        self._rate_ms = 0.0  # audio ms and characters of sentences synthesised in full
        self._rate_chars = 0
        self._kept: dict[tuple[str | None, str], list[AudioFrame]] = {}

    async def say(self, text: str, group: object = None, *, keep: bool = False) -> Segment | None:
        """Strip Markdown from ``text``, show it and queue it for speech. Returns the segment, or
        None when nothing speakable is left. ``keep``: a fixed line, synthesised once per call.
        """
        text = strip_markdown(text)
        if not text:
            return None
        language = self._language(text) if self._language else None
        seg = Segment(text=text, audio=self.audio, language=language, keep=keep)
        if self.listener is not None:
            self.listener.on_segment(seg, group)
        await self.transport.show("agent", text)
        if not self.audio:
            seg.done = True
            if self.listener is not None:
                self.listener.on_first_frame(self._clock_ms(), seg)
            return seg
        self._queue.put_nowait(seg)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="speaker")
        return seg

    async def drain(self) -> None:
        """Wait until every queued sentence was synthesised and handed to the transport."""
        await self._queue.join()

    async def finish(self) -> None:
        """:meth:`drain`, then wait for the transport to play it all."""
        await self.drain()
        if self.audio:
            await self.transport.wait_played()

    def played_ms(self) -> float:
        """Agent audio the transport reports played in this call (0 in text mode)."""
        return float(self.transport.played_ms()) if self.audio else 0.0

    async def stop(self) -> float:
        """Barge-in: stop synthesis at once, drop queued sentences and unplayed audio.

        Returns the played position (ms) after the transport cleared, to judge what was heard.
        """
        worker, self._worker = self._worker, None
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._queue = asyncio.Queue()
        if not self.audio:
            return 0.0
        await self.transport.clear()
        played = self.played_ms()
        self._timeline_ms = played
        return played

    async def _work(self) -> None:
        queue = self._queue
        while True:
            seg = await queue.get()
            try:
                await self._speak(seg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a TTS failure loses one sentence, not the call
                self._on_error(exc)
                await self._recover(seg)
            finally:
                queue.task_done()

    async def _recover(self, seg: Segment) -> None:
        """After a failed synthesis of ``seg``: keep the words heard, or say the fallback phrase."""
        if seg.dur_ms > 0:  # broke off mid-sentence: the log keeps what the caller heard
            seg.text, seg.fault, seg.done = self._heard_part(seg), "cut", True
            return
        seg.fault = "lost"
        if not self.fallback or seg.text == self.fallback:
            return
        original, seg.text = seg.text, self.fallback
        try:
            await self._speak(seg, first_try=False)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the fallback failed too: the sentence is lost
            self._on_error(exc)
            if seg.dur_ms > 0:
                seg.text, seg.fault, seg.done = self._heard_part(seg), "cut", True
            else:
                seg.text = original
            return
        seg.fault = "replaced"

    def _heard_part(self, seg: Segment) -> str:
        """The words of ``seg`` that fit in its ``dur_ms`` of audio at this call's speaking rate."""
        ms_per_char = self._rate_ms / self._rate_chars if self._rate_chars else self.DEFAULT_MS_PER_CHAR
        chars = int(seg.dur_ms / max(ms_per_char, 1e-3))
        if chars >= len(seg.text):
            return seg.text
        cut = seg.text.rfind(" ", 0, chars + 1)
        return seg.text[:cut].rstrip(" ,;:") if cut > 0 else ""

    async def _speak(self, seg: Segment, *, first_try: bool = True) -> None:
        if self.listener is not None and first_try:
            self.listener.on_tts_request(self._clock_ms())
        assert self.tts is not None  # only audio mode queues segments
        key = (seg.language, seg.text)
        keep = seg.keep or seg.text == self.fallback  # the fallback is a fixed line wherever it is said
        kept = self._kept.get(key) if keep else None
        if seg.language is not None and self.multilingual is not None:
            self.last_language = seg.language
        frames: AsyncIterator[AudioFrame]
        if kept is not None:
            frames = _replay(kept)
        elif seg.language is not None and self.multilingual is not None:
            frames = self.multilingual.synthesize_in(seg.text, seg.language)
        else:
            frames = self.tts.synthesize(seg.text)
        heard: list[AudioFrame] | None = [] if keep and kept is None else None
        try:
            async for frame in frames:
                if not frame.pcm:
                    continue
                if heard is not None:
                    heard.append(frame)
                if seg.start_ms is None:
                    seg.start_ms = self._timeline_ms
                    if self.listener is not None:
                        self.listener.on_first_frame(self._clock_ms(), seg)
                await self.transport.play(frame)
                self._timeline_ms += frame.duration_ms
                seg.dur_ms += frame.duration_ms
        finally:
            if isinstance(frames, AsyncGenerator):  # an async generator is closed at once
                with contextlib.suppress(Exception):
                    await frames.aclose()
        if heard:  # synthesised in full (a failure or a barge-in raised above)
            self._kept[key] = heard
            while len(self._kept) > KEPT_LINES:
                del self._kept[next(iter(self._kept))]
        seg.done = True
        if seg.fault is None and seg.dur_ms > 0:
            self._rate_ms += seg.dur_ms
            self._rate_chars += len(seg.text)


async def _replay(frames: list[AudioFrame]) -> AsyncGenerator[AudioFrame, None]:
    """Kept frames, as a TTS stream."""
    for frame in frames:
        yield frame
