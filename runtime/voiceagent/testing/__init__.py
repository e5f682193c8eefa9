"""Fakes for tests, benchmarks and users, all offline.

* :mod:`.fake_openai`: ``FakeOpenAI``, an OpenAI-compatible chat-completions server (also
  Smallest Electron's path) on 127.0.0.1, scripted with ``TextReply`` / ``ToolCallReply`` /
  ``ErrorReply``.
* :mod:`.fake_smallest`: ``FakeSmallest``, Pulse STT and Lightning TTS (WebSocket and HTTP) on one
  127.0.0.1 port (behaviour in :mod:`.fake_pulse` and :mod:`.fake_lightning`).
* :mod:`.fakes`: in-process ``FakeLLM`` / ``FakeTTS`` / ``FakeSTT`` / ``FakeTransport``.

The servers speak the real wire protocols (Smallest's API reference,
https://github.com/smallest-inc/smallest-ai-documentation, and OpenAI's chat-completions API), so the
real clients run against them unchanged. Import from the submodules; this package imports nothing.
"""
