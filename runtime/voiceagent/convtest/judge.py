"""The LLM judge of ``judge:`` criteria: an OpenAI-compatible chat endpoint reads the transcript.

Configured with ``voiceagent test --judge-llm URL`` or ``VOICEAGENT_JUDGE_LLM=URL`` (the API root,
e.g. ``https://api.openai.com/v1`` or a local llama.cpp server ``http://127.0.0.1:8080/v1``);
``--judge-model`` / ``VOICEAGENT_JUDGE_MODEL`` (default ``gpt-4o-mini``); the key from
``VOICEAGENT_JUDGE_API_KEY`` (else ``OPENAI_API_KEY``; local servers need none). Without a judge,
criteria are SKIPPED, never passed. API: https://platform.openai.com/docs/api-reference/chat
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voiceagent.convtest.record import TurnRecord
from voiceagent.providers.base import LLM, ChatRequest, TextDelta

JUDGE_URL_ENV = "VOICEAGENT_JUDGE_LLM"
JUDGE_MODEL_ENV = "VOICEAGENT_JUDGE_MODEL"
JUDGE_KEY_ENV = "VOICEAGENT_JUDGE_API_KEY"
DEFAULT_JUDGE_MODEL = "gpt-4o-mini"

_SYSTEM = (
    "You are a strict judge of a phone call between a caller and a voice agent. You get the "
    "transcript (caller lines, agent lines, the tools the agent called) and one criterion. "
    'Answer with one JSON object only: {"pass": true or false, "reason": "one short sentence"}. '
    "Pass only when the transcript clearly shows the criterion holds."
)


@dataclass(frozen=True)
class Verdict:
    """``passed`` True / False, or None when the judge could not answer (then the criterion is
    skipped); ``reason`` in the judge's words (or why it could not answer).
    """

    passed: bool | None
    reason: str


def transcript_of(turns: list[TurnRecord]) -> str:
    """The call as plain lines for the judge: ``caller: ...``, ``agent called X({...})``, ``agent: ...``."""
    lines: list[str] = []
    for t in turns:
        for heard in t.heard or [t.said]:
            lines.append(f"caller: {heard}")
        for c in t.calls:
            status = "refused" if c.refused else "ok" if c.ok else "failed"
            args = json.dumps(c.arguments, ensure_ascii=False, default=str)
            lines.append(f"agent called {c.name}({args}) -> {status}")
        if t.reply:
            lines.append(f"agent: {t.reply}")
        if t.ended:
            lines.append(f"(call ended: {t.ended})")
    return "\n".join(lines)


def parse_verdict(text: str) -> Verdict:
    """Read the judge's answer: a JSON object with ``pass``/``reason``, else a leading PASS/FAIL
    (or yes/no); anything else is no verdict.
    """
    match = re.search(r"\{.*\}", text, re.S)
    if match:
        try:
            data: Any = json.loads(match.group(0))
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("pass"), bool):
            return Verdict(data["pass"], str(data.get("reason") or "").strip() or "no reason given")
    word = re.match(r"\W*(pass|fail|yes|no)\b", text.strip(), re.I)
    if word:
        return Verdict(word.group(1).lower() in ("pass", "yes"), text.strip()[:200])
    return Verdict(None, f"the judge gave no verdict: {text.strip()[:120]!r}")


class Judge:
    """Judges criteria with ``llm`` (any ``providers.base.LLM``)."""

    def __init__(self, llm: LLM) -> None:
        self.llm = llm

    async def judge(self, criterion: str, transcript: str) -> Verdict:
        """Whether ``criterion`` holds for ``transcript``; never raises (a failure is no verdict)."""
        request = ChatRequest(
            messages=[
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": f"Transcript:\n{transcript}\n\nCriterion: {criterion}"},
            ],
            tool_choice="none",
            temperature=0.0,
            max_tokens=200,
        )
        try:
            parts = [e.text async for e in self.llm.stream(request) if isinstance(e, TextDelta)]
        except Exception as exc:  # noqa: BLE001 - a broken judge skips the criterion, never passes it
            return Verdict(None, f"the judge LLM failed: {type(exc).__name__}")
        return parse_verdict("".join(parts))

    async def aclose(self) -> None:
        """Close the judge's LLM client."""
        await self.llm.aclose()


def judge_from(url: str | None, model: str | None, env: Mapping[str, str]) -> Judge | None:
    """The judge for ``url`` (else ``$VOICEAGENT_JUDGE_LLM``), or None when neither is set."""
    url = url or env.get(JUDGE_URL_ENV) or None
    if not url:
        return None
    from voiceagent.providers.openai_compat import OpenAICompatLLM

    key = env.get(JUDGE_KEY_ENV) or env.get("OPENAI_API_KEY") or "not-needed"
    name = model or env.get(JUDGE_MODEL_ENV) or DEFAULT_JUDGE_MODEL
    return Judge(OpenAICompatLLM(base_url=url, api_key=key, model=name, name="judge"))
