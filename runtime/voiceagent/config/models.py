"""Pydantic models of the agent definition format (documented in docs/agent-reference.md).

:class:`Agent` (the whole file) and ``s2s`` are here; the parts live in one module each
(``speech_models``: voice/stt/llm/tts/behaviour, ``tool_models``, ``guardrail_models``,
``flow_models``) and are re-exported.

Attribute names equal the YAML keys, except ``HttpTool.json_body`` (YAML ``json``). The JSON
Schema published in ``schemas/agent.schema.json`` is generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from voiceagent.config.flow_models import Flow, State, Transition
from voiceagent.config.guardrail_models import Guardrails, Level, RedactPatterns, Verification
from voiceagent.config.model_base import StrictModel
from voiceagent.config.speech_models import Behaviour, LLMConfig, STTConfig, TTSConfig, Voice
from voiceagent.config.tool_models import HttpTool, Parameter, Tool
from voiceagent.providers.smallest.models import DEFAULT_HYDRA_MODEL, HydraModels, check_hydra_voice

__all__ = [
    "Agent",
    "Behaviour",
    "Flow",
    "Guardrails",
    "HttpTool",
    "LLMConfig",
    "Level",
    "Parameter",
    "RedactPatterns",
    "STTConfig",
    "SpeechToSpeech",
    "State",
    "StrictModel",
    "TTSConfig",
    "Tool",
    "Transition",
    "Verification",
    "Voice",
]


class SpeechToSpeech(StrictModel):
    """Speech-to-speech: one realtime model hears the caller and answers with audio, instead of
    speech-to-text -> language model -> text-to-speech (docs/speech-to-speech.md). English only.
    """

    provider: Literal["smallest"] = Field(
        "smallest", description="Which service: smallest (Smallest AI Hydra).", examples=["smallest"]
    )
    model: HydraModels = Field(
        DEFAULT_HYDRA_MODEL,
        description="Hydra model: hydra-v1.1 (current), hydra-v1.0, or hydra (deprecated). Each has its own voices.",
        examples=["hydra-v1.1"],
    )
    voice: str | None = Field(
        None,
        description=(
            "A voice of that model (hydra-v1.1: zoe, maya, elena, ivy, grace, alex, aria, leo, sam, kai); "
            "empty lets the service choose."
        ),
        examples=["zoe"],
    )
    transcripts: Literal["stt", "none"] = Field(
        "stt",
        description=(
            "stt: the stt settings also transcribe the caller in parallel, so transcripts, hiding of values "
            "and 'when' conditions work; none: no caller transcripts."
        ),
        examples=["stt"],
    )

    @field_validator("voice")
    @classmethod
    def _voice_of_model(cls, voice: str | None, info: ValidationInfo) -> str | None:
        model = info.data.get("model")
        problem = check_hydra_voice(model, voice) if isinstance(model, str) else None
        if problem:
            raise PydanticCustomError("hydra_voice", problem)
        return voice


class Agent(StrictModel):
    """A voice agent: what it says, how it sounds and what it may do."""

    version: Literal[1] = Field(1, description="Version of this file format; always 1.", examples=[1])
    name: str = Field(
        pattern=r"^[a-z0-9-]+$",
        description="Short id of the agent: lowercase letters, digits and dashes; unique among your agents.",
        examples=["acme-support"],
    )
    description: str | None = Field(
        None, description="One line about what the agent is for.", examples=["Acme Corp customer support line"]
    )
    language: str = Field(
        "en",
        pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
        description=(
            "Language code (BCP-47) such as en, en-IN, hi or ta; speech recognition, prompt and voice all follow it."
        ),
        examples=["en", "hi"],
    )
    languages: list[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]] | None = Field(
        None,
        min_length=1,
        description="Every language the caller may speak, for callers who switch mid-call (Hinglish: [hi, en]); "
        "must include language. Speech recognition hears all of them, session.language follows the caller, and "
        "the agent answers in the caller's current language with a voice that speaks each one. "
        "Leave out for a one-language agent.",
        examples=[["hi", "en"]],
    )
    voice: Voice | None = Field(
        None, description="The voice the agent speaks with.", examples=[{"id": "meher", "speed": 1.0}]
    )
    greeting: str | None = Field(
        None,
        description=(
            "What the agent says first when the call starts; may use {{ placeholders }}. Leave out to wait for the "
            "caller."
        ),
        examples=["Hi, this is {{ company }} support."],
    )
    prompt: str = Field(
        description=(
            "The main instructions for the agent (the system prompt); may use {{ placeholders }} such as {{ company }}."
        ),
        examples=["You are a friendly agent for {{ company }}."],
    )
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Values for {{ placeholders }} in texts, by name; callers may add or override some.",
        examples=[{"company": "Acme Corp"}],
    )
    stt: STTConfig = Field(
        default_factory=lambda: STTConfig.model_validate({}),
        description="Speech-to-text settings.",
        examples=[{"provider": "auto", "eou_timeout_ms": 600}],
    )
    llm: LLMConfig = Field(
        default_factory=lambda: LLMConfig.model_validate({}),
        description="Language model settings.",
        examples=[{"provider": "auto", "temperature": 0.3}],
    )
    tts: TTSConfig = Field(
        default_factory=lambda: TTSConfig.model_validate({}),
        description="Text-to-speech settings.",
        examples=[{"provider": "auto", "sample_rate": 24000}],
    )
    behaviour: Behaviour = Field(
        default_factory=lambda: Behaviour.model_validate({}),
        description="Turn-taking settings.",
        examples=[{"barge_in": True, "fallback": "Sorry, could you repeat that?"}],
    )
    speech_to_speech: SpeechToSpeech | None = Field(
        None,
        description=(
            "Optional: answer with one realtime speech-to-speech model instead of stt -> llm -> tts "
            "(English only; the llm settings are still used in text mode)."
        ),
        examples=[{"provider": "smallest", "model": "hydra-v1.1", "voice": "zoe", "transcripts": "stt"}],
    )
    tools: list[Tool] = Field(
        default_factory=list,
        description="Actions the agent can take during a call.",
        examples=[[{"name": "end_the_call", "builtin": "end_call"}]],
    )
    guardrails: Guardrails = Field(
        default_factory=lambda: Guardrails.model_validate({}),
        description="Caller verification and hiding of sensitive values.",
        examples=[{"redact": ["dob"]}],
    )
    flow: Flow | None = Field(
        None,
        description="Optional conversation steps; without it the agent has a single step.",
        examples=[{"initial": "triage", "states": {"triage": {"instructions": "Find out what the caller needs."}}}],
    )
    extends: str | None = Field(
        None,
        description=(
            "For variants (e.g. another language): the agent file this one builds on, relative to this file. Only the "
            "keys that differ need to be written."
        ),
        examples=["support.yaml"],
    )

    def spoken_languages(self) -> list[str]:
        """The languages callers may speak: ``languages``, or just ``language`` when unset."""
        return list(self.languages) if self.languages else [self.language]

    def tool(self, name: str) -> Tool | None:
        """The tool called ``name``, or None."""
        return next((t for t in self.tools if t.name == name), None)
