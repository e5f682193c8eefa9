"""Reporting test results: the text lines, the JSON document and JUnit XML.

Text (normative): one line per scenario, ``FILE::NAME PASSED|FAILED|SKIPPED``, each failure (and
skip reason) below it, indented, then ``N passed, N failed`` (``, N skipped`` when any).
JUnit XML follows the schema CI systems read (Jenkins, GitLab, GitHub test reporters):
``<testsuites>`` > one ``<testsuite>`` per file > one ``<testcase>`` per scenario with
``<failure>`` or ``<skipped>``; see https://github.com/testmoapp/junitxml.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voiceagent.config.diagnostics import Diagnostic
from voiceagent.convtest.runner import ScenarioResult

INDENT = "    "


def scenario_lines(result: ScenarioResult) -> list[str]:
    """The result line and, indented below it, each failure and note."""
    lines = [f"{result.id} {result.status.upper()}"]
    lines += [INDENT + f for f in result.failures]
    lines += [INDENT + n for n in result.notes]
    return lines


def counts(results: Iterable[ScenarioResult]) -> dict[str, int]:
    """``{"passed": n, "failed": n, "skipped": n}``."""
    out = {"passed": 0, "failed": 0, "skipped": 0}
    for r in results:
        out[r.status] += 1
    return out


def summary_line(results: list[ScenarioResult]) -> str:
    """``N passed, N failed`` plus ``, N skipped`` when any was skipped."""
    n = counts(results)
    line = f"{n['passed']} passed, {n['failed']} failed"
    return line + (f", {n['skipped']} skipped" if n["skipped"] else "")


def json_report(results: list[ScenarioResult], diagnostics: Iterable[Diagnostic] = ()) -> str:
    """The ``--format json`` document: ``{"scenarios": [{id, file, name, status, failures,
    notes, duration_s, turns: [...]}], "passed", "failed", "skipped", "diagnostics": [{file,
    line, column, severity, message, path}]}`` (the diagnostics of the test files, as
    ``voiceagent validate --format json`` prints them).
    """
    doc: dict[str, Any] = {
        "scenarios": [
            {
                "id": r.id,
                "file": r.file,
                "name": r.name,
                "status": r.status,
                "failures": r.failures,
                "notes": r.notes,
                "duration_s": round(r.duration_s, 3),
                "turns": [t.to_dict() for t in r.turns],
            }
            for r in results
        ],
        **counts(results),
        "diagnostics": [d.to_dict() for d in diagnostics],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


def junit_xml(results: list[ScenarioResult], *, name: str = "voiceagent test") -> str:
    """JUnit XML for ``results`` (UTF-8 text with an XML declaration)."""
    totals = counts(results)
    root = ET.Element(
        "testsuites",
        name=name,
        tests=str(len(results)),
        failures=str(totals["failed"]),
        errors="0",
        skipped=str(totals["skipped"]),
        time=f"{sum(r.duration_s for r in results):.3f}",
    )
    by_file: dict[str, list[ScenarioResult]] = {}
    for r in results:
        by_file.setdefault(r.file, []).append(r)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for file, rs in by_file.items():
        n = counts(rs)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=file,
            tests=str(len(rs)),
            failures=str(n["failed"]),
            errors="0",
            skipped=str(n["skipped"]),
            time=f"{sum(r.duration_s for r in rs):.3f}",
            timestamp=stamp,
        )
        for r in rs:
            case = ET.SubElement(
                suite, "testcase", name=r.name, classname=_classname(file), file=file, time=f"{r.duration_s:.3f}"
            )
            if r.status == "failed":
                failure = ET.SubElement(case, "failure", message=r.failures[0], type="ExpectationFailed")
                failure.text = "\n".join(r.failures)
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message="; ".join(r.notes))
            if r.turns:
                from voiceagent.convtest.judge import transcript_of

                ET.SubElement(case, "system-out").text = transcript_of(r.turns)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _classname(file: str) -> str:
    """``agents/tests/support.test.yaml`` -> ``agents.tests.support`` (the dotted form CI tools group by)."""
    stem = file.removesuffix(".test.yaml").removesuffix(".yaml")
    return ".".join(p for p in Path(stem).parts if p not in ("", ".", ".."))


def write_junit(results: list[ScenarioResult], path: str | Path) -> None:
    """Write :func:`junit_xml` to ``path`` (folders created).

    Raises:
        OSError: the file cannot be written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(junit_xml(results), encoding="utf-8")
