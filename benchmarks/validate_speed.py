"""Wall time of ``voiceagent validate`` on many agent files, as a cold process.

    .venv/bin/python benchmarks/validate_speed.py               # 100 files, 5 runs
    .venv/bin/python benchmarks/validate_speed.py --files 4 --repeat 1 --out /tmp/v.json

The agents/ folder (its YAML files and tools/) is copied into a temporary directory, and
``--files`` copies of ``agents/*.yaml`` (cycling; each ``name:`` made unique, ``extends:`` still
resolving) are written next to them. Then ``.venv/bin/voiceagent validate <all copies>`` runs
``--repeat`` times, each a fresh process (Python start-up and imports included), timed with
``time.perf_counter`` around ``subprocess.run``. Also timed: one file (the fixed start-up cost)
and ``--no-import`` (python tool modules not imported). Writes benchmarks/results/validate_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def make_copies(dest: Path, n: int) -> list[Path]:
    """Copy agents/ into ``dest`` and write ``n`` renamed copies of its YAML files there."""
    shutil.copytree(ROOT / "agents", dest, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    sources = sorted((ROOT / "agents").glob("*.yaml"))
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        text = re.sub(r"(?m)^name:\s*(\S+)", lambda m: f"name: {m.group(1)}-{i:03d}", src.read_text(), count=1)
        path = dest / f"copy_{i:03d}_{src.name}"
        path.write_text(text)
        out.append(path)
    return out


def timed(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    """(wall seconds, exit code, last stderr/stdout line) of one cold run."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t
    tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or [""]
    return wall, proc.returncode, tail[0]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when validate failed on the copies."""
    p = argparse.ArgumentParser(description="Cold `voiceagent validate` wall time on many files.")
    p.add_argument("--files", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", default=str(RESULTS / "validate_speed.json"))
    args = p.parse_args(argv)
    exe = Path(sys.executable).parent / "voiceagent"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "voiceagent"]
    with tempfile.TemporaryDirectory(prefix="va-validate-") as tmp:
        work = Path(tmp) / "agents"
        files = [str(f) for f in make_copies(work, args.files)]
        runs = [timed([*base, "validate", *files], work) for _ in range(args.repeat)]
        one = [timed([*base, "validate", files[0]], work) for _ in range(args.repeat)]
        no_import = [timed([*base, "validate", "--no-import", *files], work) for _ in range(args.repeat)]
        version = [timed([*base, "--help"], work) for _ in range(args.repeat)]
    walls = [round(w, 3) for w, _, _ in runs]
    result = {
        "benchmark": "validate_speed",
        "command": " ".join(["benchmarks/validate_speed.py", *(argv if argv is not None else sys.argv[1:])]),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "files": args.files,
        "sources": sorted(p.name for p in (ROOT / "agents").glob("*.yaml")),
        "wall_s": walls,
        "median_s": round(statistics.median(walls), 3),
        "min_s": min(walls),
        "exit_codes": [c for _, c, _ in runs],
        "last_line": runs[-1][2],
        "one_file_median_s": round(statistics.median(w for w, _, _ in one), 3),
        "no_import_median_s": round(statistics.median(w for w, _, _ in no_import), 3),
        "cli_help_median_s": round(statistics.median(w for w, _, _ in version), 3),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"voiceagent validate, {args.files} files, {args.repeat} cold runs: median {result['median_s']} s "
        f"(min {result['min_s']} s, runs {walls}); one file {result['one_file_median_s']} s; "
        f"--no-import {result['no_import_median_s']} s; `voiceagent --help` {result['cli_help_median_s']} s"
    )
    print(f"exit codes {result['exit_codes']}: {result['last_line']}")
    print(f"JSON: {out}")
    return 0 if set(result["exit_codes"]) == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
