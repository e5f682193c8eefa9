"""The interfaces every provider implements. The session loop knows only these.

Audio crosses these interfaces as :class:`voiceagent.audio.AudioFrame` (PCM16 mono
little-endian with an explicit sample rate). Messages and tool definitions use the OpenAI
chat-completions shapes (https://platform.openai.com/docs/api-reference/chat), which Electron,
llama.cpp's server and every OpenAI-compatible endpoint accept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast, runtime_checkable

from voiceagent.audio import AudioFrame


class ProviderError(Exception):
    """A provider failed in a way the caller should hear about (auth, bad request, closed socket).

    The message never contains an API key. ``retryable`` says whether trying again may help.
    """

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


# --------------------------------------------------------------------------- STT


@dataclass(frozen=True, slots=True)
class STTEvent:
    """One event from a streaming STT.

    kind:
        ``speech_started``: the caller started speaking (drives barge-in);
        ``interim``: a partial transcript that may still change;
        ``final``: the end of an utterance (EOU) with its final ``text``;
        ``closed``: the stream ended (after :meth:`STTStream.aclose`, or the server closed it).
    t_ms: when the provider reported it, in ms on the session clock (``time.monotonic`` based),
        filled by the provider from the moment it received the event.
    """

    kind: Literal["speech_started", "interim", "final", "closed"]
    text: str = ""
    language: str | None = None
    t_ms: float | None = None


@runtime_checkable
class STTStream(Protocol):
    """One caller's audio stream to a streaming STT."""

    async def push_audio(self, frame: AudioFrame) -> None:
        """Send caller audio (any rate: the stream resamples to its own rate if needed)."""

    async def finalize(self) -> None:
        """Ask for the pending audio to be finalised now (a turn boundary)."""

    async def aclose(self) -> None:
        """Flush, wait for the last transcript, and close. Idempotent."""

    def events(self) -> AsyncIterator[STTEvent]:
        """Events as they arrive; ends after a ``closed`` event."""


@runtime_checkable
class STT(Protocol):
    """A streaming speech-to-text provider.

    ``name``: provider name for the logs; ``sample_rate``: the rate (Hz) it wants its input at.
    """

    @property
    def name(self) -> str: ...  # noqa: D102 - see the class docstring

    @property
    def sample_rate(self) -> int: ...  # noqa: D102

    async def open(self, *, language: str) -> STTStream:
        """Open one stream for a call in ``language`` (BCP-47 such as ``en``, ``hi``)."""


# --------------------------------------------------------------------------- LLM


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of assistant text as it streams."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """One complete tool call requested by the LLM. ``arguments`` is the raw JSON string."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one completion, and the provider's request id when it sent one."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    request_id: str | None = None


LLMEvent = TextDelta | ToolCallRequest | Usage


@dataclass(slots=True)
class ChatRequest:
    """One chat-completions request.

    messages: OpenAI-format message dicts (``role``, ``content``, ``tool_calls``, ``tool_call_id``).
    tools: OpenAI-format tool definitions (``{"type": "function", "function": {...}}``).
    tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a forced function.
    instructions: the current flow state's rendered instructions (already part of the system
        message); an LLM that writes its own prompt (structured turns) puts them first.
    closing: names of the offered functions that end the call: builtin ``end_call`` tools and
        ``go_to_<state>`` transitions into a final state; a small-model wrapper may refuse a
        call of one the caller's words do not ask for, or make it when they clearly do.
    handoffs: names of the offered builtin ``transfer`` tools (to a person), for the same use.
    """

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    temperature: float = 0.3
    max_tokens: int = 300
    instructions: str | None = None
    closing: tuple[str, ...] = ()
    handoffs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LLMCapabilities:
    """The optional features an LLM declares (the session uses a feature only when declared).

    The pattern of livekit/agents' ``LLMCapabilities``
    (https://docs.livekit.io/reference/python/v1/livekit/agents/llm/llm.html): a provider states
    what it can do instead of the session probing it with ``getattr``.

    Attributes:
        warm_up: the LLM has ``async warm_up(request) -> seconds`` (:class:`SupportsWarmUp`): it
            pre-fills its prompt cache / connection while the greeting plays.
        prestart: the LLM has ``prestart() -> None`` (:class:`SupportsPrestart`): start loading a
            model server in the background before the call starts.
        prefill: the LLM has ``async prefill(request) -> seconds`` (:class:`SupportsPrefill`):
            evaluate a prompt prefix ahead of the final transcript.
    """

    warm_up: bool = False
    prestart: bool = False
    prefill: bool = False


NO_CAPABILITIES = LLMCapabilities()
"""An LLM without optional features."""


@runtime_checkable
class LLM(Protocol):
    """A streaming chat LLM with tool calling.

    ``name``: provider name for the logs (``"electron"``, ``"local"``); ``model``: the model id;
    ``capabilities``: the optional features it implements (:class:`LLMCapabilities`).
    """

    @property
    def name(self) -> str: ...  # noqa: D102 - see the class docstring

    @property
    def model(self) -> str: ...  # noqa: D102

    @property
    def capabilities(self) -> LLMCapabilities: ...  # noqa: D102

    def stream(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        """Stream the reply: ``TextDelta`` pieces, then any ``ToolCallRequest`` (complete, after the
        text), then one ``Usage``. Raises :class:`ProviderError` on failure. Cancelling the
        consuming task stops the request.
        """

    async def aclose(self) -> None:
        """Release connections."""


class SupportsWarmUp(Protocol):
    """An LLM declaring ``capabilities.warm_up``."""

    async def warm_up(self, request: ChatRequest) -> float:
        """Pre-fill the prompt cache (or connection) with ``request``'s prefix; returns seconds taken."""


class SupportsPrestart(Protocol):
    """An LLM declaring ``capabilities.prestart``."""

    def prestart(self) -> None:
        """Start loading in the background (returns at once)."""


class SupportsPrefill(Protocol):
    """An LLM declaring ``capabilities.prefill``."""

    async def prefill(self, request: ChatRequest) -> float:
        """Evaluate ``request`` ahead of time (no reply); returns seconds taken."""


def warm_up_of(llm: LLM) -> SupportsWarmUp | None:
    """``llm`` as a :class:`SupportsWarmUp` when it declares ``capabilities.warm_up``, else None."""
    return cast(SupportsWarmUp, llm) if llm.capabilities.warm_up else None


def prestart_of(llm: LLM) -> SupportsPrestart | None:
    """``llm`` as a :class:`SupportsPrestart` when it declares ``capabilities.prestart``, else None."""
    return cast(SupportsPrestart, llm) if llm.capabilities.prestart else None


def prefill_of(llm: LLM) -> SupportsPrefill | None:
    """``llm`` as a :class:`SupportsPrefill` when it declares ``capabilities.prefill``, else None."""
    return cast(SupportsPrefill, llm) if llm.capabilities.prefill else None


# --------------------------------------------------------------------------- TTS


@runtime_checkable
class TTS(Protocol):
    """A text-to-speech provider that streams audio for one piece of text at a time.

    ``name``: provider name for the logs; ``sample_rate``: the rate (Hz) of the frames it yields.
    """

    @property
    def name(self) -> str: ...  # noqa: D102 - see the class docstring

    @property
    def sample_rate(self) -> int: ...  # noqa: D102

    def synthesize(self, text: str) -> AsyncIterator[AudioFrame]:
        """Audio for ``text`` (usually one sentence) as it is produced. Closing the iterator
        (or cancelling its task) stops synthesis at once: that is how barge-in cancels TTS.
        Raises :class:`ProviderError` on failure.
        """

    async def aclose(self) -> None:
        """Release connections and models."""


@runtime_checkable
class MultilingualTTS(Protocol):
    """A TTS that speaks each request in a language given with it (agents with ``languages``:
    the caller switches, and the voice follows; Lightning sends ``language`` per request).
    """

    def synthesize_in(self, text: str, language: str) -> AsyncIterator[AudioFrame]:
        """Like :meth:`TTS.synthesize`, spoken in ``language`` (BCP-47 such as ``hi``, ``en``)."""


def multilingual_of(tts: TTS | None) -> MultilingualTTS | None:
    """``tts`` as a :class:`MultilingualTTS` when it implements ``synthesize_in``, else None."""
    return tts if isinstance(tts, MultilingualTTS) else None
