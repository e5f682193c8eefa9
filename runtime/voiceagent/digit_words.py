"""English digit words as callers say them one digit at a time ("seven seven oh one").

Shared by the verification guard's normalisation and the local model's guidance, which both
turn spoken digits back into the digits a pattern expects. (Number words in general, and Hindi,
are the redactor's job: ``engine/spoken_vocab.py`` builds them from num2words and babel.)
"""

from __future__ import annotations

DIGIT_WORDS: dict[str, str] = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
"""Lower-case word -> digit."""
