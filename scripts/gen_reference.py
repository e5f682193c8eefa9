#!/usr/bin/env python3
"""Regenerate docs/agent-reference.md, schemas/agent.schema.json, docs/test-reference.md and
schemas/agent-test.schema.json from the pydantic models.

Usage: python scripts/gen_reference.py [--check]
  --check  exit 1 (and change nothing) when either file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "runtime"))

from voiceagent.config.reference import render_reference  # noqa: E402
from voiceagent.config.schema import schema_text  # noqa: E402
from voiceagent.convtest.reference import render_reference as render_test_reference  # noqa: E402
from voiceagent.convtest.schema import schema_text as test_schema_text  # noqa: E402

TARGETS = {
    ROOT / "docs" / "agent-reference.md": render_reference,
    ROOT / "schemas" / "agent.schema.json": schema_text,
    ROOT / "docs" / "test-reference.md": render_test_reference,
    ROOT / "schemas" / "agent-test.schema.json": test_schema_text,
}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, render in TARGETS.items():
        text = render()
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if check else 'wrote'}: {path.relative_to(ROOT)}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
