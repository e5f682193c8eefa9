"""Deterministic comparison of a caller-stated verification factor with the record of truth.

Rules (used by :mod:`voiceagent.engine.guardrails`):

* dates: when both sides parse as a date they match iff they are the same day. Accepted
  spellings: ``1990-05-17``, ``1990/05/17``, ``17/05/1990``, ``17-05-1990``, ``17.05.1990``
  (day first; month first only when the second number cannot be a month, as in
  ``05/17/1990``), ``19900517``, ``17 May 1990``, ``17th of May, 1990``,
  ``May 17 1990``, ``May 17th, 1990``, ``Sept 3 1990``; datetime/date objects.
* numbers (account numbers, card/account "last four", PINs): when the record value is mostly
  digits, both sides are reduced to digits (spoken digit words "one two three four" and
  "oh" count); factors whose name contains ``last_four`` / ``last4`` compare the last four
  digits of each side.
* text (names, cities): Unicode NFKC, case-folded, accents removed, punctuation dropped,
  whitespace collapsed; a match also when the two differ only in spacing ("Mc Donald").
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from voiceagent.digit_words import DIGIT_WORDS

__all__ = ["digits_of", "factor_matches", "normalise_text", "parse_date"]

_MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}

_NUMERIC_DATE = re.compile(r"^\s*(\d{1,4})\s*[-/.\s]\s*(\d{1,2})\s*[-/.\s]\s*(\d{1,4})\s*$")
_ISO_DATETIME = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}")
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")


def _mk(y: int, m: int, d: int) -> date | None:
    if y < 100:
        return None  # two-digit years are ambiguous; refuse rather than guess
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_date(value: Any) -> date | None:
    """``value`` as a :class:`datetime.date`, or None when it is not a recognisable full date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    if not text or len(text) > 40:
        return None
    m = _ISO_DATETIME.match(text) or _COMPACT.match(text)
    if m:
        return _mk(int(m[1]), int(m[2]), int(m[3]))
    m = _NUMERIC_DATE.match(text)
    if m:
        a, b, c = m[1], m[2], m[3]
        if len(a) == 4:  # year first: Y-M-D
            return _mk(int(a), int(b), int(c))
        if len(c) != 4:
            return None
        d1, d2, y = int(a), int(b), int(c)
        if d2 > 12 and d1 <= 12:  # only month-first can be right: 05/17/1990
            return _mk(y, d1, d2)
        return _mk(y, d2, d1)  # day first: 17/05/1990
    # words: "17th of May, 1990", "May 17th 1990", "17 May 1990"
    tokens = re.findall(r"[a-z]+|\d+", text.casefold())
    tokens = [t for t in tokens if t not in ("of", "the", "st", "nd", "rd", "th")]
    month = day = year = None
    for tok in tokens:
        if tok.isdigit():
            n = int(tok)
            if len(tok) == 4 and year is None:
                year = n
            elif len(tok) <= 2 and day is None:
                day = n
            else:
                return None
        elif tok in _MONTHS and month is None:
            month = _MONTHS[tok]
        else:
            return None
    if month is None or day is None or year is None:
        return None
    return _mk(year, month, day)


def normalise_text(value: Any) -> str:
    """Case-folded, accent-free text without punctuation, single-spaced."""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[^\w\s]|_", " ", text)
    return " ".join(text.split())


def digits_of(value: Any) -> str:
    """The digits in ``value``; spoken digit words count ("four one" -> "41")."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(abs(value))
    words = re.findall(r"[a-z]+|\d", normalise_text(value))
    if any(w.isalpha() and w not in DIGIT_WORDS and w not in ("double", "triple") for w in words):
        # Not a spoken number: take the digits only ("**** 1234" -> "1234").
        return re.sub(r"\D", "", str(value))
    out: list[str] = []
    repeat = 1
    for w in words:
        if w == "double":
            repeat = 2
        elif w == "triple":
            repeat = 3
        else:
            out.append((w if w.isdigit() else DIGIT_WORDS[w]) * repeat)
            repeat = 1
    return "".join(out)


def _is_numeric_record(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    text = str(value)
    digits = sum(ch.isdigit() for ch in text)
    letters = sum(ch.isalpha() for ch in text)
    return digits > 0 and letters == 0


def factor_matches(factor: str, provided: Any, record: Any) -> bool:
    """Whether the caller's ``provided`` value for ``factor`` equals the ``record`` value.

    Deterministic; see the module docstring for the rules. Empty values never match.
    """
    if provided is None or record is None or str(provided).strip() == "" or str(record).strip() == "":
        return False
    rec_date = parse_date(record)
    if rec_date is not None:
        return parse_date(provided) == rec_date
    if _is_numeric_record(record):
        want, got = digits_of(record), digits_of(provided)
        if not want or not got:
            return False
        key = factor.casefold().replace("-", "_")
        if "last_four" in key or "last4" in key or "last_4" in key:
            return len(got) >= 4 and want[-4:] == got[-4:]
        return want == got
    a, b = normalise_text(provided), normalise_text(record)
    if not a or not b:
        return False
    return a == b or a.replace(" ", "") == b.replace(" ", "")
