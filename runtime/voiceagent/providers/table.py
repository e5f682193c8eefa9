"""The provider table: every speech-to-text, language-model and text-to-speech service the
runtime can use, as data.

One row per (slot, provider name). The registry (:mod:`voiceagent.providers.registry`) reads it
to decide (``auto``, missing keys, the startup notes) and to build providers; the agent models
(:mod:`voiceagent.config.models`) read it for the allowed ``stt/llm/tts.provider`` values and
their descriptions, so the JSON Schema and ``docs/agent-reference.md`` follow it too. This module
imports nothing heavy (it is read when an agent file is validated).

Adding a provider, e.g. Deepgram speech-to-text, is one module plus one row::

    ProviderSpec(
        slot="stt", name="deepgram", label="Deepgram Nova in the cloud", key_env="DEEPGRAM_API_KEY",
        languages=None, plan="voiceagent.providers.deepgram:plan_stt",
        build="voiceagent.providers.deepgram:build_stt", notes="streaming; keyword boosting",
    )

where ``plan_stt(agent, env, why) -> Choice`` decides (and raises
:class:`~voiceagent.providers.registry.ProviderSetupError` when the provider cannot serve the
agent) and ``build_stt(choice, agent, env) -> STT`` builds the provider (imports of the heavy
client library go inside it). Nothing else changes: ``voiceagent schema`` and
``scripts/gen_reference.py`` then list it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AUTO",
    "PROVIDERS",
    "ProviderSpec",
    "Slot",
    "auto_candidates",
    "provider_description",
    "provider_names",
    "spec_for",
]

Slot = Literal["stt", "llm", "tts"]
AUTO = "auto"
"""The provider value that lets the registry choose (see :func:`auto_candidates`)."""


@dataclass(frozen=True)
class ProviderSpec:
    """One provider of one slot.

    Attributes:
        slot: ``stt``, ``llm`` or ``tts``.
        name: the value of ``<slot>.provider`` in an agent file.
        label: a few words for people (descriptions, docs), e.g. ``Smallest AI Pulse in the cloud``.
        key_env: the environment variable holding its API key, None when it needs none.
        key_required: whether choosing it without ``key_env`` set is an error the registry
            reports itself (False when the planner decides, e.g. OpenAI-compatible local servers).
        auto: whether ``provider: auto`` may choose it; candidates are tried in table order and
            the first whose key is set (or that needs none) wins.
        languages: language codes it serves (primary subtags, e.g. ``{"en"}``), None when it
            serves many (its planner checks).
        plan: ``module:function`` deciding for an agent: ``(agent, env, why) -> Choice``.
        build: ``module:function`` building it: ``(choice, agent, env) -> STT | LLM | TTS``.
        notes: capabilities worth knowing (streaming, offline...), for the docs.
    """

    slot: Slot
    name: str
    label: str
    key_env: str | None
    plan: str
    build: str
    key_required: bool = True
    auto: bool = False
    languages: frozenset[str] | None = None
    notes: str = ""


_SMALLEST = "voiceagent.providers.smallest.setup"
_LOCAL = "voiceagent.providers.local.setup"
_OPENAI = "voiceagent.providers.openai_setup"

PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "stt", "smallest", "Smallest AI Pulse in the cloud", "SMALLEST_API_KEY",
        f"{_SMALLEST}:plan_stt", f"{_SMALLEST}:build_stt", auto=True,
        notes="streaming recognition over WebSocket; many Indian languages",
    ),
    ProviderSpec(
        "stt", "local", "the offline model on this machine", None,
        f"{_LOCAL}:plan_stt", f"{_LOCAL}:build_stt", key_required=False, auto=True, languages=frozenset({"en"}),
        notes="faster-whisper Whisper base (or tiny.en) + Silero VAD; English only; needs the [local] extra",
    ),
    ProviderSpec(
        "llm", "smallest", "Smallest AI Electron in the cloud", "SMALLEST_API_KEY",
        f"{_SMALLEST}:plan_llm", f"{_SMALLEST}:build_llm", auto=True,
        notes="OpenAI-compatible streaming chat with tool calls",
    ),
    ProviderSpec(
        "llm", "openai", "any OpenAI-compatible service", "OPENAI_API_KEY",
        f"{_OPENAI}:plan_llm", f"{_OPENAI}:build_llm", key_required=False,
        notes="llm.base_url or $OPENAI_BASE_URL; the key is optional for a local server",
    ),
    ProviderSpec(
        "llm", "local", "a model on this machine", None,
        f"{_LOCAL}:plan_llm", f"{_LOCAL}:build_llm", key_required=False, auto=True,
        notes="llama.cpp with Qwen2.5 0.5B, or llm.base_url of a running server",
    ),
    ProviderSpec(
        "tts", "smallest", "Smallest AI Lightning in the cloud", "SMALLEST_API_KEY",
        f"{_SMALLEST}:plan_tts", f"{_SMALLEST}:build_tts", auto=True,
        notes="streaming synthesis; voices per language are checked",
    ),
    ProviderSpec(
        "tts", "local", "an offline voice on this machine", None,
        f"{_LOCAL}:plan_tts", f"{_LOCAL}:build_tts", key_required=False, auto=True,
        notes="Piper (English) or espeak-ng",
    ),
)  # fmt: skip


def provider_names(slot: Slot) -> tuple[str, ...]:
    """The allowed ``<slot>.provider`` values: ``auto`` first, then the table's names in order."""
    return (AUTO, *[p.name for p in PROVIDERS if p.slot == slot])


def spec_for(slot: Slot, name: str) -> ProviderSpec:
    """The row for ``name`` in ``slot``.

    Raises:
        KeyError: no such provider (the agent models refuse such values before).
    """
    for p in PROVIDERS:
        if p.slot == slot and p.name == name:
            return p
    raise KeyError(f"no {slot} provider named {name!r}")


def auto_candidates(slot: Slot) -> list[ProviderSpec]:
    """The rows ``auto`` tries, in order."""
    return [p for p in PROVIDERS if p.slot == slot and p.auto]


def provider_description(slot: Slot) -> str:
    """The description of ``<slot>.provider`` in the schema and reference, from the table."""
    cands = auto_candidates(slot)
    keyed = [p for p in cands if p.key_env]
    keyless = next((p for p in cands if not p.key_env), None)
    auto = " or ".join(f"{p.label} when {p.key_env} is set" for p in keyed)
    if keyless is not None:
        auto += f", otherwise {keyless.label}"
    rows = "; ".join(f"{p.name}: {p.label}" for p in PROVIDERS if p.slot == slot)
    return f"Which service. auto: {auto}; {rows}."
