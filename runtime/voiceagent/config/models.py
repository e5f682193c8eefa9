"""Pydantic models of the agent definition format (../shared/spec/agent-format.md).

Attribute names equal the YAML keys, except ``HttpTool.json_body`` (YAML ``json``). The JSON
Schema published in ``schemas/agent.schema.json`` is generated from these models.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Base: unknown keys are errors, models are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Voice(StrictModel):
    id: str = Field(description="TTS voice id of the chosen TTS provider.", examples=["meher"])
    speed: float = Field(1.0, ge=0.5, le=2.0, description="Speaking rate; 1.0 is normal.", examples=[1.0])


class STTConfig(StrictModel):
    provider: Literal["auto", "smallest", "local"] = Field(
        "auto", description="auto: smallest when SMALLEST_API_KEY is set, else local.", examples=["auto"]
    )
    model: str | None = Field(None, description="Provider model id.", examples=["pulse"])
    base_url: str | None = Field(None, description="Override of the provider's base URL.", examples=["https://api.smallest.ai/waves/v1"])
    eou_timeout_ms: int = Field(600, ge=100, le=10000, description="Silence (ms) that ends an utterance.", examples=[600])


class LLMConfig(StrictModel):
    provider: Literal["auto", "smallest", "openai", "local"] = Field(
        "auto", description="auto | smallest | openai (any OpenAI-compatible endpoint) | local.", examples=["auto"]
    )
    model: str | None = Field(None, description="Model id at the provider.", examples=["electron"])
    base_url: str | None = Field(None, description="Optional endpoint override, any provider.", examples=["http://127.0.0.1:8080/v1"])
    api_key_env: str | None = Field(None, description="Environment variable holding the API key (provider openai).", examples=["OPENAI_API_KEY"])
    temperature: float = Field(0.3, ge=0.0, le=2.0, description="Sampling temperature.", examples=[0.3])
    max_tokens: int = Field(300, ge=1, le=8192, description="Upper bound on tokens per reply.", examples=[300])


class TTSConfig(StrictModel):
    provider: Literal["auto", "smallest", "local"] = Field("auto", description="auto | smallest | local.", examples=["auto"])
    model: str | None = Field(None, description="Provider model id.", examples=["lightning_v3.1_pro"])
    base_url: str | None = Field(None, description="Override of the provider's base URL.", examples=["https://api.smallest.ai/waves/v1"])
    sample_rate: Literal[8000, 16000, 22050, 24000, 44100, 48000] = Field(
        24000, description="Output sample rate in Hz.", examples=[24000]
    )


class Behaviour(StrictModel):
    utterance_timeout_ms: int = Field(10000, ge=500, le=120000, description="Limit for the whole STT->LLM->TTS round (ms); then the fallback is said.", examples=[10000])
    fallback: str = Field("Sorry, could you repeat that?", description="Said when a round times out or fails.", examples=["Sorry, could you repeat that?"])
    filler: str | None = Field("One moment while I check that.", description="Said while tools run, unless the LLM or the tool gives one.", examples=["One moment while I check that."])
    barge_in: bool = Field(True, description="Caller speech interrupts the agent.", examples=[True])
    max_history_turns: int = Field(20, ge=1, le=1000, description="Older turns are dropped from the prompt.", examples=[20])


class Parameter(StrictModel):
    type: Literal["string", "number", "integer", "boolean", "array", "object"] = Field(
        "string", description="JSON type of the argument.", examples=["string"]
    )
    description: str | None = Field(None, description="What the argument is, for the LLM.", examples=["The caller's account id"])
    enum: list[Any] | None = Field(None, description="Allowed values.", examples=[["savings", "current"]])
    pattern: str | None = Field(None, description="Regular expression a string must match.", examples=["^[0-9]{4,12}$"])
    format: str | None = Field(None, description="JSON-Schema format, e.g. date.", examples=["date"])
    minimum: float | None = Field(None, description="Smallest allowed number.", examples=[0])
    maximum: float | None = Field(None, description="Largest allowed number.", examples=[100])


HTTP_METHODS = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpTool(StrictModel):
    method: HTTP_METHODS = Field("POST", description="HTTP method.", examples=["POST"])
    url: str = Field(description="URL; Jinja2 template.", examples=["https://api.acme.example/tickets"])
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers; templates.", examples=[{"Authorization": "Bearer ${ACME_TOKEN}"}])
    query: dict[str, Any] | None = Field(None, description="Query parameters; templates.", examples=[{"q": "{{ args.q }}"}])
    json_body: Any = Field(None, alias="json", description="JSON body; string values are templates.", examples=[{"summary": "{{ args.summary }}"}])
    body: str | None = Field(None, description="Raw body; a template.", examples=["summary={{ args.summary }}"])
    timeout_ms: int = Field(4000, ge=100, le=120000, description="Request timeout (ms).", examples=[4000])


class Tool(StrictModel):
    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$", description="Tool name as the LLM sees it.", examples=["get_account_info"])
    description: str | None = Field(None, description="What the tool does, for the LLM.", examples=["Look up account information."])
    parameters: dict[str, Parameter] = Field(default_factory=dict, description="Argument name -> JSON-Schema property.", examples=[{"account_id": {"type": "string"}}])
    required: list[str] | None = Field(None, description="Required arguments; default: all.", examples=[["account_id"]])
    filler: str | None = Field(None, description="Said while this tool runs.", examples=["Let me check your account."])
    timeout_ms: int = Field(5000, ge=100, le=120000, description="Tool time limit (ms).", examples=[5000])
    requires_level: int | None = Field(None, ge=0, description="Verification level needed to run it.", examples=[1])
    python: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="module:function, relative to the agent file's folder first.", examples=["tools.acme:get_account_info"])
    http: HttpTool | None = Field(None, description="Call an HTTP endpoint.")
    builtin: Literal["transfer", "end_call"] | None = Field(None, description="A runtime builtin.", examples=["transfer"])
    to: str | None = Field(None, description="transfer: the destination number or SIP URI.", examples=["+15550100"])
    mode: Literal["cold", "warm"] = Field("cold", description="transfer: cold or warm (with handoff prompt).", examples=["warm"])
    handoff_prompt: str | None = Field(None, description="transfer (warm): what the human hears; a template.", examples=["Customer escalation: {{ args.reason }}"])


class Level(StrictModel):
    min_factors: int = Field(ge=1, description="Matching factors needed for this level.", examples=[2])
    description: str | None = Field(None, description="What the level allows.", examples=["information queries"])


class Verification(StrictModel):
    factors: list[str] = Field(min_length=1, description="Facts the caller may prove.", examples=[["name", "dob"]])
    lookup: str = Field(description="Tool returning the record of truth.", examples=["lookup_customer"])
    levels: dict[int, Level] = Field(description="Level number -> requirement.", examples=[{1: {"min_factors": 2}}])
    max_attempts: int = Field(3, ge=1, le=20, description="Failed attempts before lockout.", examples=[3])
    on_lockout: str | None = Field(None, description="Tool name or end_call, run on lockout.", examples=["end_call"])


class Guardrails(StrictModel):
    verification: Verification | None = Field(None, description="Knowledge-based verification.")
    redact: list[str] = Field(default_factory=list, description="Names whose values are masked in logs.", examples=[["dob"]])


class Transition(StrictModel):
    to: str = Field(description="Target state.", examples=["service"])
    description: str | None = Field(None, description="LLM-chosen transition: when to take it.", examples=["The caller wants a banking action"])
    when: str | None = Field(None, description="Guard: sandboxed Jinja2 expression over session state.", examples=["session.verification_level >= 1"])
    on_tool: str | None = Field(None, description="Taken after this tool succeeds.", examples=["create_ticket"])


class State(StrictModel):
    instructions: str | None = Field(None, description="Added to the prompt in this state; a template.", examples=["Find out what the caller needs."])
    tools: list[str] = Field(default_factory=list, description="Tools offered in this state.", examples=[["get_account_info"]])
    transitions: list[Transition] = Field(default_factory=list, description="Ways out of this state.")
    final: bool = Field(False, description="The call ends after the agent's reply.", examples=[False])


class Flow(StrictModel):
    initial: str = Field(description="First state.", examples=["triage"])
    states: dict[str, State] = Field(min_length=1, description="State name -> state.")


class Agent(StrictModel):
    version: Literal[1] = Field(1, description="Format version; only 1 exists.", examples=[1])
    name: str = Field(pattern=r"^[a-z0-9-]+$", description="Agent id.", examples=["acme-support"])
    description: str | None = Field(None, description="One line about the agent.", examples=["Acme Corp customer support line"])
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP-47 language.", examples=["en", "hi"])
    voice: Voice | None = Field(None, description="TTS voice.")
    greeting: str | None = Field(None, description="Spoken first; a template.", examples=["Hi, this is {{ company }} support."])
    prompt: str = Field(description="System prompt; a Jinja2 template.", examples=["You are a friendly agent for {{ company }}."])
    variables: dict[str, Any] = Field(default_factory=dict, description="Template variable defaults.", examples=[{"company": "Acme Corp"}])
    stt: STTConfig = Field(default_factory=STTConfig, description="Speech-to-text.")
    llm: LLMConfig = Field(default_factory=LLMConfig, description="Language model.")
    tts: TTSConfig = Field(default_factory=TTSConfig, description="Text-to-speech.")
    behaviour: Behaviour = Field(default_factory=Behaviour, description="Turn-taking behaviour.")
    tools: list[Tool] = Field(default_factory=list, description="Tools the agent may call.")
    guardrails: Guardrails = Field(default_factory=Guardrails, description="Verification and redaction.")
    flow: Flow | None = Field(None, description="Optional state machine; without it, one state.")
    extends: str | None = Field(None, description="Parent file (variants only); relative path.", examples=["support.yaml"])

    def tool(self, name: str) -> Tool | None:
        """The tool called ``name``, or None."""
        return next((t for t in self.tools if t.name == name), None)
