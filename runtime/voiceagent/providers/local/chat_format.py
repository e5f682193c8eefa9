"""The embedded model's own tool-call format (Qwen2.5's chat template), for rounds that are not
structured: OpenAI-format history written as that template expects it, and the grammar that
forces exactly one ``<tool_call>``.

The template lists the offered tools inside ``<tools></tools>`` and asks for
``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` (GGUF ``tokenizer.chat_template``;
https://qwen.readthedocs.io/en/latest/framework/function_call.html).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from voiceagent.providers.local.guidance import render_tool_result

__all__ = ["render_history", "required_call_grammar"]


def render_history(messages: list[dict[str, Any]], *, call_text: bool = True) -> list[dict[str, Any]]:
    r"""Messages as the Qwen2.5 template expects them, without changing what the model sees.

    An assistant message's ``tool_calls`` become text in the template's own format
    (``<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>``; the template would
    otherwise JSON-quote the OpenAI ``arguments`` string a second time); ``None`` content becomes
    ``""`` (the template concatenates strings); a tool result that is a JSON object becomes
    ``key: value`` lines (:func:`~voiceagent.providers.local.guidance.render_tool_result`: the
    0.5B model answers from those far more often than from JSON). Returns new dicts; the input is
    not modified.

    call_text: keep the words said before a tool call (the filler) in that message; the 0.5B
    model repeats them as its answer when it sees them, so :class:`LocalLLM` drops them when
    ``guided``.
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        m = dict(msg)
        if m.get("role") == "assistant" and m.get("tool_calls"):
            parts = [m.get("content") or ""] if m.get("content") and call_text else []
            for call in m.pop("tool_calls"):
                fn = call.get("function", call)
                args: Any = fn.get("arguments") or "{}"
                if isinstance(args, str):
                    with contextlib.suppress(ValueError):
                        args = json.loads(args)
                parts.append(
                    "<tool_call>\n"
                    + json.dumps({"name": fn.get("name"), "arguments": args}, ensure_ascii=False)
                    + "\n</tool_call>"
                )
            m["content"] = "\n".join(parts)
        if m.get("role") == "tool":
            m["content"] = render_tool_result(m.get("content"))
        if m.get("content") is None:
            m["content"] = ""
        out.append(m)
    return out


def required_call_grammar(tools: list[dict[str, Any]]) -> str:
    """A GBNF grammar admitting exactly one ``<tool_call>{"name": N, "arguments": {...}}
    </tool_call>`` for any of ``tools`` (arguments following each tool's JSON schema).

    Uses llama.cpp's JSON-schema converter (``llama_cpp.llama_grammar.json_schema_to_gbnf``).
    """
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    options = []
    for tool in tools:
        fn = tool.get("function", {})
        params = fn.get("parameters") or {"type": "object"}
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": fn.get("name")}, "arguments": params},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    schema = options[0] if len(options) == 1 else {"anyOf": options}
    gbnf: str = json_schema_to_gbnf(json.dumps(schema), prop_order=["name", "arguments"])
    gbnf = gbnf.replace("root ::=", "call ::=", 1)
    return 'root ::= "<tool_call>\\n" call "\\n</tool_call>"\n' + gbnf
