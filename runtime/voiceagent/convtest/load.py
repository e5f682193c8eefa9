"""Loading conversation test files: safe YAML with positions -> pydantic -> checks against the agent.

Every problem is a positioned :class:`~voiceagent.config.diagnostics.Diagnostic`
(``FILE:LINE:COL: error: ...``), all at once, exactly like agent files: the same line-tracking
YAML loader (``config.yamlnodes``) and the same pydantic error wording (``config.pydantic_errors``).
Checks against the agent: the agent file exists and is valid, audio files exist, states named in
``transition`` / ``expect.state`` exist, regular expressions compile, scenario names are unique;
unknown tool names are warnings (a script may call a tool the agent lacks on purpose).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from voiceagent.config.builtin_functions import TRANSITION_PREFIX, VERIFY_FUNCTION
from voiceagent.config.diagnostics import Diagnostic, has_errors
from voiceagent.config.load import check_file, sort_diagnostics
from voiceagent.config.models import Agent
from voiceagent.config.pydantic_errors import diagnostics_from, node_at
from voiceagent.config.yamlnodes import Node, YamlError, load_nodes
from voiceagent.convtest.models import AgentTests, compile_pattern

TEST_SUFFIX = ".test.yaml"


def is_test_file(path: str | Path) -> bool:
    """Whether ``path`` names a conversation test file (``*.test.yaml``)."""
    return str(path).endswith(TEST_SUFFIX)


@dataclass(frozen=True)
class LoadedTests:
    """A valid test file: ``tests`` (the model), ``path`` (absolute), ``display`` (as the user
    named it), ``agent_path`` (absolute), ``warnings`` (problems that do not stop it).
    """

    tests: AgentTests
    path: Path
    display: str
    agent_path: Path
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def base_dir(self) -> Path:
        """The test file's folder: ``agent`` and ``audio`` paths are relative to it."""
        return self.path.parent


class TestFileError(Exception):
    """A test file is invalid; ``diagnostics`` lists every problem (errors and warnings)."""

    __test__ = False  # not a pytest class

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.format() for d in diagnostics if d.severity == "error"))


def _use_written_text(data: Any, exc: ValidationError, root: Node) -> bool:
    """A text field written as a plain number (``to: +15550100``) gets the text as written."""
    changed = False
    for err in exc.errors(include_url=False):
        if err["type"] != "string_type":
            continue
        loc = tuple(err["loc"])
        node = node_at(root, loc)[1]
        if node is None or node.raw is None or isinstance(node.value, str) or node.value is None:
            continue
        holder = data
        try:
            for part in loc[:-1]:
                holder = holder[part]
            holder[loc[-1]] = node.raw
            changed = True
        except (KeyError, IndexError, TypeError):
            continue
    return changed


def _validate(root: Node) -> tuple[AgentTests | None, list[Diagnostic]]:
    data = root.plain()
    exc: ValidationError | None = None
    for _ in range(3):
        try:
            return AgentTests.model_validate(data), []
        except ValidationError as error:
            exc = error
            if not _use_written_text(data, error, root):
                break
    assert exc is not None
    found = diagnostics_from(exc, root, AgentTests, references_ok=False)
    # our own checks (regex, one input per turn) already speak plainly: drop pydantic's prefix
    return None, [replace(d, message=d.message.replace(": value error, ", ": ")) for d in found]


class _Checker:
    """Checks of a validated test file against its agent; collects positioned diagnostics."""

    def __init__(self, tests: AgentTests, root: Node, base: Path, agent: Agent) -> None:
        self.tests, self.root, self.base, self.agent = tests, root, base, agent
        self.out: list[Diagnostic] = []
        self.scripted_names: set[str] = set()
        self.states = list(agent.flow.states) if agent.flow else ["main"]
        names = [t.name for t in agent.tools]
        if agent.guardrails.verification is not None:
            names.append(VERIFY_FUNCTION)
        self.functions = names + [TRANSITION_PREFIX + s for s in self.states]

    def at(self, loc: tuple[Any, ...], severity: str, message: str, *, key: bool = False) -> None:
        reached, exact = node_at(self.root, loc)
        node = exact or reached
        line, col = (node.key_line, node.key_col) if key else (node.line, node.col)
        self.out.append(Diagnostic(node.file, line, col, severity, message, ".".join(map(str, loc))))  # type: ignore[arg-type]

    def run(self) -> list[Diagnostic]:
        seen: dict[str, int] = {}
        for i, sc in enumerate(self.tests.scenarios):
            if sc.name in seen:
                self.at(
                    ("scenarios", i, "name"),
                    "error",
                    f"scenario name '{sc.name}' is used twice; names must differ",
                )
            seen.setdefault(sc.name, i)
            scripted = (sc.llm or self.tests.llm) == "scripted"
            # a name the script itself calls is deliberate (testing an unknown function); others warn
            self.scripted_names = {c.name for t in sc.turns for r in (t.llm or []) for c in (r.tool_calls or [])}
            for j, turn in enumerate(sc.turns):
                self.turn(("scenarios", i, "turns", j), turn, scripted)
        return self.out

    def turn(self, loc: tuple[Any, ...], turn: Any, scripted: bool) -> None:
        if turn.audio is not None and not (self.base / turn.audio).is_file():
            self.at((*loc, "audio"), "error", f"audio file '{turn.audio}' not found (relative to this test file)")
        if turn.llm and not scripted:
            self.at(
                (*loc, "llm"),
                "warning",
                "llm rounds are ignored: this scenario uses the agent's own LLM (set llm: scripted to use them)",
                key=True,
            )
        for r, rnd in enumerate(turn.llm or []):
            if rnd.transition is not None:
                self.state((*loc, "llm", r, "transition"), rnd.transition)
        exp = turn.expect
        if exp is None:
            return
        eloc = (*loc, "expect")
        if exp.state is not None:
            self.state((*eloc, "state"), exp.state)
        for c, call in enumerate(exp.tool_calls or []):
            self.function((*eloc, "tool_calls", c, "name"), call.name)
            for key, value in (call.arguments or {}).items():
                if isinstance(value, str) and len(value) >= 2 and value.startswith("/") and value.endswith("/"):
                    try:
                        compile_pattern(value)
                    except ValueError as exc:
                        self.at((*eloc, "tool_calls", c, "arguments", key), "error", f"{key}: {exc}")
        for c, name in enumerate(exp.tools_not_called or []):
            self.function((*eloc, "tools_not_called", c), name)
        for c, res in enumerate(exp.tool_results or []):
            self.function((*eloc, "tool_results", c, "name"), res.name)

    def state(self, loc: tuple[Any, ...], name: str) -> None:
        if name not in self.states:
            close = difflib.get_close_matches(name, self.states, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f" (its states: {', '.join(self.states)})"
            self.at(loc, "error", f"the agent has no state '{name}'{hint}")

    def function(self, loc: tuple[Any, ...], name: str) -> None:
        if name not in self.functions and name not in self.scripted_names:
            close = difflib.get_close_matches(name, self.functions, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            self.at(loc, "warning", f"the agent has no tool '{name}'{hint}")


def check_test_file(path: str | Path, *, import_tools: bool = True) -> tuple[LoadedTests | None, list[Diagnostic]]:
    """Load and check one test file; never raises for problems in the file.

    Args:
        path: the ``*.test.yaml`` file, as the user named it (diagnostics use that name).
        import_tools: also import the agent's python tools to check them (``validate`` passes
            False: checking a file never runs agent code).

    Returns:
        (the loaded tests, or None when there are errors; every diagnostic in source order).
    """
    display = str(path)
    real = Path(path)
    try:
        root, diags = load_nodes(real, display)
    except YamlError as exc:
        d = exc.diagnostic
        if d.message.startswith("file is empty"):
            d = Diagnostic(d.file, d.line, d.column, "error", "file is empty; a test file needs agent and scenarios")
        return None, [d]
    tests, found = _validate(root)
    diags += found
    if tests is None:
        return None, sort_diagnostics(diags)
    agent_file = (real.parent / tests.agent).resolve()
    if not agent_file.is_file():
        agent_node = root.get("agent") or root
        diags.append(
            Diagnostic(
                display, agent_node.line, agent_node.col, "error", f"agent file '{tests.agent}' not found", "agent"
            )
        )
        return None, sort_diagnostics(diags)
    agent_display = str(Path(display).parent / tests.agent)
    agent, _, agent_diags = check_file(agent_file, import_tools=import_tools)
    if agent is None:
        agent_node = root.get("agent") or root
        first = next((d for d in agent_diags if d.severity == "error"), None)
        why = f": {first.message}" if first else ""
        diags.append(
            Diagnostic(
                display,
                agent_node.line,
                agent_node.col,
                "error",
                f"the agent file '{tests.agent}' is invalid{why}",
            )
        )
        diags += [_renamed(d, str(agent_file), agent_display) for d in agent_diags if d.severity == "error"]
        return None, sort_diagnostics(diags)
    diags += _Checker(tests, root, real.parent, agent).run()
    diags = sort_diagnostics(diags)
    if has_errors(diags):
        return None, diags
    return LoadedTests(tests, real.resolve(), display, agent_file, tuple(diags)), diags


def _renamed(d: Diagnostic, real: str, display: str) -> Diagnostic:
    return Diagnostic(display if d.file == real else d.file, d.line, d.column, d.severity, d.message, d.path)


def find_test_files(paths: list[str]) -> Iterator[Path]:
    """Test files named by ``paths``: files as given, folders searched (recursively) for ``*.test.yaml``.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(f for f in path.rglob("*" + TEST_SUFFIX) if f.is_file())
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(p)
