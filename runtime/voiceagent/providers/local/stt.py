"""Offline streaming STT: Silero VAD end-of-utterance detection + faster-whisper (Whisper base).

How a turn flows (all audio 16 kHz PCM16 mono after resampling with :class:`voiceagent.audio.Resampler`):

1. :class:`~voiceagent.providers.local.vad.StreamingVAD` reports ``start`` after ~150 ms of
   speech: the stream emits ``speech_started`` at once (this drives barge-in).
2. On a ``pause`` (150 ms of silence inside speech) a *speculative* Whisper pass over the utterance
   so far starts in a worker thread. Whisper pads every input to a 30 s window, so one pass costs
   nearly the same whatever the audio length (tiny.en, measured median 404 ms for 1 s of audio,
   425 ms for 4 s, 545 ms for 8 s on 2 shared cores): transcribing only the tail since the last partial would
   save ~100 ms and risk cutting words, starting early saves the whole pass. When speech
   resumes, that result is sent as ``interim``.
3. On ``end`` (``eou_timeout_ms`` of silence, default 600 ms) the ``final`` event carries the text of
   the speculative pass when it covered all of the speech (it is then ready, or nearly so), or of
   a fresh pass over the whole utterance otherwise.

Optional periodic ``interim`` passes (``interim_interval_ms``) are off by default: on a shared
2-core machine they compete with the speculative pass and lengthen the time after EOU.

With Whisper base a pass takes ~0.5 s (tiny.en ~0.3 s), so the pass at the pause is not always
done at the EOU: ``benchmarks/embedded_latency.py`` measured EOU -> ``final`` p50 77 / p90 155 ms
with base, 0 / 0 ms with tiny.en (docs/offline.md). Earlier, with tiny.en, measured on the three
``samples/`` recordings pushed in real time (2 shared cores): with the
defaults (pause 150 ms, EOU 600 ms) EOU -> ``final`` median 36 ms (max 179) at load ~1, versus
495 ms (max 775) without a speculative pass; at load ~3: median 315 ms (pause 120), 509 ms
(pause 200), 897 ms (none); periodic interims every 1 s raised it from ~415 to ~624 ms.

Model: an embedded CTranslate2 Whisper (``base`` by default, or ``tiny.en``; the table and the
packages are in :mod:`voiceagent.providers.local.whisper_models`), loaded once per process
(``HF_HUB_OFFLINE=1``; no hub is ever contacted). faster-whisper API:
https://github.com/SYSTRAN/faster-whisper#usage
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from voiceagent.audio import AudioFrame, Resampler
from voiceagent.providers.base import ProviderError, STTEvent
from voiceagent.providers.local.models import warm_in_background
from voiceagent.providers.local.vad import SAMPLE_RATE, StreamingVAD, VADEvent, load_silero
from voiceagent.providers.local.whisper import WhisperEngine, ends_sentence, load_whisper
from voiceagent.providers.local.whisper_models import DEFAULT_WHISPER_MODEL

__all__ = ["LocalSTT", "LocalSTTStream", "WhisperEngine", "ends_sentence", "load_whisper", "supports_language"]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

PREROLL_MS = 700
"""Audio kept before the VAD's speech start (its decision lags and short words like "Hi" fall
under ``min_speech_ms``)."""
TAIL_MS = 300
"""Audio kept after the end of speech in the final pass."""
COVER_MS = 100
"""A speculative pass is reused as the final one when its audio reaches this far past the speech end."""


def supports_language(language: str) -> bool:
    """Whether the offline STT can transcribe ``language`` (BCP-47): only ``en`` / ``en-*``."""
    lang = language.strip().lower()
    return lang == "en" or lang.startswith("en-")


def _now_ms() -> float:
    return time.monotonic() * 1000.0


class LocalSTT:
    """Offline streaming STT (implements :class:`voiceagent.providers.base.STT`).

    Args:
        eou_timeout_ms: silence (ms) that ends an utterance (agent ``stt.eou_timeout_ms``).
        min_speech_ms: speech (ms) before ``speech_started`` is reported.
        pause_ms: silence (ms) after which a speculative transcription starts (at least
            ``COVER_MS``, so that pass reaches far enough past the speech to be reused).
        threshold: Silero speech probability threshold (silence below ``threshold - 0.15``).
        interim_interval_ms: when set, also re-transcribe the growing utterance this often while
            the caller speaks and emit ``interim`` events (costs CPU; off by default).
        model: the embedded Whisper model (``base`` or ``tiny.en``; agent ``stt.model``; default ``base``).
        model_dir: a CTranslate2 Whisper model directory, instead of an embedded ``model``.
        cpu_threads: CTranslate2 threads (default: cores, at most 4).
        warm: start loading Whisper and the VAD in a background thread now, so :meth:`open` at
            the start of the call does not wait ~0.5-1.5 s for them.
        vocabulary: words the calls are likely to contain (``providers.local.setup.agent_vocabulary``),
            given to every pass as Whisper's ``initial_prompt``.
        complete_eou_ms: when the speculative pass at a pause reads as a finished sentence
            (:func:`ends_sentence`: "What's my balance?"), the utterance ends after this much
            silence instead of ``eou_timeout_ms`` (at most that); None (the default, agent
            ``stt.sentence_eou_ms``): always ``eou_timeout_ms``. Measured: 300 ms saved ~140 ms
            at p50 but cut a Piper caller's "What's my balance? My account number is ..." at
            its 600 ms pause between the two sentences.
    """

    name = "local-whisper"
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        *,
        eou_timeout_ms: int = 600,
        min_speech_ms: int = 150,
        pause_ms: int = 150,
        threshold: float = 0.5,
        interim_interval_ms: int | None = None,
        model: str | None = None,
        model_dir: Path | None = None,
        cpu_threads: int | None = None,
        warm: bool = True,
        vocabulary: str | None = None,
        complete_eou_ms: int | None = None,
    ) -> None:
        self.vocabulary = vocabulary
        self.complete_eou_ms = complete_eou_ms if complete_eou_ms is None else min(complete_eou_ms, eou_timeout_ms)
        self.eou_timeout_ms = eou_timeout_ms
        self.min_speech_ms = min_speech_ms
        self.pause_ms = max(pause_ms, COVER_MS)
        self.threshold = threshold
        self.interim_interval_ms = interim_interval_ms
        self.model_dir = model_dir
        self.cpu_threads = cpu_threads
        self.model = model or DEFAULT_WHISPER_MODEL
        if warm:
            warm_in_background(self._load_all)

    def _load_all(self) -> None:
        load_silero()
        load_whisper(self.model_dir, model=self.model, cpu_threads=self.cpu_threads)

    supports_language = staticmethod(supports_language)

    async def preload(self) -> WhisperEngine:
        """Load (or fetch from the cache) the Whisper model and the VAD, off the event loop."""
        engine = await asyncio.to_thread(load_whisper, self.model_dir, model=self.model, cpu_threads=self.cpu_threads)
        return engine

    async def open(self, *, language: str) -> LocalSTTStream:
        """Open a stream for one call.

        Raises:
            ProviderError: for a language other than English (the embedded models are run in English), or when
                the model cannot be loaded.
        """
        if not supports_language(language):
            raise ProviderError(
                f"no offline STT for language '{language}': the embedded Whisper model "
                f"{self.model} is run in English only; use stt.provider smallest for '{language}'"
            )
        engine = await self.preload()
        vad = await asyncio.to_thread(
            StreamingVAD,
            eou_timeout_ms=self.eou_timeout_ms,
            min_speech_ms=self.min_speech_ms,
            pause_ms=self.pause_ms,
            threshold=self.threshold,
        )
        return LocalSTTStream(
            engine,
            vad,
            language="en",
            interim_interval_ms=self.interim_interval_ms,
            prompt=self.vocabulary,
            complete_eou_ms=self.complete_eou_ms,
        )


@dataclass
class _Utterance:
    start: int  # sample where its audio begins (pre-roll included)
    speech_end: int | None = None
    passes: list[tuple[int, str]] = field(default_factory=list)  # (audio end sample, text)
    inflight_end: int | None = None
    inflight: asyncio.Task[str] | None = None
    rerun: bool = False  # a pause arrived while a pass was running
    last_pass_ms: float = 0.0


class LocalSTTStream:
    """One call's audio stream (implements :class:`voiceagent.providers.base.STTStream`).

    ``push_audio`` never blocks on Whisper: passes run in worker threads and finals are emitted in
    order by a chain of tasks. Utterances that transcribe to empty text (noise) give no ``final``.
    Audio pushed after :meth:`aclose` is ignored.
    """

    def __init__(
        self,
        engine: WhisperEngine,
        vad: StreamingVAD,
        *,
        language: str,
        interim_interval_ms: int | None,
        prompt: str | None = None,
        complete_eou_ms: int | None = None,
    ) -> None:
        self._prompt = prompt
        self._complete_eou_ms = complete_eou_ms
        self._engine = engine
        self._vad = vad
        self._language = language
        self._interim_ms = interim_interval_ms
        self._queue: asyncio.Queue[STTEvent] = asyncio.Queue()
        self._buf = np.zeros(0, dtype=np.int16)
        self._buf_start = 0  # stream sample index of self._buf[0]
        self._resampler: Resampler | None = None
        self._utt: _Utterance | None = None
        self._finals: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._push_lock = asyncio.Lock()
        self._closed = False
        self._preroll = SAMPLE_RATE * PREROLL_MS // 1000
        self.metrics: list[dict[str, float]] = []
        """Per final: ``eou_to_final_ms`` (wall ms from the EOU decision to the ``final`` event) and
        ``reused`` (1.0 when the speculative pass was used)."""

    # ------------------------------------------------------------------ protocol

    async def push_audio(self, frame: AudioFrame) -> None:
        """Feed caller audio at any rate (resampled to 16 kHz with a streaming soxr resampler)."""
        if self._closed or not frame.pcm:
            return
        async with self._push_lock:
            if self._resampler is None or self._resampler.in_rate != frame.sample_rate:
                self._resampler = Resampler(frame.sample_rate, SAMPLE_RATE)
            samples = self._resampler.process(frame).to_numpy()
            self._buf = np.concatenate([self._buf, samples])
            if samples.size > SAMPLE_RATE // 2:  # large chunks: keep the loop responsive
                events = await asyncio.to_thread(self._vad.process, samples)
            else:
                events = self._vad.process(samples)
            for event in events:
                self._on_vad(event)
            self._maybe_interim()
            self._trim()

    async def finalize(self) -> None:
        """End the current utterance now (as if EOU fired); its ``final`` follows asynchronously."""
        if self._closed:
            return
        async with self._push_lock:
            event = self._vad.force_end()
            if event is not None:
                self._on_vad(event)

    async def aclose(self) -> None:
        """Finalise pending speech, wait for its ``final``, then emit ``closed``. Idempotent."""
        if self._closed:
            return
        await self.finalize()
        self._closed = True
        try:
            if self._finals is not None:
                await self._finals
        except Exception as exc:  # noqa: BLE001 - the stream still closes
            log.warning("offline STT failed while closing: %s", exc)
        finally:
            for task in list(self._tasks):
                task.cancel()
            self._queue.put_nowait(STTEvent("closed", t_ms=_now_ms()))

    async def events(self) -> AsyncIterator[STTEvent]:
        """Events in order; ends after ``closed``."""
        while True:
            event = await self._queue.get()
            yield event
            if event.kind == "closed":
                return

    # ------------------------------------------------------------------ internals

    def _emit(self, kind: str, text: str = "") -> None:
        lang = self._language if kind in ("interim", "final") else None
        self._queue.put_nowait(STTEvent(kind, text=text, language=lang, t_ms=_now_ms()))  # type: ignore[arg-type]

    def _slice(self, start: int, end: int) -> np.ndarray:
        lo = max(0, start - self._buf_start)
        hi = max(lo, min(self._buf.size, end - self._buf_start))
        return self._buf[lo:hi].copy()

    def _trim(self) -> None:
        keep_from = self._utt.start if self._utt is not None else self._vad.position - self._preroll
        drop = keep_from - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop

    def _on_vad(self, event: VADEvent) -> None:
        if event.kind == "start":
            self._utt = _Utterance(start=max(self._buf_start, event.sample - self._preroll), last_pass_ms=_now_ms())
            self._emit("speech_started")
        elif event.kind == "pause" and self._utt is not None:
            self._start_pass(self._utt, event.decided)
        elif event.kind == "end" and self._utt is not None:
            utt, self._utt = self._utt, None
            utt.speech_end = event.sample
            audio = self._slice(utt.start, event.sample + SAMPLE_RATE * TAIL_MS // 1000)
            previous = self._finals
            self._finals = self._spawn(self._finish(utt, audio, previous, _now_ms()))

    def _maybe_interim(self) -> None:
        utt = self._utt
        if utt is None or not self._interim_ms or utt.inflight is not None:
            return
        if _now_ms() - utt.last_pass_ms >= self._interim_ms:
            self._start_pass(utt)

    def _start_pass(self, utt: _Utterance, upto: int | None = None) -> None:
        """Transcribe the utterance up to sample ``upto`` (default: all the VAD has seen) in a thread."""
        if utt.inflight is not None:  # one pass at a time: run again when this one is done
            utt.rerun = True
            return
        utt.rerun = False
        end = self._vad.position if upto is None else upto  # never audio past the VAD's decision
        audio = self._slice(utt.start, end)
        utt.inflight_end, utt.last_pass_ms = end, _now_ms()
        utt.inflight = self._spawn(self._pass(utt, audio, end))

    def _spawn(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _transcribe(self, audio: np.ndarray) -> str:
        try:
            return await asyncio.to_thread(self._engine.transcribe, audio, self._language, self._prompt)
        except ProviderError:
            raise
        except Exception as exc:  # CTranslate2 errors
            raise ProviderError(f"offline transcription failed: {exc}") from exc

    async def _pass(self, utt: _Utterance, audio: np.ndarray, end: int) -> str:
        try:
            text = await self._transcribe(audio)
        except ProviderError as exc:
            log.warning("offline STT pass failed: %s", exc)
            text = ""
        finally:
            utt.inflight, utt.inflight_end = None, None
        utt.passes.append((end, text))
        if self._utt is utt:  # EOU not reached yet
            if utt.rerun:  # a pause came while this pass ran: cover the audio since then
                self._start_pass(utt)
            elif self._complete_eou_ms is not None and ends_sentence(text):
                self._vad.end_sooner(self._complete_eou_ms)
            if text:
                self._emit("interim", text)
        return text

    async def _finish(
        self, utt: _Utterance, audio: np.ndarray, previous: asyncio.Task[None] | None, eou_ms: float
    ) -> None:
        assert utt.speech_end is not None
        need = utt.speech_end + SAMPLE_RATE * COVER_MS // 1000
        text: str | None = None
        try:
            if utt.inflight is not None and (utt.inflight_end or 0) >= need:
                text = await asyncio.shield(utt.inflight)
            else:
                text = next((t for end, t in reversed(utt.passes) if end >= need), None)
            reused = text is not None
            if text is None:
                text = await self._transcribe(audio)
        except ProviderError as exc:
            log.warning("offline STT pass failed: %s", exc)
            text, reused = "", False
        if previous is not None:
            await previous  # finals leave in utterance order
        self.metrics.append({"eou_to_final_ms": _now_ms() - eou_ms, "reused": float(reused)})
        if text:
            self._emit("final", text)
