"""Wall time of ``voiceagent validate`` on many agent files, as a cold process.

    .venv/bin/python benchmarks/validate_speed.py               # 100 files, 5 runs
    .venv/bin/python benchmarks/validate_speed.py --files 4 --repeat 1 --out /tmp/v.json

The agents/ folder (its YAML files and tools/) is copied into a temporary directory, and
``--files`` copies of ``agents/*.yaml`` (cycling; each ``name:`` made unique, ``extends:`` still
resolving) are written next to them. Then ``.venv/bin/voiceagent validate <all copies>`` runs
``--repeat`` times, each a fresh process (Python start-up and imports included), timed with
``time.perf_counter`` around ``subprocess.run``. Also timed: one file (the fixed start-up cost)
and ``--no-import`` (the python tool check skipped). Writes benchmarks/results/validate_speed.json.

The **hostile corpus** (``benchmarks/validate_hostile.py``: constant-folding bombs, deep nesting,
10 000-state flows full of typos, 1 MB prompts, thousands of tools, a 1 MB tool module, symlinks
to /dev/zero, FIFOs, ``extends: /etc/passwd``...) is validated one file per fresh process: the
time of ``validate_paths`` itself (imports excluded) and the process's peak RSS
(``ru_maxrss``) are recorded per case, with a 60 s timeout, and the CPU time of the call
(``time.process_time``; on a loaded machine the wall time grows, the CPU time much less). The
target: every file < 1 s.

    .venv/bin/python benchmarks/validate_speed.py --hostile-only     # only the hostile corpus
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
        text = re.sub(r"(?m)^name:\s*(\S+)", lambda m, i=i: f"name: {m.group(1)}-{i:03d}", src.read_text(), count=1)
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


_ONE_FILE = """
import json, resource, sys, time
from voiceagent.config.validate import validate_paths
t, cpu = time.perf_counter(), time.process_time()
diags = validate_paths([sys.argv[1]])
wall, cpu = time.perf_counter() - t, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "s": round(wall, 3),
    "cpu_s": round(cpu, 3),
    "peak_rss_mb": round(rss, 1),
    "errors": sum(d.severity == "error" for d in diags),
    "warnings": sum(d.severity == "warning" for d in diags),
    "first": next((d for d in diags if d.severity == "error"), diags[0]).format().split(": ", 1)[-1][:100]
    if diags
    else "",
}))
"""


def hostile(work: Path) -> dict[str, dict[str, object]]:
    """{case: {s, peak_rss_mb, errors, warnings, first}} of the hostile corpus, one fresh process each."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from validate_hostile import hostile_corpus

    out: dict[str, dict[str, object]] = {}
    for name, path in hostile_corpus(work).items():
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _ONE_FILE, str(path)], capture_output=True, text=True, timeout=60, cwd=work
            )
            lines = proc.stdout.strip().splitlines()
            out[name] = json.loads(lines[-1]) if proc.returncode == 0 and lines else {"crashed": proc.stderr[-300:]}
        except subprocess.TimeoutExpired:
            out[name] = {"s": None, "timeout_s": 60}
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when validate failed on the copies."""
    p = argparse.ArgumentParser(description="Cold `voiceagent validate` wall time on many files.")
    p.add_argument("--files", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", default=str(RESULTS / "validate_speed.json"))
    p.add_argument("--hostile-only", action="store_true", help="Only the hostile corpus (one file per process).")
    args = p.parse_args(argv)
    if args.hostile_only:
        return report_hostile(args)
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


def report_hostile(args: argparse.Namespace) -> int:
    """Run and print the hostile corpus; write it to ``args.out`` (``"hostile"`` key, merged into
    an existing result file). Exit 1 when a case took 1 s or more, timed out or crashed.
    """
    with tempfile.TemporaryDirectory(prefix="va-hostile-") as tmp:
        cases = hostile(Path(tmp) / "corpus")
    out = Path(args.out)
    result = json.loads(out.read_text()) if out.exists() else {"benchmark": "validate_speed"}
    timed_cases = {k: v for k, v in cases.items() if isinstance(v.get("s"), float | int)}
    worst = max(timed_cases.items(), key=lambda kv: float(kv[1]["s"]))  # type: ignore[arg-type]
    result["hostile"] = {
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in __import__("os").getloadavg()],
        "worst_case": worst[0],
        "worst_s": worst[1]["s"],
        "worst_cpu_s": max(float(v.get("cpu_s", 0)) for v in timed_cases.values()),  # type: ignore[arg-type]
        "max_peak_rss_mb": max(float(v.get("peak_rss_mb", 0)) for v in timed_cases.values()),  # type: ignore[arg-type]
        "cases": cases,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    for name, v in cases.items():
        print(
            f"{name:28} {v.get('s')!s:>6} s  CPU {v.get('cpu_s')!s:>6} s  peak RSS {v.get('peak_rss_mb')!s:>6} MB  "
            f"{v.get('errors', '?')} errors  {v.get('first', v.get('crashed', ''))}"
        )
    print(f"worst: {worst[0]} {worst[1]['s']} s; max peak RSS {result['hostile']['max_peak_rss_mb']} MB; JSON: {out}")
    bad = [k for k, v in cases.items() if not isinstance(v.get("s"), float | int) or float(v["s"]) >= 1.0]  # type: ignore[arg-type]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
