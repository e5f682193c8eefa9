"""Every documented Pulse frame variant is understood."""

from __future__ import annotations

import json

import pytest
from voiceagent.providers.smallest._pulse_frames import PulseFrame, parse_frame


@pytest.mark.parametrize(
    "msg, expected",
    [
        (
            {
                "type": "transcription",
                "status": "success",
                "session_id": "s",
                "transcript": "Hi, how",
                "transcription": "Hi, how",
                "is_final": False,
                "is_last": False,
            },
            PulseFrame("transcript", "Hi, how"),
        ),
        (
            {"transcript": "Should I do it? ", "is_final": True, "is_last": False, "language": "en"},
            PulseFrame("transcript", "Should I do it?", True, False, "en"),
        ),
        (
            {
                "type": "transcription",
                "transcription": "Goodbye!",
                "is_final": True,
                "is_last": True,
                "language": "hi",
                "languages": ["hi"],
            },
            PulseFrame("transcript", "Goodbye!", True, True, "hi"),
        ),
        (
            {"type": "transcription", "transcript": "", "is_final": True, "is_last": True},
            PulseFrame("transcript", "", True, True),
        ),
        ({"type": "speech_started", "session_id": "a", "timestamp": 1.84}, PulseFrame("speech_started")),
        ({"type": "speech_ended", "session_id": "a", "timestamp": 4.52}, PulseFrame("speech_ended")),
        ({"type": "error", "status": "error", "message": "boom"}, PulseFrame("error", "boom")),
        (
            {"type": "error", "error_code": "LANGUAGE_NOT_ENABLED_IN_REGION", "message": "no"},
            PulseFrame("error", "no; [LANGUAGE_NOT_ENABLED_IN_REGION]"),
        ),
        ({"type": "metadata", "foo": 1}, PulseFrame("other")),
    ],
)
def test_parse_frame(msg: dict, expected: PulseFrame) -> None:
    assert parse_frame(json.dumps(msg)) == expected


def test_non_json_and_binary_are_ignored() -> None:
    assert parse_frame("not json") is None
    assert parse_frame(b"\x00\x01") is None
    assert parse_frame("[1, 2]") is None
