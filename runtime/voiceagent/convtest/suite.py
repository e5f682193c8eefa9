"""``voiceagent test`` as a function: find and check test files, run the scenarios, report.

:func:`run_tests` is what the command runs (``cli/convtest.py`` only parses options), and what
tests await inside their own event loop (next to fake servers). Exit codes (normative): 0 when
nothing failed, 1 when a scenario failed, 2 on usage errors or an invalid test file (reported
``FILE:LINE:COL: error: ...`` like ``voiceagent validate``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from voiceagent.config.diagnostics import Diagnostic
from voiceagent.convtest.judge import judge_from
from voiceagent.convtest.load import LoadedTests, check_test_file, find_test_files
from voiceagent.convtest.models import LlmMode
from voiceagent.convtest.report import json_report, scenario_lines, summary_line, write_junit
from voiceagent.convtest.runner import RunOptions, ScenarioResult, ScenarioRunner, load_agent_for

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_PATH = "agents/tests/"


@dataclass
class TestRun:
    """What one run found: ``code`` (exit status), ``results``, ``diagnostics`` of the files."""

    __test__ = False  # not a pytest class

    code: int
    results: list[ScenarioResult] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def check_files(paths: list[str]) -> tuple[list[LoadedTests], list[Diagnostic], str | None]:
    """Find and check the test files under ``paths``: (loaded files, every diagnostic, a usage
    problem or None).
    """
    try:
        files = list(dict.fromkeys(find_test_files(paths)))
    except FileNotFoundError as exc:
        return [], [], f"no such file or folder: {exc}"
    if not files:
        return [], [], f"no test files (*.test.yaml) in {', '.join(paths)}"
    loaded: list[LoadedTests] = []
    diags: list[Diagnostic] = []
    for path in files:
        tests, found = check_test_file(path)
        diags += found
        if tests is not None:
            loaded.append(tests)
    return loaded, list(dict.fromkeys(diags)), None


async def run_tests(
    paths: list[str] | None = None,
    *,
    fmt: str = "text",
    junit: str | None = None,
    keyword: str | None = None,
    llm: LlmMode | None = None,
    judge_llm: str | None = None,
    judge_model: str | None = None,
    caller_voice: str | None = None,
    env: Mapping[str, str] | None = None,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = print,
) -> TestRun:
    """Run the conversation tests under ``paths`` (default ``agents/tests/``).

    Args:
        fmt: ``text`` (a line per scenario as it finishes, then the summary) or ``json`` (one
            document at the end, see :func:`~voiceagent.convtest.report.json_report`).
        junit: also write JUnit XML there.
        keyword: only scenarios whose ``FILE::NAME`` contains this text.
        llm: ``agent`` or ``scripted`` for every scenario (default: as each file says).
        env: the environment (default ``os.environ``).
        paths: test files or folders.
        judge_llm: the judge's endpoint URL (else ``$VOICEAGENT_JUDGE_LLM``; none: judges skip).
        judge_model: the judge's model name.
        caller_voice: speak every ``user:`` turn in this voice through the agent's STT
            (:mod:`voiceagent.convtest.voices`: ``piper``, ``espeak-ng[:VOICE]``, ``flite[:VOICE]``).
        out: where result lines go.
        err: where diagnostics and problems go.

    Returns:
        A :class:`TestRun`; ``code`` is the exit status.
    """
    from voiceagent.config.diagnostics import ConfigError
    from voiceagent.convtest.voices import check_voice

    environ = dict(os.environ if env is None else env)
    if caller_voice is not None and (problem := check_voice(caller_voice)):
        err(f"error: {problem}")
        return TestRun(EXIT_USAGE)
    loaded, diags, usage = check_files(list(paths or [DEFAULT_PATH]))
    if usage is not None:
        err(f"error: {usage}")
        return TestRun(EXIT_USAGE)
    for d in diags:
        err(d.format())
    if any(d.severity == "error" for d in diags):
        errors = sum(d.severity == "error" for d in diags)
        err(f"{errors} error(s) in test files: no scenario was run")
        if fmt == "json":
            out(json_report([], diags))
        return TestRun(EXIT_USAGE, diagnostics=diags)
    selected = [
        (tests, sc)
        for tests in loaded
        for sc in tests.tests.scenarios
        if keyword is None or keyword.casefold() in f"{tests.display}::{sc.name}".casefold()
    ]
    if not selected:
        err(f"error: no scenario matches -k {keyword!r}")
        return TestRun(EXIT_USAGE, diagnostics=diags)
    judge = judge_from(judge_llm, judge_model, environ)
    results: list[ScenarioResult] = []
    runners: dict[Path, ScenarioRunner] = {}
    try:
        for tests, sc in selected:
            runner = runners.get(tests.path)
            if runner is None:
                try:
                    agent = load_agent_for(tests, environ)
                except ConfigError as exc:
                    for d in exc.diagnostics:
                        if d.severity == "error":
                            err(d.format())
                    err(f"{tests.display}: error: its agent cannot be loaded with this environment")
                    return TestRun(EXIT_USAGE, results, diags)
                runner = runners[tests.path] = ScenarioRunner(
                    tests, agent, RunOptions(llm=llm, judge=judge, env=environ, caller_voice=caller_voice)
                )
            try:
                result = await runner.run(sc)
            except Exception as exc:  # noqa: BLE001 - a bug here must not hide the other scenarios
                result = ScenarioResult(tests.display, sc.name, "failed")
                result.failures.append(f"the test could not run: {type(exc).__name__}: {exc}")
            results.append(result)
            if fmt == "text":
                for line in scenario_lines(result):
                    out(line)
    finally:
        for runner in runners.values():
            await runner.aclose()
        if judge is not None:
            await judge.aclose()
    if fmt == "json":
        out(json_report(results, diags))
    else:
        out(summary_line(results))
    if junit:
        try:
            write_junit(results, junit)
        except OSError as exc:
            err(f"error: cannot write {junit}: {exc.strerror or exc}")
            return TestRun(EXIT_USAGE, results, diags)
    failed = any(r.status == "failed" for r in results)
    return TestRun(EXIT_FAILED if failed else EXIT_OK, results, diags)
