"""Pydantic models of conversation test files (``*.test.yaml``), the format of ``voiceagent test``.

Field names follow the normative test format (the "Test your agent" guide, docs/testing.md, and
the generated reference, docs/test-reference.md). The JSON Schema published in
``schemas/agent-test.schema.json`` is generated from these models, so their descriptions are the
documentation.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LlmMode = Literal["agent", "scripted"]
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class StrictModel(BaseModel):
    """Base: unknown keys are errors, models are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    """A single string where a list of strings is expected is a list of one."""
    return [value] if isinstance(value, str) else value


def compile_pattern(text: str) -> re.Pattern[str]:
    """The regular expression of ``text``: ``/.../`` or a plain pattern, case-insensitive.

    Raises:
        ValueError: the expression does not compile (the message says why).
    """
    body = text[1:-1] if len(text) >= 2 and text.startswith("/") and text.endswith("/") else text
    try:
        return re.compile(body, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


class Caller(StrictModel):
    """Who is calling, as a phone line or web page would tell the agent (templates see it as `caller`)."""

    phone: str | None = Field(None, description="The caller's phone number.", examples=["+15550123"])
    id: str | None = Field(None, description="An id the transport gives the caller.", examples=["web-42"])
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Other facts about the caller, by name.", examples=[{"plan": "Pro"}]
    )


class ScriptedCall(StrictModel):
    """One function call the scripted LLM makes."""

    name: str = Field(description="The tool (or function) to call.", examples=["get_account_info"])
    arguments: dict[str, Any] | str = Field(
        default_factory=dict,
        description='The arguments, by name; quote text that looks like a number ("12345"). '
        "Text instead of a mapping is sent as written (to test broken arguments).",
        examples=[{"account_id": "12345"}],
    )


class Round(StrictModel):
    """One answer of the scripted LLM in this turn: words, function calls, or a move to another step."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"anyOf": [{"required": [k]} for k in ("say", "tool_calls", "transition")]},
    )

    say: str | None = Field(None, description="What the LLM answers in words.", examples=["Your balance is 42.50."])
    tool_calls: list[ScriptedCall] | None = Field(
        None,
        description="Tools the LLM calls in this round (after its words, if any).",
        examples=[[{"name": "get_account_info", "arguments": {"account_id": "12345"}}]],
    )
    transition: str | None = Field(
        None,
        description="A flow state the LLM chooses to move to "
        "(one of the current state's transitions with a description).",
        examples=["verify"],
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Round:
        if self.say is None and not self.tool_calls and self.transition is None:
            raise ValueError("a round needs say, tool_calls or transition")
        return self


class ExpectedCall(StrictModel):
    """A tool call that must happen in the turn."""

    name: str = Field(description="The tool's name.", examples=["get_account_info"])
    arguments: dict[str, Any] | None = Field(
        None,
        description="Arguments that must be among the call's arguments; text is compared exactly, "
        "or as a regular expression when written /like this/.",
        examples=[{"account_id": "12345"}],
    )


class ExpectedResult(StrictModel):
    """How a tool call of the turn must have ended."""

    name: str = Field(description="The tool's name.", examples=["break_fixed_deposit"])
    ok: bool = Field(description="true: it ran and succeeded; false: it failed or was refused.", examples=[False])


class TransferTo(StrictModel):
    """Where the call must be transferred."""

    to: str = Field(description="The number (or address) the call is transferred to.", examples=["+15550100"])


class Expect(StrictModel):
    """What must be true after the turn. Every key is optional and every key written is checked."""

    tool_calls: list[ExpectedCall] | None = Field(
        None,
        description="These calls happened in this turn, in this order (other calls may come between).",
        examples=[[{"name": "get_account_info", "arguments": {"account_id": "12345"}}]],
    )
    tools_not_called: list[str] | None = Field(
        None, description="None of these tools ran in this turn.", examples=[["break_fixed_deposit"]]
    )
    tool_results: list[ExpectedResult] | None = Field(
        None,
        description="These tools returned with this ok (a refused or failed tool is ok: false).",
        examples=[[{"name": "break_fixed_deposit", "ok": False}]],
    )
    reply_contains: list[str] | None = Field(
        None,
        description="The agent's words in this turn contain every one of these (upper/lower case does not matter).",
        examples=[["42.5"]],
    )
    reply_not_contains: list[str] | None = Field(
        None,
        description="The agent's words in this turn contain none of these (upper/lower case does not matter).",
        examples=[["1985"]],
    )
    reply_matches: str | None = Field(
        None,
        description="The agent's words match this regular expression (upper/lower case does not matter).",
        examples=["balance .* 42\\.5"],
    )
    state: str | None = Field(None, description="The flow state after the turn.", examples=["service"])
    verification_level: int | None = Field(
        None, ge=0, description="The caller's verification level after the turn.", examples=[1]
    )
    language: str | None = Field(
        None,
        description="The language the agent replied in (by the speech request or the reply's script), e.g. en or hi.",
        examples=["hi"],
    )
    transfer: bool | TransferTo | None = Field(
        None,
        description="true (or {to: NUMBER}): the call is being transferred (to that number); false: it is not.",
        examples=[{"to": "+15550100"}],
    )
    end: bool | None = Field(
        None, description="true: the call ended after this turn; false: it goes on.", examples=[True]
    )
    within_ms: int | None = Field(
        None,
        gt=0,
        description="End of the caller's words to the agent's first audio (or first text) "
        "took at most this many milliseconds.",
        examples=[1500],
    )
    judge: str | None = Field(
        None,
        description="A plain-language criterion an LLM judges from the transcript; "
        "skipped (never passed) when no judge LLM is set.",
        examples=["The agent asks for the account number before giving any account facts."],
    )

    @field_validator("tools_not_called", "reply_contains", "reply_not_contains", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("reply_matches")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            compile_pattern(value)
        return value


class Turn(StrictModel):
    """One thing the caller says (exactly one of user, audio or say), and what must follow."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"oneOf": [{"required": [k]} for k in ("user", "audio", "say")]},
    )

    user: str | None = Field(
        None, description="What the caller says, as text (no speech recognition).", examples=["What's my balance?"]
    )
    audio: str | None = Field(
        None,
        description="A recording of the caller (WAV, relative to this file), "
        "heard through the agent's speech recognition.",
        examples=["../../samples/account_question.wav"],
    )
    say: str | None = Field(
        None,
        description="Text spoken by the offline voice, then heard through the agent's speech recognition.",
        examples=["My account number is 12345."],
    )
    llm: list[Round] | None = Field(
        None,
        description="Scripted scenarios only: what the LLM answers in this turn, one round after another.",
        examples=[[{"tool_calls": [{"name": "get_account_info", "arguments": {"account_id": "12345"}}]}]],
    )
    expect: Expect | None = Field(None, description="What must be true after this turn.")

    @field_validator("user", "say")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("the caller must say something (the text is empty)")
        return value

    @model_validator(mode="after")
    def _one_input(self) -> Turn:
        given = [k for k in ("user", "audio", "say") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a turn needs exactly one of user, audio or say"
                + (f" (this one has {' and '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> Literal["user", "audio", "say"]:
        """Which input the turn has."""
        return "user" if self.user is not None else "audio" if self.audio is not None else "say"


class Scenario(StrictModel):
    """One conversation, turn by turn."""

    name: str = Field(min_length=1, description="What the scenario shows, in a few words.", examples=["balance lookup"])
    llm: LlmMode | None = Field(
        None, description="agent or scripted for this scenario; empty means the file's llm.", examples=["scripted"]
    )
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Template variables for this scenario (over the file's).", examples=[{}]
    )
    caller: Caller | None = Field(None, description="The caller of this scenario; empty means the file's caller.")
    skip: str | None = Field(
        None, description="Skip this scenario, and say why.", examples=["the ticket server is down this week"]
    )
    turns: list[Turn] = Field(min_length=1, description="What the caller says, in order.")


class AgentTests(StrictModel):
    """A conversation test file: scripted calls with one agent and what must happen in each turn."""

    agent: str = Field(description="The agent file to test, relative to this file.", examples=["../support.yaml"])
    llm: LlmMode = Field(
        "agent",
        description="agent: the agent's own LLM, chosen as voiceagent run chooses it; "
        "scripted: no model, each turn's llm says what the LLM answers.",
        examples=["scripted"],
    )
    variables: dict[str, Any] = Field(
        default_factory=dict,
        description="Template variables overriding the agent's.",
        examples=[{"company": "Acme Corp"}],
    )
    caller: Caller | None = Field(None, description="The caller, as a phone line would give it.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables set while the scenarios run (tools read them); {tmp} in a value "
        "is a fresh empty folder for each scenario, e.g. a throwaway database.",
        examples=[{"VOICEAGENT_BANK_DB": "{tmp}/bank.db"}],
    )
    scenarios: list[Scenario] = Field(min_length=1, description="The conversations to run.")

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an environment variable name (letters, digits and _)")
        return value
