"""Smallest AI model ids, languages and voice rosters, with voice/model/language checks.

Sources (Smallest's model cards):

- Pulse streaming languages: https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/speech-to-text/model-cards/pulse.mdx
- Lightning models, voices, languages: https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/text-to-speech/model-cards/lightning-v-3-1.mdx
  and https://github.com/smallest-inc/smallest-ai-documentation/blob/main/fern/products/waves/pages/text-to-speech/model-cards/lightning-v-3-1-pro.mdx

The voice rosters are partial: the v3.1 card lists 217 voices and only those the
cards quote are here. :func:`check_voice` therefore only reports *known* mismatches (a Pro voice on the standard
model, a standard voice on Pro, a voice that cannot speak Hindi for a Hindi agent); an unknown voice
id is not an error by itself (the server answers ``Invalid Voice ID`` when it really is unknown).
"""

from __future__ import annotations

from typing import Literal, get_args

# --------------------------------------------------------------------------- STT (Pulse)

STTModels = Literal["pulse"]
"""Only ``pulse`` streams; ``pulse-pro`` is batch-only (HTTP 400 before upgrade)."""

STTLanguages = Literal[
    "en",
    "hi",
    "de",
    "es",
    "ru",
    "it",
    "fr",
    "nl",
    "pt",
    "zh",
    "yue",
    "ja",
    "ko",
    "gu",
    "mr",
    "or",
    "bn",
    "ta",
    "te",
    "kn",
    "ml",
    "north_indic",
    "multi-asian",
    "multi-south-indic",
]
"""Pulse streaming ``language`` values: 21 codes plus 3 aggregators."""

STT_LANGUAGES: frozenset[str] = frozenset(get_args(STTLanguages))
STT_SAMPLE_RATES: tuple[int, ...] = (8000, 16000, 22050, 24000, 44100, 48000)
US_ONLY_STT_LANGUAGES: frozenset[str] = frozenset({"zh", "yue", "ja", "ko", "multi-asian"})
INDIA_ONLY_STT_LANGUAGES: frozenset[str] = frozenset({"ta", "te", "kn", "ml", "multi-south-indic"})

CODE_SWITCHING_STT_LANGUAGES: frozenset[str] = frozenset({"hi", "gu", "mr", "or", "bn", "ta", "te", "kn", "ml"})
"""Indic single codes that also recognise English mixed in ("Indic single codes handle
code-switching with English (``hi`` covers Hinglish)", Pulse model card)."""
STT_AGGREGATES: dict[str, frozenset[str]] = {
    "north_indic": frozenset({"en", "hi", "gu", "mr", "bn", "or"}),
    "multi-south-indic": frozenset({"ta", "te", "kn", "ml", "en"}),
    "multi-asian": frozenset({"zh", "yue", "ko", "ja", "en"}),
}
"""Pulse's multi-language streaming codes and the languages each recognises (Pulse model card)."""


def pulse_language_for(languages: list[str] | tuple[str, ...]) -> str | None:
    """The one Pulse streaming ``language`` that recognises every one of ``languages``.

    One language: its own code. An Indic language plus English: that language's code, which
    handles code-switching with English (``[hi, en]`` -> ``hi``, Hinglish). Otherwise the
    smallest aggregator covering them all (``[hi, mr]`` -> ``north_indic``, ``[ta, te]`` ->
    ``multi-south-indic``). None when no single code does (``[hi, ta]``, ``[en, es]``): Pulse
    cannot stream them on one connection. The undocumented ``language=multi`` is never used.
    Source: the Pulse model card (module docstring).
    """
    wanted = {base_language(lang) for lang in languages if base_language(lang)}
    if not wanted:
        return None
    if len(wanted) == 1:
        (only,) = wanted
        return only if only in STT_LANGUAGES else None
    indic = wanted - {"en"}
    if len(indic) == 1 and "en" in wanted and next(iter(indic)) in CODE_SWITCHING_STT_LANGUAGES:
        return next(iter(indic))
    fits = [code for code, members in STT_AGGREGATES.items() if wanted <= members]
    return min(fits, key=lambda code: len(STT_AGGREGATES[code])) if fits else None


# --------------------------------------------------------------------------- TTS (Lightning)

TTSModels = Literal["lightning_v3.1", "lightning_v3.1_pro"]
"""Body ``model`` values (underscore form)."""

TTS_MODELS: frozenset[str] = frozenset(get_args(TTSModels))
DEFAULT_TTS_MODEL: str = "lightning_v3.1"
PRO_MODEL: str = "lightning_v3.1_pro"

TTSLanguages = Literal[
    "auto",
    "en",
    "hi",
    "mr",
    "kn",
    "ta",
    "bn",
    "gu",
    "te",
    "ml",
    "pa",
    "or",
    "es",
    "de",
    "fr",
    "it",
    "nl",
    "sv",
    "pt",
    "ru",
    "el",
    "fi",
    "no",
    "pl",
    "ar",
    "zh",
    "id",
    "ja",
    "ko",
    "ms",
    "tr",
    "vi",
]
"""Lightning ``language`` enum shared by HTTP and WebSocket."""

TTS_LANGUAGES: frozenset[str] = frozenset(get_args(TTSLanguages))
TTS_SAMPLE_RATES: tuple[int, ...] = (8000, 16000, 24000, 44100)

# Standard lightning_v3.1 voices named in the v3.1 model card.
STANDARD_ENGLISH_VOICES: frozenset[str] = frozenset(
    {
        "sophia",
        "magnus",
        "jordan",
        "robert",
        "lucas",
        "daniel",
        "olivia",
        "rachel",
        "nicole",
        "elizabeth",
        "quinn",
        "mia",
        "lauren",
        "hannah",
        "vanessa",
        "avery",
    }
)
STANDARD_HINDI_VOICES: frozenset[str] = frozenset(
    {
        "sunidhi",
        "chinmayi",
        "aanya",
        "siya",
        "anuja",
        "avni",
        "ishani",
        "yuvika",
        "advika",
        "sana",
        "sameera",
        "srishti",
        "sakshi",
        "maya",
        "maithili",
        "wasim",
        "rehan",
        "parth",
        "atharv",
        "vivaan",
        "devansh",
        "aarush",
        "neel",
        "mihir",
    }
)
"""Hindi/English (Indian accent) standard voices."""
STANDARD_INDIC_VOICES: dict[str, frozenset[str]] = {
    "ta": frozenset({"jeevan", "rajeshwari"}),
    "ml": frozenset({"vaisakh", "shibi"}),
    "te": frozenset({"srihari", "padmaja"}),
    "mr": frozenset({"rupali", "nilesh"}),
    "gu": frozenset({"niharika", "dhruvit"}),
    "kn": frozenset({"deepashri", "pranav"}),
}
STANDARD_SPANISH_VOICES: frozenset[str] = frozenset(
    {
        "daniella",
        "camilla",
        "alba",
        "marcos",
        "david",
        "nerea",
        "miguel",
    }
)
STANDARD_VOICES: frozenset[str] = (
    STANDARD_ENGLISH_VOICES
    | STANDARD_HINDI_VOICES
    | STANDARD_SPANISH_VOICES
    | frozenset().union(*STANDARD_INDIC_VOICES.values())
)

# Pro (lightning_v3.1_pro) voices named in the v3.1 Pro model card.
PRO_INDIAN_VOICES: frozenset[str] = frozenset(
    {
        "rhea",
        "zariya",
        "kareena",
        "mishka",
        "inaaya",
        "saira",
        "meher",
        "aarini",
        "aviraj",
        "vyom",
        "zoravar",
        "reyansh",
        "ahan",
    }
)
"""Indian Pro voices; these are the Hindi-capable Pro voices."""
PRO_BRITISH_VOICES: frozenset[str] = frozenset(
    {
        "sophie",
        "ellie",
        "cressida",
        "ottilie",
        "elowen",
        "seraphina",
        "sam",
        "henry",
        "benedict",
        "cormac",
        "rupert",
        "finley",
    }
)
PRO_AMERICAN_VOICES: frozenset[str] = frozenset(
    {
        "kaitlyn",
        "savannah",
        "amelia",
        "zoe",
        "ruby",
        "leah",
        "jenna",
        "kate",
        "molly",
        "sara",
        "fiona",
        "blake",
        "austin",
        "henry",
        "jack",
        "leo",
        "luke",
        "owen",
    }
)
PRO_LANGUAGE_VOICES: dict[str, frozenset[str]] = {
    "ta": frozenset({"malar", "nila", "tamilselvi", "mathan"}),
    "mr": frozenset({"mrunal", "manasi", "ketaki", "tejaswini", "mandar", "tushar"}),
    "bn": frozenset({"rajib", "tanmoy", "subhro", "arghya", "indranil"}),
}
PRO_VOICES: frozenset[str] = (
    PRO_INDIAN_VOICES | PRO_BRITISH_VOICES | PRO_AMERICAN_VOICES | frozenset().union(*PRO_LANGUAGE_VOICES.values())
)

HINDI_CAPABLE_VOICES: frozenset[str] = STANDARD_HINDI_VOICES | PRO_INDIAN_VOICES
"""Voices that speak Hindi (and Hinglish): the standard Hindi/English set and the Indian Pro set."""
ENGLISH_CAPABLE_VOICES: frozenset[str] = (
    STANDARD_ENGLISH_VOICES | STANDARD_HINDI_VOICES | PRO_INDIAN_VOICES | PRO_BRITISH_VOICES | PRO_AMERICAN_VOICES
)
"""Voices the model cards list for English: the English ones, the standard Hindi/English set and
every American, British and Indian Pro voice. The Spanish and single-Indic-language voices are
listed for their own language only."""

_DEFAULT_STANDARD: dict[str, str] = {
    "en": "sophia",
    "hi": "aanya",
    "ta": "jeevan",
    "ml": "vaisakh",
    "te": "srihari",
    "mr": "rupali",
    "gu": "niharika",
    "kn": "deepashri",
    "es": "daniella",
}
_DEFAULT_PRO: dict[str, str] = {"en": "meher", "hi": "meher", "ta": "malar", "mr": "mrunal", "bn": "rajib"}


def base_language(language: str | None) -> str:
    """The primary subtag of a BCP-47 tag, lower-cased (``"en-IN"`` -> ``"en"``); ``""`` for None."""
    if not language:
        return ""
    lang = language.lower()
    if lang in STT_LANGUAGES or lang in TTS_LANGUAGES:  # keeps "multi-asian", "north_indic"
        return lang
    return lang.replace("_", "-").split("-", 1)[0]


def default_voice(model: str, language: str | None) -> str:
    """A sensible voice id for ``model`` speaking ``language``.

    Pro: ``meher`` (the LiveKit/Pipecat Pro default, Hindi-capable) unless the language has its own
    Pro roster (ta, mr, bn). Standard: ``sophia`` (LiveKit/Pipecat default) for English and unknown
    languages; a Hindi/Indic/Spanish voice of the model cards otherwise.
    """
    lang = base_language(language)
    if model == PRO_MODEL:
        return _DEFAULT_PRO.get(lang, "meher")
    return _DEFAULT_STANDARD.get(lang, "sophia")


def check_voice(model: str, voice: str, language: str | None) -> list[str]:
    """Problems with speaking ``language`` with ``voice`` on Lightning ``model``; ``[]`` when fine.

    Reported: an unknown model; a language outside the Lightning enum; a Pro voice on
    ``lightning_v3.1`` or a standard-only voice on ``lightning_v3.1_pro`` (the server does not
    reject these but produces wrong audio); a Hindi agent whose voice is not Hindi-capable;
    a known voice of another language for a language with its own voice roster on that model
    (a Tamil voice for a Telugu agent). Source: the Lightning model cards (module docstring).
    """
    problems: list[str] = []
    voice_l = voice.lower()
    lang = base_language(language)
    if model not in TTS_MODELS:
        problems.append(f"unknown Lightning model {model!r}; use one of {sorted(TTS_MODELS)}")
    if lang and lang not in TTS_LANGUAGES:
        problems.append(f"language {language!r} is not supported by Lightning TTS")
    if model == DEFAULT_TTS_MODEL and voice_l in PRO_VOICES and voice_l not in STANDARD_VOICES:
        problems.append(
            f"voice {voice!r} is a Lightning v3.1 Pro voice; set model: {PRO_MODEL} "
            f"or pick a standard voice such as {default_voice(DEFAULT_TTS_MODEL, lang)!r}"
        )
    if model == PRO_MODEL and voice_l in STANDARD_VOICES and voice_l not in PRO_VOICES:
        problems.append(
            f"voice {voice!r} is a standard Lightning v3.1 voice; set model: {DEFAULT_TTS_MODEL} "
            f"or pick a Pro voice such as {default_voice(PRO_MODEL, lang)!r}"
        )
    if lang == "hi" and voice_l not in HINDI_CAPABLE_VOICES:
        problems.append(
            f"voice {voice!r} cannot speak Hindi; use a Hindi-capable voice such as {default_voice(model, 'hi')!r}"
        )
    if lang == "en" and voice_l in STANDARD_VOICES | PRO_VOICES and voice_l not in ENGLISH_CAPABLE_VOICES:
        problems.append(
            f"voice {voice!r} cannot speak English (the model card lists it for another language only); "
            f"use a voice that speaks English such as {default_voice(model, 'en')!r}"
        )
    roster = (STANDARD_INDIC_VOICES if model == DEFAULT_TTS_MODEL else PRO_LANGUAGE_VOICES).get(lang)
    if roster is not None and voice_l in STANDARD_VOICES | PRO_VOICES and voice_l not in roster:
        problems.append(
            f"voice {voice!r} cannot speak {language!r}: {model}'s {lang} voices are "
            f"{', '.join(sorted(roster))}; use one of them"
        )
    return problems


# --------------------------------------------------------------------------- Hydra (speech-to-speech)

HydraModels = Literal["hydra-v1.1", "hydra-v1.0", "hydra"]
"""``model`` query values of ``/waves/v1/s2s``; ``hydra`` is deprecated (a ``warning`` frame)."""

DEFAULT_HYDRA_MODEL: HydraModels = "hydra-v1.1"
HYDRA_VOICES: dict[str, frozenset[str]] = {
    "hydra-v1.1": frozenset({"zoe", "maya", "elena", "ivy", "grace", "alex", "aria", "leo", "sam", "kai"}),
    "hydra-v1.0": frozenset(
        {
            "vaughn",
            "brooks",
            "cole",
            "hayes",
            "pierce",
            "sterling",
            "ellis",
            "lane",
            "quinn",
            "arden",
            "rowan",
            "blair",
            "emery",
            "sawyer",
        }
    ),
    "hydra": frozenset({"wren", "sloane", "marlowe", "reed", "knox", "tate"}),
}
"""Voices per Hydra model. The rosters do not overlap and are frozen at the handshake (Smallest's
Hydra model card, https://docs.smallest.ai — speech-to-speech, "Voices")."""

HYDRA_LANGUAGES: frozenset[str] = frozenset({"en"})
"""Hydra speaks English only."""


def check_hydra_voice(model: str, voice: str | None) -> str | None:
    """A problem with ``voice`` on Hydra ``model``, or None when fine (or when no voice is set).

    Unknown models are reported; a voice of another Hydra model is refused (rosters do not overlap,
    and the docs disagree on whether the server errors or silently falls back to its default).
    """
    if model not in HYDRA_VOICES:
        return f"unknown Hydra model {model!r}; use one of {', '.join(sorted(HYDRA_VOICES))}"
    if voice is None or voice in HYDRA_VOICES[model]:
        return None
    owner = next((m for m, vs in HYDRA_VOICES.items() if voice in vs), None)
    where = f" (it is a {owner} voice)" if owner else ""
    return f"{model} has no voice {voice!r}{where}; use one of {', '.join(sorted(HYDRA_VOICES[model]))}"
