"""Redactor: registered values, key names, secrets, nested data and the logging filter."""

from __future__ import annotations

import io
import logging
from datetime import date

from voiceagent.engine.redaction import MASK, Redactor


def test_registered_value_masked_in_nested_structures():
    r = Redactor([], env={})
    r.add("Jane O'Neil")
    data = {
        "turns": [{"text": "Hi, I am jane o'neil."}, ("tuple", "JANE O'NEIL")],
        "tags": {"x": ["nested Jane   O'Neil here"]},
        "count": 3,
        "ok": True,
        "none": None,
    }
    out = r.scrub(data)
    assert out == {
        "turns": [{"text": f"Hi, I am {MASK}."}, ("tuple", MASK)],
        "tags": {"x": [f"nested {MASK} here"]},
        "count": 3,
        "ok": True,
        "none": None,
    }
    # a deep copy: the input is untouched
    assert data["turns"][0]["text"] == "Hi, I am jane o'neil."


def test_values_under_redacted_keys_are_masked_whole():
    r = Redactor(["dob", "Account-Last-Four"], env={})
    out = r.scrub({"dob": "1990-05-17", "args": {"account_last_four": 4321, "DOB": None, "name": "x"}})
    assert out == {"dob": MASK, "args": {"account_last_four": MASK, "DOB": None, "name": "x"}}


def test_digit_values_match_across_separators_and_digits_only_variant():
    r = Redactor([], env={})
    r.add("4111-1111")
    assert r.scrub_text("card 41111111 ok") == f"card {MASK} ok"
    assert r.scrub_text("card 4 1 1 1 1 1 1 1 ok") == f"card {MASK} ok"
    r.add(4321)
    assert r.scrub({"n": 4321, "s": "ends 43-21"}) == {"n": MASK, "s": f"ends {MASK}"}


def test_dates_are_masked_in_other_spellings():
    r = Redactor([], env={})
    r.add("17th of May 1990")
    for text in ("1990-05-17", "17/05/1990", "17 May 1990", "May 17, 1990", "05/17/1990"):
        assert r.scrub_text(f"born {text}!") == f"born {MASK}!", text
    r2 = Redactor([], env={})
    r2.add(date(2001, 2, 3))
    assert r2.scrub_text("on 03/02/2001") == f"on {MASK}"
    assert r2.scrub({"d": date(2001, 2, 3)}) == {"d": MASK}


def test_text_values_respect_word_boundaries_and_short_values_are_ignored():
    r = Redactor([], env={})
    r.add("Ann")
    r.add("x")
    r.add("")
    r.add(None)
    assert r.scrub_text("Ann went to the annual fair, x marks") == f"{MASK} went to the annual fair, x marks"


def test_longest_value_wins():
    r = Redactor([], env={})
    r.add("Jane")
    r.add("Jane Doe")
    assert r.scrub_text("I am Jane Doe") == f"I am {MASK}"


def test_secrets_are_masked_without_registration():
    r = Redactor([], env={})
    text = (
        "Authorization: Bearer abc.def-ghi_123456 and key sk-ABCDEFGHIJKLMNOPQRSTUV "
        "url https://x.example/a?api_key=s3cr3tvalue&q=1 jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.c2lnbmF0dXJl"
    )
    out = r.scrub_text(text)
    for secret in (
        "abc.def-ghi_123456",
        "sk-ABCDEFGHIJKLMNOPQRSTUV",
        "s3cr3tvalue",
        "eyJhbGciOiJIUzI1NiJ9",
        "c2lnbmF0dXJl",
    ):
        assert secret not in out
    assert "Bearer [redacted]" in out and "api_key=[redacted]&q=1" in out


def test_secret_keys_in_dicts():
    r = Redactor([], env={})
    out = r.scrub(
        {
            "headers": {"Authorization": "Basic Zm9vOmJhcg==", "X-Api-Key": "k", "Accept": "json"},
            "openai_api_key": "whatever",
            "password": "",
            "token_count": 5,
        }
    )
    assert out["headers"] == {"Authorization": MASK, "X-Api-Key": MASK, "Accept": "json"}
    assert out["openai_api_key"] == MASK and out["password"] == ""
    assert out["token_count"] == 5


def test_environment_secrets_are_registered():
    env = {
        "SMALLEST_API_KEY": "zz-very-secret-value-123",
        "ACME_TOKEN": "tok12345678",
        "HOME": "/root",
        "SHORT_KEY": "abc",
    }
    r = Redactor([], env=env)
    out = r.scrub_text("keys zz-very-secret-value-123 tok12345678 /root abc")
    assert out == f"keys {MASK} {MASK} /root abc"


def test_pattern_is_rebuilt_only_when_values_change():
    r = Redactor([], env={})
    r.add("alpha beta")
    assert r.scrub_text("alpha beta") == MASK
    first = r._pattern()
    r.add("alpha beta")  # known already
    assert r._pattern() is first
    r.add("gamma delta")
    assert r._pattern() is not first
    assert r.scrub_text("gamma delta, alpha beta") == f"{MASK}, {MASK}"


def test_regex_metacharacters_in_values():
    r = Redactor([], env={})
    r.add("a+b (c)*[d]")
    assert r.scrub_text("x a+b (c)*[d] y") == f"x {MASK} y"
    assert r.scrub_text("x aab (c)*[d] y") == "x aab (c)*[d] y"


def test_logging_filter_scrubs_messages_args_and_exceptions():
    r = Redactor(["dob"], env={})
    r.add("1990-05-17")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(r.logging_filter())
    log = logging.getLogger("voiceagent.test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("dob was %s, auth Bearer abcdefgh12345", "1990-05-17")
        try:
            raise ValueError("bad dob 1990-05-17")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "1990-05-17" not in text
    assert "abcdefgh12345" not in text
    assert f"dob was {MASK}, auth Bearer {MASK}" in text
    assert f"ValueError: bad dob {MASK}" in text


def test_unicode_whose_lowercase_changes_length_still_matches():
    r = Redactor([], env={})
    r.add("Kelvin Road")
    # 'İ' lower-cases to two code points, which takes the IGNORECASE path
    assert r.scrub_text("İ live on KELVIN  road") == f"İ live on {MASK}"


def test_objects_are_scrubbed_through_their_data_or_text():
    from dataclasses import dataclass
    from pathlib import PurePosixPath

    @dataclass
    class Turn:
        text: str
        dob: str

    r = Redactor(["dob"], env={})
    r.add("Jane Doe")
    assert r.scrub({"turn": Turn("I am Jane Doe", "1990-05-17")}) == {"turn": {"text": f"I am {MASK}", "dob": MASK}}
    assert r.scrub([PurePosixPath("/home/Jane Doe/x")]) == [f"/home/{MASK}/x"]
    assert r.scrub(b"Jane Doe") == b"Jane Doe"
    assert r.scrub(2.5) == 2.5
