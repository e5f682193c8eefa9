"""Reading Pulse server frames in every documented variant.

Sources: the LiveKit and Pipecat Smallest plugins and the Pulse WebSocket reference
(current and legacy endpoint):

- https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/stt-live-ws.yaml
- https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/apis/waves/asyncapi/pulse-stt-ws.yaml

Accepted: ``{"type": "transcription", "transcript": ..., "transcription": ...}`` (unified; both
text fields), legacy frames without ``type`` (LiveKit/Pipecat read ``transcript``/``is_final``
only), frames with only ``transcription``; VAD ``speech_started``/``speech_ended``; error frames
``{"type": "error", "status": "error", "message"}`` and the region variant with ``error_code``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from voiceagent.providers.smallest._common import error_text


@dataclass(frozen=True, slots=True)
class PulseFrame:
    """One server frame, normalised.

    kind: ``transcript``, ``speech_started``, ``speech_ended``, ``error`` or ``other``.
    text: transcript text, stripped (``transcript`` preferred over ``transcription``), or the error
        message for ``error``. language: present on finals only.
    """

    kind: Literal["transcript", "speech_started", "speech_ended", "error", "other"]
    text: str = ""
    is_final: bool = False
    is_last: bool = False
    language: str | None = None


def parse_frame(raw: str | bytes) -> PulseFrame | None:
    """The frame in ``raw`` (a WebSocket text message); ``None`` for non-JSON or binary data."""
    if isinstance(raw, (bytes, bytearray)):
        return None
    try:
        msg = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(msg, dict):
        return None
    kind = msg.get("type")
    if kind == "error" or msg.get("status") == "error":
        return PulseFrame("error", error_text(msg))
    if kind in ("speech_started", "speech_ended"):
        return PulseFrame(kind)
    has_text = "transcript" in msg or "transcription" in msg
    if kind not in (None, "transcription") and not has_text:
        return PulseFrame("other")
    if kind is None and not has_text and "is_final" not in msg:
        return PulseFrame("other")
    text = msg.get("transcript")
    if text is None:
        text = msg.get("transcription")
    return PulseFrame(
        "transcript",
        str(text or "").strip(),
        is_final=bool(msg.get("is_final") or msg.get("is_last")),
        is_last=bool(msg.get("is_last")),
        language=msg.get("language") or None,
    )
