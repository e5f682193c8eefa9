"""Behaviour of agents/tools/acme.py, imported the way the runtime resolves ``tools.acme``."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

AGENTS = Path(__file__).resolve().parents[2] / "agents"


@pytest.fixture
def acme(monkeypatch):
    """``tools.acme`` imported with agents/ first on sys.path; sys.modules restored afterwards."""
    saved = {n: m for n, m in sys.modules.items() if n == "tools" or n.startswith("tools.")}
    for name in saved:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(AGENTS))
    module = importlib.import_module("tools.acme")
    yield module
    for name in [n for n in sys.modules if n == "tools" or n.startswith("tools.")]:
        del sys.modules[name]


def test_known_account_returns_its_demo_facts(acme):
    info = acme.get_account_info("12345")
    assert info == {
        "found": True,
        "account_id": "12345",
        "name": "Priya Sharma",
        "plan": "Pro",
        "balance": 42.50,
        "status": "active",
        "next_bill_date": "2026-12-01",
        "currency": "USD",
    }


def test_every_demo_account_is_found_and_hides_the_phone(acme):
    for number in acme.ACCOUNTS:
        info = acme.get_account_info(number)
        assert info["found"] is True and info["account_id"] == number
        assert "phone" not in info


def test_spoken_digits_with_spaces_and_dashes_are_accepted(acme):
    assert acme.get_account_info(" 123-45 ")["name"] == "Priya Sharma"
    assert acme.get_account_info(24680)["status"] == "suspended"


def test_unknown_account_says_not_found_instead_of_inventing_data(acme):
    info = acme.get_account_info("55555")
    assert info["found"] is False
    assert info["account_id"] == "55555"
    assert "55555" in info["message"]
    assert "name" not in info and "balance" not in info


@pytest.mark.parametrize("bad", ["abc", "123", "1234567890123", "", None, "12a45"])
def test_malformed_account_id_raises_a_clear_error(acme, bad):
    with pytest.raises(ValueError, match="4 to 12 digits"):
        acme.get_account_info(bad)


def test_demo_account_numbers_satisfy_the_yaml_pattern(acme):
    import yaml

    spec = yaml.safe_load((AGENTS / "support.yaml").read_text(encoding="utf-8"))
    pattern = spec["tools"][0]["parameters"]["account_id"]["pattern"]
    assert all(re.match(pattern, number) for number in acme.ACCOUNTS)


def test_ctx_is_optional_and_ignored_by_get_account_info(acme):
    ctx = SimpleNamespace(caller=SimpleNamespace(phone="+15550145"), session={}, variables={})
    assert acme.get_account_info("12345", ctx=ctx) == acme.get_account_info("12345")


def test_lookup_customer_uses_the_caller_phone_from_object_or_mapping_ctx(acme):
    by_object = acme.lookup_customer(ctx=SimpleNamespace(caller=SimpleNamespace(phone="+15550145")))
    by_mapping = acme.lookup_customer(ctx={"caller": {"phone": " +15550145 "}})
    assert (
        by_object
        == by_mapping
        == {
            "found": True,
            "name": "John Miller",
            "account_last_four": "7890",
            "dob": "1975-09-30",
            "city": "Denver",
            "debit_card_last_four": "0932",
        }
    )


def test_lookup_customer_defaults_to_the_first_demo_caller_without_a_phone(acme):
    assert acme.lookup_customer()["name"] == "Priya Sharma"
    assert acme.lookup_customer(ctx={"caller": {"phone": ""}})["name"] == "Priya Sharma"


def test_lookup_customer_unknown_phone_is_not_found(acme):
    assert acme.lookup_customer(ctx={"caller": {"phone": "+10000000000"}}) == {}
