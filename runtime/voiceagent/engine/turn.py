"""One caller turn: stream the LLM, speak sentences as they complete, run tool rounds.

:class:`Turn` records what was said (as :class:`~voiceagent.engine.speaker.Segment` objects,
grouped per LLM round) so a barge-in can cut the history down to what the caller heard.
:class:`TurnRunner` drives the LLM rounds of a turn; the session owns timeouts and barge-in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from voiceagent.engine.dispatch import Dispatcher
from voiceagent.engine.events import EventLog
from voiceagent.engine.flow import Flow
from voiceagent.engine.history import History, Message
from voiceagent.engine.metrics import TurnMetrics
from voiceagent.engine.speaker import Segment, Speaker
from voiceagent.engine.speech import SentenceSplitter
from voiceagent.providers.base import LLM, ChatRequest, TextDelta, ToolCallRequest, Usage

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
    def on_segment(self, segment: Segment, group: object) -> None:
        """Record a queued sentence (in ``group`` when it is one of this turn's groups)."""
        self.segments.append(segment)
        if isinstance(group, Group):
            group.segments.append(segment)
            self._answer_segments.add(id(segment))

    def on_tts_request(self, t_ms: float) -> None:
        """Stamp the first TTS request of the turn."""
        if self.metrics.tts_request_ms is None:
            self.metrics.tts_request_ms = t_ms

    def on_first_frame(self, t_ms: float, segment: Segment) -> None:
        """Stamp first audio (and the LLM's own first audio); the utterance timeout is met."""
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
    """Runs the LLM rounds of a turn.

    Args:
        llm: the call's LLM.
        flow: the call's flow (ending, guards after each tool round).
        history: the conversation history (assistant and tool messages are added here).
        speaker: speaks the sentences as they complete.
        dispatcher: runs each round's function calls.
        events: the event log (its clock stamps the turn metrics).
        request: builds the round's ``ChatRequest`` for a ``tool_choice`` (prompt, history, the
            current state's functions).
        utterance_timeout_ms: a round after the first reply audio must start within this.
        max_tool_rounds: tool rounds per turn before the LLM must answer in words.
    """

    def __init__(
        self,
        llm: LLM,
        flow: Flow,
        history: History,
        speaker: Speaker,
        dispatcher: Dispatcher,
        events: EventLog,
        request: Callable[[str], ChatRequest],
        *,
        utterance_timeout_ms: int,
        max_tool_rounds: int,
    ) -> None:
        self.llm = llm
        self.flow = flow
        self.history = history
        self.speaker = speaker
        self.dispatcher = dispatcher
        self.events = events
        self.request = request
        self.utterance_timeout_ms = utterance_timeout_ms
        self.max_tool_rounds = max_tool_rounds

    async def respond(self, turn: Turn) -> None:
        """Stream replies until the LLM answers without tool calls, the call is ending, or
        ``max_tool_rounds`` tool rounds were run (then one last round with ``tool_choice="none"``).

        Raises:
            providers.base.ProviderError: the LLM failed (the session says the fallback).
            EmptyReply: the LLM said nothing at all, or nothing after the turn's tool results.
            RoundTimeout: a later round produced nothing within the utterance timeout.
        """
        for round_no in range(self.max_tool_rounds + 1):
            last = round_no == self.max_tool_rounds or self.flow.ending is not None
            group = turn.new_group()
            calls = await self._llm_round(turn, group, tool_choice="none" if last else "auto")
            text = group.said()
            if last or not calls:
                group.message = self.history.add_assistant(text) if text else None
                # nothing after the tool results (the filler was all): dead air, as if the
                # LLM had said nothing at all
                unanswered = round_no > 0 and not group.segments and self.flow.ending is None
                if not turn.segments or unanswered:
                    # in a final state (the call ends after this turn) nothing said is the
                    # agent's end_call line, not the fallback
                    ends_here = self.flow.is_final and self.flow.ending is None
                    words = self.dispatcher.goodbye() if ends_here else None
                    if not words:
                        raise EmptyReply("the LLM returned an empty reply")
                    await self._say_last_words(turn, words)
                return
            turn.metrics.tool_calls += len(calls)
            said = " ".join(seg.text for seg in turn.segments)  # fillers too (they belong to no group)
            outcomes = await self.dispatcher.run_calls(calls, spoke=bool(text), said=said)
            group.message = self.history.add_assistant(text, calls)
            for outcome in outcomes:
                self.history.add_tool_result(outcome.call.id, outcome.content)
            self.flow.apply_guards()
            ending = self.flow.ending
            spoke = any(g.segments for g in turn.groups)
            if ending is not None and not ending.needs_words and spoke:
                return  # the agent already said its last words
            words = self.dispatcher.last_words(ending) if ending is not None else None
            if words:  # the builtin's own `say`: the runtime's last words, not the LLM's
                await self._say_last_words(turn, words)
                return

    async def _say_last_words(self, turn: Turn, words: str) -> None:
        """Speak the runtime's last words of the call (a builtin's ``say``) as their own group."""
        closing = turn.new_group()
        splitter = SentenceSplitter()
        for sentence in [*splitter.feed(words + " "), *splitter.flush()]:
            await self.speaker.say(sentence, closing)
        closing.message = self.history.add_assistant(closing.said()) if closing.said() else None

    async def _llm_round(self, turn: Turn, group: Group, *, tool_choice: str) -> list[ToolCallRequest]:
        request = self.request(tool_choice)
        m = turn.metrics
        if m.llm_request_ms is None:
            m.llm_request_ms = self.events.now_ms()
        m.llm_rounds += 1
        splitter = SentenceSplitter()
        calls: list[ToolCallRequest] = []
        # Once reply audio has started the turn's utterance timeout is met; a later round (after
        # tools) still gets utterance_timeout_ms to produce its first event, or the fallback is said.
        limit = self.utterance_timeout_ms / 1000.0 if turn.first_audio.is_set() else None
        stream = self.llm.stream(request)
        try:
            async with asyncio.timeout(limit) as round_timeout:
                async for event in stream:
                    round_timeout.reschedule(None)
                    await self._on_event(turn, group, splitter, calls, event)
        except TimeoutError:
            if round_timeout.expired():
                raise RoundTimeout(f"no LLM reply within {self.utterance_timeout_ms} ms") from None
            raise
        finally:
            if isinstance(stream, AsyncGenerator):  # an async generator is closed at once
                with contextlib.suppress(Exception):
                    await stream.aclose()
        for sentence in splitter.flush():
            await self.speaker.say(sentence, group)
        return calls if tool_choice != "none" else []

    async def _on_event(
        self, turn: Turn, group: Group, splitter: SentenceSplitter, calls: list[ToolCallRequest], event: object
    ) -> None:
        m = turn.metrics
        if isinstance(event, TextDelta):
            if m.first_token_ms is None:
                m.first_token_ms = self.events.now_ms()
            for sentence in splitter.feed(event.text):
                await self.speaker.say(sentence, group)
        elif isinstance(event, ToolCallRequest):
            if m.first_token_ms is None:
                m.first_token_ms = self.events.now_ms()
            calls.append(event)
        elif isinstance(event, Usage):
            m.add_usage(event)
