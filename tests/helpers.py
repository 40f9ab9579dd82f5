"""Helpers for the kit's own tests: grade folders through the real CLI and read the reports."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT_MODULES = {"process_fanout": "fanout", "pool_variants": "pools",
                      "thread_counter": "counter"}


def grade(assignment: str, submissions: list[Path], out: Path, jobs: int = 2,
          timeout: float = 900, options: tuple[str, ...] = (),
          launch: tuple[str, ...] = (sys.executable,), cwd: Path = ROOT,
          env: dict[str, str] | None = None, nofile: int | None = None) -> dict[str, dict]:
    """Run ``python -m grader grade`` (with ``options``; ``launch``: the interpreter, and
    what runs it; ``nofile``: its descriptor limit, as ``ulimit -n``) and return
    ``student -> results.json``."""
    cmd = [*launch, "-m", "grader", "grade", assignment, *map(str, submissions),
           "--out", str(out), "--jobs", str(jobs), "--quiet", *options]
    def limit() -> None:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        most = nofile if hard == resource.RLIM_INFINITY else min(hard, nofile)
        resource.setrlimit(resource.RLIMIT_NOFILE, (most, most))

    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env=env, preexec_fn=limit if nofile else None)
    assert done.returncode == 0, done.stdout + done.stderr + _kit_errors(out)
    results = {}
    for sub in submissions:
        results[sub.name] = json.loads((out / sub.name / "results.json").read_text())
    return results


def _kit_errors(out: Path) -> str:
    """What the kit wrote about its own failures (``kit_error.txt``), for a test's message."""
    found = sorted(out.glob("*/kit_error.txt")) if out.is_dir() else []
    return "".join(f"\n--- {p.parent.name}/kit_error.txt:\n{p.read_text(errors='replace')[:4000]}"
                   for p in found[:5])


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def lost(result: dict) -> set[str]:
    return {t["tags"][0] for t in result["tests"] if t["status"] != "passed"}


def outputs(result: dict) -> dict[str, str]:
    return {t["tags"][0]: t["output"] for t in result["tests"]}


def copy_as(src: Path, dest_dir: Path, name: str) -> Path:
    """Copy a module file into a fresh student folder ``dest_dir/name``."""
    folder = dest_dir / name
    folder.mkdir(parents=True)
    (folder / src.name).write_text(src.read_text())
    return folder


def student(tmp_path: Path, source: str, module: str = "counter", name: str = "student",
            extra: dict[str, str] | None = None) -> Path:
    """A student's folder ``tmp_path/name`` holding ``module.py`` with ``source`` (and
    the ``extra`` files, name -> text)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{module}.py").write_text(source)
    for file, text in (extra or {}).items():
        (folder / file).write_text(text)
    return folder


def processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose command line or environment contains ``marker``."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for part in ("cmdline", "environ"):
            try:
                with open(f"/proc/{entry}/{part}", "rb") as f:
                    if needle in f.read():
                        found.append(int(entry))
                        break
            except OSError:
                continue
    return found

