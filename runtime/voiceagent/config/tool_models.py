"""Agent models of the tools an agent may call: ``tools[]`` with their parameters and HTTP requests.

Part of the agent definition format (:mod:`voiceagent.config.models`; docs/agent-reference.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr

from voiceagent.config.http_url import ALLOWED_HOST_PATTERN
from voiceagent.config.model_base import StrictModel


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
