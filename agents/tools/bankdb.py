"""The demo bank's SQLite database: location, schema and deterministic seed data.

The file is created on first use at ``$VOICEAGENT_BANK_DB`` when set, else
``$XDG_CACHE_HOME/voiceagent/bank.db``, else ``~/.cache/voiceagent/bank.db``. It is built in a
temporary file next to the target and moved into place atomically, so two calls starting at once
never see a half-written database. ``PRAGMA user_version`` holds :data:`SEED_VERSION`; a file
with another version is rebuilt. Delete the file (or call :func:`reset_database`) to undo
demo actions such as a broken fixed deposit.

Money is stored as integer paise (1 INR = 100 paise); dates as ISO ``YYYY-MM-DD`` text.
Only stdlib ``sqlite3`` is used (https://docs.python.org/3/library/sqlite3.html).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SEED_VERSION = 3
CURRENCY = "INR"

#: Phone number used when the call has no caller phone (text mode).
DEMO_CALLER_PHONE = "+15550123"

#: Spending categories (debits). Credits use "income" or "deposits".
SPENDING_CATEGORIES = ("rent", "groceries", "dining", "utilities", "shopping", "travel")

#: First and last month of the seeded transaction history (inclusive).
FIRST_MONTH = (2024, 1)
LAST_MONTH = (2026, 10)

# Demo customers: phone, name, dob, city, account number, debit card number, salary, rent, scale
_CUSTOMERS = (
    ("+15550123", "Ravi Kumar", "1985-04-12", "Pune", "50100012344321", "4111111111117788", 8_500_000, 2_200_000, 100),
    (
        "+15550199",
        "Meera Iyer",
        "1990-11-03",
        "Chennai",
        "50100098769012",
        "5500000000003456",
        12_000_000,
        3_000_000,
        140,
    ),
    (
        "+919800000001",
        "Arjun Mehta",
        "1978-01-25",
        "Jaipur",
        "50100055556789",
        "4000000000001122",
        6_000_000,
        1_500_000,
        80,
    ),
)

# Fixed deposits: id, customer index, principal (paise), annual rate (basis points), opened, matures
_DEPOSITS = (
    ("FD1001", 0, 20_000_000, 710, "2024-03-01", "2027-03-01"),
    ("FD1002", 0, 5_000_000, 650, "2025-01-15", "2026-01-15"),
    ("FD2001", 1, 30_000_000, 725, "2023-06-10", "2028-06-10"),
    ("FD3001", 2, 10_000_000, 690, "2025-08-20", "2027-08-20"),
)

_SCHEMA = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    dob TEXT NOT NULL,
    city TEXT NOT NULL,
    account_number TEXT NOT NULL UNIQUE,
    debit_card_number TEXT NOT NULL,
    balance_paise INTEGER NOT NULL
);
CREATE TABLE transactions (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    date TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    amount_paise INTEGER NOT NULL          -- negative = debit, positive = credit
);
CREATE INDEX transactions_by_customer_date ON transactions(customer_id, date);
CREATE TABLE fixed_deposits (
    id TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    principal_paise INTEGER NOT NULL,
    rate_bp INTEGER NOT NULL,              -- annual simple interest, basis points
    opened TEXT NOT NULL,
    matures TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active', -- active | closed
    closed_on TEXT,
    payout_paise INTEGER
);
"""


def database_path() -> Path:
    """Where the demo database lives (see the module docstring for the order of precedence)."""
    explicit = os.environ.get("VOICEAGENT_BANK_DB")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "voiceagent" / "bank.db"


def _months() -> list[tuple[int, int]]:
    (year, month), out = FIRST_MONTH, []
    while (year, month) <= LAST_MONTH:
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def seed_transactions(index: int, salary: int, rent: int, scale: int) -> list[tuple[str, str, str, int]]:
    """The deterministic history of customer ``index``: ``(date, description, category, paise)``.

    Pure integer arithmetic (no random module), so every Python version yields the same rows.
    Salary and rent rise each January by 8 % and 5 %; ``scale`` (percent) sizes the spending.
    """
    rows: list[tuple[str, str, str, int]] = []
    for m, (year, month) in enumerate(_months()):
        grow = year - FIRST_MONTH[0]
        ym = f"{year:04d}-{month:02d}"
        pay = salary * (108**grow) // (100**grow)
        rows.append((f"{ym}-01", "Salary credit", "income", pay))
        rows.append((f"{ym}-03", "Rent transfer", "rent", -(rent * (105**grow) // (100**grow))))
        k = m + 7 * index
        rows.append((f"{ym}-08", "FreshMart groceries", "groceries", -(300_000 + (k * 13_757) % 90_000) * scale // 100))
        rows.append((f"{ym}-22", "FreshMart groceries", "groceries", -(280_000 + (k * 7_919) % 60_000) * scale // 100))
        rows.append((f"{ym}-12", "Spice Route restaurant", "dining", -(150_000 + (k * 5_303) % 70_000) * scale // 100))
        rows.append((f"{ym}-15", "City Power and Water", "utilities", -(240_000 + (month % 3) * 15_000) * scale // 100))
        rows.append((f"{ym}-26", "ShopKart order", "shopping", -(250_000 + (k * 21_101) % 200_000) * scale // 100))
        if (month + index) % 6 == 4:
            rows.append((f"{ym}-18", "SkyHigh Airlines", "travel", -(1_800_000 + grow * 250_000) * scale // 100))
    return rows


def _build(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.executescript(_SCHEMA)
        for index, (phone, name, dob, city, acct, card, salary, rent, scale) in enumerate(_CUSTOMERS):
            rows = seed_transactions(index, salary, rent, scale)
            balance = 2_500_000 * (index + 1) + sum(r[3] for r in rows)
            cid = conn.execute(
                "INSERT INTO customers (phone, name, dob, city, account_number, debit_card_number,"
                " balance_paise) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (phone, name, dob, city, acct, card, balance),
            ).lastrowid
            conn.executemany(
                "INSERT INTO transactions (customer_id, date, description, category, amount_paise)"
                " VALUES (?, ?, ?, ?, ?)",
                [(cid, *row) for row in rows],
            )
        for fd_id, index, principal, rate, opened, matures in _DEPOSITS:
            conn.execute(
                "INSERT INTO fixed_deposits (id, customer_id, principal_paise, rate_bp, opened, matures)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (fd_id, index + 1, principal, rate, opened, matures),
            )
        conn.execute(f"PRAGMA user_version = {SEED_VERSION}")
        conn.commit()
    finally:
        conn.close()


def _version(path: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def ensure_database() -> Path:
    """Create (or rebuild, when its seed version differs) the demo database; return its path.

    Raises:
        OSError: the folder cannot be created or written.
    """
    path = database_path()
    if path.exists() and _version(path) == SEED_VERSION:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bank-", suffix=".db", dir=path.parent)
    os.close(fd)
    try:
        os.unlink(tmp)  # sqlite3 creates the file itself
        _build(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def reset_database() -> Path:
    """Delete and rebuild the demo database (undoes broken deposits); return its path."""
    path = database_path()
    path.unlink(missing_ok=True)
    return ensure_database()


def connect(*, readonly: bool = True) -> sqlite3.Connection:
    """A connection to the demo database, created on first use.

    ``readonly=True`` opens it with SQLite's ``mode=ro`` URI flag
    (https://www.sqlite.org/uri.html), so any write raises ``sqlite3.OperationalError``
    ("attempt to write a readonly database"). Rows come back as :class:`sqlite3.Row`.
    """
    path = ensure_database()
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) if readonly else sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def connection(*, readonly: bool = True) -> Iterator[sqlite3.Connection]:
    """:func:`connect` as a context manager: commits on success, rolls back on error, closes."""
    conn = connect(readonly=readonly)
    try:
        yield conn
        if not readonly:
            conn.commit()
    except BaseException:
        if not readonly:
            conn.rollback()
        raise
    finally:
        conn.close()
