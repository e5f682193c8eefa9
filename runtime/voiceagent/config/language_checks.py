"""Checks of an agent's languages against its speech providers, on the positioned node tree.

Agent format, "Callers who switch language": with ``languages`` the speech recognizer is asked to
recognise all of them and ``validate`` refuses a voice known not to speak one of them. Checked
here (only where the agent may use Smallest AI, i.e. ``provider`` ``auto`` or ``smallest``):

* ``languages`` includes ``language`` (the one the call starts in);
* one Pulse streaming code recognises every listed language (an Indic language with English,
  ``north_indic``, ``multi-south-indic``...; :func:`~voiceagent.providers.smallest.models.pulse_language_for`);
* the voice (``voice.id``, else the model's default voice) is not known to be unable to speak
  one of the languages (Lightning model cards; only *known* mismatches: an unknown voice id is
  left to the server). Reported at the voice's line.

Sources: the Pulse and Lightning model cards,
https://github.com/smallest-inc/smallest-ai-documentation/tree/main/fern/products/waves/pages
"""

from __future__ import annotations

import re

from voiceagent.config.diagnostics import Diagnostic
from voiceagent.config.yamlnodes import Node

__all__ = ["language_checks"]

_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
"""A language code as the schema accepts it (anything else is a schema error, reported there)."""


def _text(node: Node | None) -> str | None:
    return node.value if node is not None and isinstance(node.value, str) else None


def _base(code: str) -> str:
    return code.lower().replace("_", "-").split("-", 1)[0]


def _uses_smallest(root: Node, slot: str) -> bool:
    section = root.get(slot)
    provider = _text(section.get("provider")) if section is not None and section.is_map else None
    return provider in (None, "auto", "smallest")


def _error(node: Node, message: str, path: str, *, key: bool = False) -> Diagnostic:
    line, col = (node.key_line, node.key_col) if key else (node.line, node.col)
    return Diagnostic(node.file, line, col, "error", message, path)


def language_checks(root: Node) -> list[Diagnostic]:
    """Problems of ``language`` / ``languages`` with the STT and the voice of the merged agent
    ``root`` (see the module docstring); ``[]`` when fine or when the values are not text yet
    (schema errors are reported elsewhere, ``${VAR}`` references are checked at run time).
    """
    from voiceagent.providers.smallest.models import (
        DEFAULT_TTS_MODEL,
        PRO_VOICES,
        STANDARD_VOICES,
        STT_AGGREGATES,
        check_voice,
        default_voice,
        pulse_language_for,
    )

    if not root.is_map:
        return []
    out: list[Diagnostic] = []
    start = _text(root.get("language")) or "en"
    node = root.get("languages")
    listed = [_text(n) for n in node.value] if node is not None and node.is_seq else None
    if listed is not None and (not listed or any(lang is None or not _CODE.match(lang) for lang in listed)):
        return []
    if not _CODE.match(start):
        return []
    languages: list[str] = [lang for lang in listed if lang] if listed is not None else [start]
    if node is not None and listed is not None:
        if _base(start) not in {_base(lang) for lang in languages}:
            out.append(
                _error(
                    node,
                    f"languages: must include language {start!r} (the one the call starts in); "
                    f"write languages: [{', '.join([start, *languages])}]",
                    "languages",
                )
            )
        if _uses_smallest(root, "stt") and len(languages) > 1 and pulse_language_for(languages) is None:
            groups = "; ".join(f"{code}: {', '.join(sorted(m))}" for code, m in STT_AGGREGATES.items())
            out.append(
                _error(
                    node,
                    f"languages: Smallest Pulse cannot recognise {', '.join(languages)} on one stream; list "
                    f"an Indian language with English (e.g. [hi, en]) or languages of one group ({groups})",
                    "languages",
                )
            )
    if not _uses_smallest(root, "tts"):
        return out
    tts = root.get("tts")
    model = (_text(tts.get("model")) if tts is not None and tts.is_map else None) or DEFAULT_TTS_MODEL
    voice_section = root.get("voice")
    voice_node = voice_section.get("id") if voice_section is not None and voice_section.is_map else None
    voice = _text(voice_node)
    if "${" in model or (voice is not None and "${" in voice):
        return out
    chosen = voice or default_voice(model, start)
    if chosen.lower() not in STANDARD_VOICES | PRO_VOICES:
        return out  # not in the model cards' rosters: only the server knows
    for lang in languages:
        problems = [p for p in check_voice(model, chosen, lang) if "cannot speak" in p]
        for problem in problems:
            if voice_node is not None:
                out.append(_error(voice_node, f"voice.id: {problem}", "voice.id"))
            else:
                where = node if node is not None else root.get("language") or root
                out.append(_error(where, f"no voice.id is set and the default voice {problem}", "voice.id"))
    return out
