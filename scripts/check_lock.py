"""Check that requirements.lock pins every dependency pyproject.toml names.

``python scripts/check_lock.py [pyproject.toml] [requirements.lock]`` prints one line per problem
and exits 1 when there is any, 0 otherwise. A problem is a dependency of ``[project]
dependencies`` or of an ``[project.optional-dependencies]`` extra that the lock does not pin, a pin
outside the range pyproject.toml asks for, or an extra the lock was not compiled with. The fix is
always the same: ``make lock`` (after adding a new extra to ``LOCK_ARGS`` in the Makefile).

Requirement syntax: PEP 508 (https://peps.python.org/pep-0508/), parsed with ``packaging``; the
lock is ``uv pip compile`` output (``name==version`` lines, https://docs.astral.sh/uv/pip/compile/).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")
_EXTRA_ARG = re.compile(r"--extra[= ](\S+)")


def locked_versions(lock_text: str) -> dict[str, str]:
    """``{canonical name: version}`` of every ``name==version`` line of a compiled lock."""
    pins: dict[str, str] = {}
    for line in lock_text.splitlines():
        match = _PIN.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def lock_extras(lock_text: str) -> set[str] | None:
    """Extras named by ``--extra`` in the lock's header command, or ``None`` without a header."""
    header = next((line for line in lock_text.splitlines() if "pip compile" in line), None)
    return None if header is None else set(_EXTRA_ARG.findall(header))


def problems(pyproject_text: str, lock_text: str) -> list[str]:
    """Every way ``lock_text`` fails to pin what ``pyproject_text`` declares (empty: in sync).

    Args:
        pyproject_text: contents of pyproject.toml.
        lock_text: contents of requirements.lock (``uv pip compile`` output).

    Returns:
        One message per problem, naming the requirement, where it is declared and the fix.
    """
    project = tomllib.loads(pyproject_text).get("project", {})
    groups: dict[str, list[str]] = {"dependencies": list(project.get("dependencies", []))}
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    groups.update({f"extra [{name}]": list(reqs) for name, reqs in extras.items()})
    pins = locked_versions(lock_text)
    found: list[str] = []
    for where, reqs in groups.items():
        for text in reqs:
            try:
                req = Requirement(text)
            except InvalidRequirement as exc:
                found.append(f"pyproject.toml {where}: {text!r} is not a valid requirement ({exc})")
                continue
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue  # not needed on this platform / Python, so not in this lock
            pinned = pins.get(canonicalize_name(req.name))
            if pinned is None:
                found.append(f"{text!r} ({where}) is not pinned in requirements.lock: run `make lock`")
                continue
            try:
                ok = req.specifier.contains(Version(pinned), prereleases=True)
            except InvalidVersion:
                ok = False
            if not ok:
                found.append(
                    f"requirements.lock pins {req.name}=={pinned}, outside {text!r} ({where}): run `make lock`"
                )
    compiled_with = lock_extras(lock_text)
    if compiled_with is not None:
        for name in extras:
            if name not in compiled_with:
                found.append(
                    f"requirements.lock was compiled without --extra {name}: add it to LOCK_ARGS in the "
                    "Makefile and run `make lock`"
                )
    return found


def main(argv: list[str]) -> int:
    """Print the problems of ``argv[0]`` (pyproject.toml) against ``argv[1]`` (requirements.lock)."""
    pyproject = Path(argv[0]) if argv else ROOT / "pyproject.toml"
    lock = Path(argv[1]) if len(argv) > 1 else ROOT / "requirements.lock"
    try:
        found = problems(pyproject.read_text(encoding="utf-8"), lock.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"check_lock: {exc}", file=sys.stderr)
        return 1
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
