"""The conversation history of one call, in OpenAI chat-completions message shapes.

The system prompt is not stored here: the session renders it per request and puts it first.
Trimming keeps the last ``max_turns`` caller turns. It cuts only in front of a ``user`` message,
so an assistant ``tool_calls`` message is never separated from its ``tool`` results.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

Message = dict[str, Any]


class History:
    """An append-only list of messages (``.messages``) with helpers for each shape."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def add_user(self, text: str) -> Message:
        """Append ``{"role": "user", "content": text}`` and return it."""
        return self._append({"role": "user", "content": text})

    def add_assistant(self, text: str | None, tool_calls: Iterable[Any] = ()) -> Message:
        """Append an assistant message; ``tool_calls`` are ``ToolCallRequest``-like objects
        (``id``, ``name``, ``arguments`` as a JSON string).
        """
        msg: Message = {"role": "assistant", "content": text or None}
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments or "{}"}}
            for c in tool_calls
        ]
        if calls:
            msg["tool_calls"] = calls
        elif msg["content"] is None:
            msg["content"] = ""
        return self._append(msg)

    def add_tool_result(self, call_id: str, content: Any) -> Message:
        """Append a ``tool`` message; non-string content is JSON-encoded."""
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False, default=str)
        return self._append({"role": "tool", "tool_call_id": call_id, "content": content})

    def remove(self, msg: Message) -> None:
        """Drop ``msg`` (by identity) if it is still there."""
        self.messages = [m for m in self.messages if m is not msg]

    def trimmed(self, max_turns: int) -> list[Message]:
        """The messages of the last ``max_turns`` caller turns (all when there are fewer).

        A caller turn starts at a ``user`` message; anything before the first kept ``user``
        message (older turns, the greeting) is dropped.
        """
        user_idx = [i for i, m in enumerate(self.messages) if m["role"] == "user"]
        if len(user_idx) <= max_turns:
            return list(self.messages)
        return self.messages[user_idx[-max_turns] :]

    def _append(self, msg: Message) -> Message:
        self.messages.append(msg)
        return msg
