"""Text for the voice: Markdown stripping and sentence splitting of a streaming LLM reply.

LLMs write Markdown even when told not to; a TTS would read ``**`` or ``#`` aloud, so every
sentence is stripped before it reaches TTS and the event log. The splitter cuts the reply into
sentences as it streams, so the first sentence can be synthesised while the LLM still writes.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "sr",
    "jr",
    "prof",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "no",
    "approx",
    "inc",
    "ltd",
    "co",
}

# End of sentence: terminal punctuation, optional closing quotes/brackets, then whitespace.
_BOUNDARY = re.compile(r"([.!?…]+|[。！？।॥])[\"'”’)\]]*(?=\s)")
_CJK_BOUNDARY = re.compile(r"[。！？]")
# A clause end inside a sentence: , ; : or a dash (a hyphen only with a space before it), then
# whitespace. "1,234.56", "10:30", "well-known" and "A—B" have no whitespace after and never match.
_CLAUSE = re.compile(r"(?:[,;:]|(?<=\s)-|[–—])[\"'”’)\]]*(?=\s)")
_ENDS_SENTENCE = re.compile(r"(?:[.!?…]+|[。！？।॥])[\"'”’)\]]*\s*$")
_DOTTED = re.compile(r"^(?:[a-z]\.)+[a-z]$")
# Pictographs and their joiners/selectors: a TTS reads them as names ("smiling face") or noise.
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d]")

_FENCE = re.compile(r"```[a-zA-Z0-9_+-]*")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.M)
_QUOTE = re.compile(r"^\s*>\s?", re.M)
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$", re.M)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC_UNDER = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"~~(.+?)~~")
_TABLE_PIPE = re.compile(r"\s*\|\s*")
_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([.,!?;:](?:\s|$))")


def strip_markdown(text: str) -> str:
    """``text`` without Markdown markup: bold/italic/strike markers, headings, bullets and
    numbered-list markers, block quotes, rules, code fences and ticks, links (their text is kept),
    table pipes and emoji. Whitespace is collapsed; lines are joined with spaces.
    """
    t = _FENCE.sub("", text)
    t = _EMOJI.sub("", t)
    t = t.replace("`", "")
    t = _IMAGE.sub(r"\1", t)
    t = _LINK.sub(r"\1", t)
    t = _RULE.sub("", t)
    t = _HEADING.sub("", t)
    t = _QUOTE.sub("", t)
    t = _BULLET.sub("", t)
    t = _BOLD.sub(r"\2", t)
    t = _STRIKE.sub(r"\1", t)
    t = _ITALIC_STAR.sub(r"\1", t)
    t = _ITALIC_UNDER.sub(r"\1", t)
    t = t.replace("**", "").replace("__", "")
    if "|" in t:
        t = _TABLE_PIPE.sub(" ", t)
    t = _SPACES.sub(" ", t)
    t = _SPACE_BEFORE_PUNCT.sub(r"\1", t)
    lines = [ln.strip() for ln in t.splitlines()]
    return " ".join(ln for ln in lines if ln)


def _speakable(raw: str) -> bool:
    return any(ch.isalpha() for ch in raw)


def _markdown_closed(text: str) -> bool:
    """Whether ``text`` leaves no bold/italic/code/link markup open (cutting there would make
    :func:`strip_markdown` leave a marker for TTS to read).
    """
    bare = text.replace("**", "")
    return (
        text.count("**") % 2 == 0
        and bare.count("*") % 2 == 0
        and text.count("`") % 2 == 0
        and text.count("[") == text.count("]")
    )


class SentenceSplitter:
    """Feed streamed text, get complete sentences (raw, not yet stripped) as soon as they end.

    A sentence ends at ``.``, ``!``, ``?``, ``…``, ``।`` (Devanagari danda) followed by whitespace,
    at CJK full stops, and at a line break (list items rarely end with a full stop). Common
    abbreviations (``Mr.``, ``e.g.``) and decimal numbers do not end a sentence, and a piece with
    no letters (``1.``) is kept for the next one. A run-on longer than ``max_chars`` is cut at
    its last comma or semicolon so TTS is not kept waiting.

    Time to first audio: while nothing has come out yet (the first piece of a reply, i.e. of one
    LLM round), a sentence longer than ``first_clause_chars`` characters is cut at its last clause
    end so far (``,`` ``;`` ``:`` or a spaced dash, followed by whitespace), so TTS can start on the
    first clause while the LLM writes the rest. Numbers (``1,234.56``, ``10:30``), hyphenated words
    and open Markdown (``**``, ``*``, backticks, ``[link]``) are never cut. Pieces are cut only at
    whitespace, so joining them with single spaces gives the same spoken text (``agent.text``).

    Args:
        max_chars: a run-on this long (characters) is cut at its last comma or semicolon.
        first_clause_chars: a first sentence longer than this (characters) is cut at a clause end;
            None turns that off.
    """

    def __init__(self, max_chars: int = 220, first_clause_chars: int | None = 60) -> None:
        self._buf = ""
        self.max_chars = max_chars
        self.first_clause_chars = first_clause_chars
        self._emitted = False

    def feed(self, text: str) -> list[str]:
        """Add streamed ``text``; returns the sentences it completed (possibly none)."""
        self._buf += text
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            piece, self._buf = self._buf[:cut], self._buf[cut:]
            if _speakable(piece):
                out.append(piece.strip())
                self._emitted = True
            else:  # no letters yet ("1." or "**"): keep it in front of the next sentence
                self._buf = piece + self._buf
                nxt = self._find_cut(start=cut + 1)
                if nxt is None:
                    break
                piece, self._buf = self._buf[:nxt], self._buf[nxt:]
                if _speakable(piece):
                    out.append(piece.strip())
                    self._emitted = True
        return out

    def flush(self) -> list[str]:
        """The remaining text as a last sentence (call at the end of the stream)."""
        rest, self._buf = self._buf.strip(), ""
        return [rest] if _speakable(rest) else []

    def _find_cut(self, start: int = 0) -> int | None:
        buf = self._buf
        newline = buf.find("\n", start)
        best: int | None = None
        for m in _BOUNDARY.finditer(buf, start):
            if m.group(1) == "." and self._is_abbreviation(buf, m.start()):
                continue
            best = m.end()
            break
        if best is None:
            cjk = _CJK_BOUNDARY.search(buf, start)
            if cjk is not None:
                best = cjk.end()
        if newline != -1 and (best is None or newline < best):
            best = newline + 1
        if (
            best is None
            and not self._emitted
            and self.first_clause_chars is not None
            and len(buf[start:].strip()) > self.first_clause_chars
        ):
            best = self._first_clause_cut(start)
        if best is None and len(buf) - start > self.max_chars:
            idx = max(buf.rfind(", ", start), buf.rfind("; ", start))
            if idx > start:
                best = idx + 1
        return best

    def _first_clause_cut(self, start: int) -> int | None:
        """End of the last clause in the buffer after ``start`` that leaves speakable text with no
        Markdown left open, or None (also when the buffer seems to end the sentence already).
        """
        buf, best = self._buf, None
        if _ENDS_SENTENCE.search(buf):
            return None  # "... fine." with the next token not here yet: the whole sentence is about to go
        for m in _CLAUSE.finditer(buf, start):
            piece = buf[: m.end()]
            if _speakable(piece[start:]) and _markdown_closed(piece):
                best = m.end()
        return best

    @staticmethod
    def _is_abbreviation(buf: str, dot: int) -> bool:
        m = re.search(r"([A-Za-z.]+)$", buf[:dot])
        if not m:
            return False
        raw = m.group(1).strip(".")
        word = raw.lower()
        if word in _ABBREVIATIONS or _DOTTED.match(word):  # Dr. / e.g. / U.S.
            return True
        return len(raw) == 1 and raw.isalpha() and raw.isupper()  # an initial: "J. Smith"
