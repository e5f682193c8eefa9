r"""Tool calls that small models write as text, pulled out of a streaming reply.

Small local models (Qwen2.5-0.5B through llama.cpp) do not emit OpenAI ``tool_calls``; they write
the call into their text, in one of these shapes (Qwen2.5 chat template, GGUF
``tokenizer.chat_template``: "return a json object with function name and arguments within
<tool_call></tool_call> XML tags")::

    <tool_call>{"name": "get_weather", "arguments": {"city": "Mumbai"}}</tool_call>
    ```json
    {"name": "get_weather", "arguments": {"city": "Mumbai"}}
    ```
    {"name": "get_weather", "arguments": "{\"city\": \"Mumbai\"}"}
    [{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]

:class:`TextToolCallFilter` passes ordinary text through as it streams, holds back anything that
may be the start of a call (``<tool_call>``, a code fence, ``{"``, ``[{``), and turns every valid
call naming an offered tool into a :class:`~voiceagent.providers.base.ToolCallRequest`. JSON never
reaches the spoken text: a JSON object that is not a valid call is dropped (and noted in
``rejected``), not spoken. Text that merely contains a brace (``{like this}``) passes through.
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from voiceagent.providers.base import ToolCallRequest

__all__ = ["TextToolCallFilter", "extract_tool_calls"]

_TAG_OPEN = ("<tool_call>", "<tools>", "<function_call>")
_TAG_CLOSE = {"<tool_call>": "</tool_call>", "<tools>": "</tools>", "<function_call>": "</function_call>"}
_FENCE = "```"
_STRAY = re.compile(
    r"</tool_call>|</tools>|</function_call>|<\|im_end\|>|<\|endoftext\|>"
    r"|<\|im_start\|>(?:assistant)?"
)
_TRIGGERS = (*_TAG_OPEN, _FENCE, "{", "[")
_HOLD = (*_TAG_OPEN, _FENCE, *_TAG_CLOSE.values(), "<|im_end|>", "<|endoftext|>", "<|im_start|>")
"""Literals whose beginning at the end of a chunk is held back until the next chunk decides."""
_MAX_HOLD = 8000
"""Characters held back waiting for a call to close before we give up and treat it as text."""


def _scan_json_end(s: str, start: int) -> int | None:
    """Index just past the balanced JSON value starting at ``s[start]`` (``{`` or ``[``), string-
    and escape-aware; None when it does not close within ``s``.
    """
    depth = 0
    in_str: str | None = None
    esc = False
    for i in range(start, len(s)):
        ch = s[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == in_str:
                in_str = None
        elif ch in "\"'":
            in_str = ch if ch == '"' else (ch if _single_quote_string(s, i) else None)
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _single_quote_string(s: str, i: int) -> bool:
    """A ``'`` starts a Python-style string only after ``{``, ``[``, ``,`` or ``:`` (so that
    apostrophes in prose inside a bad object do not swallow the rest).
    """
    j = i - 1
    while j >= 0 and s[j].isspace():
        j -= 1
    return j >= 0 and s[j] in "{[,:"


def _loads(text: str) -> Any:
    """JSON, else a Python literal (small models write single quotes / True / None). Raises
    ValueError when neither parses.
    """
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
        raise ValueError(str(exc)) from exc


def _repair(text: str) -> str:
    """Close unbalanced brackets/strings of a truncated JSON value (best effort)."""
    stack: list[str] = []
    in_str = False
    esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    return text + ('"' if in_str else "") + "".join(reversed(stack))


def _looks_like_call(text: str) -> bool:
    return bool(re.search(r"""["']?(name|arguments|parameters|function)["']?\s*:""", text))


class TextToolCallFilter:
    """A streaming filter: ``feed(text) -> text safe to speak now``; ``finish() -> the rest``.

    tool_names: the offered tools; calls naming anything else are rejected.
    salvage: when call-shaped text is broken beyond repair but clearly names an offered tool
        (``{"name": "end_call", "arguments": {"}}``), still emit that call, with the arguments
        that can be recovered or ``{}``; the caller is expected to check the arguments against the
        tool's schema (:class:`voiceagent.providers.local.llm.LocalLLM` asks again under a grammar).
    Attributes: ``calls`` (the :class:`ToolCallRequest` found so far, in order), ``rejected``
    (short descriptions of call-like JSON that was dropped: unknown tool, bad arguments, garbage).
    """

    def __init__(self, tool_names: Iterable[str], *, salvage: bool = False) -> None:
        self.tool_names = set(tool_names)
        self.salvage = salvage
        self.calls: list[ToolCallRequest] = []
        self.rejected: list[str] = []
        self._buf = ""
        self._finished = False

    # ------------------------------------------------------------------ public
    def feed(self, text: str) -> str:
        """Add streamed text; return the part that is certainly not a tool call."""
        if self._finished:
            raise RuntimeError("TextToolCallFilter.feed after finish")
        self._buf += text
        return self._drain(final=False)

    def finish(self) -> str:
        """End of the reply: resolve anything held back and return the remaining speakable text."""
        out = self._drain(final=True)
        self._finished = True
        return out

    # ------------------------------------------------------------------ internals
    def _drain(self, *, final: bool) -> str:
        out: list[str] = []
        while self._buf:
            pos, trig = self._next_trigger(self._buf)
            if trig is None:
                keep = 0 if final else self._partial_trigger_tail(self._buf)
                out.append(self._buf[: len(self._buf) - keep])
                self._buf = self._buf[len(self._buf) - keep :]
                break
            out.append(self._buf[:pos])
            self._buf = self._buf[pos:]
            text = self._consume_block(trig, final=final)
            if text is None:  # block not complete yet: wait for more text
                break
            out.append(text)
        spoken = "".join(out)
        if final and self._buf == "" and re.search(r"<tool|<function", spoken):
            spoken = re.sub(r"<(tool|function)\w*>?$", "", spoken)  # a tag cut off by max_tokens
        return _STRAY.sub("", spoken)

    def _next_trigger(self, s: str) -> tuple[int, str | None]:
        best, which = len(s), None
        for candidate in _TRIGGERS:
            trig = candidate
            i = s.find(trig)
            if trig in "{[":
                while i != -1:
                    ok = self._json_start_ok(s, i)
                    if ok is None:  # undecided until the next character arrives: hold here
                        trig = "?"
                        break
                    if ok:
                        break
                    i = s.find(trig, i + 1)
            if i != -1 and i < best:
                best, which = i, trig
        return best, which

    @staticmethod
    def _json_start_ok(s: str, i: int) -> bool | None:
        """Whether the ``{``/``[`` at ``i`` may open a JSON object (``{"``, ``{'``, ``{}``,
        ``[{``); None when the next non-space character has not arrived yet.
        """
        j = i + 1
        while j < len(s) and s[j].isspace():
            j += 1
        if j >= len(s):
            return None
        nxt = s[j]
        if s[i] == "{":
            return nxt in "\"'}"
        if nxt == "{":
            return TextToolCallFilter._json_start_ok(s, j) is not False
        return False

    @staticmethod
    def _partial_trigger_tail(s: str) -> int:
        """Length of the longest tail of ``s`` that is a proper prefix of a tag, fence or special
        token.
        """
        best = 0
        for trig in _HOLD:
            for n in range(min(len(trig) - 1, len(s)), 0, -1):
                if s.endswith(trig[:n]):
                    best = max(best, n)
                    break
        return best

    def _take(self, n: int, text: str = "") -> str:
        self._buf = self._buf[n:]
        return text

    def _consume_block(self, trig: str, *, final: bool) -> str | None:
        """Handle the block at the start of ``self._buf``: advance the buffer past it and return
        the speakable text it yields (usually ""), or None when more text is needed. Records
        calls and rejections; JSON inside is never returned.
        """
        s = self._buf
        if trig == "?":  # "{" or "[" whose next character has not arrived yet
            return None if not final else self._take(1, s[:1])
        if trig in _TAG_OPEN:
            close = _TAG_CLOSE[trig]
            end = s.find(close, len(trig))
            nxt = min((k for k in (s.find(t, len(trig)) for t in _TAG_OPEN) if k != -1), default=-1)
            if end != -1 and (nxt == -1 or end < nxt):
                self._parse_body(s[len(trig) : end])
                return self._take(end + len(close))
            if nxt != -1:  # a new call starts before this one closed
                self._parse_body(s[len(trig) : nxt])
                return self._take(nxt)
            if final or len(s) > _MAX_HOLD:
                self._parse_body(s[len(trig) :], truncated=True)
                return self._take(len(s))
            return None
        if trig == _FENCE:
            end = s.find(_FENCE, 3)
            if end == -1 and not (final or len(s) > _MAX_HOLD):
                return None
            stop = len(s) if end == -1 else end + 3
            body = s[3:] if end == -1 else s[3:end]
            # drop the info string ("json", "tool_call", ...) on the opening line
            first, nl, rest = body.partition("\n")
            if nl and re.fullmatch(r"\s*[\w-]*\s*", first):
                body = rest
            stripped = body.strip()
            if stripped.startswith(("{", "[", "<")) or _looks_like_call(stripped):
                self._parse_body(body, truncated=end == -1)
                return self._take(stop)
            # an ordinary code block: speak its text, not its fences
            self._buf = body + s[stop:]
            return ""
        # bare JSON
        json_end = _scan_json_end(s, 0)
        if json_end is None:
            if not (final or len(s) > _MAX_HOLD):
                return None
            if self._parse_json_text(_repair(s), quiet=True):
                return self._take(len(s))
            if _looks_like_call(s):
                if not self._salvage(s):
                    self.rejected.append(f"unterminated call-like JSON: {s[:80]!r}")
                return self._take(len(s))
            return self._take(1, s[:1])
        candidate = s[:json_end]
        if self._parse_json_text(candidate, quiet=True):
            return self._take(json_end)
        try:
            _loads(candidate)
            parsed_ok = True
        except ValueError:
            parsed_ok = False
        if parsed_ok or _looks_like_call(candidate):
            # JSON (or call-shaped garbage) that is not a valid call: never speak it
            if parsed_ok or not self._salvage(candidate):
                self.rejected.append(f"not a valid tool call: {candidate[:80]!r}")
            return self._take(json_end)
        return self._take(1, s[:1])

    # ------------------------------------------------------------------ parsing
    def _parse_body(self, body: str, *, truncated: bool = False) -> None:
        """Parse every JSON value inside a tag/fence body."""
        body = _STRAY.sub("", body).strip()
        if body.startswith(_FENCE):
            body = re.sub(r"^```[\w-]*\s*", "", body)
            body = body.rsplit(_FENCE, 1)[0] if _FENCE in body else body
        found = False
        i = 0
        while i < len(body):
            j = min((k for k in (body.find("{", i), body.find("[", i)) if k != -1), default=-1)
            if j == -1:
                break
            end = _scan_json_end(body, j)
            if end is None:
                if truncated:
                    found |= self._parse_json_text(_repair(body[j:]))
                break
            found |= self._parse_json_text(body[j:end])
            i = end
        if not found and body and not self._salvage(body):
            self.rejected.append(f"no valid call in block: {body[:80]!r}")

    def _salvage(self, text: str) -> bool:
        """With ``salvage`` on: recover a call naming an offered tool from broken text."""
        if not self.salvage:
            return False
        m = re.search(r"""["']name["']\s*:\s*["']([\w.\-]+)["']""", text)
        if not m or m.group(1) not in self.tool_names:
            return False
        args = "{}"
        a = re.search(r"""["'](?:arguments|parameters)["']\s*:\s*(\{)""", text)
        if a:
            end = _scan_json_end(text, a.start(1))
            try:
                value = _loads(text[a.start(1) : end] if end else _repair(text[a.start(1) :]))
                if isinstance(value, dict):
                    args = json.dumps(value, ensure_ascii=False)
            except ValueError:
                pass
        self.calls.append(ToolCallRequest(id=f"call_{uuid.uuid4().hex[:16]}", name=m.group(1), arguments=args))
        self.rejected.append(f"salvaged a broken call to {m.group(1)!r}: {text[:80]!r}")
        return True

    def _parse_json_text(self, text: str, *, quiet: bool = False) -> bool:
        """Record the call(s) in ``text``; True when at least one valid call was recorded."""
        try:
            value = _loads(text)
        except ValueError:
            if not quiet:
                self.rejected.append(f"unparseable: {text[:80]!r}")
            return False
        items = value if isinstance(value, list) else [value]
        ok = False
        for item in items:
            call = self._to_call(item)
            if call is not None:
                self.calls.append(call)
                ok = True
        return ok

    def _to_call(self, item: Any) -> ToolCallRequest | None:
        if not isinstance(item, dict):
            return None
        if isinstance(item.get("function"), dict):  # OpenAI shape {"type": "function", ...}
            item = item["function"]
        name = item.get("name")
        if not isinstance(name, str):
            return None
        if name not in self.tool_names:
            self.rejected.append(f"unknown tool {name!r}")
            return None
        if "arguments" in item or "parameters" in item:
            args = item.get("arguments", item.get("parameters"))
        else:
            args = {k: v for k, v in item.items() if k not in ("name", "type", "id")}
        if isinstance(args, str):
            try:
                args = _loads(args) if args.strip() else {}
            except ValueError:
                self.rejected.append(f"bad arguments for {name!r}: {args[:80]!r}")
                return None
        if args is None:
            args = {}
        if not isinstance(args, dict):
            self.rejected.append(f"arguments for {name!r} are not an object")
            return None
        return ToolCallRequest(
            id=f"call_{uuid.uuid4().hex[:16]}", name=name, arguments=json.dumps(args, ensure_ascii=False)
        )


def extract_tool_calls(text: str, tool_names: Iterable[str]) -> tuple[str, list[ToolCallRequest]]:
    """One-shot form of :class:`TextToolCallFilter`: ``(speakable text, calls)``."""
    f = TextToolCallFilter(tool_names)
    spoken = f.feed(text) + f.finish()
    return spoken, f.calls
