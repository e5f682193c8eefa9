"""The interface between the session loop and the outside world of one call.

A transport carries either caller **audio** (``kind == "audio"``: microphone, WAV file, telephony)
or caller **text** (``kind == "text"``: a terminal or piped stdin). Agent output goes back as
PCM16 mono little-endian frames (``play``) and/or text (``show``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, runtime_checkable

from voiceagent.audio import AudioFrame


@runtime_checkable
class Transport(Protocol):
    """One call's input and output.

    kind: ``"audio"`` when :meth:`caller_audio` yields frames, ``"text"`` when :meth:`caller_text`
        yields lines.
    caller: transport metadata exposed to templates as ``caller`` (``phone``, ``id``, ``metadata``).
    plays_audio: whether :meth:`play` goes somewhere (a speaker, a file); when False the session
        may skip TTS.
    """

    @property
    def kind(self) -> Literal["audio", "text"]: ...  # noqa: D102 - see the class docstring

    @property
    def caller(self) -> dict[str, Any]: ...  # noqa: D102

    @property
    def plays_audio(self) -> bool: ...  # noqa: D102

    def caller_audio(self) -> AsyncIterator[AudioFrame]:
        """Caller audio frames (20 ms typical), paced as the caller speaks; ends when the caller hangs up."""

    def caller_text(self) -> AsyncIterator[str]:
        """Caller utterances as text, one per turn; ends at end of input."""

    async def play(self, frame: AudioFrame) -> None:
        """Queue agent audio for playback (any rate; the transport converts)."""

    async def clear(self) -> None:
        """Barge-in: drop agent audio queued but not yet played."""

    async def wait_played(self) -> None:
        """Return when all queued agent audio has been played (for ending the call after last words)."""

    def played_ms(self) -> float:
        """Milliseconds of agent audio actually played so far in this call (for barge-in truncation)."""

    async def show(self, role: Literal["agent", "caller", "system"], text: str) -> None:
        """Show text to the person (terminal) or ignore it (audio-only transports)."""

    async def aclose(self) -> None:
        """Finish: flush files, release devices."""
