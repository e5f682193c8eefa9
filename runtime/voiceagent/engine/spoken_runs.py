"""Runs of numbers in text as people say them: tokens, runs and digit groups.

A *run* is a sequence of number tokens joined by spaces, hyphens or commas: digits (ASCII or
Devanagari, ``4111 1111``), digit words ("seven seven eight eight", "saat saat", "सात सात"),
"double" / "triple" ("double seven"), two-digit words ("seventy seven eighty eight",
"nineteen eighty five", "पचासी") and cardinals ("one thousand nine hundred and eighty five",
"उन्नीस सौ पचासी"). Each run is read into *groups* (``"77"``, ``"88"``); their concatenation is
the digit string the caller meant (``"7788"``, ``"1985"``). Not part of runs: decimals and times
(``42.50``, ``3:30``: the ``.`` and ``:`` split them), thousands separators (``1,500``) and
words mixing letters and digits (``FD1002``). Used by :mod:`.spoken_dates` and :mod:`.spoken_spans`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from voiceagent.engine.spoken_vocab import (
    DATE_FILLERS,
    HOMOGRAPHS,
    MONTHS,
    NUMBER_WORDS,
    ROMAN_HINDI,
    NumberWord,
    normalise_word,
)

__all__ = ["Group", "Scan", "Token", "decimal_digits", "joined_for_date", "scan"]

# ``\w`` does not match Devanagari vowel signs and viramas (categories Mc/Mn): add the block.
_TOKEN = re.compile(r"[\w\u0900-\u0963\u0971-\u097f\u200c\u200d]+")
_ORDINAL_NUM = re.compile(r"(\d+)(?:st|nd|rd|th)", re.IGNORECASE)
_RUN_SEP = re.compile(r"[\s\-\u2013]*|\s*,\s*")
_DATE_SEP = re.compile(r"[\s,.'\u2019\-\u2013]*")

_MAX_CARDINAL = 10**15
_KINDS = {
    **dict.fromkeys(DATE_FILLERS, "filler"),
    **dict.fromkeys(MONTHS, "month"),
    **dict.fromkeys(NUMBER_WORDS, "word"),
}


@dataclass(slots=True)
class Token:
    """A word or number of the text that matters here (other words are ``None`` in :attr:`Scan.toks`).

    Attributes: ``start`` / ``end`` character offsets; ``kind`` ``num`` | ``word`` | ``month`` |
    ``filler``; ``key`` the normalised word; ``digits`` (``num``); ``word`` (``word``);
    ``ordinal`` ("12th", "twelfth"); ``month`` 1-12 (``month``).
    """

    start: int
    end: int
    kind: str  # num | word | month | filler
    key: str = ""
    digits: str = ""
    word: NumberWord | None = None
    ordinal: bool = False
    month: int = 0


@dataclass(slots=True)
class Group:
    """Digits said as one unit ("77" for "seventy seven" or "double seven"; "1985" for "one
    thousand nine hundred eighty five"), from token ``first`` to ``last`` (inclusive); ``mag``:
    a cardinal with hundred / thousand / lakh.
    """

    digits: str
    first: int  # token indices (inclusive)
    last: int
    mag: bool = False
    ordinal: bool = False

    @property
    def value(self) -> int:
        """The number (10**9 for longer digit strings)."""
        return int(self.digits) if len(self.digits) <= 9 else 10**9  # bounded: int() of 5000 digits fails


@dataclass(slots=True)
class _Acc:  # a cardinal being read: total + current ("one thousand" + "nine hundred eighty five")
    first: int
    last: int
    current: int
    total: int = 0
    last_kind: str = ""
    mag: bool = False
    ordinal: bool = False

    def group(self) -> Group:
        return Group(str(self.total + self.current), self.first, self.last, self.mag, self.ordinal)


@dataclass
class Scan:
    """The tokens and runs of one text; ``group_at`` / ``group_end`` find a group by its first /
    last token index.
    """

    text: str
    toks: list[Token | None]  # None: a word that is not a number, month or filler (it breaks runs)
    runs: list[list[Group]] = field(default_factory=list)
    group_at: dict[int, tuple[int, int]] = field(default_factory=dict)  # first token -> (run, group)
    group_end: dict[int, Group] = field(default_factory=dict)  # last token -> group


def decimal_digits(token: str) -> str:
    """ASCII digits of a token of decimal digits (Devanagari ``१२`` -> ``12``)."""
    return token if token.isascii() else "".join(str(unicodedata.decimal(c)) for c in token)


def scan(text: str) -> Scan | None:
    """The tokens and runs of ``text``, or None when it holds no number at all (the fast path)."""
    toks = _tokens(text)
    if not any(t is not None and t.kind in ("num", "word") for t in toks):
        return None
    result = Scan(text, toks)
    _runs(result)
    return result


def joined_for_date(text: str, a: Token, b: Token) -> bool:
    """Whether only date separators (spaces, ``,`` ``.`` ``'`` ``-``) stand between ``a`` and ``b``."""
    return _DATE_SEP.fullmatch(text[a.end : b.start]) is not None


def _tokens(text: str) -> list[Token | None]:
    toks: list[Token | None] = []
    append = toks.append
    for m in _TOKEN.finditer(text):
        t = m.group()
        if t[0].isdigit():
            if t.isdecimal():
                append(Token(m.start(), m.end(), "num", digits=decimal_digits(t)))
                continue
            o = _ORDINAL_NUM.fullmatch(t)
            if o is not None:
                append(Token(m.start(), m.end(), "num", digits=o.group(1), ordinal=True))
                continue
        key = t.lower() if t.isascii() else normalise_word(t)
        kind = _KINDS.get(key)
        if kind is None:
            append(None)
        elif kind == "word":
            word = NUMBER_WORDS[key]
            append(Token(m.start(), m.end(), "word", key, word=word, ordinal=word.ordinal))
        elif kind == "month":
            append(Token(m.start(), m.end(), "month", key, month=MONTHS[key]))
        else:
            append(Token(m.start(), m.end(), "filler", key))
    return toks


def _joined(text: str, a: Token, b: Token) -> bool:
    sep = text[a.end : b.start]
    if sep == " ":
        return True
    if _RUN_SEP.fullmatch(sep) is None:
        return False
    # "1,500": a thousands separator, not a list of digits
    return not ("," in sep and a.kind == b.kind == "num" and len(b.digits) == 3)


def _numeric(toks: list[Token | None], i: int, text: str) -> bool:
    t = toks[i]
    if t is None or t.kind not in ("num", "word"):
        return False
    if t.kind == "num" or (t.key not in HOMOGRAPHS and t.key != "and"):
        return True
    if t.key == "and":  # "one hundred and five"; elsewhere "and" is a word
        p = toks[i - 1] if i > 0 else None
        return p is not None and p.word is not None and p.word.kind == "mag"
    # "do", "teen", "char": numbers only next to another romanised Hindi number word
    for j in (i - 1, i + 1):
        n = toks[j] if 0 <= j < len(toks) else None
        if n is not None and n.kind == "word" and n.key in ROMAN_HINDI:
            a, b = (n, t) if j < i else (t, n)
            if not text[a.end : b.start].strip():  # next to it, not across a comma
                return True
    return False


def _runs(scan: Scan) -> None:
    toks, text = scan.toks, scan.text
    numeric = [_numeric(toks, i, text) for i in range(len(toks))]
    i = 0
    while i < len(toks):
        if not numeric[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(toks) and numeric[j + 1] and not toks[j].ordinal:  # type: ignore[union-attr]
            if not _joined(text, toks[j], toks[j + 1]):  # type: ignore[arg-type]
                break
            j += 1
        groups = _groups(text, toks, i, j)  # type: ignore[arg-type]
        if groups:
            r = len(scan.runs)
            scan.runs.append(groups)
            for g_i, g in enumerate(groups):
                scan.group_at[g.first] = (r, g_i)
                scan.group_end[g.last] = g
        i = j + 1


def _groups(text: str, toks: list[Token], first: int, last: int) -> list[Group]:
    """Read tokens ``first..last`` (one run) into digit groups."""
    # trim what cannot stand at an edge: "and", "double" at the end, an "oh" that is a word
    while first <= last and _trim(text, toks, first, first + 1 if first < last else None, start=True):
        first += 1
    while last >= first and _trim(text, toks, last, last - 1 if last > first else None, start=False):
        last -= 1
    groups: list[Group] = []
    acc: _Acc | None = None
    repeat, rep_at = 1, -1

    def flush() -> None:
        nonlocal acc
        if acc is not None:
            groups.append(acc.group())
            acc = None

    for i in range(first, last + 1):
        t = toks[i]
        w = t.word
        if t.kind == "num":
            flush()
            groups.append(Group(t.digits * repeat, rep_at if repeat > 1 else i, i, ordinal=t.ordinal))
            repeat = 1
            continue
        assert w is not None
        if w.kind == "rep":
            flush()
            repeat, rep_at = w.value, i
        elif w.kind == "and":
            continue
        elif w.kind == "zero" or repeat > 1:
            flush()
            groups.append(Group(str(w.value) * repeat, rep_at if repeat > 1 else i, i, ordinal=w.ordinal))
            repeat = 1
        elif w.kind == "mag":
            if acc is not None and max(acc.current, acc.total, 1) * w.value > _MAX_CARDINAL:
                flush()  # "hundred hundred hundred ...": no number that big is said
            if acc is None:
                prev = groups[-1] if groups else None
                if prev is not None and prev.last == i - 1 and not prev.mag and len(prev.digits) <= 3:
                    groups.pop()  # "5 lakh", "2 thousand"
                    acc = _Acc(prev.first, i, prev.value)
                else:
                    acc = _Acc(i, i, 1)
            if w.value == 100:
                acc.current = (acc.current or 1) * 100
            else:
                acc.total += (acc.current or 1) * w.value
                acc.current = 0
            acc.last, acc.last_kind, acc.mag = i, "mag", True
        else:
            v = w.value
            if acc is not None and _can_add(acc, v, w.kind):
                acc.current += v
                acc.last, acc.last_kind, acc.ordinal = i, w.kind, w.ordinal
            else:
                flush()
                acc = _Acc(i, i, v, last_kind=w.kind, ordinal=w.ordinal)
    flush()
    return groups


def _trim(text: str, toks: list[Token], i: int, neighbour: int | None, *, start: bool) -> bool:
    """Whether token ``i`` at the edge of a run is not part of the number: "and", a trailing
    "double", and "oh" / "o" unless a number word is next to it by a space ("oh nine eight",
    "seven oh"; not "Oh, nine" or "3 o'clock").
    """
    t = toks[i]
    w = t.word
    if w is None:
        return False
    if w.kind == "and" or (w.kind == "rep" and not start):
        return True
    if t.key not in ("oh", "o"):
        return False
    if neighbour is None:
        return True
    n = toks[neighbour]
    a, b = (t, n) if i < neighbour else (n, t)
    return not (n.kind == "word" and not text[a.end : b.start].strip())


def _can_add(acc: _Acc, v: int, kind: str) -> bool:
    """Whether a word worth ``v`` continues the cardinal ``acc`` ("seventy" + "seven") or starts
    a new group ("seven" + "seven", "nineteen" + "eighty").
    """
    if kind == "unit":
        return acc.last_kind in ("tens", "mag")
    return acc.last_kind == "mag" and acc.current % 100 == 0
