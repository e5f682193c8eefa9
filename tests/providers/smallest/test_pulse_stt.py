"""PulseSTT against the local fake Pulse server (real WebSocket wire protocol)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from voiceagent.audio import AudioFrame, silence
from voiceagent.providers.base import STT, ProviderError, STTEvent, STTStream
from voiceagent.providers.smallest import PulseSTT
from voiceagent.testing.fake_smallest import FakeSmallest, PulseOptions


def speech(ms: float, rate: int = 16000) -> AudioFrame:
    """A loud 300 Hz tone: the fake counts it as speech (RMS well above its threshold)."""
    n = int(rate * ms / 1000)
    t = np.arange(n) / rate
    return AudioFrame((3000 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes(), rate)


async def push(stream, frame: AudioFrame, frame_ms: int = 20) -> None:
    step = frame.sample_rate * frame_ms // 1000 * 2
    for i in range(0, len(frame.pcm), step):
        await stream.push_audio(AudioFrame(frame.pcm[i : i + step], frame.sample_rate))


async def collect(stream, until: str = "closed", timeout: float = 5.0) -> list[STTEvent]:
    events: list[STTEvent] = []

    async def run() -> None:
        async for ev in stream.events():
            events.append(ev)
            if ev.kind == until:
                return

    await asyncio.wait_for(run(), timeout)
    return events


def stt_for(fake: FakeSmallest, **kw) -> PulseSTT:
    return PulseSTT(api_key=fake.api_key, base_url=fake.base_url, **kw)


async def test_partials_finals_and_last_with_params() -> None:
    async with FakeSmallest(
        pulse=PulseOptions(transcripts=["namaste aap kaise hain", "theek hai"], interim_every_ms=100)
    ) as fake:
        stt = stt_for(fake, eou_timeout_ms=500)
        assert isinstance(stt, STT)
        stream = await stt.open(language="hi")
        assert isinstance(stream, STTStream)
        await push(stream, speech(400))
        await stream.finalize()
        first = await collect(stream, until="final")
        await push(stream, speech(200))
        await stream.aclose()
        rest = await collect(stream)

    kinds = [e.kind for e in first]
    assert kinds[0] == "speech_started"
    assert "interim" in kinds and kinds[-1] == "final"
    assert first[-1].text == "namaste aap kaise hain" and first[-1].language == "hi"
    assert all(e.t_ms is not None and e.t_ms > 0 for e in first)
    assert [e.kind for e in rest][-2:] == ["final", "closed"]
    assert rest[-2].text == "theek hai"
    conn = fake.pulse.connections[0]
    assert conn.params == {
        "model": "pulse",
        "language": "hi",
        "sample_rate": "16000",
        "encoding": "linear16",
        "eou_timeout_ms": "500",
        "vad_events": "true",
    }
    assert "authorization" not in conn.headers
    assert {"type": "finalize"} in conn.controls and {"type": "close_stream"} in conn.controls
    assert conn.sent[-1]["is_last"] is True
    assert conn.audio_bytes == 600 * 16 * 2  # 600 ms of 16 kHz PCM16, nothing lost or added


async def test_endpointing_final_without_finalize_and_vad_speech_started() -> None:
    async with FakeSmallest(pulse=PulseOptions(transcripts=["book a table"], endpointing_silence_ms=100)) as fake:
        stream = await stt_for(fake).open(language="en")
        await push(stream, speech(300))
        await push(stream, silence(200, 16000))
        events = await collect(stream, until="final")
        await stream.aclose()
    assert events[0].kind == "speech_started"
    assert events[-1].text == "book a table"
    sent_types = [m.get("type") for m in fake.pulse.connections[0].sent]
    assert "speech_started" in sent_types and "speech_ended" in sent_types
    assert {"type": "finalize"} not in fake.pulse.connections[0].controls


@pytest.mark.parametrize("style", ["legacy", "transcription_only"])
async def test_accepts_frames_without_type_or_with_transcription_field(style: str) -> None:
    async with FakeSmallest(
        pulse=PulseOptions(transcripts=["one two three"], frame_style=style, interim_every_ms=100)
    ) as fake:
        stream = await stt_for(fake, vad_events=False).open(language="en")
        await push(stream, speech(300))
        await stream.finalize()
        events = await collect(stream, until="final")
        await stream.aclose()
    assert events[0].kind == "speech_started"  # from the first interim, no VAD frames
    assert events[1].kind == "interim" and events[1].text == "one"
    assert events[-1].kind == "final" and events[-1].text == "one two three"
    assert fake.pulse.connections[0].params["vad_events"] == "false"


async def test_resamples_and_rechunks_input_audio() -> None:
    async with FakeSmallest() as fake:
        stream = await stt_for(fake).open(language="en-IN")
        await push(stream, speech(500, rate=48000), frame_ms=10)  # 10 ms frames at 48 kHz
        await stream.aclose()
        await collect(stream)
    conn = fake.pulse.connections[0]
    assert conn.params["language"] == "en"
    # 500 ms at 16 kHz once resampled (soxr may hold back a few samples until the flush)
    assert abs(conn.audio_bytes - 16000) <= 64


async def test_401_names_the_variable_and_hides_the_key() -> None:
    async with FakeSmallest(api_key="sk_right_key") as fake:
        stt = PulseSTT(api_key="sk_wrong_secret_123", base_url=fake.base_url)
        with pytest.raises(ProviderError) as info:
            await stt.open(language="en")
    msg = str(info.value)
    assert info.value.status == 401 and "SMALLEST_API_KEY" in msg
    assert "sk_wrong_secret_123" not in msg and "sk_right_key" not in msg


async def test_400_before_upgrade_carries_the_server_message() -> None:
    async with FakeSmallest() as fake:
        stt = stt_for(fake, model="pulse-pro")
        with pytest.raises(ProviderError) as info:
            await stt.open(language="en")
    assert info.value.status == 400
    assert "Pulse Pro has no streaming transport" in str(info.value)


async def test_unsupported_language_is_refused_before_connecting() -> None:
    async with FakeSmallest() as fake:
        with pytest.raises(ProviderError, match="not available for streaming"):
            await stt_for(fake).open(language="sw")
        assert fake.pulse.connections == []


async def test_close_1008_is_a_concurrency_error() -> None:
    async with FakeSmallest(pulse=PulseOptions(close_1008=True)) as fake:
        stream = await stt_for(fake).open(language="en")
        with pytest.raises(ProviderError, match="concurrency limit") as info:
            await collect(stream)
        assert info.value.status == 1008
        with pytest.raises(ProviderError):
            await stream.push_audio(speech(20))
        await stream.aclose()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "error", "status": "error", "message": "Invalid audio encoding"},
        {
            "type": "error",
            "error_code": "LANGUAGE_NOT_ENABLED_IN_REGION",
            "message": "Language 'multi-south-indic' has not been enabled in this region.",
        },
    ],
)
async def test_error_frames_raise_provider_error(frame: dict) -> None:
    async with FakeSmallest(pulse=PulseOptions(error_frame=frame)) as fake:
        stream = await stt_for(fake).open(language="en")
        await push(stream, speech(100))
        with pytest.raises(ProviderError) as info:
            await collect(stream)
        await stream.aclose()
    assert frame["message"] in str(info.value)
    if "error_code" in frame:
        assert "LANGUAGE_NOT_ENABLED_IN_REGION" in str(info.value)


async def test_reconnects_after_a_drop_without_losing_audio() -> None:
    async with FakeSmallest(pulse=PulseOptions(transcripts=["nothing was lost"], disconnect_after_bytes=6400)) as fake:
        stream = await stt_for(fake).open(language="en")
        total = speech(1000)
        await push(stream, total)
        await asyncio.sleep(0.3)  # let the reconnect happen
        await stream.finalize()
        events = await collect(stream, until="final")
        await stream.aclose()
    assert stream.reconnects == 1
    assert len(fake.pulse.connections) == 2 and fake.pulse.connections[0].dropped
    # the new connection got the whole utterance (resent buffer + the rest), exactly once
    assert fake.pulse.connections[1].audio_bytes == len(total.pcm)
    assert events[-1].kind == "final" and events[-1].text == "nothing was lost"


async def test_keepalive_silence_after_idle() -> None:
    async with FakeSmallest() as fake:
        stream = await stt_for(fake, idle_silence_s=0.1).open(language="en")
        await asyncio.sleep(0.35)
        await stream.aclose()
    assert fake.pulse.connections[0].audio_bytes >= 3200  # at least one 100 ms silence frame


async def test_aclose_is_idempotent_and_bounded_without_is_last() -> None:
    async with FakeSmallest() as fake:
        stream = await stt_for(fake, close_timeout_s=0.5).open(language="en")
        await stream.aclose()
        await stream.aclose()
        events = await collect(stream)
    assert events[-1].kind == "closed"
    assert fake.pulse.connections[0].controls.count({"type": "close_stream"}) == 1


async def test_gives_up_when_every_connection_drops() -> None:
    opts = PulseOptions(disconnect_after_bytes=3200, disconnect_times=100)
    async with FakeSmallest(pulse=opts) as fake:
        stream = await stt_for(fake, max_reconnects=2).open(language="en")
        await push(stream, speech(300))
        with pytest.raises(ProviderError, match="keeps dropping"):
            await collect(stream)
        await stream.aclose()
    assert len(fake.pulse.connections) == 3  # the first one and two reconnects


async def test_reconnect_fails_cleanly_when_server_is_gone() -> None:
    fake = await FakeSmallest(pulse=PulseOptions(disconnect_after_bytes=3200)).start()
    stream = await stt_for(fake, max_reconnects=2).open(language="en")
    await fake.aclose()
    await push(stream, speech(300))
    with pytest.raises(ProviderError, match=r"reconnect failed|could not be re-established"):
        await collect(stream)
    await stream.aclose()


async def test_max_streams_limit_closes_the_extra_stream_with_1008() -> None:
    async with FakeSmallest(pulse=PulseOptions(max_streams=1)) as fake:
        first = await stt_for(fake).open(language="en")
        second = await stt_for(fake).open(language="en")
        with pytest.raises(ProviderError, match="1008"):
            await collect(second)
        await push(first, speech(200))
        await first.aclose()
        events = await collect(first)
    assert events[-2].kind == "final" and events[-1].kind == "closed"


async def test_audio_pushed_after_finalize_survives_a_later_drop() -> None:
    # 300 ms + finalize, then the next utterance starts before the first final comes back; the
    # connection drops during the second utterance: all of utterance two must be resent.
    opts = PulseOptions(transcripts=["first", "second"], final_delay_ms=150, disconnect_after_bytes=21000)
    async with FakeSmallest(pulse=opts) as fake:
        stream = await stt_for(fake).open(language="en")
        await push(stream, speech(300))
        await stream.finalize()
        await push(stream, speech(300))
        first = await collect(stream, until="final")
        await push(stream, speech(200))
        await asyncio.sleep(0.3)
        await stream.finalize()
        second = await collect(stream, until="final")
        await stream.aclose()
    assert first[-1].text == "first" and second[-1].text == "second"
    assert fake.pulse.connections[0].dropped
    assert fake.pulse.connections[1].audio_bytes == 500 * 32  # all of utterance two, once


@pytest.mark.parametrize("min_chunk_ms", [20, 40])
async def test_min_chunk_ms_sets_the_binary_frame_size(min_chunk_ms: int) -> None:
    async with FakeSmallest() as fake:
        stream = await stt_for(fake, min_chunk_ms=min_chunk_ms).open(language="en")
        sizes: list[int] = []
        send = stream._link.send_audio

        async def spy(chunk: bytes) -> None:
            sizes.append(len(chunk))
            await send(chunk)

        stream._link.send_audio = spy
        await push(stream, speech(410), frame_ms=20)  # 20 frames of 20 ms, then 10 ms
        await stream.aclose()
        await collect(stream)
    step = 16000 * min_chunk_ms // 1000 * 2
    assert sizes[:-1] == [step] * (len(sizes) - 1)  # every frame sent as soon as it is complete
    assert sum(sizes) == fake.pulse.connections[0].audio_bytes == 410 * 32  # nothing lost
    assert sizes[-1] <= step  # the flushed tail at close


@pytest.mark.parametrize("bad", [10, 101])
def test_min_chunk_ms_outside_the_protocol_range_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="min_chunk_ms"):
        PulseSTT(api_key="sk_x", base_url="http://127.0.0.1:9", min_chunk_ms=bad)


async def test_resend_buffer_is_bounded_to_15_s_by_default() -> None:
    """A silent minute (the agent talks, the call is on hold) keeps at most 15 s = 480 KB at
    16 kHz for a reconnect, not 60 s = 1.9 MB."""
    stt_default = PulseSTT(api_key="sk_x", base_url="http://127.0.0.1:9")
    assert stt_default.max_buffer_s == 15.0 and stt_default.min_chunk_ms == 20
    async with FakeSmallest() as fake:
        stream = await stt_for(fake).open(language="en")
        await push(stream, silence(20_000, 16000), frame_ms=100)  # 20 s, no speech, no final
        held = len(stream._link._resend)
        await stream.aclose()
        await collect(stream)
    assert 14 * 32000 <= held <= 15 * 32000
