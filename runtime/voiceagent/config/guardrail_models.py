"""Agent models of the guardrails: verification tiers and redaction.

Part of the agent definition format (:mod:`voiceagent.config.models`; docs/agent-reference.md).
"""

from __future__ import annotations

from pydantic import Field

from voiceagent.config.model_base import StrictModel


class Level(StrictModel):
    """A verification level: how many facts the caller must get right to reach it."""

    min_factors: int = Field(
        ge=1, description="How many of the factors the caller must answer correctly for this level.", examples=[2]
    )
    description: str | None = Field(
        None,
        description="What this level unlocks, in plain words (for people reading the file).",
        examples=["information queries"],
    )


class Verification(StrictModel):
    """Checking who is calling by asking for facts only the customer knows. The runtime compares the
    answers itself, never the model, and never tells the model the true values.
    """

    factors: list[str] = Field(
        min_length=1,
        description="Facts the caller may be asked for (names of fields in the lookup record, e.g. name, dob, city).",
        examples=[["name", "dob"]],
    )
    lookup: str = Field(
        description="Name of the tool that fetches the customer's record to compare the answers with.",
        examples=["lookup_customer"],
    )
    levels: dict[int, Level] = Field(
        description="Levels by number (1, 2, ...) and how many matching facts each needs.",
        examples=[{1: {"min_factors": 2}}],
    )
    max_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="How many failed verification attempts are allowed before the caller is locked out.",
        examples=[3],
    )
    on_lockout: str | None = Field(
        None,
        description="What happens on lockout: the name of a tool to run (e.g. a transfer) or end_call.",
        examples=["end_call"],
    )


class RedactPatterns(StrictModel):
    """What is hidden in the caller's words before their values are known (only when redact names a field)."""

    dates: bool = Field(
        True,
        description="Hide every date the caller says: 12/04/1985, 12th of April 1985, April 1985, बारह अप्रैल.",
        examples=[True],
    )
    digit_runs: int = Field(
        4,
        ge=0,
        le=64,
        description=(
            "Hide every run of at least this many digits the caller says, written or spoken "
            "(4111 1111, seven seven eight eight, double seven); 0 turns it off."
        ),
        examples=[4],
    )


class Guardrails(StrictModel):
    """Safety rules the runtime enforces whatever the model says."""

    verification: Verification | None = Field(
        None,
        description="Verify the caller before sensitive tools run.",
        examples=[{"factors": ["name", "dob"], "lookup": "lookup_customer", "levels": {1: {"min_factors": 2}}}],
    )
    redact: list[str] = Field(
        default_factory=list,
        description="Names of facts (e.g. dob) whose values are hidden in logs and transcripts.",
        examples=[["dob"]],
    )
    redact_patterns: RedactPatterns = Field(
        RedactPatterns(dates=True, digit_runs=4),  # frozen: one shared default is safe
        description=(
            "With redact set: dates and digit runs hidden in what the caller says, even before their values are known."
        ),
        examples=[{"dates": True, "digit_runs": 4}],
    )
