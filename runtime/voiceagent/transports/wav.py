"""A recorded caller through the whole voice pipeline: ``--input caller.wav --output agent.wav``.

The caller's WAV (PCM 8/16/24/32-bit, any rate, any channel count; read with the stdlib
:mod:`wave`, downmixed with numpy, resampled with soxr via :mod:`voiceagent.audio`) is streamed as
20 ms frames, at real-time pace or, with ``fast=True``, as fast as the session consumes it. About
1.5 s of silence is appended so the caller's last utterance reaches end-of-utterance, then the
caller "hangs up" (the iterator ends).

The agent's audio is written **time-aligned against the caller's timeline**: each agent frame is
placed at ``max(caller position when it was played, end of the previous agent audio)`` and the
rest is silence, so ``agent.wav`` lines up sample for sample with ``caller.wav``.

The caller position is the wall clock since the call started (real time) or, in fast mode, a
virtual clock: the caller audio consumed so far. Agent audio placed before the caller position
counts as played; :meth:`WavTransport.clear` (barge-in) drops what lies beyond it.

Fast mode keeps turn-taking: without it the whole recording would be consumed while the agent is
still thinking about the first utterance, and each later utterance would interrupt the previous
reply. So once the caller has been silent for ``hold_after_ms`` after speaking (energy of the
recording), the virtual clock holds until the agent finished its reply (the session calls
:meth:`WavTransport.wait_played` at the end of every turn) or ``hold_timeout_s`` of wall time
passed; with ``hold_at_start`` it also holds at 0 until the greeting was said. The agent's
thinking time therefore takes no room on the fast timeline; everything else (gaps, overlaps,
barge-ins) is as in real time.

Memory is bounded for recordings of any length: the caller file is read in one-second chunks as
it is streamed (:class:`~voiceagent.transports.wav_source.WavSource`, which also refuses a header
that claims more audio than the file holds), and agent audio that lies before the caller position
(it can no longer be cut by a barge-in) is written to ``output_path`` as the call goes.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from voiceagent.audio import AudioFrame
from voiceagent.transports.wav_source import WavFormatError, WavSource
from voiceagent.transports.wav_timeline import AgentTimeline

__all__ = ["WavFormatError", "WavTransport", "read_wav", "write_wav"]


def read_wav(path: str | Path, sample_rate: int | None = None) -> AudioFrame:
    """Read a WAV file into one mono PCM16 frame (for short files; :class:`WavTransport` streams).

    Integer PCM (8-bit unsigned, 16, 24 or 32 bits, any channel count) is read with the stdlib
    :mod:`wave` and averaged to mono with numpy. Anything ``wave`` cannot read (32-bit float,
    ``WAVE_FORMAT_EXTENSIBLE`` headers, compressed WAV) is decoded with PyAV (FFmpeg; installed
    with the ``[local]`` extra through faster-whisper) when it is available.

    Args:
        path: the WAV file.
        sample_rate: resample to this rate (Hz) with soxr; None keeps the file's rate.

    Returns:
        An :class:`AudioFrame` (PCM16 mono little-endian).

    Raises:
        WavFormatError: a file neither reader can decode, or a header claiming more audio than
            the file holds (the message suggests a conversion).
        FileNotFoundError: no such file.
    """
    source = WavSource(path, sample_rate)
    if source.sample_rate == source.file_rate:
        return source.read_all()
    # one-shot resampling of the whole file (as before); WavTransport streams instead
    return WavSource(path).read_all().resampled(source.sample_rate)


def write_wav(path: str | Path, pcm: bytes, sample_rate: int, channels: int = 1) -> None:
    """Write PCM16 little-endian samples (interleaved when ``channels`` > 1) to a WAV file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(p), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)


class WavTransport:
    """Caller audio from a WAV file, agent audio to a time-aligned WAV file.

    Args:
        input_path: the caller's recording (see :func:`read_wav` for the formats).
        output_path: where the agent's side is written on :meth:`aclose`: PCM16 mono at
            ``output_rate`` Hz, or at the rate of the first agent frame (the TTS rate) when None,
            as long as the caller's timeline (including the trailing silence) or longer.
        fast: stream caller audio as fast as it is consumed, with a virtual clock (the caller
            audio consumed so far) instead of the wall clock.
        sample_rate: rate (Hz) of the caller frames yielded (the STT resamples if it wants
            another); default 16000.
        frame_ms: caller frame length in ms (default 20).
        trailing_silence_ms: silence appended after the recording so the last utterance ends.
        hold_after_ms: fast mode: caller silence (ms) after speech at which the virtual clock
            waits for the agent's reply (keep it above the STT's end-of-utterance timeout); None
            streams straight through without waiting.
        hold_timeout_s: fast mode: longest wall-clock wait for one reply (s).
        hold_at_start: fast mode: also hold before the first caller frame until the agent's first
            reply (its greeting) was handed over; set it when the agent has a greeting.
        recording_path: optional stereo "call recording" (caller left, agent right), PCM16 at
            the output rate.
        caller: transport metadata for templates (``phone``, ``id``, ``metadata``).

    Raises:
        WavFormatError, FileNotFoundError: from :func:`read_wav`, at construction.
    """

    kind: Literal["audio"] = "audio"
    plays_audio = True

    def __init__(
        self,
        input_path: str | Path,
        output_path: str | Path,
        *,
        fast: bool = False,
        sample_rate: int = 16000,
        output_rate: int | None = None,
        frame_ms: int = 20,
        trailing_silence_ms: float = 1500.0,
        hold_after_ms: float | None = 900.0,
        hold_timeout_s: float = 15.0,
        hold_at_start: bool = False,
        recording_path: str | Path | None = None,
        caller: dict[str, Any] | None = None,
    ) -> None:
        self.input_path = Path(input_path)
        self.output_path = Path(output_path)
        self.recording_path = Path(recording_path) if recording_path is not None else None
        self.fast = fast
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.caller: dict[str, Any] = dict(caller or {"phone": None, "id": None, "metadata": {}})
        self._source = WavSource(self.input_path, sample_rate)  # header checked now, audio read as streamed
        self._pad_samples = round(sample_rate * trailing_silence_ms / 1000.0)
        self.caller_speech_ms = self._source.duration_ms
        """Length of the recording itself (without the appended silence), ms."""
        self._out_rate = output_rate
        self._timeline = AgentTimeline(self.output_path, output_rate)  # written as it becomes final
        self._consumed_ms = 0.0
        self._caller_done = False
        self._t0: float | None = None
        self._closed = False
        self._progress = asyncio.Event()
        self.idle_ms = 200.0
        self.hold_after_ms = hold_after_ms
        self.hold_timeout_s = hold_timeout_s
        self._reply_done = asyncio.Event()
        self._replies = 0  # calls of wait_played(): the session makes one at the end of each reply
        self.hold_at_start = hold_at_start
        self._last_speech: np.ndarray | None = None
        self.holds = 0
        """Fast mode: how many times the virtual clock waited for a reply."""

    # ------------------------------------------------------------------ clock

    def _start_clock(self) -> None:
        if self._t0 is None:
            self._t0 = time.monotonic()

    def position_ms(self) -> float:
        """The caller timeline position now, ms: wall clock since the call started (real time),
        or the caller audio consumed so far (fast; unbounded once the caller has hung up, so
        everything placed counts as played).
        """
        if self.fast:
            return float("inf") if self._caller_done else self._consumed_ms
        if self._t0 is None:
            return 0.0
        return 1000.0 * (time.monotonic() - self._t0)

    def _position_samples(self) -> int:
        pos = self.position_ms()
        if pos == float("inf"):
            return self._timeline.end
        return int(pos * (self._out_rate or self.sample_rate) / 1000.0)

    # ------------------------------------------------------------------ caller

    def caller_text(self) -> AsyncIterator[str]:
        """Not available: a WAV transport carries audio.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("WavTransport carries audio; use caller_audio()")

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """The recording plus trailing silence as ``frame_ms`` frames at ``sample_rate`` Hz, paced
        at real time (frame *i* is released once its end time has passed) or as fast as consumed.
        """
        self._start_clock()
        n = max(1, int(self.sample_rate * self.frame_ms / 1000))
        try:
            start = 0
            for i, chunk in enumerate(self._caller_frames(n)):
                if self._closed:
                    return
                if not self.fast:
                    due = self._t0 + (start + len(chunk)) / self.sample_rate  # type: ignore[operator]
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    if i == 0 and self.hold_at_start:
                        await self._hold(replies_before=0)  # let the greeting be said first
                    elif self._should_hold(i, n):
                        await self._hold()
                    await asyncio.sleep(0)  # let the session react between frames
                self._consumed_ms = 1000.0 * (start + len(chunk)) / self.sample_rate
                start += len(chunk)
                self._wake()
                yield AudioFrame(chunk.astype("<i2").tobytes(), self.sample_rate)
        finally:
            self._caller_done = True
            self._wake()

    def _caller_stream(self, rate: int | None = None) -> Iterator[np.ndarray]:
        """The recording then the trailing silence, in chunks, at ``rate`` (default the caller rate)."""
        rate = rate or self.sample_rate
        yield from self._source.chunks(rate)
        pad = round(self._pad_samples * rate / self.sample_rate)
        step = max(1, rate)
        for i in range(0, pad, step):
            yield np.zeros(min(step, pad - i), dtype="<i2")

    def _caller_frames(self, n: int) -> Iterator[np.ndarray]:
        """The caller stream cut into frames of ``n`` samples (the last one may be shorter)."""
        buf = np.zeros(0, dtype="<i2")
        for chunk in self._caller_stream():
            buf = np.concatenate([buf, chunk]) if buf.size else chunk
            whole = len(buf) - len(buf) % n
            for i in range(0, whole, n):
                yield buf[i : i + n]
            buf = buf[whole:]
        if buf.size:
            yield buf

    def caller_samples(self) -> int:
        """Samples of the caller timeline (recording plus trailing silence) at the caller rate."""
        return self._source.samples + self._pad_samples

    def _speech_frames(self, n: int) -> np.ndarray:
        """Per caller frame: does it carry speech (RMS within 35 dB of the loudest frame, above
        -55 dBFS)? One streaming pass over the file: memory is one float per frame.
        """
        rms = [
            float(np.sqrt(np.mean((f.astype(np.float64) / 32768.0) ** 2)) * np.sqrt(len(f) / n))
            for f in self._caller_frames(n)
        ]
        db = 20 * np.log10(np.maximum(np.asarray(rms, dtype=np.float64), 1e-9))
        if db.size == 0:
            return np.zeros(0, dtype=bool)
        threshold = max(float(db.max()) - 35.0, -55.0)
        loud: np.ndarray = db > threshold
        return loud

    def _should_hold(self, i: int, n: int) -> bool:
        if self.hold_after_ms is None:
            return False
        if self._last_speech is None:
            speech = self._speech_frames(n)
            # _last_speech[j]: index of the last speech frame at or before frame j (-1: none yet)
            self._last_speech = np.maximum.accumulate(np.where(speech, np.arange(len(speech)), -1))
        k = max(1, round(self.hold_after_ms / self.frame_ms))
        if i <= k or i > len(self._last_speech):
            return False
        last = int(self._last_speech[i - 1])
        # hold once, when exactly k silent frames follow a stretch of speech
        return last >= 0 and last == i - k - 1

    async def _hold(self, *, replies_before: int | None = None) -> None:
        """Freeze the virtual clock until the agent finished a reply after ``replies_before``
        replies (default: one more than so far), or the wall-clock limit passed.
        """
        target = (self._replies if replies_before is None else replies_before) + 1
        if self._replies >= target:
            return
        self.holds += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.hold_timeout_s
        while self._replies < target and not self._closed:
            self._reply_done.clear()
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for may swallow a cancellation
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await self._reply_done.wait()
            except TimeoutError:
                return

    # ------------------------------------------------------------------ agent

    async def play(self, frame: AudioFrame) -> None:
        """Place agent audio on the timeline at ``max(caller position, end of agent audio)``.
        Never blocks; frames are resampled to the output rate.
        """
        if not frame.pcm or self._closed:
            return
        self._start_clock()
        if self._out_rate is None:
            self._out_rate = self._timeline.rate = frame.sample_rate
        self._timeline.place(frame.resampled(self._out_rate).pcm, self._position_samples())

    async def clear(self) -> None:
        """Barge-in: drop agent audio placed beyond the caller position (not yet "played")."""
        self._timeline.clear(self._position_samples())

    def played_ms(self) -> float:
        """Milliseconds of agent audio lying before the caller position (i.e. already heard)."""
        if not self._out_rate:
            return 0.0
        return 1000.0 * self._timeline.played_samples(self._position_samples()) / self._out_rate

    async def wait_played(self) -> None:
        """Return when the caller position has reached the end of the agent audio: after sleeping
        in real time; in fast mode once enough caller audio has been consumed, the caller hung up,
        or nobody has consumed caller audio for ``idle_ms`` of wall time (the virtual clock only
        moves while the session reads caller audio, so waiting longer could never end).
        """
        self._replies += 1
        self._reply_done.set()  # the agent finished a reply: a held virtual clock moves on
        while not self._closed:
            end_ms = 1000.0 * self._timeline.end / (self._out_rate or self.sample_rate)
            remaining = end_ms - self.position_ms()
            if remaining <= 0:
                return
            if self.fast:
                self._progress.clear()
                try:  # asyncio.timeout: a barge-in's cancellation must never be swallowed
                    async with asyncio.timeout(self.idle_ms / 1000.0):
                        await self._progress.wait()
                except TimeoutError:
                    return
            else:
                await asyncio.sleep(min(remaining / 1000.0, 0.5))

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Audio-only: text is not shown (the event log has it)."""

    async def aclose(self) -> None:
        """Finish ``output_path`` (and write the stereo recording when asked). Idempotent.

        The agent file is padded with silence to the caller's timeline (recording plus trailing
        silence); the recording is built in chunks from the caller file and the agent file, so
        neither is ever in memory whole.
        """
        if self._closed:
            return
        self._closed = True
        self._wake()
        self._reply_done.set()
        rate = self._out_rate or self.sample_rate
        self._out_rate = rate
        self._timeline.finish(round(self.caller_samples() * rate / self.sample_rate), rate)
        if self.recording_path is not None:
            self._write_recording(rate)

    def _write_recording(self, rate: int) -> None:
        """Stereo PCM16 at ``rate``: the caller (resampled, streamed) left, the agent file right."""
        assert self.recording_path is not None
        self.recording_path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(self.output_path), "rb") as agent, wave.open(str(self.recording_path), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(rate)
            written = 0
            for caller in self._caller_stream(rate):
                right = np.frombuffer(agent.readframes(len(caller)), dtype="<i2")
                right = np.pad(right, (0, len(caller) - len(right)))
                out.writeframes(np.stack([caller, right], axis=1).astype("<i2").tobytes())
                written += len(caller)
            while True:  # agent audio beyond the caller's timeline (a reply still playing at the end)
                rest = np.frombuffer(agent.readframes(rate), dtype="<i2")
                if rest.size == 0:
                    break
                out.writeframes(np.stack([np.zeros_like(rest), rest], axis=1).astype("<i2").tobytes())

    def _wake(self) -> None:
        self._progress.set()
