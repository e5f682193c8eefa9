"""One caller turn: stream the LLM, speak sentences as they complete, run tool rounds.

:class:`Turn` records what was said (as :class:`~voiceagent.engine.speaker.Segment` objects,
grouped per LLM round) so a barge-in can cut the history down to what the caller heard.
:class:`TurnRunner` drives the LLM rounds of a turn; the session owns timeouts and barge-in.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from voiceagent.engine.history import History, Message
from voiceagent.engine.metrics import TurnMetrics
from voiceagent.engine.speaker import Segment
from voiceagent.engine.speech import SentenceSplitter
from voiceagent.providers.base import ChatRequest, TextDelta, ToolCallRequest, Usage

if TYPE_CHECKING:  # pragma: no cover
    from voiceagent.engine.session import Session

_INF = float("inf")


class RoundTimeout(Exception):
    """An LLM round after the first reply audio produced nothing within the utterance timeout."""


class EmptyReply(Exception):
    """The LLM answered with neither text nor tool calls (the session says the fallback)."""


@dataclass(eq=False)
class Group:
    """The sentences of one LLM round (or the greeting / fallback) and the assistant message
    that carries them in the history (None until the round is committed).
    """

    segments: list[Segment] = field(default_factory=list)
    message: Message | None = None

    def text(self, played_ms: float = _INF) -> str:
        """The sentences heard by ``played_ms`` (all that produced audio by default), joined."""
        return " ".join(s.text for s in self.segments if s.heard(played_ms))

    def said(self) -> str:
        """Every sentence queued for speech in this group (heard or not yet), joined."""
        return " ".join(s.text for s in self.segments)


class Turn:
    """Book-keeping of one turn; receives the speaker's callbacks (``SpeechListener``).

    Args:
        index: 0 for the greeting, then the caller turn number.
        user_text: the final transcript, None for agent-initiated speech.
        metrics: the turn's :class:`TurnMetrics` (``eou_ms`` set by the session).
        deadline: loop time (s) by which reply audio must start, or None.
    """

    def __init__(self, index: int, user_text: str | None, metrics: TurnMetrics, deadline: float | None = None) -> None:
        self.index = index
        self.user_text = user_text
        self.metrics = metrics
        self.deadline = deadline
        self.segments: list[Segment] = []
        self.groups: list[Group] = []
        self.first_audio = asyncio.Event()
        self.timeout: asyncio.Timeout | None = None
        self.timed_out = False
        self.failed = False
        self.finishing = False
        """Every word is queued: the turn only waits for playback to end."""
        self.ended = False
        """Its ``agent.text`` / ``turn.metrics`` were emitted (once per turn)."""
        self._answer_segments: set[int] = set()

    def new_group(self) -> Group:
        """Start the group of the next LLM round."""
        group = Group()
        self.groups.append(group)
        return group

    # SpeechListener
    def on_segment(self, segment: Segment, group: Any) -> None:
        self.segments.append(segment)
        if isinstance(group, Group):
            group.segments.append(segment)
            self._answer_segments.add(id(segment))

    def on_tts_request(self, t_ms: float) -> None:
        if self.metrics.tts_request_ms is None:
            self.metrics.tts_request_ms = t_ms

    def on_first_frame(self, t_ms: float, segment: Segment) -> None:
        if self.metrics.answer_audio_ms is None and id(segment) in self._answer_segments:
            self.metrics.answer_audio_ms = t_ms  # the LLM's own words (not a tool filler)
        if self.metrics.first_audio_ms is None:
            self.metrics.first_audio_ms = t_ms
            if self.metrics.tts_request_ms is not None:
                self.metrics.tts_first_frame_ms = t_ms
        self.first_audio.set()
        if self.timeout is not None:
            self.timeout.reschedule(None)  # reply audio started: the utterance timeout is met

    def spoken_text(self, played_ms: float = _INF) -> str:
        """Everything heard in this turn by ``played_ms`` (fillers included)."""
        return " ".join(s.text for s in self.segments if s.heard(played_ms))

    def fully_heard(self, played_ms: float, tolerance_ms: float = 20.0) -> bool:
        """Whether the caller heard every sentence of the turn to its end by ``played_ms``
        (within ``tolerance_ms``, one audio frame); text-only sentences count as heard.
        """
        return all(
            s.done and (not s.audio or s.start_ms is None or played_ms + tolerance_ms >= s.start_ms + s.dur_ms)
            for s in self.segments
        )

    def commit(self, history: History, played_ms: float = _INF) -> None:
        """Make the history say exactly what was heard: each round's assistant message keeps only
        the sentences heard by ``played_ms``; rounds not committed yet get a message when something
        of them was heard; a plain message left empty is removed.
        """
        for group in self.groups:
            text = group.text(played_ms)
            msg = group.message
            if msg is None:
                if text:
                    group.message = history.add_assistant(text)
            elif msg.get("tool_calls"):
                msg["content"] = text or None
            elif text:
                msg["content"] = text
            else:
                history.remove(msg)
                group.message = None


class TurnRunner:
    """Runs the LLM rounds of a turn for ``session`` (an :class:`~voiceagent.engine.session.Session`)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    async def respond(self, turn: Turn) -> None:
        """Stream replies until the LLM answers without tool calls, the call is ending, or
        ``max_tool_rounds`` tool rounds were run (then one last round with ``tool_choice="none"``).

        Raises:
            providers.base.ProviderError: the LLM failed (the session says the fallback).
        """
        s = self.s
        for round_no in range(s.max_tool_rounds + 1):
            last = round_no == s.max_tool_rounds or s.ending is not None
            group = turn.new_group()
            calls = await self._llm_round(turn, group, tool_choice="none" if last else "auto")
            text = group.said()
            if last or not calls:
                group.message = s.history.add_assistant(text) if text else None
                if not turn.segments:
                    raise EmptyReply("the LLM returned an empty reply")
                return
            outcomes = await s.dispatcher.run_calls(turn, calls, spoke=bool(text))
            group.message = s.history.add_assistant(text, calls)
            for outcome in outcomes:
                s.history.add_tool_result(outcome.call.id, outcome.content)
            s.apply_guards()
            if s.ending is not None and not s.ending_needs_words and any(g.segments for g in turn.groups):
                return  # the agent already said its last words

    async def _llm_round(self, turn: Turn, group: Group, *, tool_choice: str) -> list[ToolCallRequest]:
        s = self.s
        state = s.compiled.state(s.state.state)
        llm_cfg = s.compiled.agent.llm
        request = ChatRequest(
            messages=s.build_messages(),
            tools=state.llm_tools(),
            tool_choice=tool_choice if state.functions else "none",
            temperature=llm_cfg.temperature,
            max_tokens=llm_cfg.max_tokens,
        )
        m = turn.metrics
        if m.llm_request_ms is None:
            m.llm_request_ms = s.events.now_ms()
        m.llm_rounds += 1
        splitter = SentenceSplitter()
        calls: list[ToolCallRequest] = []
        # Once reply audio has started the turn's utterance timeout is met; a later round (after
        # tools) still gets utterance_timeout_ms to produce its first event, or the fallback is said.
        limit = s.agent.behaviour.utterance_timeout_ms / 1000.0 if turn.first_audio.is_set() else None
        stream = s.llm.stream(request)
        try:
            async with asyncio.timeout(limit) as round_timeout:
                async for event in stream:
                    round_timeout.reschedule(None)
                    await self._on_event(turn, group, splitter, calls, event)
        except TimeoutError:
            if round_timeout.expired():
                raise RoundTimeout(f"no LLM reply within {s.agent.behaviour.utterance_timeout_ms} ms") from None
            raise
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        for sentence in splitter.flush():
            await s.speaker.say(sentence, group)
        return calls if tool_choice != "none" else []

    async def _on_event(
        self, turn: Turn, group: Group, splitter: SentenceSplitter, calls: list[ToolCallRequest], event: object
    ) -> None:
        s, m = self.s, turn.metrics
        if isinstance(event, TextDelta):
            if m.first_token_ms is None:
                m.first_token_ms = s.events.now_ms()
            for sentence in splitter.feed(event.text):
                await s.speaker.say(sentence, group)
        elif isinstance(event, ToolCallRequest):
            if m.first_token_ms is None:
                m.first_token_ms = s.events.now_ms()
            calls.append(event)
        elif isinstance(event, Usage):
            m.add_usage(event)
