"""Find numbers and dates in text as people say them, for the :class:`~.redaction.Redactor`.

A *run* is a sequence of number tokens joined by spaces, hyphens or commas: digits (ASCII or
Devanagari, ``4111 1111``), digit words ("seven seven eight eight", "saat saat", "सात सात"),
"double" / "triple" ("double seven"), two-digit words ("seventy seven eighty eight",
"nineteen eighty five", "पचासी") and cardinals ("one thousand nine hundred and eighty five",
"उन्नीस सौ पचासी"). Each run is read into *groups* (``"77"``, ``"88"``); their concatenation is
the digit string the caller meant (``"7788"``, ``"1985"``). Not part of runs: decimals and times
(``42.50``, ``3:30``: the ``.`` and ``:`` split them), thousands separators (``1,500``) and
words mixing letters and digits (``FD1002``).

A *date* is a month name (English or Hindi, abbreviations included) with a day before or after
it and / or a year after it ("12th of April, 1985", "April 12th, 1985", "Apr 12 1985",
"twelfth of April nineteen eighty five", "बारह अप्रैल उन्नीस सौ पचासी"), or a numeric date
(``12/04/1985``, ``1985-04-12``, ``12.04.85``).

:class:`SpokenScanner` returns the character spans to mask: runs and dates that contain a
registered value (any text), and with ``digit_runs`` / ``dates`` every run of that many digits
and every date (the caller's words, when values are not known yet).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from voiceagent.engine.spoken_vocab import (
    DATE_FILLERS,
    HOMOGRAPHS,
    MONTHS,
    NUMBER_WORDS,
    ROMAN_HINDI,
    NumberWord,
    normalise_word,
)

__all__ = ["DateParts", "SpokenScanner"]

# ``\w`` does not match Devanagari vowel signs and viramas (categories Mc/Mn): add the block.
_TOKEN = re.compile(r"[\w\u0900-\u0963\u0971-\u097f\u200c\u200d]+")
_ORDINAL_NUM = re.compile(r"(\d+)(?:st|nd|rd|th)", re.IGNORECASE)
_RUN_SEP = re.compile(r"[\s\-\u2013]*|\s*,\s*")
_DATE_SEP = re.compile(r"[\s,.'\u2019\-\u2013]*")
_NUMERIC_DATE = re.compile(r"(?<![\w.])(\d{1,4})\s?([/.\-])\s?(\d{1,2})\s?\2\s?(\d{2,4})(?![\w]|[.,]\d)")

_MAX_CARDINAL = 10**15
_KINDS = {
    **dict.fromkeys(DATE_FILLERS, "filler"),
    **dict.fromkeys(MONTHS, "month"),
    **dict.fromkeys(NUMBER_WORDS, "word"),
}

# (day, month, year); None where the text does not say it. A two-digit year is < 100.
DateParts = tuple[int | None, int | None, int | None]


@dataclass(slots=True)
class _Tok:
    start: int
    end: int
    kind: str  # num | word | month | filler
    key: str = ""
    digits: str = ""
    word: NumberWord | None = None
    ordinal: bool = False
    month: int = 0


@dataclass(slots=True)
class _Group:
    digits: str
    first: int  # token indices (inclusive)
    last: int
    mag: bool = False
    ordinal: bool = False

    @property
    def value(self) -> int:
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

    def group(self) -> _Group:
        return _Group(str(self.total + self.current), self.first, self.last, self.mag, self.ordinal)


@dataclass
class _Scan:
    text: str
    toks: list[_Tok | None]  # None: a word that is not a number, month or filler (it breaks runs)
    runs: list[list[_Group]] = field(default_factory=list)
    group_at: dict[int, tuple[int, int]] = field(default_factory=dict)  # first token -> (run, group)
    group_end: dict[int, _Group] = field(default_factory=dict)  # last token -> group


def _digits(token: str) -> str:
    return token if token.isascii() else "".join(str(unicodedata.decimal(c)) for c in token)


def _tokens(text: str) -> list[_Tok | None]:
    toks: list[_Tok | None] = []
    append = toks.append
    for m in _TOKEN.finditer(text):
        t = m.group()
        if t[0].isdigit():
            if t.isdecimal():
                append(_Tok(m.start(), m.end(), "num", digits=_digits(t)))
                continue
            o = _ORDINAL_NUM.fullmatch(t)
            if o is not None:
                append(_Tok(m.start(), m.end(), "num", digits=o.group(1), ordinal=True))
                continue
        key = t.lower() if t.isascii() else normalise_word(t)
        kind = _KINDS.get(key)
        if kind is None:
            append(None)
        elif kind == "word":
            word = NUMBER_WORDS[key]
            append(_Tok(m.start(), m.end(), "word", key, word=word, ordinal=word.ordinal))
        elif kind == "month":
            append(_Tok(m.start(), m.end(), "month", key, month=MONTHS[key]))
        else:
            append(_Tok(m.start(), m.end(), "filler", key))
    return toks


def _joined(text: str, a: _Tok, b: _Tok) -> bool:
    sep = text[a.end : b.start]
    if sep == " ":
        return True
    if _RUN_SEP.fullmatch(sep) is None:
        return False
    # "1,500": a thousands separator, not a list of digits
    return not ("," in sep and a.kind == b.kind == "num" and len(b.digits) == 3)


def _numeric(toks: list[_Tok | None], i: int, text: str) -> bool:
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


def _runs(scan: _Scan) -> None:
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


def _groups(text: str, toks: list[_Tok], first: int, last: int) -> list[_Group]:
    """Read tokens ``first..last`` (one run) into digit groups."""
    # trim what cannot stand at an edge: "and", "double" at the end, an "oh" that is a word
    while first <= last and _trim(text, toks, first, first + 1 if first < last else None, start=True):
        first += 1
    while last >= first and _trim(text, toks, last, last - 1 if last > first else None, start=False):
        last -= 1
    groups: list[_Group] = []
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
            groups.append(_Group(t.digits * repeat, rep_at if repeat > 1 else i, i, ordinal=t.ordinal))
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
            groups.append(_Group(str(w.value) * repeat, rep_at if repeat > 1 else i, i, ordinal=w.ordinal))
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


def _trim(text: str, toks: list[_Tok], i: int, neighbour: int | None, *, start: bool) -> bool:
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


def _plausible(d: int | None, m: int | None, y: int | None) -> bool:
    if m is None or not 1 <= m <= 12:
        return False
    if d is not None and not 1 <= d <= 31:
        return False
    return y is None or y < 100 or 1000 <= y <= 2999


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    digits: str = ""  # a run's digit string
    spoken_digits: int = 0  # digits of its non-cardinal groups (for digit_runs)
    dates: tuple[DateParts, ...] = ()


class SpokenScanner:
    """Spans of ``text`` to mask.

    Args:
        digit_values: registered values as digit strings (3+ digits); a run whose digit string
            contains one is masked.
        dates: registered dates; a date in the text that agrees with one on every part it says
            (day and month, month and year, or all three) is masked.
    """

    def __init__(self, digit_values: Iterable[str] = (), dates: Iterable[date] = ()) -> None:
        values = sorted({v for v in digit_values if v.isdigit()}, key=len, reverse=True)
        self._values = re.compile("|".join(values)) if values else None
        self._dates = frozenset(dates)

    @property
    def active(self) -> bool:
        """True when there is a registered value to look for."""
        return self._values is not None or bool(self._dates)

    def spans(self, text: str, *, digit_runs: int = 0, any_date: bool = False) -> list[tuple[int, int]]:
        """Merged ``(start, end)`` character spans to mask, in order.

        Args:
            text: any text.
            digit_runs: also mask every run of at least this many digits (0: off).
            any_date: also mask every date.
        """
        toks = _tokens(text)
        if not any(t is not None and t.kind in ("num", "word") for t in toks):
            return []
        scan = _Scan(text, toks)
        _runs(scan)
        out: list[tuple[int, int]] = []
        for f in self._found(scan, dates=any_date or bool(self._dates)):
            if (
                (digit_runs and f.spoken_digits >= digit_runs)
                or (any_date and f.dates)
                or (self._values is not None and f.digits and self._values.search(f.digits))
                or any(self._date_matches(p) for p in f.dates)
            ):
                out.append((f.start, f.end))
        return _merge(text, out)

    # -- what the text holds ------------------------------------------------------------------

    def _found(self, scan: _Scan, *, dates: bool) -> Iterable[_Found]:
        toks, text = scan.toks, scan.text
        for run in scan.runs:
            start, end = toks[run[0].first].start, toks[run[-1].last].end  # type: ignore[union-attr]
            digits = "".join(g.digits for g in run)
            yield _Found(start, end, digits, _spoken_digits(run), _run_dates(run) if dates else ())
        if not dates:
            return
        for i, t in enumerate(toks):
            if t is not None and t.kind == "month":
                found = _month_date(scan, i)
                if found is not None:
                    yield found
        for m in _NUMERIC_DATE.finditer(text):
            parts = _numeric_date_parts(m)
            if parts:
                yield _Found(m.start(), m.end(), dates=parts)

    def _date_matches(self, parts: DateParts) -> bool:
        d, m, y = parts
        if m is None or (d is None and y is None):
            return False
        for reg in self._dates:
            if m != reg.month or (d is not None and d != reg.day):
                continue
            if y is None or y == reg.year or (y < 100 and y == reg.year % 100):
                return True
        return False


def _spoken_digits(run: list[_Group]) -> int:
    """The longest stretch of digits said as digits (cardinals such as "two thousand" are amounts)."""
    best = cur = 0
    for g in run:
        cur = 0 if g.mag else cur + len(g.digits)
        best = max(best, cur)
    return best


def _year(groups: list[_Group]) -> tuple[int, int] | None:
    """A year read from the first groups: (year, groups used). "1985", "nineteen eighty five",
    "one thousand nine hundred eighty five", "85".
    """
    for n in (1, 2, 3, 4):  # "1985", "nineteen eighty five", "one nine eight five"
        if len(groups) < n:
            break
        digits = "".join(g.digits for g in groups[:n])
        if len(digits) == 4 and 1000 <= int(digits) <= 2999:
            return int(digits), n
    if groups and len(groups[0].digits) == 2 and not groups[0].mag:
        return int(groups[0].digits), 1
    return None


def _run_dates(run: list[_Group]) -> tuple[DateParts, ...]:
    """A run of spaced numbers that reads as day, month, year ("12 04 1985", "12 4 85")."""
    if not 3 <= len(run) <= 4 or any(g.mag for g in run):
        return ()
    a, b = run[0].value, run[1].value
    y = _year(run[2:])
    if y is None or 2 + y[1] != len(run):
        return ()
    out = [p for p in ((a, b, y[0]), (b, a, y[0])) if _plausible(*p)]
    return tuple(out)


def _next_group(scan: _Scan, after: int, *, fillers: bool = True) -> tuple[int, int] | None:
    """(run, group) of the group that starts at the first token after token ``after`` (skipping
    date fillers and separators such as ``,`` ``.``), or None.
    """
    toks, text = scan.toks, scan.text
    prev = toks[after]
    j = after + 1
    while j < len(toks):
        t = toks[j]
        if t is None or prev is None or _DATE_SEP.fullmatch(text[prev.end : t.start]) is None:
            return None
        if t.kind == "filler" and fillers:
            prev, j = t, j + 1
            continue
        return scan.group_at.get(j)
    return None


def _month_date(scan: _Scan, i: int) -> _Found | None:
    toks = scan.toks
    month_tok = toks[i]
    assert month_tok is not None
    month = month_tok.month
    start, end = month_tok.start, month_tok.end
    day: _Group | None = None
    # a day before the month: "12th of April", "the twelfth of April", "बारह तारीख अप्रैल"
    j = i - 1
    while j >= 0 and toks[j] is not None and toks[j].kind == "filler":  # type: ignore[union-attr]
        j -= 1
    before = scan.group_end.get(j) if j >= 0 else None
    joined = before is not None and _DATE_SEP.fullmatch(scan.text[toks[j].end : toks[j + 1].start])  # type: ignore[union-attr]
    if before is not None and joined and not before.mag and 1 <= before.value <= 31:
        day = before
    if day is not None:
        start = toks[day.first].start  # type: ignore[union-attr]
    candidates: list[DateParts] = []
    at = _next_group(scan, i)
    if at is not None:
        r, g_i = at
        rest = scan.runs[r][g_i:]
        if day is not None:
            y = _year(rest)
            if y is not None:
                candidates.append((day.value, month, y[0]))
                end = toks[rest[y[1] - 1].last].end  # type: ignore[union-attr]
        else:
            first = rest[0]
            year_only = _year(rest)
            if year_only is not None and len(rest[0].digits) != 2:
                candidates.append((None, month, year_only[0]))
                end = toks[rest[year_only[1] - 1].last].end  # type: ignore[union-attr]
            if not first.mag and 1 <= first.value <= 31:
                day_end = first.last
                y = _year(rest[1:]) if len(rest) > 1 else None
                if y is None:
                    nxt = _next_group(scan, first.last)
                    if nxt is not None:
                        later = scan.runs[nxt[0]][nxt[1] :]
                        y = _year(later)
                        if y is not None:
                            day_end = later[y[1] - 1].last
                elif y is not None:
                    day_end = rest[y[1]].last
                candidates.append((first.value, month, y[0] if y else None))
                end = max(end, toks[day_end].end)  # type: ignore[union-attr]
    if day is not None and not candidates:
        candidates.append((day.value, month, None))
    candidates = [c for c in candidates if _plausible(*c)]
    return _Found(start, end, dates=tuple(candidates)) if candidates else None


def _numeric_date_parts(m: re.Match[str]) -> tuple[DateParts, ...]:
    a, b, c = m.group(1), m.group(3), m.group(4)
    if len(a) == 4:
        parts: list[DateParts] = [(int(c), int(b), int(a))] if len(c) <= 2 else []
    elif len(a) <= 2:
        y = int(_digits(c))
        parts = [(int(a), int(b), y), (int(b), int(a), y)]
    else:
        parts = []
    return tuple(p for p in parts if _plausible(*p))


def _merge(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort, and merge spans that overlap or are separated only by spaces and punctuation."""
    if not spans:
        return spans
    spans.sort()
    out = [spans[0]]
    for s, e in spans[1:]:
        ps, pe = out[-1]
        if s <= pe or not text[pe:s].strip(" ,-\u2013"):
            out[-1] = (ps, max(pe, e))
        else:
            out.append((s, e))
    return out
