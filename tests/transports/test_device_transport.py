"""DeviceTransport and has_audio_devices against a stand-in ``sounddevice`` module (no hardware)."""

from __future__ import annotations

import sys
import threading
import types
from typing import ClassVar

import numpy as np
import pytest
from voiceagent.audio import AudioFrame
from voiceagent.transports.base import Transport
from voiceagent.transports.device import DeviceTransport, has_audio_devices


class FakeStream:
    """Drives the callback on a thread the way PortAudio does, for a fixed number of blocks."""

    instances: ClassVar[list[FakeStream]] = []

    def __init__(self, *, samplerate, blocksize, channels, dtype, callback, output: bool, blocks: int = 5):
        self.samplerate, self.blocksize, self.callback, self.output = samplerate, blocksize, callback, output
        self.blocks = blocks
        self.written = bytearray()
        self.started = self.closed = False
        FakeStream.instances.append(self)

    def start(self):
        self.started = True
        if not self.output:

            def run():
                for i in range(self.blocks):
                    self.callback(np.full(self.blocksize, i, dtype="<i2").tobytes(), self.blocksize, None, None)

            threading.Thread(target=run, daemon=True).start()

    def pull(self, blocks: int):
        for _ in range(blocks):
            buf = bytearray(self.blocksize * 2)
            self.callback(buf, self.blocksize, None, None)
            self.written.extend(buf)

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


@pytest.fixture
def fake_sd(monkeypatch):
    FakeStream.instances.clear()
    mod = types.ModuleType("sounddevice")
    mod.RawInputStream = lambda **kw: FakeStream(output=False, **kw)
    mod.RawOutputStream = lambda **kw: FakeStream(output=True, **kw)
    mod.query_devices = lambda kind=None: {"name": "fake", f"max_{kind}_channels": 2, "default_samplerate": 48000.0}
    monkeypatch.setitem(sys.modules, "sounddevice", mod)
    return mod


def test_has_audio_devices_with_and_without_devices(fake_sd, monkeypatch):
    assert has_audio_devices() is True
    fake_sd.query_devices = lambda kind=None: {"name": "none", f"max_{kind}_channels": 0}
    assert has_audio_devices() is False

    def boom(kind=None):
        raise OSError("PortAudio library not found")

    fake_sd.query_devices = boom
    assert has_audio_devices() is False
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    assert has_audio_devices() is False


async def test_microphone_frames_are_20ms_pcm16(fake_sd):
    t = DeviceTransport(sample_rate=16000, input_rate=16000)
    assert isinstance(t, Transport) and t.kind == "audio"
    frames = []
    async for f in t.caller_audio():
        frames.append(f)
        if len(frames) == 5:
            break
    assert [f.samples for f in frames] == [320] * 5
    assert [int(f.to_numpy()[0]) for f in frames] == [0, 1, 2, 3, 4]
    await t.aclose()
    assert FakeStream.instances[0].closed


async def test_microphone_at_the_device_rate_is_resampled_to_exact_frames(fake_sd):
    t = DeviceTransport(sample_rate=16000)  # the fake device runs at 48 kHz
    frames = []
    async for f in t.caller_audio():
        frames.append(f)
        if len(frames) == 3:
            break
    mic = FakeStream.instances[0]
    assert mic.samplerate == 48000 and mic.blocksize == 960
    assert all(f.sample_rate == 16000 and f.samples == 320 for f in frames)
    await t.aclose()


async def test_speaker_queue_played_ms_and_clear(fake_sd):
    t = DeviceTransport(output_rate=24000)  # an explicit speaker rate: no resampling
    tone = (np.arange(24000 // 10) % 100 + 1).astype("<i2")  # 100 ms, never zero
    await t.play(AudioFrame(tone.tobytes(), 24000))
    out = FakeStream.instances[-1]
    out.pull(2)  # speaker takes 2 x 20 ms
    assert t.played_ms() == pytest.approx(40)
    assert np.array_equal(np.frombuffer(bytes(out.written), "<i2"), tone[:960])
    await t.clear()  # barge-in: the remaining 60 ms are dropped
    out.pull(1)
    assert t.played_ms() == pytest.approx(40)
    assert not np.frombuffer(bytes(out.written), "<i2")[960:].any()  # silence after the clear
    await t.wait_played()
    await t.aclose()
    assert out.closed


async def test_missing_sounddevice_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    t = DeviceTransport()
    with pytest.raises(RuntimeError, match="--text"):
        await t.play(AudioFrame(b"\x01\x00" * 10, 24000))


async def test_speaker_opens_at_the_device_rate_and_resamples(fake_sd):
    t = DeviceTransport()
    await t.play(AudioFrame((np.ones(2400) * 1000).astype("<i2").tobytes(), 24000))  # 100 ms at 24 kHz
    out = FakeStream.instances[-1]
    assert out.samplerate == 48000 and t.output_rate == 48000
    out.pull(2)
    assert t.played_ms() == pytest.approx(40)
    played = np.frombuffer(bytes(out.written), "<i2")
    assert np.abs(played[200:1800] - 1000).max() < 20  # the same level, twice the samples
    await t.aclose()
