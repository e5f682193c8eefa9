"""Words callers use for numbers and months, in English and Hindi, for :mod:`.spoken_spans`.

English number words (units, teens, tens, ordinals, hundred / thousand / lakh / crore / million)
come from `num2words <https://pypi.org/project/num2words/>`_, month names and abbreviations in
English and Hindi from `Babel <https://babel.pocoo.org/>`_ (CLDR data). num2words has no Hindi,
and the one library that spells Hindi numbers (``indic-numtowords``) gives one spelling per number
where speech-to-text output uses several (पाँच / पांच, छह / छः, अठारह / अट्ठारह), so Hindi 0-99 is a
table here (:data:`_HINDI_0_99`). Romanised Hindi digit words ("saat saat aath aath") are a small
table too: no library lists them.

Every word is keyed by :func:`normalise_word`, which also normalises the tokens of the text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from babel.dates import get_month_names
from num2words import num2words

__all__ = ["DATE_FILLERS", "HOMOGRAPHS", "MONTHS", "NUMBER_WORDS", "ROMAN_HINDI", "NumberWord", "normalise_word"]

Kind = Literal["unit", "teen", "tens", "whole", "zero", "mag", "rep", "and"]


@dataclass(frozen=True)
class NumberWord:
    """One number word.

    Attributes:
        kind: ``unit`` 1-9, ``teen`` 10-19, ``tens`` 20..90 (takes a following unit: "seventy
            seven"), ``whole`` a Hindi 10-99 word, ``zero`` 0 ("zero", "oh", शून्य; always a digit
            of its own), ``mag`` 100 / 1000 / 10**5 / 10**6 / 10**7 / 10**9, ``rep`` "double" (2) /
            "triple" (3), ``and`` ("one hundred and five").
        value: the number (the repeat count for ``rep``).
        ordinal: an ordinal ("twelfth", "1st" is a digit token): it ends a run of number words.
    """

    kind: Kind
    value: int
    ordinal: bool = False


_NUKTA = "\u093c"
_NASAL_CONJUNCT = re.compile("[\u0919\u091e\u0923\u0928\u092e]\u094d(?=[\u0915-\u0939])")


@lru_cache(maxsize=8192)
def normalise_word(word: str) -> str:
    """A token as a lookup key: NFKC, case-folded; Devanagari without nukta or zero-width joiners,
    chandrabindu as anusvara and a nasal half-letter before a consonant as anusvara (सितम्बर =
    सितंबर), so that the spellings speech-to-text systems emit meet one key.
    """
    w = unicodedata.normalize("NFKC", word).casefold()
    if any("\u0900" <= ch <= "\u097f" for ch in w):
        w = unicodedata.normalize("NFD", w).replace(_NUKTA, "")
        w = w.replace("\u0901", "\u0902").replace("\u200c", "").replace("\u200d", "")
        w = _NASAL_CONJUNCT.sub("\u0902", w)
        w = unicodedata.normalize("NFC", w)
    return w.rstrip(".\u0970")


# Hindi 0-99 with the spellings speech-to-text systems produce (see the module docstring).
_HINDI_0_99: dict[int, tuple[str, ...]] = {
    0: ("शून्य", "ज़ीरो", "जीरो"),
    1: ("एक",),
    2: ("दो",),
    3: ("तीन",),
    4: ("चार",),
    5: ("पाँच", "पांच"),
    6: ("छह", "छः", "छै", "छ"),
    7: ("सात",),
    8: ("आठ",),
    9: ("नौ",),
    10: ("दस",),
    11: ("ग्यारह",),
    12: ("बारह",),
    13: ("तेरह",),
    14: ("चौदह",),
    15: ("पंद्रह", "पन्द्रह"),
    16: ("सोलह",),
    17: ("सत्रह",),
    18: ("अठारह", "अट्ठारह"),
    19: ("उन्नीस",),
    20: ("बीस",),
    21: ("इक्कीस",),
    22: ("बाईस",),
    23: ("तेईस",),
    24: ("चौबीस",),
    25: ("पच्चीस",),
    26: ("छब्बीस",),
    27: ("सत्ताईस",),
    28: ("अट्ठाईस", "अठाईस"),
    29: ("उनतीस", "उन्तीस"),
    30: ("तीस",),
    31: ("इकतीस", "इकत्तीस"),
    32: ("बत्तीस",),
    33: ("तैंतीस", "तेंतीस"),
    34: ("चौंतीस", "चौतीस"),
    35: ("पैंतीस",),
    36: ("छत्तीस",),
    37: ("सैंतीस",),
    38: ("अड़तीस",),
    39: ("उनतालीस", "उन्तालीस"),
    40: ("चालीस",),
    41: ("इकतालीस",),
    42: ("बयालीस",),
    43: ("तैंतालीस", "तिरालीस"),
    44: ("चौवालीस", "चौंतालीस", "चवालीस"),
    45: ("पैंतालीस",),
    46: ("छियालीस",),
    47: ("सैंतालीस",),
    48: ("अड़तालीस",),
    49: ("उनचास",),
    50: ("पचास",),
    51: ("इक्यावन",),
    52: ("बावन",),
    53: ("तिरेपन", "तिरपन"),
    54: ("चौवन", "चौव्वन"),
    55: ("पचपन",),
    56: ("छप्पन",),
    57: ("सत्तावन",),
    58: ("अट्ठावन", "अठावन"),
    59: ("उनसठ",),
    60: ("साठ",),
    61: ("इकसठ",),
    62: ("बासठ",),
    63: ("तिरेसठ", "तिरसठ"),
    64: ("चौंसठ",),
    65: ("पैंसठ",),
    66: ("छियासठ", "छयासठ"),
    67: ("सड़सठ", "सरसठ"),
    68: ("अड़सठ",),
    69: ("उनहत्तर",),
    70: ("सत्तर",),
    71: ("इकहत्तर",),
    72: ("बहत्तर",),
    73: ("तिहत्तर",),
    74: ("चौहत्तर",),
    75: ("पचहत्तर",),
    76: ("छिहत्तर",),
    77: ("सतहत्तर",),
    78: ("अठहत्तर",),
    79: ("उन्यासी", "उनासी"),
    80: ("अस्सी",),
    81: ("इक्यासी",),
    82: ("बयासी",),
    83: ("तिरासी",),
    84: ("चौरासी",),
    85: ("पचासी",),
    86: ("छियासी",),
    87: ("सत्तासी", "सतासी"),
    88: ("अठासी",),
    89: ("नवासी", "नव्वासी"),
    90: ("नब्बे",),
    91: ("इक्यानबे", "इक्यानवे"),
    92: ("बानबे", "बानवे"),
    93: ("तिरानबे", "तिरानवे"),
    94: ("चौरानबे", "चौरानवे"),
    95: ("पचानबे", "पंचानबे", "पचानवे", "पंचानवे"),
    96: ("छियानबे", "छियानवे"),
    97: ("सत्तानबे", "सत्तानवे"),
    98: ("अट्ठानबे", "अट्ठानवे", "अठानवे"),
    99: ("निन्यानबे", "निन्यानवे"),
}
_HINDI_OTHER: dict[str, NumberWord] = {
    "सौ": NumberWord("mag", 100),
    "हज़ार": NumberWord("mag", 1000),
    "हजार": NumberWord("mag", 1000),
    "लाख": NumberWord("mag", 10**5),
    "करोड़": NumberWord("mag", 10**7),
    "डबल": NumberWord("rep", 2),
    "ट्रिपल": NumberWord("rep", 3),
    "पहली": NumberWord("unit", 1, ordinal=True),  # "पहली अप्रैल"
}
# Romanised Hindi as speech-to-text writes it for Hinglish callers (no library lists these).
_ROMAN_HINDI: dict[str, int] = {
    "shunya": 0,
    "shoonya": 0,
    "ek": 1,
    "do": 2,
    "teen": 3,
    "char": 4,
    "chaar": 4,
    "panch": 5,
    "paanch": 5,
    "chhe": 6,
    "chhah": 6,
    "chah": 6,
    "che": 6,
    "saat": 7,
    "sat": 7,
    "aath": 8,
    "ath": 8,
    "nau": 9,
    "nao": 9,
    "das": 10,
    "dus": 10,
    "gyarah": 11,
    "barah": 12,
    "baarah": 12,
    "terah": 13,
    "chaudah": 14,
    "pandrah": 15,
    "solah": 16,
    "satrah": 17,
    "atharah": 18,
    "unnis": 19,
    "unees": 19,
    "bees": 20,
}
#: Romanised Hindi digit words that are also English words: they count as numbers only next to
#: another romanised Hindi number word ("ek do teen char"), never alone ("what do you need").
HOMOGRAPHS: frozenset[str] = frozenset({"do", "teen", "char", "sat", "das", "che", "ath", "bees"})
ROMAN_HINDI: frozenset[str] = frozenset(_ROMAN_HINDI)


def _english() -> dict[str, NumberWord]:
    words: dict[str, NumberWord] = {}
    for n in range(1, 20):
        words[num2words(n)] = NumberWord("unit" if n < 10 else "teen", n)
    for n in range(20, 100, 10):
        words[num2words(n)] = NumberWord("tens", n)
    for n in range(1, 100):  # ordinals: "twelfth"; "twenty-first" gives "twenty" + "first"
        last = num2words(n, to="ordinal").split("-")[-1]
        words.setdefault(last, NumberWord("unit" if n < 10 else "teen" if n < 20 else "tens", n, ordinal=True))
    words[num2words(0)] = NumberWord("zero", 0)
    words["oh"] = words["o"] = NumberWord("zero", 0)
    for n in (100, 1000, 10**6, 10**9):
        words[num2words(n).split()[-1]] = NumberWord("mag", n)
    for n in (10**5, 10**7):  # lakh, crore
        words[num2words(n, lang="en_IN").split()[-1]] = NumberWord("mag", n)
    words["double"] = NumberWord("rep", 2)
    words["triple"] = NumberWord("rep", 3)
    words["and"] = NumberWord("and", 0)
    return words


def _number_words() -> dict[str, NumberWord]:
    words = _english()
    for n, spellings in _HINDI_0_99.items():
        kind: Kind = "zero" if n == 0 else "unit" if n < 10 else "whole"
        for s in spellings:
            words[normalise_word(s)] = NumberWord(kind, n)
    for s, w in _HINDI_OTHER.items():
        words[normalise_word(s)] = w
    for s, n in _ROMAN_HINDI.items():
        words.setdefault(s, NumberWord("zero" if n == 0 else "unit" if n < 10 else "whole", n))
    words["sau"] = NumberWord("mag", 100)
    words["hazaar"] = words["hazar"] = NumberWord("mag", 1000)
    return words


# Hindi month spellings CLDR does not list (speech-to-text output).
_MONTH_ALIASES = {"अक्तूबर": 10, "sept": 9}


def _months() -> dict[str, int]:
    months: dict[str, int] = {}
    # Hindi abbreviations (जन॰, नव॰) are ordinary words when spoken: only the full names.
    widths: tuple[Literal["wide", "abbreviated"], ...]
    for locale, widths in (("en", ("wide", "abbreviated")), ("en_IN", ("abbreviated",)), ("hi", ("wide",))):
        for width in widths:
            for number, name in get_month_names(width, "format", locale=locale).items():
                months[normalise_word(str(name))] = int(number)
    for name, number in _MONTH_ALIASES.items():
        months[normalise_word(name)] = number
    return months


NUMBER_WORDS: dict[str, NumberWord] = _number_words()
MONTHS: dict[str, int] = _months()
#: Words that may stand between the parts of a spoken date ("12th of April", "बारह तारीख अप्रैल सन 1985").
DATE_FILLERS: frozenset[str] = frozenset(normalise_word(w) for w in ("of", "the", "तारीख", "सन", "सन्"))
