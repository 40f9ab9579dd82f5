"""No flaky grades: a correct submission gets full marks in 20 of 20 runs under load.

One core is kept busy by a spinning process while 20 copies of the reference solution are
graded, two at a time (the grader's default on this machine): every copy must get full
marks. The concurrency checks are decided by barriers and injected waits, never by timing
luck, so load may slow grading down but must not change a grade.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import ASSIGNMENT_MODULES, ROOT, grade, outputs

RUNS = 20


@pytest.mark.stress
@pytest.mark.timeout(900)
@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
def test_correct_submission_full_marks_every_time_under_load(assignment, tmp_path):
    source = (ROOT / "solutions" / assignment / (ASSIGNMENT_MODULES[assignment] + ".py"))
    folders = []
    for i in range(RUNS):
        folder = tmp_path / "class" / f"copy{i:02d}"
        folder.mkdir(parents=True)
        (folder / source.name).write_text(source.read_text())
        folders.append(folder)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        results = grade(assignment, folders, tmp_path / "out", jobs=2)
    finally:
        spinner.kill()
        spinner.wait()
    failures = {name: outputs(r) for name, r in results.items() if r["score"] != r["max_score"]}
    assert not failures
    assert len(results) == RUNS
