"""Agent models of the conversation flow: states and their transitions.

Part of the agent definition format (:mod:`voiceagent.config.models`; docs/agent-reference.md).
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from voiceagent.config.model_base import StrictModel


class Transition(StrictModel):
    """A way from one step of the conversation to another. Give exactly one of description, when or on_tool."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [k]} for k in ("description", "when", "on_tool")]}
    )

    to: str = Field(description="Name of the state to go to.", examples=["service"])
    description: str | None = Field(
        None,
        description="Let the model decide: in plain words, when to move on.",
        examples=["The caller wants a banking action"],
    )
    when: str | None = Field(
        None,
        description=(
            "Move on automatically when this condition is true, e.g. session.verification_level >= 1 or session.turns >"
            " 30."
        ),
        examples=["session.verification_level >= 1"],
    )
    on_tool: str | None = Field(
        None, description="Move on right after this tool has run successfully.", examples=["create_ticket"]
    )


class State(StrictModel):
    """One step of the conversation, with its own instructions and tools."""

    instructions: str | None = Field(
        None,
        description="What the agent should do in this step; added to the prompt. May use {{ placeholders }}.",
        examples=["Find out what the caller needs."],
    )
    tools: list[str] = Field(
        default_factory=list,
        description="Names of the tools the agent may use in this step.",
        examples=[["get_account_info"]],
    )
    transitions: list[Transition] = Field(
        default_factory=list,
        description="Ways to move to another step.",
        examples=[[{"to": "goodbye", "description": "The caller has no more questions"}]],
    )
    final: bool = Field(
        False, description="When true, the call ends after the agent's reply in this step.", examples=[False]
    )


class Flow(StrictModel):
    """The conversation as steps (states) and the ways between them. Without a flow the agent has one step."""

    initial: str = Field(description="Name of the state the call starts in.", examples=["triage"])
    states: dict[str, State] = Field(
        min_length=1,
        description="The states, by name.",
        examples=[{"triage": {"instructions": "Find out what the caller needs."}, "goodbye": {"final": True}}],
    )
