"""The telephony transports on their own: hostile frames, marks -> played_ms, clear, wait_played,
Exotel's chunk sizes. No server: the transport's send is a list."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from voiceagent.audio import AudioFrame
from voiceagent.transports import media_stream
from voiceagent.transports.exotel import ExotelTransport
from voiceagent.transports.twilio import TwilioTransport
from voiceagent.transports.websocket import WebSocketTransport

TWILIO_START = {
    "event": "start",
    "streamSid": "MZ1",
    "start": {"streamSid": "MZ1", "callSid": "CA1", "customParameters": {"From": "+15550001111", "To": "+1555"}},
}


def tone(ms: float, rate: int) -> AudioFrame:
    return AudioFrame(b"\x10\x20" * int(rate * ms / 1000), rate)


def make(cls=TwilioTransport, **kw):
    sent: list[dict] = []

    async def send(text: str) -> None:
        sent.append(json.loads(text))

    return cls(send, **kw), sent


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[]",
        "42",
        json.dumps({"event": "media", "media": {"payload": "AAAA"}}),  # before start
        json.dumps({"event": "start"}),
        json.dumps({"event": "start", "start": {"callSid": "CA1"}}),  # no streamSid
        json.dumps({"event": "start", "start": "x"}),
        json.dumps({"event": "mark", "mark": "x"}),
        json.dumps({"event": "dtmf", "dtmf": 5}),
        json.dumps({"event": None}),
        json.dumps({"event": "unknown-future-event", "x": 1}),
    ],
)
async def test_hostile_frames_before_start_are_ignored(frame):
    t, sent = make()
    t.handle(frame)
    assert t.start is None and sent == []
    t.handle(json.dumps(TWILIO_START))
    assert t.start is not None and t.caller["phone"] == "+15550001111" and t.caller["id"] == "CA1"


async def test_hostile_media_frames_never_reach_the_stt():
    t, _ = make()
    t.handle(json.dumps(TWILIO_START))
    for payload in ("!!not base64!!", 7, None, ""):
        t.handle(json.dumps({"event": "media", "media": {"payload": payload}}))
    t.handle(json.dumps({"event": "media", "media": {"payload": "AAAA", "track": "outbound"}}))
    t.handle(json.dumps({"event": "media", "media": "x"}))
    t.handle(json.dumps({"event": "media", "media": {"payload": base64.b64encode(b"\xff" * 160).decode()}}))
    t.handle(json.dumps({"event": "stop"}))
    frames = [f async for f in t.caller_audio()]
    assert [(len(f.pcm), f.sample_rate) for f in frames] == [(320, 8000)]


async def test_exotel_odd_payload_and_bad_rate():
    t, _ = make(ExotelTransport)
    t.handle(json.dumps({"event": "start", "start": {"stream_sid": "S", "media_format": {"sample_rate": "44100"}}}))
    assert t.start is None  # refused rate: no call
    t.handle(
        json.dumps(
            {"event": "start", "start": {"stream_sid": "S", "from": "0981", "media_format": {"sample_rate": "16000"}}}
        )
    )
    assert t.sample_rate == 16000 and t.caller["phone"] == "0981"
    t.handle(json.dumps({"event": "media", "media": {"payload": base64.b64encode(b"\x01\x02\x03").decode()}}))
    t.handle(json.dumps({"event": "stop"}))
    frames = [f async for f in t.caller_audio()]
    assert [len(f.pcm) for f in frames] == [2]


async def test_websocket_start_rejects_an_unsupported_rate():
    t, _ = make(WebSocketTransport)
    t.handle(json.dumps({"event": "start", "start": {"sample_rate": 12345}}))
    assert t.start is None
    t.handle(json.dumps({"event": "start", "start": {"sample_rate": "abc"}}))
    assert t.start is None


async def test_marks_drive_played_ms_and_clear_forgets_unplayed_audio():
    t, sent = make()
    t.handle(json.dumps(TWILIO_START))
    for _ in range(3):
        await t.play(tone(100, 8000))
    marks = [m["mark"]["name"] for m in sent if m["event"] == "mark"]
    assert len(marks) == 3 and [m["event"] for m in sent] == ["media", "mark"] * 3
    assert t.played_ms() == 0.0
    t.handle(json.dumps({"event": "mark", "mark": {"name": marks[1]}}))  # in order: 1 and 2 played
    assert t.played_ms() == pytest.approx(200.0)
    await t.clear()
    assert sent[-1] == {"event": "clear", "streamSid": "MZ1"}
    t.handle(json.dumps({"event": "mark", "mark": {"name": marks[2]}}))  # echoed after clear: not heard
    assert t.played_ms() == pytest.approx(200.0)
    t.handle(json.dumps({"event": "mark", "mark": {"name": "someone-elses"}}))
    assert t.played_ms() == pytest.approx(200.0)


async def test_wait_played_returns_on_marks_or_after_the_grace(monkeypatch):
    t, sent = make()
    t.handle(json.dumps(TWILIO_START))
    await t.play(tone(100, 8000))
    name = sent[-1]["mark"]["name"]
    waiter = asyncio.create_task(t.wait_played())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    t.handle(json.dumps({"event": "mark", "mark": {"name": name}}))
    await asyncio.wait_for(waiter, 1)
    # a client that never echoes marks: counted as played after the audio's time + the grace
    monkeypatch.setattr(media_stream, "MARK_GRACE_S", 0.1)
    await t.play(tone(100, 8000))
    await asyncio.wait_for(t.wait_played(), 2)
    assert t.played_ms() == pytest.approx(200.0)


async def test_playback_stops_when_the_caller_hangs_up():
    t, sent = make()
    t.handle(json.dumps(TWILIO_START))
    await t.play(tone(100, 8000))
    waiter = asyncio.create_task(t.wait_played())
    t.handle(json.dumps({"event": "stop"}))
    await asyncio.wait_for(waiter, 1)
    n = len(sent)
    await t.play(tone(100, 8000))
    await t.clear()
    assert len(sent) == n  # nothing more is sent to a gone caller


async def test_agent_audio_is_resampled_to_the_wire_rate_and_mulaw_encoded():
    t, sent = make()
    t.handle(json.dumps(TWILIO_START))
    await t.play(tone(200, 24000))
    media = [base64.b64decode(m["media"]["payload"]) for m in sent if m["event"] == "media"]
    # ~200 ms of 8 kHz mu-law, one byte a sample (the streaming resampler holds back a few ms)
    assert 1400 <= sum(len(p) for p in media) <= 1600


async def test_exotel_chunks_are_at_least_3200_bytes_in_multiples_of_320():
    t, sent = make(ExotelTransport)
    t.handle(json.dumps({"event": "start", "start": {"stream_sid": "S", "media_format": {"sample_rate": "8000"}}}))
    for _ in range(5):
        await t.play(tone(100, 8000))  # 1600 bytes each: joined two by two
    await asyncio.sleep(media_stream.COALESCE_S * 3)  # the tail goes out on its own
    sizes = [len(base64.b64decode(m["media"]["payload"])) for m in sent if m["event"] == "media"]
    assert sizes == [3200, 3200, 1600]
    assert all(s % 320 == 0 for s in sizes)
    assert all(m["stream_sid"] == "S" for m in sent)
