"""Agent models of how the agent hears, thinks and speaks: ``voice``, ``stt``, ``llm``, ``tts``, ``behaviour``.

Part of the agent definition format (:mod:`voiceagent.config.models`; docs/agent-reference.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from voiceagent.config.model_base import StrictModel, provider_value
from voiceagent.providers.table import provider_description, provider_names


class Voice(StrictModel):
    """How the agent sounds: which voice of the text-to-speech provider, and how fast it speaks."""

    id: str = Field(
        description="Name of the voice at the text-to-speech provider (each provider has its own list of voices).",
        examples=["meher"],
    )
    speed: float = Field(
        1.0,
        ge=0.5,
        le=2.0,
        description="Speaking speed: 1.0 is normal, 0.5 is half as fast, 2.0 twice as fast.",
        examples=[1.0],
    )


def _keyword(value: str) -> str:
    """One recognizer keyword: a word or short phrase, at most 50 characters, no comma or colon
    (Pulse's list syntax is ``Word:2,Other``, so either would change the list).
    """
    value = " ".join(value.split())
    if not value or len(value) > 50 or "," in value or ":" in value:
        raise PydanticCustomError(
            "keyword",
            "not a keyword: write one word or short phrase of at most 50 characters, without commas or colons "
            "(one list entry each: [Pune, Northwind Bank])",
        )
    return value


class STTConfig(StrictModel):
    """Speech-to-text: the service that turns what the caller says into text."""

    provider: Annotated[str, provider_value("stt")] = Field(
        "auto",
        description=provider_description("stt"),
        examples=["auto"],
        json_schema_extra={"enum": list(provider_names("stt"))},
    )
    model: str | None = Field(
        None,
        description=(
            "Model name at that service; empty means the provider's default. The embedded offline recognizer has "
            "base (the default) and tiny.en (smaller and faster, hears less)."
        ),
        examples=["pulse", "tiny.en"],
    )
    base_url: str | None = Field(
        None,
        description=(
            "Different web address for the service (for proxies or self-hosted servers); empty means the standard one."
        ),
        examples=["https://api.smallest.ai/waves/v1"],
    )
    eou_timeout_ms: int = Field(
        600,
        ge=100,
        le=10000,
        description=(
            "How long the caller must be silent, in milliseconds, before the agent treats their sentence as finished."
        ),
        examples=[600],
    )
    sentence_eou_ms: int | None = Field(
        None,
        ge=100,
        le=10000,
        description=(
            'Embedded recognizer only: when the words heard so far already end a sentence ("What\'s my balance?"), '
            "the silence that ends the turn, in milliseconds, instead of eou_timeout_ms. Faster replies, but a caller "
            "who pauses between two sentences is answered after the first."
        ),
        examples=[300],
    )
    keywords: list[Annotated[str, AfterValidator(_keyword)]] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "Words and names your callers say that speech recognition should prefer when it is unsure: "
            "cities, product and company names (Pune, Northwind). At most 100, each a word or a short phrase "
            "without commas or colons. Smallest Pulse gets them as its keywords, the embedded recognizer as "
            "the text before each utterance."
        ),
        examples=[["Northwind", "Pune", "Bengaluru"]],
    )


class LLMConfig(StrictModel):
    """The language model: the "brain" that decides what the agent says and which tools it uses."""

    provider: Annotated[str, provider_value("llm")] = Field(
        "auto",
        description=provider_description("llm"),
        examples=["auto"],
        json_schema_extra={"enum": list(provider_names("llm"))},
    )
    model: str | None = Field(
        None, description="Model name at that service; empty means the provider's default.", examples=["electron"]
    )
    base_url: str | None = Field(
        None,
        description=(
            "Different web address for the service, for any provider (e.g. a local server); empty means the standard "
            "one."
        ),
        examples=["http://127.0.0.1:8080/v1"],
    )
    api_key_env: str | None = Field(
        None,
        description=(
            "Name of the environment variable that holds the API key (for provider openai); never the key itself."
        ),
        examples=["OPENAI_API_KEY"],
    )
    temperature: float = Field(
        0.3,
        ge=0.0,
        le=2.0,
        description="Creativity: 0 gives the most predictable answers, higher values more varied ones (up to 2).",
        examples=[0.3],
    )
    max_tokens: int = Field(
        300,
        ge=1,
        le=8192,
        description="Longest reply the model may write, in tokens (a token is roughly three quarters of a word).",
        examples=[300],
    )
    structured: bool | None = Field(
        None,
        description=(
            "Structured turns: each reply is one constrained choice (say words, call one of this step's "
            "tools, move to a step, or verify the caller) instead of free tool calling; for small models. "
            "Empty means on for provider local, off otherwise."
        ),
        examples=[True],
    )


class TTSConfig(StrictModel):
    """Text-to-speech: the service that turns the agent's replies into audio."""

    provider: Annotated[str, provider_value("tts")] = Field(
        "auto",
        description=provider_description("tts"),
        examples=["auto"],
        json_schema_extra={"enum": list(provider_names("tts"))},
    )
    model: str | None = Field(
        None,
        description="Model name at that service; empty means the provider's default.",
        examples=["lightning_v3.1_pro"],
    )
    base_url: str | None = Field(
        None,
        description="Different web address for the service; empty means the standard one.",
        examples=["https://api.smallest.ai/waves/v1"],
    )
    sample_rate: Literal[8000, 16000, 22050, 24000, 44100, 48000] = Field(
        24000,
        description=(
            "Audio quality of the agent's voice, in samples per second (Hz); 8000 is telephone quality, 24000 is clear "
            "speech."
        ),
        examples=[24000],
    )


class Behaviour(StrictModel):
    """Turn-taking: time limits, what to say while waiting or when something fails, interruptions."""

    utterance_timeout_ms: int = Field(
        10000,
        ge=500,
        le=120000,
        description=(
            "Longest time, in milliseconds, the agent may take to hear, think and start answering; after that it says "
            "the fallback."
        ),
        examples=[10000],
    )
    fallback: str = Field(
        "Sorry, could you repeat that?",
        description="What the agent says when it could not answer in time or something failed.",
        examples=["Sorry, could you repeat that?"],
    )
    filler: str | None = Field(
        "One moment while I check that.",
        description=(
            "What the agent says while a tool is working, unless the tool or the model gives its own words; empty for "
            "silence."
        ),
        examples=["One moment while I check that."],
    )
    barge_in: bool = Field(
        True,
        description="When true, the caller can interrupt: the agent stops talking as soon as the caller speaks.",
        examples=[True],
    )
    max_history_turns: int = Field(
        20,
        ge=1,
        le=1000,
        description="How many recent back-and-forth turns the model sees; older ones are forgotten.",
        examples=[20],
    )
