"""Tools of the demo bank agent (agents/bank.yaml) over the SQLite demo database (bankdb.py).

Every tool acts for the customer whose phone is calling (``ctx.caller.phone``); without a caller
phone (text mode) the demo caller :data:`bankdb.DEMO_CALLER_PHONE` is used. Which tools may run is
decided by the runtime's verification guard (``requires_level`` in the YAML), never here and
never by the LLM. Read-only tools open the database with SQLite's ``mode=ro``; only
:func:`break_fixed_deposit` writes.

Amounts in results are rupees (float, 2 decimals) with ``"currency": "INR"``; every sum, average
and trend is computed here from integer paise, so the LLM only has to read numbers out.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from . import bankdb, caller_phone
from .bankdb import CURRENCY, SPENDING_CATEGORIES

#: Penalty on the interest rate when a fixed deposit is broken before maturity (basis points).
PREMATURE_PENALTY_BP = 100


def today() -> dt.date:
    """The bank's business date (tests replace this function)."""
    return dt.date.today()


def _rupees(paise: int | Fraction) -> float:
    value = Decimal(paise.numerator) / Decimal(paise.denominator) if isinstance(paise, Fraction) else Decimal(paise)
    return float((value / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _percent(value: Fraction) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator) * 100
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _customer(conn: sqlite3.Connection, ctx: Any) -> sqlite3.Row:
    phone = caller_phone(ctx) or bankdb.DEMO_CALLER_PHONE
    row = conn.execute("SELECT * FROM customers WHERE phone = ?", (phone,)).fetchone()
    if row is None:
        raise LookupError("No bank customer is registered for the calling phone number.")
    return row


def _date(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(f"{name} must be a date like 2025-03-31") from None


def lookup_customer(ctx: Any = None) -> dict[str, Any]:
    """Record of truth for verification of the calling phone.

    Returns ``{"found": True, "full_name", "dob" (ISO date), "account_last_four", "city",
    "debit_card_last_four"}``, or ``{}`` when the phone is not a customer's (the verification
    guard treats an empty record as "no customer record"). The runtime compares the caller's
    answers with it; the LLM never sees this record.
    """
    with bankdb.connection(readonly=True) as conn:
        phone = caller_phone(ctx) or bankdb.DEMO_CALLER_PHONE
        row = conn.execute("SELECT * FROM customers WHERE phone = ?", (phone,)).fetchone()
    if row is None:
        return {}
    return {
        "found": True,
        "full_name": row["name"],
        "dob": row["dob"],
        "account_last_four": row["account_number"][-4:],
        "city": row["city"],
        "debit_card_last_four": row["debit_card_number"][-4:],
    }


def get_account_summary(ctx: Any = None) -> dict[str, Any]:
    """Balance and fixed deposits of the caller's savings account (read-only).

    Returns ``{"account_last_four", "balance", "currency", "fixed_deposits": [{"deposit_id",
    "principal", "rate_pct", "opened", "matures", "status"}]}``.

    Raises:
        LookupError: the calling phone is not a customer's.
    """
    with bankdb.connection(readonly=True) as conn:
        cust = _customer(conn, ctx)
        deposits = conn.execute(
            "SELECT * FROM fixed_deposits WHERE customer_id = ? ORDER BY id", (cust["id"],)
        ).fetchall()
    return {
        "account_last_four": cust["account_number"][-4:],
        "balance": _rupees(cust["balance_paise"]),
        "currency": CURRENCY,
        "fixed_deposits": [
            {
                "deposit_id": d["id"],
                "principal": _rupees(d["principal_paise"]),
                "rate_pct": d["rate_bp"] / 100,
                "opened": d["opened"],
                "matures": d["matures"],
                "status": d["status"],
            }
            for d in deposits
        ],
    }


def get_transactions(
    from_date: str | None = None,
    to_date: str | None = None,
    category: str | None = None,
    limit: int = 10,
    ctx: Any = None,
) -> dict[str, Any]:
    """The caller's transactions, newest first (read-only).

    Args: ``from_date``/``to_date`` ISO dates, inclusive; ``category`` one of
    :data:`bankdb.SPENDING_CATEGORIES`, ``income`` or ``deposits``; ``limit`` 1-50 rows.
    Returns ``{"account_last_four", "currency", "count" (rows returned), "matching" (rows in
    range), "total_debits", "total_credits" (over all matching rows), "transactions": [{"date",
    "description", "category", "amount"}]}`` with debits negative.

    Raises:
        ValueError: a malformed date or an unknown category.
        LookupError: the calling phone is not a customer's.
    """
    start, end = _date(from_date, "from_date"), _date(to_date, "to_date")
    allowed = (*SPENDING_CATEGORIES, "income", "deposits")
    if category not in (None, ""):
        category = str(category).strip().lower()
        if category not in allowed:
            raise ValueError(f"category must be one of {', '.join(allowed)}")
    else:
        category = None
    limit = max(1, min(50, int(limit or 10)))
    where, params = ["customer_id = ?"], []
    if start:
        where.append("date >= ?")
        params.append(start)
    if end:
        where.append("date <= ?")
        params.append(end)
    if category:
        where.append("category = ?")
        params.append(category)
    with bankdb.connection(readonly=True) as conn:
        cust = _customer(conn, ctx)
        args = (cust["id"], *params)
        sql = " AND ".join(where)
        rows = conn.execute(
            f"SELECT date, description, category, amount_paise FROM transactions WHERE {sql}"
            " ORDER BY date DESC, id DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        count, debits, credits = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN amount_paise < 0 THEN -amount_paise END), 0),"
            f" COALESCE(SUM(CASE WHEN amount_paise > 0 THEN amount_paise END), 0) FROM transactions WHERE {sql}",
            args,
        ).fetchone()
    return {
        "account_last_four": cust["account_number"][-4:],
        "currency": CURRENCY,
        "count": len(rows),
        "matching": count,
        "total_debits": _rupees(debits),
        "total_credits": _rupees(credits),
        "transactions": [
            {
                "date": r["date"],
                "description": r["description"],
                "category": r["category"],
                "amount": _rupees(r["amount_paise"]),
            }
            for r in rows
        ],
    }


def spending_analysis(rows: list[tuple[str, str, int]], year: int | None = None) -> dict[str, Any]:
    """Pure analysis of ``(date, category, amount_paise)`` rows (debits negative).

    Only debits in :data:`bankdb.SPENDING_CATEGORIES` count as spending. Returns
    ``{"period", "total_spent", "totals_by_category" (largest first), "top_category",
    "yearly": [{"year", "months", "total_spent", "monthly_average", "change_pct"}],
    "category_by_year": {category: {"YYYY": amount}}, "summary"}``. ``months`` counts months
    with any transaction; ``change_pct`` compares monthly averages with the previous year
    (None for the first year), so a partial year compares fairly. ``year`` restricts the
    totals (not the yearly trend) to one year.
    """
    months: dict[int, set[str]] = {}
    spent: dict[int, dict[str, int]] = {}
    for date, category, paise in rows:
        y = int(date[:4])
        months.setdefault(y, set()).add(date[:7])
        if paise < 0 and category in SPENDING_CATEGORIES:
            spent.setdefault(y, {}).setdefault(category, 0)
            spent[y][category] -= paise
    chosen = [year] if year is not None else sorted(months)
    totals: dict[str, int] = {}
    for y in chosen:
        for cat, paise in spent.get(y, {}).items():
            totals[cat] = totals.get(cat, 0) + paise
    ordered = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    yearly, previous = [], None
    for y in sorted(months):
        total = sum(spent.get(y, {}).values())
        avg = Fraction(total, len(months[y]))
        change = None if not previous else _percent((avg - previous) / previous)
        yearly.append(
            {
                "year": y,
                "months": len(months[y]),
                "total_spent": _rupees(total),
                "monthly_average": _rupees(avg),
                "change_pct": change,
            }
        )
        previous = avg
    by_year = {
        cat: {str(y): _rupees(spent[y][cat]) for y in sorted(spent) if cat in spent[y]}
        for cat in SPENDING_CATEGORIES
        if any(cat in spent[y] for y in spent)
    }
    total_spent = sum(totals.values())
    period = str(year) if year is not None else (f"{chosen[0]}-{chosen[-1]}" if chosen else "no data")
    summary = f"Total spent in {period}: {_rupees(total_spent):.2f} {CURRENCY}."
    if ordered:
        summary += f" Largest category: {ordered[0][0]} ({_rupees(ordered[0][1]):.2f} {CURRENCY})."
    for entry in yearly[1:]:
        if entry["change_pct"] is not None:
            word = "rose" if entry["change_pct"] > 0 else "fell" if entry["change_pct"] < 0 else "stayed flat"
            amount = "" if entry["change_pct"] == 0 else f" {abs(entry['change_pct'])}%"
            summary += f" Monthly spending {word}{amount} in {entry['year']} compared with {entry['year'] - 1}."
    return {
        "period": period,
        "currency": CURRENCY,
        "total_spent": _rupees(total_spent),
        "totals_by_category": {cat: _rupees(p) for cat, p in ordered},
        "top_category": ordered[0][0] if ordered else None,
        "yearly": yearly,
        "category_by_year": by_year,
        "summary": summary,
    }


def analyze_spending(year: int | None = None, ctx: Any = None) -> dict[str, Any]:
    """Spending totals per category and yearly trends for the caller (read-only).

    ``year`` (e.g. 2025) limits the category totals to that year; the yearly trend always covers
    the whole history. See :func:`spending_analysis` for the result shape.

    Raises:
        ValueError: ``year`` is not a year with transactions.
        LookupError: the calling phone is not a customer's.
    """
    with bankdb.connection(readonly=True) as conn:
        cust = _customer(conn, ctx)
        rows = [
            tuple(r)
            for r in conn.execute(
                "SELECT date, category, amount_paise FROM transactions WHERE customer_id = ? ORDER BY date",
                (cust["id"],),
            )
        ]
    if year not in (None, ""):
        try:
            year = int(str(year).strip())
        except ValueError:
            raise ValueError("year must be a number like 2025") from None
        years = sorted({int(r[0][:4]) for r in rows})
        if year not in years:
            raise ValueError(f"No transactions in {year}; years with data: {', '.join(map(str, years))}")
    else:
        year = None
    return spending_analysis(rows, year)


def break_fixed_deposit(deposit_id: str, ctx: Any = None) -> dict[str, Any]:
    """Close one of the caller's fixed deposits and credit the payout to the savings account.

    Interest is simple interest at the deposit's rate for the days held (up to maturity),
    minus :data:`PREMATURE_PENALTY_BP` when broken before maturity, rounded down to the paisa.
    Returns ``{"ok": True, "deposit_id", "principal", "interest", "penalty_rate_pct", "payout",
    "closed_on", "credited_to_account_last_four", "new_balance", "currency"}``, or ``{"ok": False,
    "deposit_id", "message"}`` when the deposit is already closed.

    Raises:
        LookupError: no such deposit on the caller's account, or the phone is not a customer's.
    """
    fd_id = "".join(str(deposit_id or "").split()).upper()
    on = today()
    with bankdb.connection(readonly=False) as conn:  # commits, or rolls back on error
        conn.execute("BEGIN IMMEDIATE")
        cust = _customer(conn, ctx)
        fd = conn.execute(
            "SELECT * FROM fixed_deposits WHERE id = ? AND customer_id = ?", (fd_id, cust["id"])
        ).fetchone()
        if fd is None:
            raise LookupError(f"No fixed deposit {fd_id} on this account.")
        if fd["status"] != "active":
            return {
                "ok": False,
                "deposit_id": fd_id,
                "message": f"Fixed deposit {fd_id} was already closed on {fd['closed_on']}.",
            }
        opened, matures = dt.date.fromisoformat(fd["opened"]), dt.date.fromisoformat(fd["matures"])
        premature = on < matures
        days = max(0, (min(on, matures) - opened).days)
        rate_bp = max(0, fd["rate_bp"] - (PREMATURE_PENALTY_BP if premature else 0))
        interest = fd["principal_paise"] * rate_bp * days // (10_000 * 365)
        payout = fd["principal_paise"] + interest
        conn.execute(
            "UPDATE fixed_deposits SET status = 'closed', closed_on = ?, payout_paise = ? WHERE id = ?",
            (on.isoformat(), payout, fd_id),
        )
        conn.execute("UPDATE customers SET balance_paise = balance_paise + ? WHERE id = ?", (payout, cust["id"]))
        conn.execute(
            "INSERT INTO transactions (customer_id, date, description, category, amount_paise)"
            " VALUES (?, ?, ?, 'deposits', ?)",
            (cust["id"], on.isoformat(), f"Fixed deposit {fd_id} closed", payout),
        )
        balance = conn.execute("SELECT balance_paise FROM customers WHERE id = ?", (cust["id"],)).fetchone()[0]
    return {
        "ok": True,
        "deposit_id": fd_id,
        "principal": _rupees(fd["principal_paise"]),
        "interest": _rupees(interest),
        "penalty_rate_pct": PREMATURE_PENALTY_BP / 100 if premature else 0.0,
        "payout": _rupees(payout),
        "closed_on": on.isoformat(),
        "credited_to_account_last_four": cust["account_number"][-4:],
        "new_balance": _rupees(balance),
        "currency": CURRENCY,
    }
