"""Acme Corp demo data and tools for agents/support.yaml (and its Hindi variant).

Deterministic, in-memory: the same account numbers give the same answers on every machine, so
demos, tests and benchmarks can rely on them. Known account numbers: 12345, 67890, 24680, 9001.
"""

from __future__ import annotations

import re
from typing import Any

from . import caller_phone

#: Demo accounts by account number. Balances are amounts due in US dollars.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "12345": {
        "name": "Priya Sharma",
        "plan": "Pro",
        "balance": 42.50,
        "status": "active",
        "next_bill_date": "2026-12-01",
        "phone": "+15550123",
    },
    "67890": {
        "name": "John Miller",
        "plan": "Basic",
        "balance": 0.00,
        "status": "active",
        "next_bill_date": "2026-12-05",
        "phone": "+15550145",
    },
    "24680": {
        "name": "Asha Verma",
        "plan": "Business",
        "balance": 310.75,
        "status": "suspended",
        "next_bill_date": "2026-11-28",
        "phone": "+919810000001",
    },
    "9001": {
        "name": "Carlos Diaz",
        "plan": "Family",
        "balance": 18.00,
        "status": "active",
        "next_bill_date": "2026-12-12",
        "phone": "+15550177",
    },
}

#: Extra facts used only by ``lookup_customer`` (knowledge-based verification record of truth).
_PRIVATE: dict[str, dict[str, str]] = {
    "12345": {"dob": "1988-02-14", "city": "Austin", "debit_card_last_four": "4417"},
    "67890": {"dob": "1975-09-30", "city": "Denver", "debit_card_last_four": "0932"},
    "24680": {"dob": "1992-06-21", "city": "Delhi", "debit_card_last_four": "7265"},
    "9001": {"dob": "1969-12-03", "city": "Miami", "debit_card_last_four": "5580"},
}

_ACCOUNT_ID = re.compile(r"^[0-9]{4,12}$")


def _normalise(account_id: Any) -> str:
    text = re.sub(r"[\s-]", "", str(account_id if account_id is not None else ""))
    if not _ACCOUNT_ID.match(text):
        raise ValueError("account_id must be 4 to 12 digits, for example 12345")
    return text


def get_account_info(account_id: str, ctx: Any = None) -> dict[str, Any]:
    """Account facts for ``account_id`` (4-12 digits; spaces and dashes are ignored).

    Returns ``{"found": True, "account_id", "name", "plan", "balance" (USD amount due, float),
    "currency": "USD", "status" ("active" | "suspended"), "next_bill_date" (ISO date)}``, or
    ``{"found": False, "account_id", "message"}`` for an unknown number.

    Raises:
        ValueError: ``account_id`` is not 4-12 digits.
    """
    key = _normalise(account_id)
    account = ACCOUNTS.get(key)
    if account is None:
        return {"found": False, "account_id": key, "message": f"No account {key}. Ask the caller to check the number."}
    public = {k: v for k, v in account.items() if k != "phone"}
    return {"found": True, "account_id": key, **public, "currency": "USD"}


def lookup_customer(ctx: Any = None) -> dict[str, Any]:
    """Record of truth for the calling phone number (``ctx.caller.phone``), for verification.

    Returns ``{"found": True, "name", "dob" (ISO date), "account_last_four", "city",
    "debit_card_last_four"}``, or ``{}`` when no account has that phone (the verification guard
    treats an empty record as "no customer record"). Without a
    caller phone (text mode, no transport metadata) the first demo account (12345) is used.
    """
    phone = caller_phone(ctx) or ACCOUNTS["12345"]["phone"]
    for number, account in ACCOUNTS.items():
        if account["phone"] == phone:
            return {"found": True, "name": account["name"], "account_last_four": number[-4:], **_PRIVATE[number]}
    return {}
