"""Helpers for transport tests: synthetic WAV files (unique module name: tests have no packages)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def tone(ms: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    """A sine tone as float samples in [-1, 1]."""
    t = np.arange(int(rate * ms / 1000)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def write_pcm_wav(path: Path, samples: np.ndarray, rate: int, *, channels: int = 1, width: int = 2) -> Path:
    """Write float samples (shape (n,) or (n, channels)) as integer PCM of ``width`` bytes."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 1 and channels > 1:
        x = np.repeat(x[:, None], channels, axis=1)
    if width == 1:
        data = np.clip(np.round(x * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    elif width == 2:
        data = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes()
    elif width == 3:
        v = np.clip(np.round(x * 8388607), -8388608, 8388607).astype("<i4").reshape(-1)
        data = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        data = np.clip(np.round(x * 2147483647), -2147483648, 2147483647).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return path


def read_mono(path: Path) -> tuple[np.ndarray, int, int]:
    """(int16 samples, rate, channels) of a PCM16 WAV."""
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate(), w.getnchannels()
