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
thinking time therefore takes no room on the fast timeline; everything else
(gaps, overlaps, barge-ins) is as in real time.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from voiceagent.audio import AudioFrame


class WavFormatError(ValueError):
    """The input file is not a PCM WAV the stdlib :mod:`wave` module can read."""


def read_wav(path: str | Path, sample_rate: int | None = None) -> AudioFrame:
    """Read a WAV file into one mono PCM16 frame.

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
        WavFormatError: a file neither reader can decode (the message suggests a conversion).
        FileNotFoundError: no such file.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    try:
        with wave.open(str(p), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        frame = _read_with_av(p, sample_rate, exc)
    else:
        samples = _to_int16(raw, width)
        if channels > 1:
            usable = len(samples) - len(samples) % channels
            mixed = samples[:usable].reshape(-1, channels).astype(np.int32).mean(axis=1)
            samples = np.clip(np.round(mixed), -32768, 32767).astype("<i2")
        frame = AudioFrame(samples.astype("<i2").tobytes(), rate)
    if sample_rate is not None and sample_rate != frame.sample_rate:
        frame = frame.resampled(sample_rate)
    return frame


def _read_with_av(path: Path, sample_rate: int | None, cause: Exception) -> AudioFrame:
    """Decode any audio FFmpeg knows to PCM16 mono with PyAV (https://pyav.basswood-io.com)."""
    hint = (
        f"{path}: not a PCM WAV file this runtime can read ({cause}); convert it first, e.g. "
        f"`ffmpeg -i {path.name} -ac 1 -ar 16000 -c:a pcm_s16le caller.wav`"
    )
    try:
        import av
    except ImportError:
        raise WavFormatError(hint) from cause
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            rate = sample_rate or stream.codec_context.sample_rate
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            chunks = []
            for decoded in container.decode(stream):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(decoded)]
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    except (av.error.FFmpegError, IndexError, ValueError) as exc:
        raise WavFormatError(hint) from exc
    pcm = np.concatenate(chunks).astype("<i2") if chunks else np.zeros(0, "<i2")
    return AudioFrame(pcm.tobytes(), rate)


def _to_int16(raw: bytes, width: int) -> np.ndarray:
    """Integer PCM bytes of ``width`` bytes per sample -> int16 samples (interleaved channels)."""
    if width == 1:  # WAV 8-bit is unsigned
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype("<i2")
    if width == 2:
        return np.frombuffer(raw, dtype="<i2")
    if width == 3:
        b = np.frombuffer(raw[: len(raw) - len(raw) % 3], dtype=np.uint8).reshape(-1, 3)
        # the top two bytes of a little-endian 24-bit sample are its 16-bit value
        return (b[:, 1].astype(np.uint16) | (b[:, 2].astype(np.uint16) << 8)).view("<i2")
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype("<i2")
    raise WavFormatError(f"unsupported sample width: {width} bytes")


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
        recorded = read_wav(self.input_path, sample_rate)
        pad = np.zeros(round(sample_rate * trailing_silence_ms / 1000.0), dtype="<i2")
        self._caller_pcm = np.concatenate([recorded.to_numpy(), pad])
        self.caller_speech_ms = recorded.duration_ms
        """Length of the recording itself (without the appended silence), ms."""
        self._out_rate = output_rate
        self._agent = bytearray()  # agent timeline at _out_rate, PCM16 mono
        self._spans: list[list[int]] = []  # [start, end) sample spans of agent audio on the timeline
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
            return len(self._agent) // 2
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
        total = len(self._caller_pcm)
        try:
            for i, start in enumerate(range(0, total, n)):
                if self._closed:
                    return
                chunk = self._caller_pcm[start : start + n]
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
                self._wake()
                yield AudioFrame(chunk.tobytes(), self.sample_rate)
        finally:
            self._caller_done = True
            self._wake()

    def _speech_frames(self, n: int) -> np.ndarray:
        """Per caller frame: does it carry speech (RMS within 35 dB of the loudest frame, above
        -55 dBFS)?
        """
        frames = len(self._caller_pcm) // n + (1 if len(self._caller_pcm) % n else 0)
        padded = np.zeros(frames * n, dtype=np.float64)
        padded[: len(self._caller_pcm)] = self._caller_pcm
        rms = np.sqrt(np.mean((padded.reshape(frames, n) / 32768.0) ** 2, axis=1))
        db = 20 * np.log10(np.maximum(rms, 1e-9))
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
            self._out_rate = frame.sample_rate
        out = frame.resampled(self._out_rate)
        end = len(self._agent) // 2
        start = max(self._position_samples(), end)
        if start > end:
            self._agent.extend(b"\x00\x00" * (start - end))
        self._agent.extend(out.pcm)
        new_end = start + out.samples
        if self._spans and self._spans[-1][1] == start:
            self._spans[-1][1] = new_end
        else:
            self._spans.append([start, new_end])

    async def clear(self) -> None:
        """Barge-in: drop agent audio placed beyond the caller position (not yet "played")."""
        if not self._spans:
            return
        cut = min(self._position_samples(), len(self._agent) // 2)
        self._spans = [[s, min(e, cut)] for s, e in self._spans if s < cut]
        del self._agent[2 * (self._spans[-1][1] if self._spans else 0) :]

    def played_ms(self) -> float:
        """Milliseconds of agent audio lying before the caller position (i.e. already heard)."""
        if not self._spans or not self._out_rate:
            return 0.0
        pos = self._position_samples()
        played = sum(max(0, min(e, pos) - s) for s, e in self._spans)
        return 1000.0 * played / self._out_rate

    async def wait_played(self) -> None:
        """Return when the caller position has reached the end of the agent audio: after sleeping
        in real time; in fast mode once enough caller audio has been consumed, the caller hung up,
        or nobody has consumed caller audio for ``idle_ms`` of wall time (the virtual clock only
        moves while the session reads caller audio, so waiting longer could never end).
        """
        self._replies += 1
        self._reply_done.set()  # the agent finished a reply: a held virtual clock moves on
        while not self._closed:
            end_ms = 1000.0 * (len(self._agent) // 2) / (self._out_rate or self.sample_rate)
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
        """Write ``output_path`` (and the stereo recording when asked). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake()
        self._reply_done.set()
        rate = self._out_rate or self.sample_rate
        caller = AudioFrame(self._caller_pcm.tobytes(), self.sample_rate).resampled(rate).to_numpy()
        agent = np.frombuffer(bytes(self._agent), dtype="<i2")
        length = max(len(caller), len(agent))
        agent = np.pad(agent, (0, length - len(agent)))
        write_wav(self.output_path, agent.astype("<i2").tobytes(), rate)
        if self.recording_path is not None:
            stereo = np.stack([np.pad(caller, (0, length - len(caller))), agent], axis=1)
            write_wav(self.recording_path, stereo.astype("<i2").tobytes(), rate, channels=2)

    def _wake(self) -> None:
        self._progress.set()
