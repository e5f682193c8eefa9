"""Phrasings of sensitive values as callers (and agents) say them, for the redaction suites.

The caller is the demo customer of the bank agent: Ravi Kumar, born 12 April 1985, account
ending 4321, debit card ending 7788, from Pune. Every ``KNOWN_*`` form must be masked once the
record is registered; every ``UNKNOWN_*`` form must be masked in the caller's words even though
no value is registered (the pattern pass); ``SURVIVES`` must come through unchanged.
"""

from __future__ import annotations

import re

MASK = "[redacted]"

RECORD = {
    "full_name": "Ravi Kumar",
    "dob": "1985-04-12",
    "account_last_four": "4321",
    "debit_card_last_four": "7788",
    "city": "Pune",
}

# (template, forms): every form is put into the template.
KNOWN_DOB = (
    "I was born on {}.",
    [
        "12th of April, 1985",
        "April 12th, 1985",
        "Apr 12, 1985",
        "twelfth of April nineteen eighty five",
        "the twelfth of April, nineteen eighty-five",
        "12/04/1985",
        "1985-04-12",
        "12-04-1985",
        "12.04.1985",
        "12 April 1985",
        "April 12 1985",
        "12 Apr 1985",
        "April the twelfth, 1985",
        "Twelfth April Nineteen Eighty Five",
        "twelve April one nine eight five",
        "12th of April one thousand nine hundred and eighty five",
        "April twelve, nineteen eighty five",
        "12 04 1985",
        "one two zero four one nine eight five",
        "APRIL 12TH 1985",
        "12-Apr-1985",
        "12 April '85",
        "april twelfth nineteen eighty five",
        "12th April, nineteen eighty-five",
        "1985/04/12",
        "April 12, '85",
    ],
)
KNOWN_DOB_HI = (
    "मेरी जन्मतिथि {} है",
    [
        "12 अप्रैल 1985",
        "बारह अप्रैल उन्नीस सौ पचासी",
        "१२ अप्रैल १९८५",
        "१२/०४/१९८५",
        "बारह अप्रैल सन उन्नीस सौ पचासी",
        "12 अप्रैल, 1985",
        "अप्रैल 12, 1985",
        "बारह तारीख अप्रैल 1985",
        "barah April 1985",
        "12 अप्रैल उन्नीस सौ पचासी",
        "१२-०४-१९८५",
        "बारह अप्रैल, उन्नीस सौ पचासी",
        "12 April 1985",
        "बारह अप्रैल १९८५",
    ],
)
KNOWN_CARD = (
    "my card ends in {} thanks",
    [
        "7788",
        "7 7 8 8",
        "77 88",
        "77-88",
        "seven seven eight eight",
        "Seven Seven Eight Eight",
        "seven, seven, eight, eight",
        "seven-seven-eight-eight",
        "double seven double eight",
        "Double Seven, Double Eight",
        "seventy seven eighty eight",
        "seventy-seven eighty-eight",
        "7 7 double eight",
        "double 7 double 8",
        "४१११ ११११ ११११ ७७८८",
        "four one one one one one one one one one one one seven seven eight eight",
        "seventy-seven, eighty-eight",
        "7, 7, 8, 8",
        "double-seven double-eight",
        "double seven eight eight",
        "seven seven double eight",
    ],
)
KNOWN_CARD_HI = (
    "कार्ड के आखिरी चार अंक {} हैं",
    [
        "७७८८",
        "सात सात आठ आठ",
        "डबल सात डबल आठ",
        "सतहत्तर अठासी",
        "saat saat aath aath",
        "double saat double aath",
        "7788",
        "सात सात 8 8",
    ],
)
KNOWN_ACCOUNT = (
    "the account number ends with {}",
    [
        "4321",
        "4 3 2 1",
        "43 21",
        "four three two one",
        "Four Three Two One",
        "four-three-two-one",
        "forty three twenty one",
        "forty-three twenty-one",
        "४३२१",
        "चार तीन दो एक",
        "char teen do ek",
        "chaar teen do ek",
        "4-3-2-1",
        "four three twenty one",
        "forty-three two one",
        "43-21",
        "4 three 2 one",
    ],
)
# Not known to the runtime: only the caller's words are protected, by the pattern pass.
UNKNOWN_CALLER = (
    "okay so it is {} right",
    [
        "3rd of March 1990",
        "March 3rd, 1990",
        "Mar 3, 1990",
        "third of March nineteen ninety",
        "03/03/1990",
        "1990-03-03",
        "तीन मार्च उन्नीस सौ नब्बे",
        "३ मार्च १९९०",
        "4111 1111 1111 1111",
        "four one one one one one one one one one one one one one one one",
        "5093",
        "five zero nine three",
        "double five nine three",
        "98765 43210",
        "+91 98765-43210",
        "nine eight seven six five four three two one zero",
        "नौ आठ सात छह पाँच चार तीन दो एक शून्य",
        "९८७६५ ४३२१०",
        "ek do teen char",
        "teen char paanch chhe",
        "triple nine four four",
        "nineteen ninety",
        "the 3rd of March",
        "March 1990",
        "5 0 9 3",
        "12041985",
        "oh nine eight seven six five four three two one",
        "nine nine eight eight seven seven six six five five",
        "triple seven double eight",
        "sixty six seventy seven",
        "5-0-9-3",
        "पाँच शून्य नौ तीन",
        "saat aath nau shunya",
        "12th of May, 2001",
        "May 12th 2001",
        "मई बारह, 2001",
    ],
)
# (where, text): nothing in these is sensitive; they must come through unchanged.
SURVIVES_CALLER = [
    "I want two tickets",
    "can you call me at 3 pm",
    "at 3:30 tomorrow",
    "I paid 1,500 rupees",
    "I paid 42.50 yesterday",
    "transfer 500 rupees please",
    "Please break my fixed deposit FD1002",
    "I have 2 cards and 3 accounts",
    "what do you do",
    "mujhe do tickets chahiye",
    "मुझे दो टिकट चाहिए",
    "May I ask something?",
    "give me a second",
    "room 101",
    "I want to spend two thousand rupees",
]
SURVIVES_AGENT = [
    "Your balance is 42.50 rupees.",
    "Your balance is 42,350.75 rupees.",
    "Your deposit FD1001 matures on 2026-03-01.",
    "You spent 1200 on groceries in March.",
    "I can book two tickets for you at 3 pm.",
    "The branch opens at 9:30 on 5 May.",
]


def cases(*groups: tuple[str, list[str]]) -> list[tuple[str, str]]:
    """``(template, form)`` pairs of the groups."""
    return [(template, form) for template, forms in groups for form in forms]


_TOKENS = re.compile(r"[\w\u0900-\u097f]+")
_FILLERS = {"redacted", "the", "of", "and", "सन", "तारीख"}  # not sensitive where a mask ends


def leaks(out: str, template: str, form: str) -> list[str]:
    """The tokens of ``form`` that are still in ``out`` (template words excepted), or
    ``["<no mask>"]`` when nothing was masked.
    """
    if MASK not in out:
        return ["<no mask>"]
    allowed = {t.casefold() for t in _TOKENS.findall(template.format(""))} | _FILLERS
    left = {t.casefold() for t in _TOKENS.findall(out)} - allowed
    return sorted(t for t in {t.casefold() for t in _TOKENS.findall(form)} if t in left)
