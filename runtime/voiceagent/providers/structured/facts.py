"""Identity facts the caller just said, for ``verify_caller``: copied by the model, checked here.

A 0.5B model asked to choose between speaking and ``{"verify": ...}`` mostly speaks ("Your full
name is Ravi Kumar, and your date of birth is 12 April 1985."), but asked only to copy the
verification factors out of the caller's latest words (a grammar allowing nothing else) it does
that. :func:`grounded_facts` keeps only the values whose every word or number the caller said
(month names count as their numbers, spoken digits as digits), so nothing the model invents
reaches the verification guard, which still decides whether the facts match.
"""

from __future__ import annotations

import json
import re
from typing import Any

from voiceagent.config.builtin_functions import VERIFY_FUNCTION
from voiceagent.digit_words import DIGIT_WORDS
from voiceagent.providers.local.guidance import candidate_values

__all__ = ["grounded_facts", "merged_facts", "spotted_facts", "tokens", "tried_before", "verify_arguments"]

_MONTHS = {
    m: str(i)
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_SPOKEN = {w: d for w, d in DIGIT_WORDS.items() if len(w) > 2}
"""Spoken digits ("seven" -> "7"), without "o"/"oh", which in a name or "oh, and ..." are no digit."""
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th)$")
_GROUPED = re.compile(r"(?<![\d,])\d{1,3}(?:,\d{3})+(?![\d,])")


def tokens(text: str) -> list[str]:
    """Lower-case words and numbers of ``text``: numbers without leading zeros, "12th" -> "12",
    month names -> their number (also kept as words), spoken single digits -> digits, runs of
    single digits joined ("7 7 8 8" -> also "7788"), and a number with thousands separators also
    whole ("4,321" -> "4", "321" and "4321": Whisper writes "my account ends in 4,321").
    """
    out: list[str] = [m.replace(",", "").lstrip("0") or "0" for m in _GROUPED.findall(text)]
    digits: list[str] = []
    for raw in re.findall(r"[a-z0-9]+", text.lower()):
        word = _SPOKEN.get(raw, raw)
        ordinal = _ORDINAL.match(word)
        if ordinal:
            word = ordinal.group(1)
        if word.isdigit():
            out.append(word.lstrip("0") or "0")
            digits.append(word)
            continue
        if len(digits) > 1 and all(len(d) == 1 for d in digits):
            out.append("".join(digits))
        digits = []
        out.append(word)
        if word in _MONTHS:
            out.append(_MONTHS[word])
    if len(digits) > 1 and all(len(d) == 1 for d in digits):
        out.append("".join(digits))
    return out


def grounded_facts(facts: dict[str, Any], said: str, schema: dict[str, Any]) -> dict[str, str]:
    """The entries of ``facts`` (factor -> value the model copied) whose every word or number
    occurs in ``said`` (the caller's latest words); values failing the factor's ``pattern`` (if
    any) are dropped too.

    Examples: ``{"full_name": "Ravi Kumar", "dob": "1985-04-12"}`` against "Ravi Kumar, born 12
    April 1985" keeps both; ``{"city": "Pune"}`` against "my name is Ravi" keeps nothing.
    """
    heard = set(tokens(said))
    props = schema.get("properties") or {}
    out: dict[str, str] = {}
    for name, value in facts.items():
        if name not in props or not isinstance(value, str) or not value.strip():
            continue
        words = tokens(value)
        if not words or not all(w in heard for w in words):
            continue
        spec = props.get(name) or {}
        if spec.get("pattern") and value not in candidate_values(said, spec):
            continue
        out[name] = value.strip()
    return out


_DIGIT_FACTOR = re.compile(r"last_?four|last_?4|digits?|pin|number|_no$|code|zip|postcode|phone|mobile")
_DATE_FACTOR = re.compile(r"dob|birth|date")
_GENERIC = frozenset({"last", "four", "4", "digits", "digit", "number", "no", "num", "code", "of", "the"})
_MONTH_WORDS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_DATES = (
    re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH_WORDS},?\s+\d{{4}}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH_WORDS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b", re.IGNORECASE),
    re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\b"),
)


_NOT_NAMES = r"(?!(?i:hi|hello|hey|yes|yeah|no|sure|okay|ok|thanks|thank|sorry|well|so|actually|please|i)\b)"
_PROPER = rf"({_NOT_NAMES}[A-Z][a-z]+(?:\s+{_NOT_NAMES}[A-Z][a-z]+){{0,2}})"
_TEXT_CUES = (
    (
        re.compile(r"name"),
        (
            re.compile(rf"\b(?i:my\s+name\s+is|name's|this\s+is|i\s+am|i'm|it's)\s+{_PROPER}"),
            re.compile(
                rf"^\s*(?i:hi|hello|yes|yeah|sure|okay|ok)?[,.]?\s*{_PROPER}\s*(?:,|\bhere\b|\bfrom\b|\bborn\b)"
            ),
        ),
    ),
    (
        re.compile(r"city|town|place|location"),
        (re.compile(rf"\b(?i:live\s+in|living\s+in|from|city\s+is|based\s+in|stay\s+in)\s+{_PROPER}"),),
    ),
)
"""Name- and city-like factors: the capitalised words after the phrase that introduces them
("my name is Ravi Kumar", "Ravi Kumar, born ...", "I live in Pune", "from Pune")."""


def _digit_runs(said: str) -> list[tuple[str, list[str]]]:
    """Each run of three or more digits in ``said`` (a number, or single digits spoken or written
    one by one: "seven seven eight eight", "7 7 8 8"), with the words just before it.
    """
    runs: list[tuple[str, list[str]]] = []
    context: list[str] = []
    digits: list[str] = []

    def close() -> None:
        run = "".join(digits)
        if len(run) >= 3 and (len(digits) == 1 or all(len(d) == 1 for d in digits)):
            runs.append((run, context[-6:]))
            context.clear()
        elif digits:
            context.extend(digits)
        digits.clear()

    plain = re.sub(r"(?<=\d)[,.](?=\d{3}\b)", "", said.lower())  # "7,788" as the recognizer writes 7788
    for raw in re.findall(r"[a-z]+|\d+", plain):
        word = _SPOKEN.get(raw, raw)
        if word.isdigit() and (not digits or (len(word) == 1 and all(len(d) == 1 for d in digits))):
            digits.append(word)
            continue
        close()
        if word.isdigit():
            digits.append(word)
        else:
            context.append(word)
    close()
    return runs


def _cue_hits(heard: list[str], cues: set[str]) -> int:
    """How many of a factor's name words ``cues`` are among the ``heard`` words, a word of five
    letters or more also counting for a cue it ends: the recognizer drops a first syllable
    (espeak-ng's "my account ends in 4321" was heard as "my count ended in 4,321").
    """
    return sum(1 for cue in cues if any(w == cue or (len(w) >= 5 and cue.endswith(w)) for w in heard))


def spotted_facts(said: str, schema: dict[str, Any]) -> dict[str, str]:
    """Digit and date factors read from ``said`` without the model, by the words that name them.

    A run of digits goes to the one digit-like factor (``..._last_four``, ``pin``, ``..._number``)
    whose name words (less "last", "four", "number") occur just before it: "my debit card ends in
    7788" -> ``debit_card_last_four``, "account ending four three two one" ->
    ``account_last_four``; a date ("12 April 1985", "April 12th, 1985", "1985-04-12") goes to the
    one date-like factor (``dob``, ``date_of_birth``); capitalised words after "my name is" /
    "this is" go to the one name-like factor, after "I live in" / "from" to the one city-like
    factor (:data:`_TEXT_CUES`). A name word heard without its first syllable counts ("my count
    ends in 4321" -> ``account_last_four``). The value is kept as the caller said it
    (the guard normalises it). The 0.5B model copied "7788" into ``account_last_four`` when the
    caller said "card".
    """
    names = list((schema.get("properties") or {}).keys())
    out: dict[str, str] = {}
    digit_factors = {n: set(n.lower().split("_")) - _GENERIC for n in names if _DIGIT_FACTOR.search(n.lower())}
    for run, before in _digit_runs(said):
        scores = {n: _cue_hits(before, kw) for n, kw in digit_factors.items()}
        best = max(scores.values(), default=0)
        winners = [n for n, s in scores.items() if s == best]
        if best and len(winners) == 1 and winners[0] not in out:
            out[winners[0]] = run
    for kind, cues in _TEXT_CUES:
        factors = [n for n in names if kind.search(n.lower()) and not _DIGIT_FACTOR.search(n.lower())]
        found = next((m for cue in cues if (m := cue.search(said))), None)
        if len(factors) == 1 and found:
            out[factors[0]] = found.group(1)
    date_factors = [n for n in names if _DATE_FACTOR.search(n.lower())]
    if len(date_factors) == 1:
        for pattern in _DATES:
            found = pattern.search(said)
            if found:
                out[date_factors[0]] = found.group(0)
                break
    return out


def merged_facts(model: dict[str, str], spotted: dict[str, str]) -> dict[str, str]:
    """The model's grounded facts with the spotted ones (:func:`spotted_facts`) put right: a value
    the model filed under another factor is moved to the spotted one.
    """
    taken = {re.sub(r"\D", "", v) for v in spotted.values()} - {""}
    out = {k: v for k, v in model.items() if k in spotted or re.sub(r"\D", "", v) not in taken}
    out.update(spotted)
    return out


def verify_arguments(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The arguments of every ``verify_caller`` call in ``messages`` (assistant messages'
    ``tool_calls`` in OpenAI chat format, arguments a JSON object string), in order; calls whose
    arguments are not a JSON object are left out.
    """
    out: list[dict[str, Any]] = []
    for msg in messages:
        for call in msg.get("tool_calls") or [] if msg.get("role") == "assistant" else []:
            function = call.get("function", call)
            if function.get("name") != VERIFY_FUNCTION:
                continue
            try:
                args = json.loads(function.get("arguments") or "{}")
            except (TypeError, ValueError):
                continue
            if isinstance(args, dict):
                out.append(args)
    return out


def tried_before(facts: dict[str, str], messages: list[dict[str, Any]]) -> bool:
    """Whether an earlier ``verify_caller`` call of this conversation had exactly these ``facts``
    (:func:`verify_arguments`; case and outer spaces aside).

    The guard's answer to the same facts cannot change, so a second call only spends one of the
    caller's attempts: after flite's "Ravi Kumar from Pune" was heard as "Ragi Kumar from Poon"
    and refused, the model chose ``{"verify": ...}`` with those words again for the
    caller's next "What is my balance?" (docs/offline.md).
    """

    def norm(args: dict[str, Any]) -> dict[str, str]:
        return {k: str(v).strip().lower() for k, v in args.items()}

    return any(norm(args) == norm(facts) for args in verify_arguments(messages))
