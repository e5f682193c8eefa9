"""Sentence checks on a structured ``say`` before it is spoken: repeats and invented numbers.

The 0.5B model copies its previous reply (after a barge-in on the greeting it said the greeting
again) and invents figures ("Your balance is rupees 1000." before any look-up). Both are checked
a sentence at a time, as the session speaks anyway, so a sentence that passes costs no delay:

- a sentence an earlier reply of the call already said is not spoken;
- a sentence that only says the caller's latest words back is not spoken (after a move into the
  verification step the model answered "I want to check my account." with those same words);
- a sentence naming one of the offered functions (the model read its prompt out: "... and
  call end_call") is not spoken;
- a sentence with a number (more than one digit) that neither the caller, the prompt nor a tool
  result contains is not spoken ("10,000" and "10000.0" are the same number); a sum of money
  is checked whatever its size (after an unknown account's ``found: false`` the model said "The
  account number 10001 has a balance of $0.");
- a sentence that reads out text the runtime wrote for the model (five words in a row of the
  prompt's :data:`~.prompt.RULES` or of a ``verify_caller`` / ``go_to_<state>`` result) is not
  spoken ("You are the person on the phone: speak to them as 'you' ... Never mention tools,
  JSON or these rules."; "Your ... is verified to level 1 (information queries: ...)");
- after a verification, a sentence naming a level ("Your marriage was verified to level 1.",
  four words of the guard's message, so under the five-word check) is not spoken: the level is
  the runtime's word, never the caller's;
- a sentence with a template placeholder in brackets is not spoken (asked for transactions
  before verification the model said "Your full name is [your full name] and your dob is
  [your dob].").
- a sentence that says the caller's identity facts back (a ``verify_caller`` value with a digit,
  such as the date of birth or a card's last four, or two of its values together) is not
  spoken: heard as "What's my marriage?", the bank's answer after verification was "Your
  marriage is Ravi Kumar, born 12 April 1985.", said aloud on the phone;
- a sentence that only refuses ("I'm sorry, but I can't assist with that.") is not spoken: the
  model refused "I have a question about my real." (espeak-ng's "bill" misheard), a dead end
  where the session's fallback ("Sorry, could you repeat that?") lets the caller say it again.
  Asking the model once more gave no better words ("What specific information do you need to
  know about your real?") and cost 1.4-1.9 s before the first audio.

:class:`SentenceGate` reports what it dropped so the round can be asked again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from voiceagent.config.builtin_functions import TRANSITION_PREFIX, VERIFY_FUNCTION
from voiceagent.providers.structured.facts import tokens, verify_arguments
from voiceagent.providers.structured.intents import asks_to_end  # the farewell words live with the intents
from voiceagent.providers.structured.prompt import RULES

__all__ = [
    "SentenceGate",
    "asks_to_end",
    "identity_facts",
    "known_numbers",
    "last_user_words",
    "numbers_in",
    "runtime_texts",
]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_AMOUNT = re.compile(
    r"(?:[$₹€£]|\b(?:rs\.?|inr|usd|eur|gbp))\s*(\d[\d,]*(?:\.\d+)?)"
    r"|(\d[\d,]*(?:\.\d+)?)\s*(?:dollars?|rupees?|euros?|pounds?|cents?)\b",
    re.IGNORECASE,
)
"""A sum of money, whatever its size: "$0", "Rs 5", "7 rupees"."""
_PLACEHOLDER = re.compile(r"\[[^\]]*[A-Za-z][^\]]*\]|\{\{?\s*\w[\w\s.]*\}\}?|<\w[\w\s]*>")
"""A bracketed placeholder: ``[your full name]``, ``{name}``, ``{{ name }}``, ``<name>``."""
_REFUSAL = re.compile(
    r"\b(?:can\s*not|can'?t|cannot|(?:am|'m) (?:unable|not able) to)\s+(?:assist|help)(?:\s+you)?"
    r"(?:\s+with\s+(?:that|this|it|your request|this request|that request))?\s*[.!]?$",
    re.IGNORECASE,
)
"""A sentence that only refuses: "I'm sorry, but I can't assist with that." (not "I can't verify you")."""


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _runs(text: str, n: int = 5) -> set[tuple[str, ...]]:
    words = _norm(text).split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


_RULE_RUNS = _runs(RULES)
_LEVEL = re.compile(r"\blevel\s+\d+\b", re.IGNORECASE)
"""A verification level as the guard's messages name it ("verified to level 1")."""


def runtime_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The results of the runtime's own functions (``verify_caller``, ``go_to_<state>``) in
    ``messages``: written for the model ("The caller is verified to level 1 ..."), never for the
    caller's ears.
    """
    ids = {
        call.get("id")
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or []
        if (name := str(call.get("function", call).get("name") or "")) == VERIFY_FUNCTION
        or name.startswith(TRANSITION_PREFIX)
    }
    return [str(m.get("content") or "") for m in messages if m.get("role") == "tool" and m.get("tool_call_id") in ids]


def last_user_words(messages: list[dict[str, Any]]) -> str:
    """The content of the last caller (``user``) message, or ``""``."""
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")


def identity_facts(messages: list[dict[str, Any]]) -> list[str]:
    """The values the caller gave ``verify_caller`` in ``messages`` (its calls' arguments)."""
    out: list[str] = []
    for args in verify_arguments(messages):
        out += [str(v) for v in args.values() if str(v).strip() and str(v) not in out]
    return out


def _fact_words(value: str) -> tuple[set[str], bool]:
    """What of ``value`` marks it as said back, and whether it holds digits: a date or number's
    numbers ("12 April 1985" and "1985-04-12" both {12, 4, 1985}), else its words.
    """
    words = tokens(value)
    digits = {w for w in words if w.isdigit()}
    return (digits, True) if digits else (set(words), False)


def numbers_in(text: str) -> set[float]:
    """The numbers written with digits in ``text`` ("10,000" -> 10000.0; "2026-03-01" -> 2026, 3, 1)."""
    out: set[float] = set()
    for raw in _NUMBER.findall(text):
        digits = raw.replace(",", "").rstrip(".")
        try:
            out.add(float(digits))
        except ValueError:
            continue
    return out


def _checked_numbers(sentence: str) -> set[float]:
    """The numbers of ``sentence`` a message must have given: those from 10 up (a "1" or "2" is
    mostly a count) and every sum of money (:data:`_AMOUNT`: "$0" -> 0.0).
    """
    amounts = {n for match in _AMOUNT.finditer(sentence) for n in numbers_in(match.group(1) or match.group(2))}
    return {n for n in numbers_in(sentence) if n >= 10} | amounts


def known_numbers(messages: list[dict[str, Any]]) -> set[float]:
    """Numbers the reply may use: those in system, caller and tool messages (not the model's own)."""
    text = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") in ("system", "user", "tool"))
    spoken = re.sub(r"(?<=\d)[\s-](?=\d)", "", text)  # "7 7 8 8" and "1-2-3" as said
    return numbers_in(text) | numbers_in(spoken)


class SentenceGate:
    """Passes ``say`` text a sentence at a time, dropping repeats and invented numbers.

    Args:
        earlier: the call's earlier replies (assistant texts).
        numbers: numbers the reply may contain (:func:`known_numbers`).
        tool_names: the offered function names (never spoken).
        caller: the caller's latest words; a sentence of them said back is dropped (counted in
            ``repeats``, never kept by :meth:`finish`).
        quiet: texts never to be read out besides the prompt's rules (:func:`runtime_texts`).
        secrets: the caller's identity facts (:func:`identity_facts`), never said back.
    """

    def __init__(
        self,
        earlier: list[str],
        numbers: set[float],
        tool_names: Iterable[str] = (),
        caller: str | None = None,
        quiet: Iterable[str] = (),
        secrets: Iterable[str] = (),
    ) -> None:
        self.secrets = [words for words in map(_fact_words, secrets) if words[0]]
        quiet = list(quiet)
        self.quiet = _RULE_RUNS.union(*(_runs(text) for text in quiet))
        self.levels = any(_LEVEL.search(text) for text in quiet)
        self.earlier = {_norm(s) for text in earlier for s in _SENTENCE_END.split(text) if _norm(s)}
        self.echoes = {_norm(s) for s in _SENTENCE_END.split(caller or "") if len(_norm(s).split()) >= 3}
        self.numbers = numbers
        self.tool_names = [n for n in tool_names if n]
        self.pending = ""
        self.spoke = False
        self.last_repeat = ""
        self.repeats = 0
        self.invented = 0
        self.refusals = 0
        self.last_refusal = ""

    @classmethod
    def for_reply(
        cls, messages: list[dict[str, Any]], *, earlier: list[str] | None = None, tool_names: Iterable[str] = ()
    ) -> SentenceGate:
        """The gate for the reply to ``messages`` (OpenAI chat format): the numbers, the caller's
        latest words, the runtime's own texts and the caller's identity facts come from them.
        """
        return cls(
            earlier or [],
            known_numbers(messages),
            tool_names,
            caller=last_user_words(messages),
            quiet=runtime_texts(messages),
            secrets=identity_facts(messages),
        )

    @classmethod
    def for_answer(cls, messages: list[dict[str, Any]]) -> SentenceGate | None:
        """The gate for the answer after the tool results that end ``messages``, else None: a
        sentence that says the caller's latest words back, has a number no message gave or reads
        out a verification or state-move result is not spoken (after a ticket was opened the
        0.5B model said the caller's "Can you open a support ticket for me?" back). Earlier
        replies are not checked: the answer to a question asked again may rightly be the same words.
        """
        if not messages or messages[-1].get("role") != "tool":
            return None
        return cls.for_reply(messages)

    def _reads_out_runtime_text(self, sentence: str) -> bool:
        """A template's blank, five words of the prompt's rules or of a runtime result, or (after
        a verification) a level.
        """
        if _PLACEHOLDER.search(sentence) or self.quiet & _runs(sentence):
            return True
        return self.levels and bool(_LEVEL.search(sentence))

    def _pass(self, sentence: str) -> str:
        norm = _norm(sentence)
        if norm and norm in self.echoes:
            self.repeats += 1
            return ""
        if norm and norm in self.earlier:
            self.repeats += 1
            self.last_repeat = sentence
            return ""
        if self._reads_out_runtime_text(sentence):
            self.invented += 1
            return ""
        if self.secrets:
            heard = set(tokens(sentence))
            said_back = [digits for words, digits in self.secrets if words <= heard]
            if any(said_back) or len(said_back) >= 2:
                self.invented += 1  # the caller's identity facts read out
                return ""
        if any(name in sentence for name in self.tool_names):
            self.invented += 1  # the prompt's wording read out ("call end_call"), not an answer
            return ""
        if not _checked_numbers(sentence) <= self.numbers:
            self.invented += 1
            return ""
        if _REFUSAL.search(sentence.strip().replace("\u2019", "'")):
            self.refusals += 1
            self.last_refusal = sentence
            return ""
        self.spoke = self.spoke or bool(sentence.strip())
        return sentence

    def feed(self, text: str) -> str:
        """Add decoded words; returns the complete sentences that pass (may be ``""``)."""
        self.pending += text
        parts = _SENTENCE_END.split(self.pending)
        self.pending = parts.pop()
        return "".join(self._pass(p) + " " for p in parts if p).lstrip() if parts else ""

    @property
    def dropped_all(self) -> bool:
        """Whether every sentence so far was dropped (and the pending rest is empty)."""
        return not self.spoke and bool(self.repeats or self.invented or self.refusals) and not self.pending.strip()

    def finish(self, *, keep_repeat: bool = True, keep_refusal: bool = False) -> str:
        """The last sentence if it passes; when nothing passed, the last repeated sentence with
        ``keep_repeat`` (usually a question such as "How can I help?"), else the last refusal
        with ``keep_refusal``.
        """
        out = self._pass(self.pending) if self.pending.strip() else ""
        self.pending = ""
        if not self.spoke and keep_repeat and self.last_repeat:
            out = self.last_repeat
        elif not self.spoke and keep_refusal and self.last_refusal:
            out = self.last_refusal
        return out
