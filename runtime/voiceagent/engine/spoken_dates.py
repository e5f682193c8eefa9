"""Dates in text as people say them, read from a :class:`~.spoken_runs.Scan`.

A date is a month name (English or Hindi, abbreviations included) with a day before or after it
and / or a year after it ("12th of April, 1985", "April 12th, 1985", "Apr 12 1985", "the
twelfth of April nineteen eighty five", "बारह तारीख अप्रैल सन उन्नीस सौ पचासी"), a numeric
date (``12/04/1985``, ``1985-04-12``, ``12.04.85``), or a run of spaced numbers that reads as
day, month, year (``12 04 1985``). Ambiguous readings are all kept (``05/04/1990`` is 5 April or
4 May; "April nineteen eighty five" is April 1985 or 19 April '85): a caller is protected when
any reading is theirs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from voiceagent.engine.spoken_runs import Group, Scan, decimal_digits, joined_for_date

__all__ = ["DateParts", "DateSpan", "month_dates", "numeric_dates", "run_dates"]

_NUMERIC_DATE = re.compile(r"(?<![\w.])(\d{1,4})\s?([/.\-])\s?(\d{1,2})\s?\2\s?(\d{2,4})(?![\w]|[.,]\d)")

#: (day, month, year); None where the text does not say it. A two-digit year is < 100.
DateParts = tuple[int | None, int | None, int | None]
#: (start, end, readings): character span of a date and its possible readings.
DateSpan = tuple[int, int, tuple[DateParts, ...]]


def month_dates(scan: Scan) -> Iterator[DateSpan]:
    """Every date around a month name in ``scan``."""
    for i, t in enumerate(scan.toks):
        if t is not None and t.kind == "month":
            found = _month_date(scan, i)
            if found is not None:
                yield found


def numeric_dates(text: str) -> Iterator[DateSpan]:
    """Every numeric date (``12/04/1985``, ``1985-04-12``, ``१२/०४/१९८५``) in ``text``."""
    for m in _NUMERIC_DATE.finditer(text):
        parts = _numeric_date_parts(m)
        if parts:
            yield m.start(), m.end(), parts


def _plausible(d: int | None, m: int | None, y: int | None) -> bool:
    if m is None or not 1 <= m <= 12:
        return False
    if d is not None and not 1 <= d <= 31:
        return False
    return y is None or y < 100 or 1000 <= y <= 2999


def _year(groups: list[Group]) -> tuple[int, int] | None:
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


def run_dates(run: list[Group]) -> tuple[DateParts, ...]:
    """Readings of a run of spaced numbers as day, month, year ("12 04 1985", "12 4 85")."""
    if not 3 <= len(run) <= 4 or any(g.mag for g in run):
        return ()
    a, b = run[0].value, run[1].value
    y = _year(run[2:])
    if y is None or 2 + y[1] != len(run):
        return ()
    out = [p for p in ((a, b, y[0]), (b, a, y[0])) if _plausible(*p)]
    return tuple(out)


def _next_group(scan: Scan, after: int, *, fillers: bool = True) -> tuple[int, int] | None:
    """(run, group) of the group that starts at the first token after token ``after`` (skipping
    date fillers and separators such as ``,`` ``.``), or None.
    """
    toks, text = scan.toks, scan.text
    prev = toks[after]
    j = after + 1
    while j < len(toks):
        t = toks[j]
        if t is None or prev is None or not joined_for_date(text, prev, t):
            return None
        if t.kind == "filler" and fillers:
            prev, j = t, j + 1
            continue
        return scan.group_at.get(j)
    return None


def _month_date(scan: Scan, i: int) -> DateSpan | None:
    toks = scan.toks
    month_tok = toks[i]
    assert month_tok is not None
    month = month_tok.month
    start, end = month_tok.start, month_tok.end
    day: Group | None = None
    # a day before the month: "12th of April", "the twelfth of April", "बारह तारीख अप्रैल"
    j = i - 1
    while j >= 0 and toks[j] is not None and toks[j].kind == "filler":  # type: ignore[union-attr]
        j -= 1
    before = scan.group_end.get(j) if j >= 0 else None
    joined = before is not None and joined_for_date(scan.text, toks[j], toks[j + 1])  # type: ignore[arg-type]
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
    return (start, end, tuple(candidates)) if candidates else None


def _numeric_date_parts(m: re.Match[str]) -> tuple[DateParts, ...]:
    a, b, c = m.group(1), m.group(3), m.group(4)
    if len(a) == 4:
        parts: list[DateParts] = [(int(c), int(b), int(a))] if len(c) <= 2 else []
    elif len(a) <= 2:
        y = int(decimal_digits(c))
        parts = [(int(a), int(b), y), (int(b), int(a), y)]
    else:
        parts = []
    return tuple(p for p in parts if _plausible(*p))
