"""Fixtures: the agent of tools_fixture.py, its tools folder in tmp_path, runner, redactor, ctx."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools_fixture import agent_dict, write_tools
from voiceagent.config.models import Agent
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tools import ToolContext, ToolRunner


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    """Folder of the fixture agent with its ``tools`` package."""
    return write_tools(tmp_path)


@pytest.fixture
def agent() -> Agent:
    return Agent.model_validate(agent_dict())


@pytest.fixture
def redactor(agent: Agent) -> Redactor:
    return Redactor(agent.guardrails.redact, env={})


@pytest.fixture
async def runner(agent: Agent, base_dir: Path, redactor: Redactor):
    r = ToolRunner(agent, base_dir=base_dir, redactor=redactor)
    yield r
    await r.aclose()


@pytest.fixture
def ctx() -> ToolContext:
    return ToolContext(
        caller={"phone": "+15557654321", "id": "c-1"},
        session={"state": "service", "turns": 3, "verification_level": 0, "language": "en"},
        variables={"company": "Acme"},
    )
