"""The interface of a realtime speech-to-speech model: caller audio in, agent audio out, one socket.

The speech-to-speech session loop (:mod:`voiceagent.engine.s2s`) knows only these Protocols and
event types, never a provider by name; Smallest Hydra
(:mod:`voiceagent.providers.smallest.hydra`) implements them. The shape follows the realtime
APIs it generalises (Hydra's docs, https://github.com/smallest-inc/smallest-ai-documentation,
``fern/apis/waves/asyncapi/hydra-ws.yaml``; OpenAI Realtime,
https://platform.openai.com/docs/api-reference/realtime): the model detects turns itself,
cancels its own response on barge-in, and asks the client to run tools.

Audio crosses as :class:`voiceagent.audio.AudioFrame` (PCM16 mono LE, explicit rate).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from voiceagent.audio import AudioFrame

__all__ = [
    "ItemDone",
    "RealtimeClosed",
    "RealtimeConfig",
    "RealtimeError",
    "RealtimeEvent",
    "RealtimeS2S",
    "RealtimeSession",
    "ResponseAudio",
    "ResponseAudioDone",
    "ResponseDone",
    "ResponseStarted",
    "SpeechStarted",
    "SpeechStopped",
    "ToolCall",
]


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The caller started speaking; ``audio_start_ms``: ms into the audio the model received."""

    audio_start_ms: float


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    """The caller stopped speaking (the model's end of utterance); ms into the received audio."""

    audio_end_ms: float


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """A response began; audio of any earlier response is stale."""

    response_id: str


@dataclass(frozen=True, slots=True)
class ResponseAudio:
    """Agent audio of ``response_id`` (PCM16 mono LE at the provider's output rate)."""

    response_id: str
    frame: AudioFrame


@dataclass(frozen=True, slots=True)
class ResponseAudioDone:
    """All audio of ``response_id`` was sent."""

    response_id: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model calls ``name`` with ``arguments`` (a JSON string); answer with the ``call_id``."""

    response_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ItemDone:
    """A finished conversation item.

    ``role`` is ``user``/``assistant``/``system``; ``status`` ``completed`` or ``incomplete`` (a
    rejected noise turn); ``text`` is the item's text when the provider sent any (speech-to-speech
    models usually send none for audio).
    """

    item_id: str
    item_type: str
    role: str | None
    status: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """A response ended: ``status`` ``completed``, ``cancelled`` (``reason`` ``interrupted`` on
    barge-in, ``client_cancelled``), ``incomplete`` or ``failed``.
    """

    response_id: str
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class RealtimeError:
    """An error frame (``code``: ``invalid_audio``, ``invalid_frame``, ``tool_response_timeout``,
    ``server_full``, ``internal_error``...); not fatal unless a close follows.
    """

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RealtimeClosed:
    """The socket closed: ``code`` 1000 (idle or normal), 1013 (server full), None (dropped);
    ``by_client``: the client closed it (:meth:`RealtimeSession.aclose`).
    """

    code: int | None
    reason: str
    by_client: bool


RealtimeEvent = (
    SpeechStarted
    | SpeechStopped
    | ResponseStarted
    | ResponseAudio
    | ResponseAudioDone
    | ToolCall
    | ItemDone
    | ResponseDone
    | RealtimeError
    | RealtimeClosed
)
"""What :meth:`RealtimeSession.events` yields."""


@dataclass
class RealtimeConfig:
    """How a session is configured, once, when it opens.

    Attributes:
        instructions: the system prompt (the agent's rendered prompt plus the state's instructions).
        voice: a voice of the model; None lets the server choose.
        tools: OpenAI-shaped tool definitions (``{"type": "function", "function": {...}}``) or
            the provider's own shape; the provider converts.
        generate_initial_response: the model speaks first (the greeting) right after configuring.
    """

    instructions: str
    voice: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    generate_initial_response: bool = False


@runtime_checkable
class RealtimeSession(Protocol):
    """One open speech-to-speech session (one socket, no resume)."""

    async def send_audio(self, frame: AudioFrame) -> None:
        """Caller audio at any rate, silence included (the stream must be continuous)."""
        ...

    async def update_tools(self, tools: Sequence[Mapping[str, Any]]) -> None:
        """Replace the tool list (a flow transition); instructions cannot change mid-session."""
        ...

    async def send_tool_output(self, call_id: str, output: str) -> None:
        """Answer a :class:`ToolCall`; the model then narrates (several outputs get one narration)."""
        ...

    async def cancel_response(self) -> None:
        """Stop the response in flight (a no-op when there is none)."""
        ...

    def events(self) -> AsyncIterator[RealtimeEvent]:
        """Events as they arrive; ends after a :class:`RealtimeClosed`."""
        ...

    async def aclose(self) -> None:
        """Close the socket (idempotent); :meth:`events` then ends with ``RealtimeClosed``."""
        ...


@runtime_checkable
class RealtimeS2S(Protocol):
    """Opens speech-to-speech sessions, one per call (and a new one after a dropped socket).

    ``name``: provider name for the logs (``"smallest-hydra"``); ``model``: the model id;
    ``output_rate``: Hz of the agent audio it yields.
    """

    @property
    def name(self) -> str: ...  # noqa: D102 - see the class docstring

    @property
    def model(self) -> str: ...  # noqa: D102

    @property
    def output_rate(self) -> int: ...  # noqa: D102

    async def connect(self, config: RealtimeConfig) -> RealtimeSession:
        """Open and configure a session; returns once audio can be sent.

        Raises:
            voiceagent.providers.base.ProviderError: refused (``retryable`` when trying again
                may help, e.g. the server is full), or no answer in time.
        """
        ...

    async def aclose(self) -> None:
        """Release shared resources (sessions are closed by their owner)."""
        ...
