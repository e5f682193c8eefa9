"""Knowledge-based caller verification, enforced by the runtime, never by the LLM.

``guardrails.verification`` of the agent file (docs/agent-reference.md): when it is set the LLM is offered a
builtin ``verify_caller`` function whose optional string parameters are the factors. The guard
calls the ``lookup`` tool through the :class:`~voiceagent.engine.tools.ToolRunner`, compares each
stated factor with the record itself (:func:`~voiceagent.engine.guardrails_normalise.factor_matches`),
and answers the LLM with the level reached, never with the record.

Rules (one :class:`VerificationGuard` per session; it holds the call's verification state):

* matched factors accumulate over the session; a factor once matched stays matched;
* level = the highest configured level whose ``min_factors`` <= number of matched factors;
  levels only go up within a session;
* an attempt is a ``verify_caller`` call that states at least one factor. It **fails** when any
  stated factor does not match the record, or when no record is found for the caller. An
  attempt whose factors all match (even if too few for level 1) does not fail, so callers can
  give factors one at a time. Calls without factors, lookup errors and factors that the record
  lacks ("cannot be checked") never count;
* after ``max_attempts`` failed attempts the guard is locked: further calls are refused and the
  session must run :attr:`VerificationGuard.lockout_action` (see :meth:`run_lockout`);
* which stated factor mismatched is not told to the LLM (it would help someone guessing).

Every caller-stated factor value and every record value of a redacted field is registered with
the :class:`~voiceagent.engine.redaction.Redactor` before anything is logged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voiceagent.config.builtin_functions import VERIFY_FUNCTION, verify_function
from voiceagent.config.models import Tool, Verification
from voiceagent.engine.guardrails_normalise import digits_of, factor_matches
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tools import EndCallAction, ToolContext, ToolResult, ToolRunner

__all__ = ["VERIFY_TOOL_NAME", "VerificationGuard", "VerificationOutcome"]

VERIFY_TOOL_NAME = VERIFY_FUNCTION
"""Alias of :data:`voiceagent.config.builtin_functions.VERIFY_FUNCTION`."""


@dataclass(frozen=True)
class VerificationOutcome:
    """Result of one ``verify_caller`` call.

    Attributes:
        level: verification level of the session after this call (0 = not verified).
        matched: names (never values) of every factor matched so far, in configured order.
        locked_out: True when verification is locked (now or earlier); the session must run
            :attr:`VerificationGuard.lockout_action`.
        attempts_left: failed attempts still allowed before lockout.
        message: text for the LLM: level reached and what is still needed; never record values.
        failed: this call counted as a failed attempt.
        newly_locked: this call caused the lockout (run the lockout action once).
    """

    level: int
    matched: list[str]
    locked_out: bool
    attempts_left: int
    message: str
    failed: bool = False
    newly_locked: bool = False

    def for_llm(self) -> str:
        """JSON text for the ``tool`` message answering ``verify_caller``."""
        return json.dumps(
            {
                "verification_level": self.level,
                "matched_factors": self.matched,
                "locked_out": self.locked_out,
                "attempts_left": self.attempts_left,
                "message": self.message,
            },
            ensure_ascii=False,
        )


@dataclass
class _State:
    level: int = 0
    matched: set[str] = field(default_factory=set)
    failures: int = 0
    locked_out: bool = False


class VerificationGuard:
    """Verification state and checks of one session.

    Args:
        verification: ``agent.guardrails.verification``; None disables verification (every
            ``verify`` answers "not configured"; tools with ``requires_level`` > 0 are refused).
        runner: runs the ``lookup`` tool (and the ``on_lockout`` tool).
        redactor: receives every stated factor value and every redacted record value.
    """

    def __init__(self, verification: Verification | None, runner: ToolRunner, redactor: Redactor) -> None:
        self.verification = verification
        self.runner = runner
        self.redactor = redactor
        self._state = _State()
        self._lock = asyncio.Lock()

    # -- state -------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        """True when verification is configured."""
        return self.verification is not None

    @property
    def level(self) -> int:
        """Current verification level (0 = not verified)."""
        return self._state.level

    @property
    def matched(self) -> list[str]:
        """Names of the factors matched so far, in configured order."""
        factors = self.verification.factors if self.verification else []
        return [f for f in factors if f in self._state.matched]

    @property
    def locked_out(self) -> bool:
        """True once ``max_attempts`` attempts failed."""
        return self._state.locked_out

    @property
    def attempts_left(self) -> int:
        """Failed attempts still allowed before lockout."""
        if self.verification is None:
            return 0
        return max(0, self.verification.max_attempts - self._state.failures)

    @property
    def lockout_action(self) -> str | None:
        """``on_lockout``: a tool name or ``"end_call"`` the session runs on lockout, or None."""
        return self.verification.on_lockout if self.verification else None

    # -- LLM surface -------------------------------------------------------------------------

    def verify_tool_definition(self) -> dict[str, Any] | None:
        """The OpenAI function ``verify_caller`` (:func:`voiceagent.config.builtin_functions.verify_function`),
        or None when verification is not configured.
        """
        return verify_function(self.verification.factors) if self.verification is not None else None

    def refusal_for(self, tool: Tool, level: int | None = None) -> str | None:
        """Text for the LLM when ``tool.requires_level`` exceeds ``level`` (default: the guard's
        level), else None. The session returns it as the tool result instead of running the tool.
        """
        level = self.level if level is None else level
        need = tool.requires_level
        if need is None or need <= level:
            return None
        if self.verification is None:
            return (
                f"verification needed: level {need} is required for {tool.name}, "
                "but caller verification is not available"
            )
        if self._state.locked_out:
            return (
                f"verification needed: level {need} is required for {tool.name}, "
                "and verification is locked after too many failed attempts"
            )
        lvl = self.verification.levels.get(need)
        what = f" ({lvl.description})" if lvl and lvl.description else ""
        hint = self._needed_text(need)
        hint = f"{hint} " if hint else ""
        return (
            f"verification needed: level {need}{what} is required for {tool.name}; the caller is at level {level}. "
            f"{hint}Ask the caller and call {VERIFY_TOOL_NAME}."
        )

    # -- verification ------------------------------------------------------------------------

    async def verify(self, arguments: Mapping[str, Any] | str | None, ctx: ToolContext) -> VerificationOutcome:
        """Check the factors in ``arguments`` (dict or raw JSON text) against the lookup record.

        Never raises for bad input or lookup failures; see the module docstring for the rules.
        """
        async with self._lock:
            return await self._verify(arguments, ctx)

    async def _verify(self, arguments: Mapping[str, Any] | str | None, ctx: ToolContext) -> VerificationOutcome:
        v = self.verification
        if v is None:
            return self._outcome("Caller verification is not configured for this agent.")
        if self._state.locked_out:
            return self._outcome("Verification is locked after too many failed attempts. Do not ask for more details.")
        args = _parse(arguments)
        if args is None:
            return self._outcome("verify_caller arguments were not valid JSON; pass the factors as strings.")
        stated = {
            f: args[f]
            for f in v.factors
            if args.get(f) is not None and not isinstance(args.get(f), (dict, list)) and str(args[f]).strip()
        }
        for f, value in stated.items():
            self._register(f, value)
        if not stated:
            return self._outcome(
                f"No verification details were given. {self._needed_text(self._next_level()) or ''}".strip()
            )

        lookup = self.runner.tool(v.lookup)
        lookup_args = {k: val for k, val in stated.items() if lookup is not None and k in lookup.parameters}
        if lookup is not None:
            required = lookup.required if lookup.required is not None else list(lookup.parameters)
            missing = [k for k in required if k not in lookup_args and k in v.factors]
            if missing:  # the record is found by these factors: nothing can be checked without them
                return self._outcome(f"To check the caller's details, ask for their {' and '.join(missing)} first.")
        res: ToolResult = await self.runner.run(v.lookup, lookup_args, ctx)
        if not res.ok:
            return self._outcome(
                "The caller's record could not be checked right now; try again later or offer other help."
            )
        record = _record(res.result)
        self._register_record(record)

        matched, mismatched, uncheckable = [], [], []
        for f, value in stated.items():
            truth = record.get(_key(f))
            if not record:
                mismatched.append(f)
            elif truth is None or (isinstance(truth, str) and not truth.strip()):
                uncheckable.append(f)
            elif factor_matches(f, value, truth):
                matched.append(f)
            else:
                mismatched.append(f)

        st = self._state
        if not mismatched:  # a failed attempt credits nothing: matched_factors would tell which one was wrong
            st.matched.update(matched)
        st.level = max(st.level, self._level_for(len(st.matched)))
        failed = bool(mismatched)
        newly_locked = False
        if failed:
            st.failures += 1
            if st.failures >= v.max_attempts:
                st.locked_out = newly_locked = True

        parts: list[str] = []
        if failed:
            parts.append(
                "Some of the details given did not match our records."
                if record
                else "No matching customer record was found for these details."
            )
        if uncheckable:
            parts.append(f"These cannot be checked for this caller: {', '.join(uncheckable)}.")
        if newly_locked:
            parts.append("Verification is now locked after too many failed attempts. Do not ask for more details.")
        else:
            parts.append(self._level_text())
            needed = self._needed_text(self._next_level())
            if needed:
                parts.append(needed)
            if failed:
                left = self.attempts_left
                parts.append(f"{left} attempt{'s' if left != 1 else ''} left.")
        return self._outcome(" ".join(parts), failed=failed, newly_locked=newly_locked)

    async def prefetch(self, ctx: ToolContext) -> bool:
        """Run ``lookup`` at session start and register the record's redacted values, so that
        they are masked from the caller's first words on (the session awaits this before it logs
        the first ``user.transcript``).

        Only when the lookup needs no factor the caller must say (its required parameters are
        not factors; e.g. it finds the record by ``ctx.caller.phone``); otherwise the record is
        fetched at the first ``verify_caller`` and until then ``Redactor.scrub_caller_text``'s
        patterns protect the transcript. The record is not used for verification (that looks
        it up again) and is never shown to the LLM. Never raises for lookup failures.

        Returns:
            True when a record was fetched and registered.
        """
        v = self.verification
        lookup = self.runner.tool(v.lookup) if v is not None else None
        if v is None or lookup is None:
            return False
        required = lookup.required if lookup.required is not None else list(lookup.parameters)
        if any(k in v.factors for k in required):
            return False
        res = await self.runner.run(v.lookup, {}, ctx)
        if not res.ok:
            return False
        record = _record(res.result)
        self._register_record(record)
        return bool(record)

    async def run_lockout(self, ctx: ToolContext) -> ToolResult | None:
        """Run ``on_lockout``: the named tool through the runner (with ``reason``), or, for
        ``end_call`` without a tool of that name, an ``EndCallAction``. None when no action is
        configured. Never raises for tool failures.
        """
        action = self.lockout_action
        if not action:
            return None
        reason = "caller verification failed too many times"
        if self.runner.tool(action) is not None:
            return await self.runner.run(action, {"reason": reason}, ctx)
        if action == "end_call":
            return ToolResult(True, {"status": "ending_call"}, None, EndCallAction(reason), 0.0)
        return ToolResult(False, None, f"lockout action '{action}' is not a tool of this agent", None, 0.0)

    # -- helpers -----------------------------------------------------------------------------

    def _outcome(self, message: str, *, failed: bool = False, newly_locked: bool = False) -> VerificationOutcome:
        return VerificationOutcome(
            level=self.level,
            matched=self.matched,
            locked_out=self.locked_out,
            attempts_left=self.attempts_left,
            message=message,
            failed=failed,
            newly_locked=newly_locked,
        )

    def _level_for(self, count: int) -> int:
        assert self.verification is not None
        ok = [n for n, lvl in self.verification.levels.items() if lvl.min_factors <= count]
        return max(ok, default=0)

    def _next_level(self) -> int | None:
        assert self.verification is not None
        higher = [n for n in self.verification.levels if n > self.level]
        return min(higher, default=None)

    def _level_text(self) -> str:
        assert self.verification is not None
        if self.level <= 0:
            return "The caller is not verified yet."
        lvl = self.verification.levels.get(self.level)
        what = f" ({lvl.description})" if lvl and lvl.description else ""
        return f"The caller is verified to level {self.level}{what}."

    def _needed_text(self, target: int | None) -> str | None:
        if self.verification is None or target is None or target not in self.verification.levels:
            return None
        lvl = self.verification.levels[target]
        missing = lvl.min_factors - len(self._state.matched)
        if missing <= 0:
            return None
        rest = [f for f in self.verification.factors if f not in self._state.matched]
        what = f" ({lvl.description})" if lvl.description else ""
        return (
            f"For level {target}{what}, {missing} more matching factor{'s' if missing != 1 else ''} "
            f"{'are' if missing != 1 else 'is'} needed from: {', '.join(rest)}."
        )

    def _register_record(self, record: Mapping[str, Any]) -> None:
        for key, value in record.items():
            if key in self.redactor.names:
                self._register(key, value)

    def _register(self, factor: str, value: Any) -> None:
        """Register ``value`` and its digit forms (spoken digits; the last four of a
        ``*last_four*`` field) with the redactor.
        """
        self.redactor.add(value)
        if isinstance(value, (dict, list)):
            return
        digits = digits_of(value)
        if len(digits) >= 3:
            self.redactor.add(digits)
            key = _key(factor)
            if len(digits) > 4 and ("last_four" in key or "last4" in key or "last_4" in key):
                self.redactor.add(digits[-4:])


def _key(name: str) -> str:
    return "_".join(str(name).strip().casefold().replace("-", " ").split())


def _parse(arguments: Mapping[str, Any] | str | None) -> dict[str, Any] | None:
    if arguments is None:
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    text = str(arguments).strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _record(result: Any) -> dict[str, Any]:
    """The lookup result as a dict with normalised keys ({} when there is no record)."""
    if isinstance(result, list) and len(result) == 1:
        result = result[0]
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except json.JSONDecodeError:
            return {}
    if not isinstance(result, Mapping):
        return {}
    return {_key(k): v for k, v in result.items()}
