"""Issue 10 class 8: caller recordings of any length stream in bounded memory, and a lying WAV
header is a clear error (not ``error: MemoryError``).
"""

from __future__ import annotations

import struct
import tracemalloc
import wave
from pathlib import Path

import numpy as np
from faults_helpers import run_cli
from voiceagent.audio import AudioFrame
from voiceagent.transports.wav import WavFormatError, WavTransport

AGENT = """\
version: 1
name: wav
prompt: You help callers.
llm: {provider: openai, base_url: "http://127.0.0.1:9/v1", model: tiny}
stt: {provider: smallest}
tts: {provider: smallest}
"""


def wav_header(data_bytes: int, rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    """A canonical 44-byte RIFF/WAVE PCM header declaring ``data_bytes`` of audio."""
    riff = min(36 + data_bytes, 0xFFFFFFFF)
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * width, channels * width, width * 8)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def sparse_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    """A WAV of ``seconds`` of silence that takes no disk space (a sparse file)."""
    data = int(seconds * rate) * 2
    with path.open("wb") as f:
        f.write(wav_header(data, rate))
        f.truncate(44 + data)
    return path


async def test_a_two_hour_recording_streams_in_bounded_memory(tmp_path):
    wav = sparse_wav(tmp_path / "two_hours.wav", 2 * 3600)  # 230 MB of PCM16 at 16 kHz
    tracemalloc.start()
    try:
        t = WavTransport(wav, tmp_path / "agent.wav", fast=True, hold_after_ms=None)
        assert abs(t.caller_speech_ms - 2 * 3600 * 1000) < 1
        frames = 0
        async for frame in t.caller_audio():
            assert frame.sample_rate == 16000 and len(frame.pcm) == 640
            frames += 1
            if frames == 30 * 50:  # 30 s of caller audio
                break
        await t.play(AudioFrame(b"\x01\x00" * 24000, 24000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


async def test_the_agent_file_and_recording_are_written_in_bounded_memory(tmp_path):
    """20 minutes of caller timeline: the agent file is padded to it and the stereo recording
    built from both files chunk by chunk (40 MB of caller audio never in memory at once)."""
    wav = sparse_wav(tmp_path / "long.wav", 20 * 60)
    out, rec = tmp_path / "agent.wav", tmp_path / "rec.wav"
    t = WavTransport(wav, out, fast=True, hold_after_ms=None, recording_path=rec, trailing_silence_ms=0)
    await t.play(AudioFrame((np.full(16000, 1000, "<i2")).tobytes(), 16000))
    tracemalloc.start()
    try:
        await t.aclose()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    with wave.open(str(out)) as w:
        assert w.getnframes() == 20 * 60 * 16000
        first = np.frombuffer(w.readframes(16000), "<i2")
    assert (first == 1000).all()  # the reply sits at the start of the timeline
    with wave.open(str(rec)) as w:
        assert w.getnchannels() == 2 and w.getnframes() == 20 * 60 * 16000


async def test_streamed_audio_equals_the_whole_file_read(tmp_path):
    """Streaming (chunked, resampled 22.05 -> 16 kHz) gives the audio the one-shot read gives."""
    from voiceagent.transports.wav import read_wav

    rate = 22050
    x = (8000 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate)).astype("<i2")
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.tobytes())
    t = WavTransport(path, tmp_path / "o.wav", fast=True, hold_after_ms=None, trailing_silence_ms=0)
    streamed = np.concatenate([f.to_numpy() async for f in t.caller_audio()])
    whole = read_wav(path, 16000).to_numpy()
    n = min(len(streamed), len(whole))
    assert abs(len(streamed) - len(whole)) <= 2
    assert np.max(np.abs(streamed[:n].astype(int) - whole[:n].astype(int))) < 200  # same signal


def test_a_header_claiming_4_gb_is_a_clear_error(tmp_path):
    path = tmp_path / "liar.wav"
    path.write_bytes(wav_header(0xFFFFFF00) + b"\x00" * 10_000)
    try:
        WavTransport(path, tmp_path / "o.wav")
    except WavFormatError as exc:
        message = str(exc)
    else:
        raise AssertionError("a 4 GB header on a 10 KB file was accepted")
    assert str(path) in message and "4.0 GB" in message and "ffmpeg" in message


async def test_cli_a_header_claiming_4_gb_is_one_line_and_exit_1(tmp_path):
    agent = tmp_path / "agent.yaml"
    agent.write_text(AGENT)
    path = tmp_path / "liar.wav"
    path.write_bytes(wav_header(0xFFFFFF00) + b"\x00" * 10_000)
    env = {"SMALLEST_API_KEY": "sk_test_unused", "SMALLEST_BASE_URL": "http://127.0.0.1:9/waves/v1"}
    code, _, err, _ = await run_cli(
        [str(agent), "--input", str(path), "--output", str(tmp_path / "o.wav")], env=env, timeout=60
    )
    assert code == 1, err
    assert "MemoryError" not in err and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "claims 4.0 GB" in line and "liar.wav" in line


async def test_a_long_silent_stretch_before_a_reply_is_not_held_in_memory(tmp_path):
    """20 minutes of caller audio pass before the agent speaks: the silence in front of the reply
    goes straight to the file (it was once a 58 MB bytearray at 24 kHz)."""
    wav = sparse_wav(tmp_path / "long.wav", 25 * 60)
    out = tmp_path / "agent.wav"
    t = WavTransport(wav, out, fast=True, hold_after_ms=None, trailing_silence_ms=0)
    frames = 0
    async for _ in t.caller_audio():
        frames += 1
        if frames == 20 * 60 * 50:
            break
    tracemalloc.start()
    try:
        await t.play(AudioFrame(np.full(24000, 1000, "<i2").tobytes(), 24000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    await t.aclose()
    with wave.open(str(out)) as w:
        assert w.getframerate() == 24000 and w.getnframes() == 25 * 60 * 24000
        w.setpos(20 * 60 * 24000)
        reply = np.frombuffer(w.readframes(24000), "<i2")
    assert (reply == 1000).all()  # the reply sits at the caller position, 20 minutes in
