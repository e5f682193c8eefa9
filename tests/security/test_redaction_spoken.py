"""Adversarial redaction suite, Redactor level: every spoken, written and Hindi form of the demo
caller's date of birth, card and account digits is masked once the record is registered (in any
text: transcripts, agent text, tool arguments), dates and digit runs in the caller's words are
masked before any value is known, and ordinary numbers survive. Whole calls: test_redaction_session.py.
"""

from __future__ import annotations

import time
from datetime import date

import pytest
from redaction_cases import (
    KNOWN_ACCOUNT,
    KNOWN_CARD,
    KNOWN_CARD_HI,
    KNOWN_DOB,
    KNOWN_DOB_HI,
    MASK,
    RECORD,
    SURVIVES_AGENT,
    SURVIVES_CALLER,
    UNKNOWN_CALLER,
    cases,
    leaks,
)
from voiceagent.engine.redaction import CallerPatterns, Redactor

KNOWN = cases(KNOWN_DOB, KNOWN_DOB_HI, KNOWN_CARD, KNOWN_CARD_HI, KNOWN_ACCOUNT)
UNKNOWN = cases(UNKNOWN_CALLER)


def test_the_suite_has_more_than_100_phrasings_in_english_and_hindi():
    assert len(KNOWN) + len(UNKNOWN) >= 100
    hindi = [f for _, f in KNOWN + UNKNOWN if any("\u0900" <= c <= "\u097f" for c in f)]
    assert len(hindi) >= 15


def known_redactor(**kw) -> Redactor:
    r = Redactor(list(RECORD), env={}, **kw)
    for value in RECORD.values():
        r.add(value)
    return r


@pytest.mark.parametrize(("template", "form"), KNOWN)
def test_known_values_are_masked_in_any_text(template, form):
    """scrub_text is what agent.text and tool.call arguments get: no pattern pass, values only."""
    text = template.format(form)
    out = known_redactor(patterns=None).scrub_text(text)
    assert leaks(out, template, form) == [], out


@pytest.mark.parametrize(("template", "form"), KNOWN)
def test_known_values_are_masked_in_nested_tool_arguments(template, form):
    out = known_redactor(patterns=None).scrub({"arguments": {"note": template.format(form), "n": [form]}})
    assert leaks(out["arguments"]["note"], template, form) == []
    assert leaks(out["arguments"]["n"][0], "{}", form) == []


@pytest.mark.parametrize(("template", "form"), UNKNOWN + KNOWN)
def test_caller_words_are_masked_before_any_value_is_known(template, form):
    r = Redactor(list(RECORD), env={})  # nothing registered yet
    out = r.scrub_caller_text(template.format(form))
    assert leaks(out, template, form) == [], out


@pytest.mark.parametrize("text", SURVIVES_CALLER)
def test_ordinary_caller_words_survive(text):
    assert known_redactor().scrub_caller_text(text) == text


@pytest.mark.parametrize("text", SURVIVES_AGENT + SURVIVES_CALLER)
def test_ordinary_agent_words_survive(text):
    assert known_redactor().scrub_text(text) == text


def test_masks_replace_only_the_value():
    r = known_redactor()
    assert r.scrub_text("I was born on the twelfth of April, 1985, in Pune.") == f"I was born on the {MASK}, in {MASK}."
    assert r.scrub_text("card double seven double eight, account 4321") == f"card {MASK}, account {MASK}"
    assert r.scrub_caller_text("PIN 5093 and two tickets at 3 pm") == f"PIN {MASK} and two tickets at 3 pm"


def test_partial_dates_of_a_known_birthday_are_masked_but_other_dates_are_not():
    r = known_redactor(patterns=None)
    assert r.scrub_text("my birthday is the 12th of April") == f"my birthday is the {MASK}"
    assert r.scrub_text("born April 1985") == f"born {MASK}"
    assert r.scrub_text("paid on 12 April 2025") == "paid on 12 April 2025"
    assert r.scrub_text("paid on 13 April 1985") == "paid on 13 April 1985"


def test_two_digit_years_and_month_first_numeric_dates():
    r = known_redactor(patterns=None)
    for text in ("12/04/85", "04/12/1985", "12.4.85"):
        assert r.scrub_text(f"dob {text} ok") == f"dob {MASK} ok", text


def test_a_date_object_registers_its_spoken_forms():
    r = Redactor(["dob"], env={}, patterns=None)
    r.add(date(1990, 11, 3))
    assert r.scrub_text("third of November nineteen ninety") == MASK
    assert r.scrub_text("तीन नवंबर 1990") == MASK
    assert r.scrub_text("3 नवम्बर 1990") == MASK  # the other Hindi spelling


def test_registering_later_masks_spoken_forms_that_passed_before():
    r = Redactor(["debit_card_last_four"], env={}, patterns=None)
    text = "it is seven seven eight eight"
    assert r.scrub_text(text) == text
    r.add("7788")
    assert r.scrub_text(text) == f"it is {MASK}"


def test_stated_values_in_words_register_their_digits():
    """The guard registers what the caller stated; a spoken statement masks the written form too."""
    from voiceagent.engine.guardrails_normalise import digits_of

    r = Redactor(["pin"], env={}, patterns=None)
    r.add(digits_of("double five nine three"))
    assert r.scrub_text("pin 5593") == f"pin {MASK}"
    assert r.scrub_text("pin five five nine three") == f"pin {MASK}"


def test_configuration_of_the_caller_patterns():
    off = Redactor(["dob"], env={}, patterns=CallerPatterns(dates=False, digit_runs=0))
    assert off.scrub_caller_text("born 12/04/1985, pin 5093") == "born 12/04/1985, pin 5093"
    six = Redactor(["pin"], env={}, patterns=CallerPatterns(dates=False, digit_runs=6))
    assert six.scrub_caller_text("pin 5093") == "pin 5093"
    assert six.scrub_caller_text("card 411111") == f"card {MASK}"
    assert six.scrub_caller_text("one two three four five six") == MASK
    nothing_redacted = Redactor([], env={})  # no redact fields: no pattern pass
    assert nothing_redacted.scrub_caller_text("pin 5093 born 12/04/1985") == "pin 5093 born 12/04/1985"


def test_homographs_of_romanised_hindi_numbers_stay_words():
    r = Redactor(["pin"], env={}, patterns=CallerPatterns(dates=True, digit_runs=3))
    assert r.scrub_caller_text("what do you do, teen char paanch") == f"what do you do, {MASK}"
    assert r.scrub_caller_text("I do 4 5 6") == f"I do {MASK}"


def test_hostile_inputs_are_fast_and_never_raise():
    r = known_redactor()
    texts = [
        "seven " * 5000,
        "double " * 5000,
        "and hundred " * 3000,
        "12/" * 3000,
        "April " * 3000 + "1985",
        "१" * 20000,
        "\u093c\u094d" * 5000,
        "one thousand " * 3000,
    ]
    for text in texts:
        started = time.perf_counter()
        out = r.scrub_caller_text(text)
        r.scrub_text(text)
        assert time.perf_counter() - started < 2.0, text[:20]
        assert isinstance(out, str)
    assert "seven" not in r.scrub_caller_text("seven " * 5000)


def test_the_forms_docs_security_md_lists():
    r = known_redactor(patterns=None)
    r.add("7088")
    assert r.scrub_text("seven oh eight eight") == MASK
    assert r.scrub_text("बारह तारीख अप्रैल सन 1985") == MASK
    assert r.scrub_text("04/12/1985") == MASK
    caller = Redactor(["pin"], env={})
    assert caller.scrub_caller_text("How much did I spend in 2025?") == f"How much did I spend in {MASK}?"
    assert caller.scrub_caller_text("room 101, two thousand rupees") == "room 101, two thousand rupees"


def test_the_logging_filter_masks_spoken_forms():
    import io
    import logging

    r = known_redactor()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(r.logging_filter())
    log = logging.getLogger("voiceagent.test.redaction.spoken")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("caller said %s", "double seven double eight, born twelfth of April 1985")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().strip() == f"caller said {MASK}, born {MASK}"
