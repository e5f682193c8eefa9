"""Pydantic models of the agent definition format (documented in docs/agent-reference.md).

Attribute names equal the YAML keys, except ``HttpTool.json_body`` (YAML ``json``). The JSON
Schema published in ``schemas/agent.schema.json`` is generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from voiceagent.config.http_url import ALLOWED_HOST_PATTERN
from voiceagent.providers.smallest.models import DEFAULT_HYDRA_MODEL, HydraModels, check_hydra_voice
from voiceagent.providers.table import Slot, provider_description, provider_names


def _provider_value(slot: Slot) -> AfterValidator:
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

    provider: Annotated[str, _provider_value("stt")] = Field(
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

    provider: Annotated[str, _provider_value("llm")] = Field(
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

    provider: Annotated[str, _provider_value("tts")] = Field(
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


class Parameter(StrictModel):
    """One piece of information a tool needs (a JSON-Schema property); the model fills it in from the conversation."""

    type: Literal["string", "number", "integer", "boolean", "array", "object"] = Field(
        "string",
        description=(
            "Kind of value: string (text), number, integer (whole number), boolean (yes/no), array (list) or object."
        ),
        examples=["string"],
    )
    description: str | None = Field(
        None,
        description="What the value is; the model reads this to know what to ask for.",
        examples=["The caller's account id"],
    )
    enum: list[Any] | None = Field(
        None, description="The only values allowed, as a list.", examples=[["savings", "current"]]
    )
    pattern: str | None = Field(
        None,
        description="A regular expression the text must match (for example exactly 4 to 12 digits).",
        examples=["^[0-9]{4,12}$"],
    )
    format: str | None = Field(
        None, description="A standard text format such as date (2026-01-31), email or uri.", examples=["date"]
    )
    minimum: float | None = Field(None, description="Smallest number allowed.", examples=[0])
    maximum: float | None = Field(None, description="Largest number allowed.", examples=[100])


HTTP_METHODS = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


class HttpTool(StrictModel):
    """A tool that calls a web API. Text in url, headers, query, json and body may use {{ args.NAME }} and ${ENV_VAR}."""  # noqa: E501 - one line: it is the schema's description

    method: HTTP_METHODS = Field("POST", description="HTTP method: GET, POST, PUT, PATCH or DELETE.", examples=["POST"])
    url: str = Field(
        repr=False,
        description="Web address to call; {{ args.NAME }} placeholders only in the path and query (encoded).",
        examples=["https://api.acme.example/tickets"],
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description=(
            "Extra request headers. Put keys in environment variables: Bearer ${ACME_TOKEN}, never the key itself."
        ),
        examples=[{"Authorization": "Bearer ${ACME_TOKEN}"}],
    )
    query: dict[str, Any] | None = Field(
        None,
        repr=False,
        description="Values added to the address after ?; each may use placeholders.",
        examples=[{"q": "{{ args.q }}"}],
    )
    json_body: Any = Field(
        None,
        alias="json",
        repr=False,
        description="JSON body to send (YAML key json); text values may use placeholders.",
        examples=[{"summary": "{{ args.summary }}"}],
    )
    body: str | None = Field(
        None,
        repr=False,
        description="Plain-text body to send instead of json; may use placeholders.",
        examples=["summary={{ args.summary }}"],
    )
    timeout_ms: int = Field(
        4000,
        ge=100,
        le=120000,
        description="Total time for the request, in milliseconds: connecting, sending and reading the whole answer.",
        examples=[4000],
    )
    allowed_hosts: list[Annotated[str, Field(pattern=ALLOWED_HOST_PATTERN)]] | None = Field(
        None,
        description="Hosts this tool may reach (api.acme.example, *.acme.example, host:port, [::1]); no others.",
        examples=[["api.acme.example"]],
    )
    follow_redirects: bool = Field(
        False,
        description="Follow redirects on the same host; to a host in allowed_hosts only, without credentials.",
        examples=[False],
    )
    max_response_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=67_108_864,
        description="Read at most this many bytes of the answer (after decompression); the rest is cut.",
        examples=[1_048_576],
    )
    max_result_chars: int = Field(
        4000,
        ge=200,
        le=1_000_000,
        description="At most this many characters of the answer reach the model and the log; a note says it was cut.",
        examples=[4000],
    )
    # Values substituted from the environment (${VAR}) into this tool when the agent was loaded;
    # the runtime treats each as a secret (set by voiceagent.config.envsubst.attach_tool_secrets).
    _env_values: frozenset[str] = PrivateAttr(default_factory=frozenset)


class Tool(StrictModel):
    """Something the agent can do during a call. Exactly one of python, http or builtin says how it is done.

    A python tool is a function called with the parameters as keyword arguments; it may also
    accept an optional ``ctx`` (or ``context``) keyword argument with the call context, or ``**kwargs``.
    """

    # Editors flag a tool with none or several kinds; `voiceagent validate` says the same at the line.
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": [k]} for k in ("python", "http", "builtin")]})

    name: str = Field(
        pattern=r"^[a-z_][a-z0-9_]*$",
        description=(
            "Short name of the tool: lowercase letters, digits and underscores, starting with a letter or underscore."
        ),
        examples=["get_account_info"],
    )
    description: str | None = Field(
        None,
        description="What the tool does and when to use it; the model decides from this text when to call it.",
        examples=["Look up account information."],
    )
    parameters: dict[str, Parameter] = Field(
        default_factory=dict,
        description="Information the tool needs, by name; the model collects it from the caller.",
        examples=[{"account_id": {"type": "string"}}],
    )
    required: list[str] | None = Field(
        None,
        description="Names of the parameters that must be given; when left out, all of them are required.",
        examples=[["account_id"]],
    )
    filler: str | None = Field(
        None,
        description="What the agent says while this tool works (overrides behaviour.filler).",
        examples=["Let me check your account."],
    )
    timeout_ms: int = Field(
        5000,
        ge=100,
        le=120000,
        description="How long the tool may take, in milliseconds, before it counts as failed.",
        examples=[5000],
    )
    requires_level: int | None = Field(
        None,
        ge=0,
        description=(
            "The caller must be verified to at least this level (see guardrails.verification.levels) before the tool "
            "runs."
        ),
        examples=[1],
    )
    python: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description=(
            "Python function to run, written module:function; the module is looked up next to the agent file first."
        ),
        examples=["tools.acme:get_account_info"],
    )
    http: HttpTool | None = Field(
        None,
        description="Call a web API instead of Python code.",
        examples=[
            {"method": "POST", "url": "https://api.acme.example/tickets", "json": {"summary": "{{ args.summary }}"}}
        ],
    )
    builtin: Literal["transfer", "end_call"] | None = Field(
        None,
        description="A ready-made action: transfer (hand the call to a person) or end_call (hang up).",
        examples=["transfer"],
    )
    to: str | None = Field(
        None, description="For transfer: the phone number or SIP address to transfer to.", examples=["+15550100"]
    )
    mode: Literal["cold", "warm"] = Field(
        "cold",
        description=(
            "For transfer: cold (connect straight away) or warm (the person first hears the handoff_prompt summary)."
        ),
        examples=["warm"],
    )
    handoff_prompt: str | None = Field(
        None,
        description="For a warm transfer: what the person taking over hears first; may use placeholders.",
        examples=["Customer escalation: {{ args.reason }}"],
    )
    say: str | None = Field(
        None,
        description=(
            "For builtin transfer or end_call: the last words the caller hears when it runs, instead of the LLM's "
            "(said only if the agent said nothing else in that turn); may use placeholders."
        ),
        examples=["I'm connecting you to a colleague now. Please stay on the line."],
    )


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
