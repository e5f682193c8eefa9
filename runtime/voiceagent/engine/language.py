"""The caller's language in a call whose agent lists several (``languages: [hi, en]``).

Agent format, "Callers who switch language": ``language`` is the one the call starts in; with
``languages`` the caller may speak any of them and switch mid-call, ``session.language`` follows
the caller and the agent answers in the caller's current language. This module decides that
language for each caller turn and the line the system prompt gets for it:

* :class:`CallerLanguage` follows the caller: the language the speech recognizer detected on the
  final transcript (Pulse finals carry ``language``; https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/speech-to-text/realtime/response-format.mdx)
  when it is one of the agent's languages, unless the words are written entirely in the script of
  another of them; without a detected language (typed text, an STT that reports none) the
  writing system of the words decides (Devanagari -> ``hi``, Latin -> ``en``, Tamil -> ``ta``...),
  the current language winning a tie (``hi`` and ``mr`` share Devanagari).
* :func:`reply_instruction` is the sentence appended to the system prompt, in that language,
  telling the LLM to answer in it.
* :func:`speech_language` picks the language each sentence is *spoken* in: the sentence's own
  script when it is unambiguous (a Hindi fallback phrase stays Hindi while the caller speaks
  English), else the caller's current language.

A single-language agent never switches: its calls stay in ``language``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["CallerLanguage", "base", "reply_instruction", "script_of", "speech_language"]

SCRIPTS: dict[str, str] = {
    "hi": "DEVANAGARI",
    "mr": "DEVANAGARI",
    "ne": "DEVANAGARI",
    "bn": "BENGALI",
    "as": "BENGALI",
    "ta": "TAMIL",
    "te": "TELUGU",
    "kn": "KANNADA",
    "ml": "MALAYALAM",
    "gu": "GUJARATI",
    "pa": "GURMUKHI",
    "or": "ORIYA",
    "ar": "ARABIC",
    "ur": "ARABIC",
    "ru": "CYRILLIC",
    "ko": "HANGUL",
    "ja": "HIRAGANA",
    "zh": "CJK",
    "yue": "CJK",
}
"""Writing system (Unicode character-name prefix) of each language; every other language is Latin."""

REPLY_INSTRUCTIONS: dict[str, str] = {
    "en": "The caller is speaking English right now: reply in English.",
    "hi": "कॉलर अभी हिंदी में बात कर रहे हैं: हिंदी में जवाब दें।",
    "ta": "அழைப்பாளர் இப்போது தமிழில் பேசுகிறார்: தமிழில் பதில் சொல்லுங்கள்.",
    "te": "కాలర్ ఇప్పుడు తెలుగులో మాట్లాడుతున్నారు: తెలుగులో సమాధానం ఇవ్వండి.",
    "kn": "ಕರೆ ಮಾಡಿದವರು ಈಗ ಕನ್ನಡದಲ್ಲಿ ಮಾತನಾಡುತ್ತಿದ್ದಾರೆ: ಕನ್ನಡದಲ್ಲಿ ಉತ್ತರಿಸಿ.",
    "mr": "कॉलर आता मराठीत बोलत आहेत: मराठीत उत्तर द्या.",
    "gu": "કૉલર હવે ગુજરાતીમાં વાત કરી રહ્યા છે: ગુજરાતીમાં જવાબ આપો.",
    "bn": "কলার এখন বাংলায় কথা বলছেন: বাংলায় উত্তর দিন।",
    "ml": "വിളിക്കുന്നയാൾ ഇപ്പോൾ മലയാളത്തിൽ സംസാരിക്കുന്നു: മലയാളത്തിൽ മറുപടി നൽകുക.",
    "es": "La persona que llama habla ahora en español: responde en español.",
}
"""The prompt line per language, written in that language."""


def base(language: str | None) -> str:
    """The primary subtag of a BCP-47 tag, lower-cased (``"en-IN"`` -> ``"en"``); ``""`` for None."""
    return (language or "").lower().replace("_", "-").split("-", 1)[0]


def _script(language: str) -> str:
    return SCRIPTS.get(base(language), "LATIN")


def script_counts(text: str) -> dict[str, int]:
    """Letters of ``text`` per writing system (``{"DEVANAGARI": 12, "LATIN": 5}``); digits,
    spaces and punctuation are not counted. Marks (vowel signs) count with their script.
    """
    counts: dict[str, int] = {}
    for ch in text:
        if not (ch.isalpha() or unicodedata.category(ch).startswith("M")):
            continue
        name = unicodedata.name(ch, "")
        script = next((s for s in set(SCRIPTS.values()) | {"LATIN"} if name.startswith(s)), None)
        if script is None and name.startswith(("KATAKANA", "CJK")):
            script = "HIRAGANA" if name.startswith("KATAKANA") else "CJK"
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    return counts


def script_of(text: str) -> str | None:
    """The writing system of most letters of ``text``, None without letters."""
    counts = script_counts(text)
    return max(counts, key=lambda s: counts[s]) if counts else None


def _by_script(text: str, languages: Sequence[str], current: str) -> str | None:
    """The one of ``languages`` written in the script of most of ``text``'s letters (``current``
    first, then in the listed order), or None when no listed language uses that script.
    """
    script = script_of(text)
    if script is None:
        return None
    for lang in (current, *languages):
        if lang in languages and _script(lang) == script:
            return lang
    return None


def speech_language(text: str, languages: Sequence[str], current: str) -> str:
    """The language a sentence is spoken in: the listed language of its script (``current`` on
    a tie), else ``current``. Codes are returned as listed (base codes).
    """
    return _by_script(text, languages, current) or current


def reply_instruction(language: str) -> str:
    """The system-prompt line asking the LLM to answer in ``language``, written in it (English,
    naming the code, for a language without a line of its own).
    """
    lang = base(language)
    return REPLY_INSTRUCTIONS.get(lang, f"The caller is speaking the language {lang!r} right now: reply in it.")


class CallerLanguage:
    """Follows the caller's language across the turns of one call.

    Args:
        languages: the agent's ``languages`` (BCP-47; compared by primary subtag), or empty for
            a single-language agent.
        start: the agent's ``language`` (the call starts in it).
    """

    def __init__(self, languages: Sequence[str], start: str) -> None:
        self.start = base(start) or "en"
        self.languages = tuple(dict.fromkeys(base(lang) for lang in languages if base(lang)))
        self.current = self.start

    @property
    def multilingual(self) -> bool:
        """Whether the caller may switch (the agent lists more than one language)."""
        return len(self.languages) > 1

    def follow(self, text: str, detected: str | None) -> str:
        """The caller's language for a final transcript ``text`` (``detected``: what the STT
        reported, or None); becomes :attr:`current`. A single-language agent keeps ``start``.
        """
        if not self.multilingual:
            return self.current
        reported = base(detected)
        if reported in self.languages:
            counts = script_counts(text)
            own = counts.get(_script(reported), 0)
            other = _by_script(text, self.languages, reported)
            # the recognizer's label wins unless not one letter is in its script and all are in another's
            self.current = other if own == 0 and other is not None and other != reported else reported
        else:
            self.current = _by_script(text, self.languages, self.current) or self.current
        return self.current
