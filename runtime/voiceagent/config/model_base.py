"""Shared pieces of the agent models: the strict base class and provider-name checks.

Part of the agent definition format (:mod:`voiceagent.config.models`; docs/agent-reference.md).
"""

from __future__ import annotations

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

from voiceagent.providers.table import Slot, provider_names

__all__ = ["StrictModel", "provider_value"]


def provider_value(slot: Slot) -> AfterValidator:
    """Accept only the ``<slot>.provider`` names of the provider table (reported like a Literal)."""
    names = provider_names(slot)

    def check(value: str) -> str:
        if value not in names:
            expected = ", ".join(repr(n) for n in names[:-1]) + f" or {names[-1]!r}"
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return value

    return AfterValidator(check)


class StrictModel(BaseModel):
    """Base: unknown keys are errors, models are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
