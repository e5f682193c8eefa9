"""The benchmark's phone line: the recorded (or synthesized) caller, paced in real time, and a
sink that plays the agent's audio 20 ms per 20 ms and counts underruns.

* :func:`caller_utterances`: ``samples/*.wav`` cut into utterances with the same 20 ms RMS rule
  the fake Pulse uses, or synthesized speech-like PCM when absent;
* :class:`PhoneLine`: a paced audio transport (``transports.base.Transport``);
* :class:`TappedTTS`: a pass-through TTS wrapper that tells the line which sentence each frame
  belongs to (so filler and answer audio can be told apart).

Audio is PCM16 mono little-endian; the caller side is 16 kHz.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from voiceagent.audio import AudioFrame, Resampler

ROOT = Path(__file__).resolve().parent.parent
CALLER_RATE = 16000
FRAME_MS = 20
SPEECH_RMS = 300.0  # voiceagent.testing.fake_pulse.PulseOptions.speech_rms

# --------------------------------------------------------------------------- caller audio


def frame_rms(x: np.ndarray, frame: int) -> np.ndarray:
    """RMS of each whole ``frame``-sample frame of int16 ``x``."""
    n = len(x) // frame
    f = x[: n * frame].astype(np.float64).reshape(n, frame)
    return np.sqrt(np.mean(f * f, axis=1))


def split_utterances(x: np.ndarray, eou_ms: float, rate: int = CALLER_RATE) -> list[np.ndarray]:
    """Cut int16 mono ``x`` into utterances: runs of 20 ms frames with RMS >= SPEECH_RMS, split
    where the silence between two speech frames lasts >= ``eou_ms`` (the fake would send a final
    there). Each utterance starts and ends with a speech frame.
    """
    frame = rate * FRAME_MS // 1000
    speech = np.flatnonzero(frame_rms(x, frame) >= SPEECH_RMS)
    if speech.size == 0:
        return []
    gap = int(eou_ms // FRAME_MS)
    out, start, prev = [], speech[0], speech[0]
    for i in speech[1:]:
        if i - prev - 1 >= gap:
            out.append(x[start * frame : (prev + 1) * frame])
            start = i
        prev = i
    out.append(x[start * frame : (prev + 1) * frame])
    return [u for u in out if len(u) >= 10 * frame]  # >= 200 ms


def synthetic_utterance(seconds: float, seed: int, rate: int = CALLER_RATE) -> np.ndarray:
    """Speech-like int16 PCM: a 120-180 Hz voice with harmonics and a 4 Hz syllable envelope that
    never drops below the speech threshold (every 20 ms frame counts as speech).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 60 * rng.random()
    voice = sum(np.sin(2 * np.pi * f0 * k * t + rng.random()) / k for k in range(1, 6))
    env = 0.45 + 0.35 * (1 + np.sin(2 * np.pi * 4 * t)) / 2
    return np.round(5000 * env * voice / 2.3).astype("<i2")


def caller_utterances(eou_ms: float, *, synthetic: bool = False) -> tuple[list[np.ndarray], str]:
    """The caller's utterances at 16 kHz and where they came from (``samples/*.wav`` cut by
    :func:`split_utterances`, else :func:`synthetic_utterance`).
    """
    if not synthetic:
        clips: list[np.ndarray] = []
        files = sorted((ROOT / "samples").glob("*.wav"))
        for path in files:
            with wave.open(str(path), "rb") as w:
                if w.getsampwidth() != 2 or w.getnchannels() != 1:
                    continue
                x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
                if w.getframerate() != CALLER_RATE:
                    x = (
                        Resampler(w.getframerate(), CALLER_RATE)
                        .process(AudioFrame(x.tobytes(), w.getframerate()), last=True)
                        .to_numpy()
                    )
            clips += split_utterances(x, eou_ms)
        if clips:
            return clips, "samples/" + ",".join(p.name for p in files)
    return [synthetic_utterance(0.8 + 0.2 * (i % 4), i) for i in range(8)], "synthetic"


# --------------------------------------------------------------------------- the line


@dataclass
class SegmentStart:
    """The first frame of one TTS sentence handed to ``play`` (``t``: time.monotonic s)."""

    t: float
    text: str


class PhoneLine:
    """A paced audio transport for one call (implements ``transports.base.Transport``).

    The caller side is fed by :meth:`tick` (one 20 ms PCM16 frame at 16 kHz per tick); the agent
    side plays 20 ms of queued agent audio (``out_rate`` Hz) per tick. An *underrun* is a tick
    where less than 20 ms is queued while a sentence is still being synthesised and its audio has
    started: the caller would hear a gap mid-utterance. Gaps between sentences are not counted.
    """

    kind: Literal["audio"] = "audio"
    plays_audio = True

    def __init__(self, out_rate: int = 24000) -> None:
        self.caller: dict[str, Any] = {"phone": "+15550100", "id": None, "metadata": {}}
        self.out_rate = out_rate
        self._need = out_rate * FRAME_MS // 1000 * 2
        self._in: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self._buf = bytearray()
        self._drained = asyncio.Event()
        self._drained.set()
        self._played_bytes = 0
        self._resampler: Resampler | None = None
        self.segment_text: str | None = None
        self.synth_active = False
        self._seg_played = False
        self._seg_recorded = False
        self._dry = False
        self.segments: list[SegmentStart] = []
        self.underruns = 0
        self.underrun_ms = 0.0
        self.frames_played = 0

    # ---- TappedTTS hooks
    def begin_segment(self, text: str) -> None:
        """A sentence's synthesis starts."""
        self.segment_text, self.synth_active = text, True
        self._seg_played = self._seg_recorded = False

    def end_segment(self) -> None:
        """The sentence's synthesis ended (all frames handed over, or cancelled)."""
        self.synth_active = False

    # ---- caller side
    def feed(self, pcm: bytes | None) -> None:
        """Deliver one caller frame (None: the caller hangs up)."""
        self._in.put_nowait(None if pcm is None else AudioFrame(pcm, CALLER_RATE))

    async def caller_audio(self) -> AsyncIterator[AudioFrame]:
        while True:
            frame = await self._in.get()
            if frame is None:
                return
            yield frame

    def caller_text(self) -> AsyncIterator[str]:
        raise NotImplementedError("PhoneLine is an audio transport")

    # ---- agent side
    async def play(self, frame: AudioFrame) -> None:
        if not self._seg_recorded:
            self._seg_recorded = True
            self.segments.append(SegmentStart(time.monotonic(), self.segment_text or ""))
        if frame.sample_rate != self.out_rate:
            if self._resampler is None or self._resampler.in_rate != frame.sample_rate:
                self._resampler = Resampler(frame.sample_rate, self.out_rate)
            frame = self._resampler.process(frame)
        self._buf += frame.pcm
        self._drained.clear()

    def play_tick(self) -> None:
        """Play 20 ms of agent audio (called by the pacing task every 20 ms)."""
        if len(self._buf) >= self._need:
            del self._buf[: self._need]
            self._played_bytes += self._need
            self.frames_played += 1
            self._seg_played = True
            self._dry = False
        else:
            if self.synth_active and self._seg_played:
                if not self._dry:
                    self.underruns += 1
                self._dry = True
                self.underrun_ms += FRAME_MS * (1 - len(self._buf) / self._need)
            self._played_bytes += len(self._buf)
            self._buf.clear()
        if not self._buf:
            self._drained.set()

    def idle(self) -> bool:
        """Nothing queued and no sentence being synthesised."""
        return not self._buf and not self.synth_active

    async def clear(self) -> None:
        self._buf.clear()
        self._drained.set()

    async def wait_played(self) -> None:
        while self._buf:
            await self._drained.wait()

    def played_ms(self) -> float:
        return 1000.0 * self._played_bytes / 2 / self.out_rate

    async def show(self, role: str, text: str) -> None:
        return None

    async def aclose(self) -> None:
        self.feed(None)


class TappedTTS:
    """Wraps a TTS so the :class:`PhoneLine` knows which sentence each frame belongs to; frames
    pass through unchanged (one extra async-generator hop per frame).
    """

    def __init__(self, inner: Any, line: PhoneLine) -> None:
        self.inner, self.line = inner, line
        self.name, self.sample_rate = inner.name, inner.sample_rate

    async def synthesize(self, text: str) -> AsyncIterator[AudioFrame]:
        self.line.begin_segment(text)
        frames = self.inner.synthesize(text)
        try:
            async for frame in frames:
                yield frame
        finally:
            self.line.end_segment()
            await frames.aclose()

    async def aclose(self) -> None:
        await self.inner.aclose()
