"""The API key never reaches an error message or a repr of the Smallest clients."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from voiceagent.audio import AudioFrame
from voiceagent.providers.base import ProviderError
from voiceagent.providers.smallest import LightningTTS, PulseSTT
from voiceagent.providers.smallest._common import scrub
from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions

KEY = "plainkey-0123456789"  # not sk_-shaped: only the exact-value scrub can hide it


def _speech(ms: float, rate: int = 16000) -> AudioFrame:
    t = np.arange(int(rate * ms / 1000)) / rate
    return AudioFrame((3000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes(), rate)


async def test_pulse_error_frame_echoing_the_key_is_scrubbed() -> None:
    frame = {"type": "error", "status": "error", "message": f"bad token {KEY} for this region"}
    async with FakeSmallest(api_key=KEY, pulse=PulseOptions(error_frame=frame)) as fake:
        stt = PulseSTT(api_key=KEY, base_url=fake.base_url)
        stream = await stt.open(language="en")
        pcm = _speech(200)
        for i in range(0, len(pcm.pcm), 640):
            await stream.push_audio(AudioFrame(pcm.pcm[i : i + 640], 16000))

        async def drain() -> None:
            async for _ in stream.events():
                pass

        with pytest.raises(ProviderError) as info:
            await asyncio.wait_for(drain(), 5)
        await stream.aclose()
    message = str(info.value)
    assert "bad token *** for this region" in message
    assert KEY not in message
    assert KEY not in repr(stt) and KEY not in repr(stream._link)


async def test_refused_key_error_names_the_variable_not_the_value() -> None:
    async with FakeSmallest() as fake:  # accepts only sk_test_fake
        with pytest.raises(ProviderError) as info:
            await PulseSTT(api_key=KEY, base_url=fake.base_url).open(language="en")
    assert info.value.status == 401 and "SMALLEST_API_KEY" in str(info.value)
    assert KEY not in str(info.value)


def test_reprs_and_scrub() -> None:
    tts = LightningTTS(api_key=KEY, base_url="http://127.0.0.1:9/waves/v1")
    assert KEY not in repr(tts)
    assert scrub(f"key={KEY}; other sk_live_abcdef123", KEY) == "key=***; other sk_***"
