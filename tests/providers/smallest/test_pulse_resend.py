"""The Pulse resend buffer keeps exactly the audio a new connection needs."""

from __future__ import annotations

from voiceagent.providers.smallest._resend import FINALIZE, ResendBuffer


def test_final_without_finalize_drops_everything() -> None:
    buf = ResendBuffer(cap_bytes=1000)
    buf.append(b"a" * 10)
    buf.append(b"b" * 10)
    buf.final_received()
    assert len(buf) == 0 and list(buf.replay()) == []


def test_finalize_mark_keeps_later_audio_and_replays_in_order() -> None:
    buf = ResendBuffer(cap_bytes=1000)
    buf.append(b"a" * 10)
    buf.mark_finalize()
    buf.append(b"b" * 10)
    assert buf.finalize_pending
    assert list(buf.replay()) == [b"a" * 10, FINALIZE, b"b" * 10]
    buf.final_received()
    assert not buf.finalize_pending and list(buf.replay()) == [b"b" * 10]


def test_pending_finalize_at_the_end_is_replayed() -> None:
    buf = ResendBuffer(cap_bytes=1000)
    buf.append(b"a" * 4)
    buf.mark_finalize()
    assert list(buf.replay()) == [b"a" * 4, FINALIZE]


def test_cap_drops_oldest() -> None:
    buf = ResendBuffer(cap_bytes=25)
    for ch in b"abc":
        buf.append(bytes([ch]) * 10)
    assert list(buf.replay()) == [b"b" * 10, b"c" * 10] and len(buf) == 20
