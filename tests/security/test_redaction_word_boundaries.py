"""A registered digit value is masked in numbers and spoken forms, never inside an identifier word.

A provider's request id (``req_f34471ed``) that happens to contain a caller's four digits must
stay intact in ``turn.metrics``: the log would otherwise lose the id that ties a turn to the
provider's own logs (this flaked tests/cli/test_run_bank.py about once in 40 runs).
"""

from __future__ import annotations

import pytest
from voiceagent.engine.redaction import MASK, Redactor


@pytest.fixture
def redactor() -> Redactor:
    r = Redactor(["pin"], env={})
    r.add("4471")
    return r


@pytest.mark.parametrize("text", ["req_f34471ed4", "chatcmpl-a4471b", "FD4471", "x4471y", "id_4471abc"])
def test_digits_inside_a_word_survive(redactor, text):
    assert redactor.scrub(text) == text


@pytest.mark.parametrize("text", ["my pin is 4471.", "4 4 7 1", "44-71", "(4471)", "pin:4471", "४४७१"])
def test_digits_standing_alone_are_masked(redactor, text):
    out = redactor.scrub(text)
    assert MASK in out and "4471" not in out.replace(" ", "").replace("-", "")


def test_the_value_inside_a_longer_number_is_still_masked(redactor):
    assert "4471" not in redactor.scrub("card number 4111 1111 1111 4471")
