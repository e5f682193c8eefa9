"""Decisions the caller's words make plain, taken by the runtime before a small model is asked.

The 0.5B model answered "That's all, thank you. Goodbye." with words and no hang-up, "Let me
talk to a human." with "I can help you with that.", and "What's my balance?" in a verified state
with the greeting's "How can I help you today?". Those decisions need no model: the caller's
latest words name them. :func:`intent_call` returns the one call they determine, or None to let
the model decide. Everything it reads is generic (the offered functions' kinds, names and
descriptions), never written for an example agent:

1. **A person**: the caller asks to talk to a human ("let me talk to a human", "I'd rather
   speak to a person", "connect me to an agent", "किसी इंसान से बात करवाइए", or a noun of the
   transfer tool's own description such as "banker") and the state offers a builtin
   ``transfer`` tool: that tool, its required free-text arguments (a reason) filled with the
   caller's words.
2. **Goodbye**: the caller's words end the call ("that's all, goodbye", "nothing else, bye",
   "अलविदा") with no request in them, and the state offers a function that ends the call (an
   ``end_call`` builtin first, else a transition into a final state): that function. The session
   then asks the model for its last words, as after any hang-up.
3. **A named action**: a tool whose required arguments are all free text, asked for by the
   object word of its name after a verb of making ("please open a ticket" -> ``create_ticket``
   with the caller's words as its ``summary``; "I already have a ticket open" is not a request).
4. **A topic**: a content word of the caller's words (plain stemming: "spend" = "spending") is
   in the name or description of exactly one offered function (a transition into a non-final
   state, or a tool without required arguments) and of no other function: that function. "What's
   my balance?" -> ``get_account_summary`` ("The caller's balance and fixed deposits");
   "I need help with my fixed deposit" -> ``go_to_verify`` ("The caller asks about their
   account, balance, ... or deposits"). A tie, or a best match that needs arguments, is left to
   the model.

:func:`wants_person` also gates a transfer the model chose by itself (the model once transferred
"I want to check my account.").
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from voiceagent.providers.base import ChatRequest, ToolCallRequest
from voiceagent.providers.structured.decision import DecisionSpec, is_free_text

__all__ = ["asked_for_person", "asks_to_end", "content_words", "intent_call", "says_goodbye", "wants_person"]

_PERSON = (
    r"\b(?:human|humans|person|people|someone|somebody|agent|representative|operator|staff|manager|"
    r"supervisor|executive|advisor|adviser|insaan|insan)\b|इंसान|व्यक्ति|आदमी|एजेंट|मैनेजर|प्रतिनिधि"
)
_ASK = (
    r"\b(?:talk|speak|connect|transfer|put\s+me\s+through|get\s+me|give\s+me|want|need|rather|like|baat)\b"
    r"|बात|जोड़|जोड|ट्रांसफर|चाहिए"
)
_NEGATED = re.compile(r"\b(?:don'?t|do\s+not|never|no\s+need|not\s+(?:a|to)|without)\b|नहीं\s+चाहिए", re.IGNORECASE)
_UPSET = re.compile(
    r"\b(?:angry|furious|upset|frustrated|ridiculous|terrible|useless|worst|unacceptable|complaint|"
    r"fed\s+up|sick\s+of)\b|गुस्सा|परेशान|बकवास|बेकार",
    re.IGNORECASE,
)
_GOODBYE = re.compile(
    r"\b(?:good\s*-?\s*bye|bye|that'?s\s+(?:all|it|everything)|that\s+is\s+(?:all|it|everything)|"
    r"nothing\s+(?:else|more|to\s+ask|today)|no\s+more\s+questions|hang\s+up|end\s+(?:the|this)\s+call|"
    r"alvida|bas\s+itna)\b|अलविदा|बाय|बस\s+इतना|और\s+कुछ\s+नहीं|फ़?फोन\s+रख",
    re.IGNORECASE,
)
_THANKS = re.compile(
    r"\b(?:no\s+thanks?|thanks?|thank\s+you|see\s+you|dhanyavaa?d|shukriya)\b|धन्यवाद|शुक्रिया", re.IGNORECASE
)
_REQUEST = re.compile(
    r"\?|\b(?:can|could|would|will)\s+(?:you|i)\b|\b(?:what|how|why|when|where|which|also|open|check|"
    r"tell\s+me|need|want|help|please\s+(?!bye)\w+)\b|क्या|कैसे|कब|कहाँ|चाहिए",
    re.IGNORECASE,
)
_STOP = frozenset(
    [
        "a",
        "about",
        "after",
        "again",
        "all",
        "already",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "ask",
        "asks",
        "at",
        "be",
        "been",
        "before",
        "being",
        "but",
        "by",
        "call",
        "called",
        "caller",
        "callers",
        "can",
        "could",
        "day",
        "default",
        "did",
        "do",
        "does",
        "done",
        "first",
        "for",
        "from",
        "get",
        "give",
        "go",
        "had",
        "has",
        "have",
        "help",
        "hello",
        "hi",
        "how",
        "i",
        "id",
        "ids",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "know",
        "last",
        "let",
        "like",
        "list",
        "look",
        "me",
        "more",
        "my",
        "need",
        "new",
        "no",
        "not",
        "now",
        "of",
        "ok",
        "okay",
        "on",
        "one",
        "only",
        "or",
        "our",
        "out",
        "please",
        "read",
        "s",
        "say",
        "says",
        "show",
        "so",
        "some",
        "tell",
        "than",
        "thank",
        "thanks",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "today",
        "too",
        "up",
        "us",
        "use",
        "used",
        "want",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "yes",
        "you",
        "your",
    ]
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_words(text: str) -> set[str]:
    """The stemmed content words of ``text`` (lower case, stop words dropped, ``get_account_summary``
    read as its words): the vocabulary the topic rule compares.
    """
    words = re.findall(r"[^\W\d_]+", text.lower().replace("_", " "))
    return {_stem(w) for w in words if w not in _STOP and len(w) > 2}


def wants_person(said: str, nouns: Iterable[str] = ()) -> bool:
    """Whether ``said`` asks to talk to a person (or is angry: "this is ridiculous").

    Args:
        said: the caller's latest words.
        nouns: more words for a person, e.g. from the transfer tool's description ("banker").
    """
    if _UPSET.search(said):
        return True
    if _NEGATED.search(said):
        return False
    extra = "|".join(re.escape(n) for n in nouns if n)
    person = _PERSON + (rf"|\b(?:{extra})\b" if extra else "")
    asked = re.search(rf"(?:{_ASK}).{{0,40}}?(?:{person})", said, re.IGNORECASE)
    hindi_order = re.search(rf"(?:{person}).{{0,30}}?(?:{_ASK})", said, re.IGNORECASE)
    return bool(asked or hindi_order)


def asks_to_end(said: str) -> bool:
    """Whether the caller's words may end the call: a goodbye (:func:`says_goodbye`'s words) or a
    thank-you ("thank you", "see you", "धन्यवाद"), request or not. A hang-up the model chose is run
    only then: the 0.5B model hung up on a plain "Hello." now and then.
    """
    return _GOODBYE.search(said) is not None or _THANKS.search(said) is not None


def says_goodbye(said: str) -> bool:
    """Whether ``said`` ends the call and asks for nothing more ("That's all, thank you. Goodbye.";
    not "Bye the way, can you check my bill?" nor "That's all for the bill, what about my plan?").
    """
    return _GOODBYE.search(said) is not None and _REQUEST.search(said) is None


def _call(name: str, arguments: dict[str, Any]) -> ToolCallRequest:
    return ToolCallRequest(
        id=f"call_{uuid.uuid4().hex[:16]}", name=name, arguments=json.dumps(arguments, ensure_ascii=False)
    )


def _free_text_arguments(params: dict[str, Any], said: str) -> dict[str, Any] | None:
    """Required arguments filled with the caller's words, or None when one needs a checked value
    (a pattern, an enum, a number): those are not guessed.
    """
    props = params.get("properties") or {}
    out: dict[str, Any] = {}
    for name in params.get("required") or []:
        if not is_free_text(props.get(name) or {}):
            return None
        out[name] = " ".join(said.split())[:120]
    return out


def asked_for_person(said: str, spec: DecisionSpec, name: str) -> bool:
    """Whether ``said`` asks for a person, the nouns of transfer tool ``name``'s own description
    ("Transfer the call to a human banker" -> "banker") counting as one (:func:`wants_person`).
    """
    nouns = content_words(spec.tool_help.get(name, "")) - content_words("transfer")
    return wants_person(said, sorted(nouns))


def _handoff(request: ChatRequest, spec: DecisionSpec, said: str) -> ToolCallRequest | None:
    for name in request.handoffs:
        if name not in spec.tools:
            continue
        if asked_for_person(said, spec, name):
            args = _free_text_arguments(spec.tools[name], said)
            return _call(name, args) if args is not None else None
    return None


def _goodbye(request: ChatRequest, spec: DecisionSpec, said: str) -> ToolCallRequest | None:
    if not says_goodbye(said):
        return None
    for name in request.closing:
        params = spec.tools.get(name)
        if params is not None and not params.get("required"):
            return _call(name, {})
    targets = [t for t, fn in spec.transitions.items() if fn in request.closing]
    if len(set(targets)) == 1:
        return _call(spec.transitions[targets[0]], {})
    return None


def _topic(request: ChatRequest, spec: DecisionSpec, said: str) -> ToolCallRequest | None:
    heard = content_words(said)
    if not heard:
        return None
    special = set(request.closing) | set(request.handoffs)
    vocab: dict[str, set[str]] = {}
    runnable: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, params in spec.tools.items():
        if name in special:
            continue
        vocab[name] = content_words(name + " " + spec.tool_help.get(name, ""))
        if not params.get("required"):
            runnable[name] = (name, {})
    for target, fn in spec.transitions.items():
        if fn in special:
            continue
        vocab[fn] = content_words(target + " " + spec.transition_help.get(target, ""))
        runnable[fn] = (fn, {})
    scores: dict[str, int] = {}
    for name, words in vocab.items():
        others = set().union(*(w for n, w in vocab.items() if n != name))
        scores[name] = len((heard & words) - others)
    best = max(scores.values(), default=0)
    winners = [n for n, s in scores.items() if s == best]
    if best == 0 or len(winners) != 1 or winners[0] not in runnable:
        return None
    return _call(*runnable[winners[0]])


_MAKE = r"open|create|raise|file|log|lodge|make|submit|start|book|register"
_ACTION_VERBS = frozenset(
    [
        "get",
        "set",
        "add",
        "new",
        "make",
        "create",
        "open",
        "update",
        "send",
        "do",
        "run",
        "check",
        "find",
        "list",
        "look",
        "fetch",
        "submit",
        "start",
        "book",
    ]
)


def _named_action(request: ChatRequest, spec: DecisionSpec, said: str) -> ToolCallRequest | None:
    """A tool whose required arguments are all free text, asked for by its own object word after a
    verb of making ("please open a ticket", "can you raise a support ticket"): called with the
    caller's words as those arguments. "I already have a ticket open" asks for nothing.
    """
    special = set(request.closing) | set(request.handoffs)
    found: list[ToolCallRequest] = []
    for name, params in spec.tools.items():
        required = params.get("required") or []
        if name in special or not required:
            continue
        nouns = [w for w in re.split(r"[_\W]+", name.lower()) if len(w) > 2 and w not in _ACTION_VERBS]
        if not nouns:
            continue
        object_words = "|".join(re.escape(n) for n in nouns)
        if re.search(rf"\b(?:{_MAKE})\b(?:\s+[\w'-]+){{0,3}}?\s+(?:{object_words})s?\b", said, re.IGNORECASE):
            args = _free_text_arguments(params, said)
            if args is not None:
                found.append(_call(name, args))
    return found[0] if len(found) == 1 else None


def intent_call(request: ChatRequest, spec: DecisionSpec, said: str) -> ToolCallRequest | None:
    """The call the caller's latest words ``said`` determine in this round (see the module
    docstring), or None. ``spec`` is what the round may decide (functions not offered are never
    returned).
    """
    if not said.strip():
        return None
    return (
        _handoff(request, spec, said)
        or _goodbye(request, spec, said)
        or _named_action(request, spec, said)
        or _topic(request, spec, said)
    )
