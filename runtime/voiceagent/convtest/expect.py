"""Checking a turn's ``expect:`` against what happened, with failures in plain words.

:func:`check_turn` returns one sentence per unmet expectation, each naming the turn, what was
expected and what happened (the agent's words, the calls it made), e.g. ``turn 1: expected a call
to get_account_info with account_id '12345'; the agent called get_account_info with account_id
'67890' and said 'Let me check.'``. Everything quoted comes from the (redacted) event log.
``judge`` is not checked here (see :mod:`voiceagent.convtest.judge`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from voiceagent.config.builtin_functions import VERIFY_FUNCTION
from voiceagent.convtest.models import Expect, ExpectedCall, compile_pattern
from voiceagent.convtest.record import ToolCallRecord, TurnRecord

_QUOTE_CHARS = 160

# Languages by writing system: a reply's script tells these apart.
_SCRIPTS = {
    "DEVANAGARI": {"hi", "mr", "ne", "sa", "kok", "mai"},
    "BENGALI": {"bn", "as"},
    "TAMIL": {"ta"},
    "TELUGU": {"te"},
    "KANNADA": {"kn"},
    "MALAYALAM": {"ml"},
    "GUJARATI": {"gu"},
    "GURMUKHI": {"pa"},
    "ORIYA": {"or"},
    "ARABIC": {"ar", "ur", "fa"},
    "CYRILLIC": {"ru", "uk", "bg", "sr"},
    "HANGUL": {"ko"},
    "HIRAGANA": {"ja"},
    "KATAKANA": {"ja"},
    "CJK": {"zh", "yue", "ja"},
    "LATIN": {"en", "es", "fr", "de", "it", "nl", "pt", "pl", "sv", "tr", "id", "vi"},
}


def quote(text: str) -> str:
    """``text`` in single quotes, shortened to about 160 characters."""
    text = " ".join(str(text).split())
    if len(text) > _QUOTE_CHARS:
        text = text[: _QUOTE_CHARS - 3].rstrip() + "..."
    return f"'{text}'"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return quote(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _args_text(args: Any) -> str:
    if isinstance(args, dict):
        if not args:
            return "no arguments"
        return ", ".join(f"{k} {_show(v)}" for k, v in args.items())
    return f"arguments {_show(args)}"


def _call_text(call: ToolCallRecord) -> str:
    return f"{call.name} with {_args_text(call.arguments)}"


def said_text(rec: TurnRecord) -> str:
    """``said '...'`` or ``said nothing``."""
    return f"said {quote(rec.reply)}" if rec.reply else "said nothing"


def what_happened(rec: TurnRecord) -> str:
    """``the agent called X with ... and said '...'`` (or called no tool)."""
    if rec.calls:
        calls = "; then ".join(_call_text(c) for c in rec.calls)
        return f"the agent called {calls} and {said_text(rec)}"
    return f"the agent called no tool and {said_text(rec)}"


def value_matches(expected: Any, actual: Any) -> bool:
    """Subset match of tool arguments: mappings by key (subset), lists item by item, text
    exactly or as a regular expression when written ``/like this/``; a number written in the
    test matches the same number sent as text.
    """
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and value_matches(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(value_matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, str) and len(expected) >= 2 and expected.startswith("/") and expected.endswith("/"):
        return actual is not None and compile_pattern(expected).search(_plain(actual)) is not None
    if expected == actual and type(expected) is type(actual):
        return True
    if isinstance(expected, (bool, type(None))) or isinstance(actual, (bool, type(None), dict, list)):
        return False
    return _plain(expected) == _plain(actual)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _call_matches(exp: ExpectedCall, call: ToolCallRecord) -> bool:
    return call.name == exp.name and (exp.arguments is None or value_matches(exp.arguments, call.arguments))


def _expected_call_text(exp: ExpectedCall) -> str:
    if not exp.arguments:
        return f"a call to {exp.name}"
    return f"a call to {exp.name} with {_args_text(exp.arguments)}"


def _check_tool_calls(rec: TurnRecord, expected: list[ExpectedCall]) -> list[str]:
    pos = 0
    for exp in expected:
        found = next((i for i in range(pos, len(rec.calls)) if _call_matches(exp, rec.calls[i])), None)
        if found is None:
            later = "after the calls before it " if pos else ""
            return [f"expected {_expected_call_text(exp)} {later}in this turn; {what_happened(rec)}".replace("  ", " ")]
        pos = found + 1
    return []


def _check_not_called(rec: TurnRecord, names: list[str]) -> list[str]:
    out = []
    for name in names:
        ran = [c for c in rec.calls if c.name == name and c.ran]
        if ran:
            how = "it ran and succeeded" if ran[0].ok else f"it ran and failed ({ran[0].error})"
            out.append(f"expected {name} not to run; {how}: {what_happened(rec)}")
    return out


def _check_results(rec: TurnRecord, expected: list[Any]) -> list[str]:
    out = []
    pos = 0
    for exp in expected:
        calls = [(i, c) for i, c in enumerate(rec.calls) if c.name == exp.name and c.ok is not None]
        if not calls:
            out.append(f"expected a result from {exp.name}; {exp.name} was not called: {what_happened(rec)}")
            continue
        match = next(((i, c) for i, c in calls if i >= pos and c.ok == exp.ok), None)
        if match is not None:
            pos = match[0] + 1
            continue
        call = calls[-1][1]
        if exp.ok:
            why = "it was refused" if call.refused else "it failed"
            out.append(f"expected {exp.name} to succeed; {why}: {call.error}")
        else:
            out.append(f"expected {exp.name} to fail or be refused; it succeeded and returned {_show(call.result)}")
    return out


def reply_language(text: str) -> str | None:
    """The writing system of most letters of ``text`` (``DEVANAGARI``, ``LATIN``...), None without letters."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        script = next((s for s in _SCRIPTS if name.startswith(s)), name.split(" ")[0] if name else "")
        counts[script] = counts.get(script, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else None


def _check_language(rec: TurnRecord, expected: str) -> list[str]:
    lang = expected.lower().replace("_", "-").split("-", 1)[0]
    script = reply_language(rec.reply)
    if script is None:
        return [f"expected a reply in {expected}; {what_happened(rec)}"]
    langs = _SCRIPTS.get(script, set())
    if lang not in langs:
        return [f"expected a reply in {expected}; the agent replied in {script.title()} script: {quote(rec.reply)}"]
    shared = len(langs) > 1 and rec.tts_language is not None
    if shared and rec.tts_language is not None and rec.tts_language.split("-")[0].lower() != lang:
        return [f"expected a reply in {expected}; the agent's speech was requested in {rec.tts_language}"]
    return []


def _ending(rec: TurnRecord) -> str:
    if rec.transfer is not None:
        return f"the call is being transferred to {rec.transfer.get('to')}"
    if rec.ended:
        return f"the call ended ({rec.ended})"
    return "the call goes on"


def check_turn(rec: TurnRecord, expect: Expect) -> list[str]:
    """Every unmet expectation of ``expect`` for the turn ``rec``, as plain sentences
    (prefixed ``turn N: ``); an empty list when everything holds.
    """
    out: list[str] = []
    if expect.tool_calls:
        out += _check_tool_calls(rec, expect.tool_calls)
    if expect.tools_not_called:
        out += _check_not_called(rec, expect.tools_not_called)
    if expect.tool_results:
        out += _check_results(rec, expect.tool_results)
    low = rec.reply.casefold()
    for text in expect.reply_contains or []:
        if text.casefold() not in low:
            out.append(f"expected the reply to contain {quote(text)}; {what_happened(rec)}")
    for text in expect.reply_not_contains or []:
        if text.casefold() in low:
            out.append(f"expected the reply not to contain {quote(text)}; the agent {said_text(rec)}")
    if expect.reply_matches is not None and not compile_pattern(expect.reply_matches).search(rec.reply):
        out.append(f"expected the reply to match /{expect.reply_matches.strip('/')}/; the agent {said_text(rec)}")
    if expect.state is not None and rec.state != expect.state:
        moves = f" (entered {' -> '.join(rec.states_entered)} in this turn)" if rec.states_entered else ""
        out.append(f"expected the call to be in state '{expect.state}'; it is in '{rec.state}'{moves}")
    if expect.verification_level is not None and rec.verification_level != expect.verification_level:
        verifies = [c for c in rec.calls if c.name == VERIFY_FUNCTION]
        how = (
            f"verify_caller was called {len(verifies)} time(s) in this turn"
            if verifies
            else "verify_caller was not called in this turn"
        )
        out.append(f"expected verification level {expect.verification_level}; it is {rec.verification_level} ({how})")
    if expect.language is not None:
        out += _check_language(rec, expect.language)
    if expect.transfer is not None:
        out += _check_transfer(rec, expect.transfer)
    if expect.end is not None:
        ended = rec.ended is not None
        if expect.end and not ended:
            out.append(f"expected the call to end after this turn; it goes on ({what_happened(rec)})")
        elif not expect.end and ended:
            out.append(f"expected the call to go on; {_ending(rec)}")
    if expect.within_ms is not None:
        took = rec.first_reply_ms
        if took is None:
            out.append(f"expected a reply within {expect.within_ms} ms; the agent did not reply")
        elif took > expect.within_ms:
            out.append(
                f"expected the first reply within {expect.within_ms} ms of the end of the caller's words; "
                f"it took {took:.0f} ms"
            )
    return [f"turn {rec.number}: {line}" for line in out]


def _check_transfer(rec: TurnRecord, expected: Any) -> list[str]:
    if expected is False:
        return [f"expected no transfer; {_ending(rec)}"] if rec.transfer is not None else []
    want = None if expected is True else expected.to
    if rec.transfer is None:
        where = f" to {want}" if want else ""
        return [f"expected the call to be transferred{where}; {_ending(rec)} ({what_happened(rec)})"]
    if want is not None and _digits(str(rec.transfer.get("to"))) != _digits(want):
        return [f"expected a transfer to {want}; the call is being transferred to {rec.transfer.get('to')}"]
    return []


def _digits(number: str) -> str:
    return re.sub(r"[\s().-]", "", number)
