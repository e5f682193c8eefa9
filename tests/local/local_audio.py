"""Helpers for the offline speech stack tests: sample recordings and package skips."""

from __future__ import annotations

import wave
from pathlib import Path

from optional_deps import require_local
from voiceagent.audio import AudioFrame

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def need_modules(*modules: str) -> None:
    """Skip the calling test, naming the packages of the [local] extra that are missing."""
    require_local(*modules)


def read_wav(name: str) -> AudioFrame:
    """A recording from samples/ as one 16 kHz PCM16 frame."""
    with wave.open(str(SAMPLES / name)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return AudioFrame(w.readframes(w.getnframes()), w.getframerate())


def chunks(frame: AudioFrame, ms: int = 20) -> list[AudioFrame]:
    """``frame`` cut into frames of ``ms`` milliseconds, as a transport would push them."""
    step = 2 * frame.sample_rate * ms // 1000
    return [AudioFrame(frame.pcm[i : i + step], frame.sample_rate) for i in range(0, len(frame.pcm), step)]
