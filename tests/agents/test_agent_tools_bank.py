"""Behaviour of the demo bank tools (agents/tools/bank.py) and their SQLite database (bankdb.py).

Every test points VOICEAGENT_BANK_DB at a fresh temporary file, so no test touches the user's
cache and each one starts from the deterministic seed data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import sqlite3
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

AGENTS = Path(__file__).resolve().parents[2] / "agents"
DEMO = {"caller": {"phone": "+15550123"}}  # Ravi Kumar, the default demo caller
MEERA = {"caller": {"phone": "+15550199"}}


@pytest.fixture
def tools(monkeypatch, tmp_path):
    """``(bank, bankdb)`` imported as the runtime does, with the database in ``tmp_path``."""
    saved = [n for n in sys.modules if n == "tools" or n.startswith("tools.")]
    for name in saved:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(AGENTS))
    monkeypatch.setenv("VOICEAGENT_BANK_DB", str(tmp_path / "cache" / "bank.db"))
    bank = importlib.import_module("tools.bank")
    bankdb = importlib.import_module("tools.bankdb")
    monkeypatch.setattr(bank, "today", lambda: dt.date(2026, 11, 21))
    yield bank, bankdb
    for name in [n for n in sys.modules if n == "tools" or n.startswith("tools.")]:
        del sys.modules[name]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- database location and creation ---------------------------------------------------------


def test_database_is_created_on_first_use_at_the_env_path(tools, tmp_path):
    bank, bankdb = tools
    path = tmp_path / "cache" / "bank.db"
    assert not path.exists()
    assert bank.lookup_customer()["found"] is True
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == bankdb.SEED_VERSION
        assert conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0] == 3
    assert [p.name for p in path.parent.iterdir()] == ["bank.db"]  # no temp file left behind


def test_database_path_falls_back_to_xdg_cache_then_home(tools, monkeypatch, tmp_path):
    _, bankdb = tools
    monkeypatch.delenv("VOICEAGENT_BANK_DB")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bankdb.database_path() == tmp_path / "xdg" / "voiceagent" / "bank.db"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert bankdb.database_path() == tmp_path / "home" / ".cache" / "voiceagent" / "bank.db"


def test_seed_data_is_identical_on_every_build(tools, monkeypatch, tmp_path):
    _, bankdb = tools
    first = bankdb.ensure_database()
    monkeypatch.setenv("VOICEAGENT_BANK_DB", str(tmp_path / "other.db"))
    second = bankdb.ensure_database()
    dump = lambda p: list(sqlite3.connect(p).iterdump())  # noqa: E731
    assert dump(first) == dump(second)


def test_a_database_from_another_seed_version_is_rebuilt(tools, tmp_path):
    bank, bankdb = tools
    path = bankdb.ensure_database()
    bank.break_fixed_deposit("FD1001", ctx=DEMO)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 1")
    summary = bank.get_account_summary(ctx=DEMO)
    assert summary["fixed_deposits"][0]["status"] == "active"


def test_reset_database_undoes_demo_actions(tools):
    bank, bankdb = tools
    bank.break_fixed_deposit("FD1001", ctx=DEMO)
    bankdb.reset_database()
    assert bank.get_account_summary(ctx=DEMO)["fixed_deposits"][0]["status"] == "active"


# --- read-only access -----------------------------------------------------------------------


def test_read_only_connection_cannot_write(tools):
    _, bankdb = tools
    conn = bankdb.connect(readonly=True)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("UPDATE customers SET balance_paise = 0")
    finally:
        conn.close()


def test_read_tools_open_the_database_read_only_and_leave_it_unchanged(tools, monkeypatch):
    bank, bankdb = tools
    path = bankdb.ensure_database()
    before = _digest(path)
    modes = []
    real_connect = bankdb.connect

    def spy(*, readonly=True):
        modes.append(readonly)
        return real_connect(readonly=readonly)

    monkeypatch.setattr(bankdb, "connect", spy)
    bank.lookup_customer(ctx=DEMO)
    bank.get_account_summary(ctx=DEMO)
    bank.get_transactions(category="dining", ctx=DEMO)
    bank.analyze_spending(2025, ctx=DEMO)
    assert modes == [True, True, True, True]
    assert _digest(path) == before
    bank.break_fixed_deposit("FD1002", ctx=DEMO)
    assert modes[-1] is False


# --- lookup_customer (record of truth for verification) ------------------------------------


def test_lookup_customer_returns_the_record_for_the_caller_phone(tools):
    bank, _ = tools
    ctx = SimpleNamespace(caller=SimpleNamespace(phone="+15550199"), session=None, variables={})
    assert bank.lookup_customer(ctx=ctx) == {
        "found": True,
        "full_name": "Meera Iyer",
        "dob": "1990-11-03",
        "account_last_four": "9012",
        "city": "Chennai",
        "debit_card_last_four": "3456",
    }


def test_lookup_customer_defaults_to_the_demo_caller_and_knows_unknown_phones(tools):
    bank, _ = tools
    assert bank.lookup_customer()["full_name"] == "Ravi Kumar"
    assert bank.lookup_customer(ctx={"caller": {"phone": "+10000000000"}}) == {}


def test_tools_refuse_callers_who_are_not_customers(tools):
    bank, _ = tools
    stranger = {"caller": {"phone": "+10000000000"}}
    for call in (bank.get_account_summary, bank.get_transactions, bank.analyze_spending):
        with pytest.raises(LookupError, match="No bank customer"):
            call(ctx=stranger)


# --- get_transactions -----------------------------------------------------------------------


def test_transactions_newest_first_with_limit_and_totals(tools):
    bank, _ = tools
    result = bank.get_transactions(limit=3, ctx=DEMO)
    assert result["count"] == 3
    assert [t["date"] for t in result["transactions"]] == ["2026-10-26", "2026-10-22", "2026-10-18"]
    assert result["transactions"][0] == {
        "date": "2026-10-26",
        "description": "ShopKart order",
        "category": "shopping",
        "amount": -3463.33,
    }
    assert result["account_last_four"] == "4321" and result["currency"] == "INR"


def test_transactions_filter_by_date_range_and_category(tools):
    bank, _ = tools
    result = bank.get_transactions(from_date="2025-01-01", to_date="2025-12-31", category="Rent", limit=50, ctx=DEMO)
    assert result["matching"] == result["count"] == 12
    assert {t["category"] for t in result["transactions"]} == {"rent"}
    assert all(t["date"].startswith("2025-") for t in result["transactions"])
    assert result["total_debits"] == 277_200.00  # 12 x 23,100 (22,000 + 5 %)
    assert result["total_credits"] == 0.0


def test_transactions_reject_bad_dates_and_categories(tools):
    bank, _ = tools
    with pytest.raises(ValueError, match="from_date"):
        bank.get_transactions(from_date="last week", ctx=DEMO)
    with pytest.raises(ValueError, match="category"):
        bank.get_transactions(category="casino", ctx=DEMO)


def test_transactions_belong_to_the_caller_only(tools):
    bank, _ = tools
    ravi = bank.get_transactions(category="income", limit=1, ctx=DEMO)
    meera = bank.get_transactions(category="income", limit=1, ctx=MEERA)
    assert ravi["account_last_four"] == "4321" and meera["account_last_four"] == "9012"
    assert ravi["transactions"][0]["amount"] == 99_144.00  # 85,000 x 1.08^2
    assert meera["transactions"][0]["amount"] == 139_968.00  # 120,000 x 1.08^2


# --- analyze_spending -----------------------------------------------------------------------


def test_spending_analysis_exact_totals_and_trends_on_hand_made_rows(tools):
    bank, _ = tools
    rows = [
        ("2024-01-05", "groceries", -10_000),
        ("2024-01-20", "dining", -5_050),
        ("2024-02-01", "income", 500_000),  # credit: not spending, but the month counts
        ("2024-02-03", "groceries", -20_000),
        ("2025-03-03", "groceries", -45_000),
        ("2025-03-09", "travel", -100_000),
        ("2025-03-10", "deposits", 2_000),
        ("2025-03-11", "groceries", 1_000),  # a refund is not negative spending
    ]
    result = bank.spending_analysis(rows)
    assert result["total_spent"] == 1800.50
    assert result["totals_by_category"] == {"travel": 1000.00, "groceries": 750.00, "dining": 50.50}
    assert list(result["totals_by_category"]) == ["travel", "groceries", "dining"]
    assert result["top_category"] == "travel"
    assert result["period"] == "2024-2025"
    assert result["yearly"] == [
        {"year": 2024, "months": 2, "total_spent": 350.50, "monthly_average": 175.25, "change_pct": None},
        # monthly average 1450.00 vs 175.25: (145000 - 17525) / 17525 = 727.39... %
        {"year": 2025, "months": 1, "total_spent": 1450.00, "monthly_average": 1450.00, "change_pct": 727.4},
    ]
    assert result["category_by_year"] == {
        "groceries": {"2024": 300.00, "2025": 450.00},
        "dining": {"2024": 50.50},
        "travel": {"2025": 1000.00},
    }
    assert "rose 727.4% in 2025 compared with 2024" in result["summary"]

    only_2024 = bank.spending_analysis(rows, 2024)
    assert only_2024["period"] == "2024"
    assert only_2024["totals_by_category"] == {"groceries": 300.00, "dining": 50.50}
    assert only_2024["total_spent"] == 350.50
    assert only_2024["yearly"] == result["yearly"]  # the trend always covers every year


def test_spending_analysis_of_the_demo_caller(tools):
    bank, bankdb = tools
    result = bank.analyze_spending(ctx=DEMO)
    assert result["total_spent"] == 1_392_578.80
    assert result["totals_by_category"] == {
        "rent": 783_750.00,
        "groceries": 221_902.36,
        "travel": 123_000.00,
        "shopping": 115_376.61,
        "utilities": 86_700.00,
        "dining": 61_849.83,
    }
    assert [(y["year"], y["months"], y["total_spent"], y["change_pct"]) for y in result["yearly"]] == [
        (2024, 12, 469_032.80, None),
        (2025, 12, 490_368.00, 4.5),
        (2026, 10, 433_178.00, 6.0),
    ]
    # Cross-check against SQL over the same rows.
    with sqlite3.connect(bankdb.database_path()) as conn:
        paise = conn.execute(
            "SELECT -SUM(amount_paise) FROM transactions t JOIN customers c ON c.id = t.customer_id"
            " WHERE c.phone = ? AND amount_paise < 0",
            ("+15550123",),
        ).fetchone()[0]
    assert result["total_spent"] == paise / 100


def test_analyze_spending_for_one_year_accepts_a_spoken_year_string(tools):
    bank, _ = tools
    result = bank.analyze_spending(" 2025 ", ctx=DEMO)
    assert result["period"] == "2025"
    assert result["totals_by_category"]["rent"] == 277_200.00
    assert result["total_spent"] == 490_368.00


def test_analyze_spending_rejects_years_without_data(tools):
    bank, _ = tools
    with pytest.raises(ValueError, match="2024, 2025, 2026"):
        bank.analyze_spending(1999, ctx=DEMO)
    with pytest.raises(ValueError, match="year"):
        bank.analyze_spending("last year", ctx=DEMO)


# --- break_fixed_deposit --------------------------------------------------------------------


def test_breaking_a_deposit_early_pays_interest_minus_penalty_and_persists(tools):
    bank, _ = tools
    before = bank.get_account_summary(ctx=DEMO)["balance"]
    result = bank.break_fixed_deposit("fd 1001", ctx=DEMO)
    # 200,000.00 at 7.10 % - 1 % penalty = 6.10 %, 995 days (2024-03-01 .. 2026-11-21):
    # 20,000,000 paise x 610 x 995 // 3,650,000 = 3,325,753 paise.
    assert result == {
        "ok": True,
        "deposit_id": "FD1001",
        "principal": 200_000.00,
        "interest": 33_257.53,
        "penalty_rate_pct": 1.0,
        "payout": 233_257.53,
        "closed_on": "2026-11-21",
        "credited_to_account_last_four": "4321",
        "new_balance": round(before + 233_257.53, 2),
        "currency": "INR",
    }
    summary = bank.get_account_summary(ctx=DEMO)
    assert summary["balance"] == result["new_balance"]
    assert summary["fixed_deposits"][0]["status"] == "closed"
    credit = bank.get_transactions(category="deposits", limit=1, ctx=DEMO)["transactions"][0]
    assert credit == {
        "date": "2026-11-21",
        "description": "Fixed deposit FD1001 closed",
        "category": "deposits",
        "amount": 233_257.53,
    }


def test_closing_a_matured_deposit_has_no_penalty(tools):
    bank, _ = tools
    result = bank.break_fixed_deposit("FD1002", ctx=DEMO)
    # 50,000.00 at 6.50 % for the full 365-day term.
    assert (result["interest"], result["penalty_rate_pct"], result["payout"]) == (3_250.00, 0.0, 53_250.00)


def test_a_closed_deposit_cannot_be_broken_twice(tools):
    bank, _ = tools
    bank.break_fixed_deposit("FD1001", ctx=DEMO)
    again = bank.break_fixed_deposit("FD1001", ctx=DEMO)
    assert again["ok"] is False and "already closed on 2026-11-21" in again["message"]


def test_another_customers_deposit_is_not_found_and_nothing_changes(tools):
    bank, bankdb = tools
    path = bankdb.ensure_database()
    before = _digest(path)
    with pytest.raises(LookupError, match="FD2001"):
        bank.break_fixed_deposit("FD2001", ctx=DEMO)  # Meera's deposit
    assert _digest(path) == before
    assert bank.get_account_summary(ctx=MEERA)["fixed_deposits"][0]["status"] == "active"
