"""The engine's module structure: no import cycle, one flow owner, the seams are Protocols."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import voiceagent.engine
from engine_helpers import make_agent
from voiceagent.config.models import Agent
from voiceagent.engine.guardrails import VerificationGuard
from voiceagent.engine.ports import Guard, ToolRunnerPort
from voiceagent.engine.redaction import Redactor
from voiceagent.engine.tools import ToolRunner
from voiceagent.providers.base import LLM, STT, TTS, LLMCapabilities
from voiceagent.testing.fakes import FakeLLM, FakeSTT, FakeTransport, FakeTTS
from voiceagent.transports.base import Transport
from voiceagent.transports.text import TextTransport

ENGINE = Path(voiceagent.engine.__file__).parent


def _imports(path: Path) -> set[str]:
    """Every ``voiceagent.engine`` module ``path`` imports, including ``if TYPE_CHECKING:`` and
    function-level imports (a cycle hidden behind TYPE_CHECKING is still a cycle of concepts)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out.update(
            n for n in names if n.startswith("voiceagent.engine.") and (ENGINE / f"{n.split('.')[2]}.py").is_file()
        )
    return {".".join(n.split(".")[:3]) for n in out}


def _graph() -> dict[str, set[str]]:
    return {f"voiceagent.engine.{p.stem}": _imports(p) - {f"voiceagent.engine.{p.stem}"} for p in ENGINE.glob("*.py")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path, or None (depth-first search with colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in colour and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if node not in colour and (found := visit(node)):
            return found
    return None


def test_the_engine_import_graph_is_acyclic():
    graph = _graph()
    assert "voiceagent.engine.session" in graph and "voiceagent.engine.flow" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_turn_dispatch_and_warmup_do_not_know_the_session():
    for name in ("turn", "dispatch", "warmup", "flow"):
        assert "voiceagent.engine.session" not in _imports(ENGINE / f"{name}.py"), name


def test_verify_caller_is_defined_once():
    hits = [
        p.relative_to(ENGINE.parent)
        for p in ENGINE.parent.rglob("*.py")
        if '"verify_caller"' in p.read_text(encoding="utf-8")
    ]
    assert [str(h) for h in hits] == ["config/builtin_functions.py"]


def test_the_real_tool_runner_and_guard_satisfy_the_ports(tmp_path):
    agent: Agent = make_agent(
        tools=[{"name": "lookup", "python": "x:y"}],
        guardrails={"verification": {"lookup": "lookup", "factors": ["dob"], "levels": {1: {"min_factors": 1}}}},
    )
    runner = ToolRunner(agent, base_dir=tmp_path, redactor=Redactor())
    assert isinstance(runner, ToolRunnerPort)
    assert isinstance(VerificationGuard(agent.guardrails.verification, runner, Redactor()), Guard)
    assert not isinstance(object(), ToolRunnerPort) and not isinstance(runner, Guard)


def test_transports_and_fakes_satisfy_the_protocols():
    text = TextTransport(input=iter(()))
    assert isinstance(text, Transport) and text.kind == "text"
    assert isinstance(FakeTransport("audio"), Transport)
    assert isinstance(FakeLLM(), LLM) and FakeLLM().capabilities == LLMCapabilities()
    assert isinstance(FakeSTT(), STT) and isinstance(FakeTTS(), TTS)


@pytest.mark.parametrize(
    ("module", "cls", "expected"),
    [
        ("voiceagent.providers.openai_compat", "OpenAICompatLLM", LLMCapabilities(warm_up=True)),
        ("voiceagent.providers.local.llm", "LocalLLM", LLMCapabilities(warm_up=True, prestart=True, prefill=True)),
    ],
)
def test_real_llms_declare_their_optional_features(module, cls, expected):
    import importlib

    klass = getattr(importlib.import_module(module), cls)
    for feature in ("warm_up", "prestart", "prefill"):
        assert getattr(expected, feature) == callable(getattr(klass, feature, None)), feature
    if cls == "LocalLLM":
        assert klass.capabilities == expected
    else:
        assert klass(name="electron", model="m", api_key="k", base_url="http://127.0.0.1:9").capabilities == expected


def test_the_session_constructor_has_no_any():
    import inspect

    from voiceagent.engine.session import Session

    annotations = [str(p.annotation) for p in inspect.signature(Session.__init__).parameters.values()]
    assert annotations and not [a for a in annotations if "Any" in a], annotations
    assert {"LLM", "Transport", "STT | None", "TTS | None", "ToolRunnerPort | None", "Guard | None"} <= set(annotations)
