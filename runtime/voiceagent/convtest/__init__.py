"""Conversation tests (``voiceagent test``): scripted calls in the agent's own YAML format.

Modules: :mod:`.models` (the ``*.test.yaml`` format), :mod:`.load` (positioned diagnostics),
:mod:`.scripted` (the scripted LLM), :mod:`.runner` (one real call per scenario), :mod:`.record`
and :mod:`.expect` (what happened, what was expected, in plain words), :mod:`.judge`,
:mod:`.report` (text, JSON, JUnit XML), :mod:`.suite` (the command as a function),
:mod:`.schema` / :mod:`.reference` (the published JSON Schema and docs/test-reference.md).
"""
