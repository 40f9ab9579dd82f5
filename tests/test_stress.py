"""No flaky grades: a correct submission gets full marks in 10 of 10 runs under load.

One core is kept busy by a spinning process while 10 copies of the reference solution are
graded, two at a time (the grader's default on this machine): every copy must get full
marks. The concurrency checks are decided by barriers and injected waits, never by timing
luck, so load may slow grading down but must not change a grade.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import ASSIGNMENT_MODULES, ROOT, grade, lost, outputs

RUNS = 10


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


CORPUS_RUNS = int(os.environ.get("KIT_STRESS_RUNS", "0"))


@pytest.mark.stress
@pytest.mark.timeout(7200)
@pytest.mark.skipif(CORPUS_RUNS < 1, reason="set KIT_STRESS_RUNS=10 to grade the whole "
                    "corpus 10 times with every core busy (about 30 minutes on 2 cores)")
@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
def test_corpus_same_grades_every_time_with_every_core_busy(assignment, tmp_path):
    """Each corpus mutant loses exactly its checks (expected.json), and each correct
    variant keeps full marks, in every one of KIT_STRESS_RUNS gradings, while twice as
    many busy loops as the machine has cores compete for the CPUs."""
    corpus = ROOT / "tests" / "corpus" / assignment
    expected = json.loads((corpus / "expected.json").read_text())
    right = [ROOT / "solutions" / assignment,
             *sorted(p for p in (ROOT / "tests" / "correct" / assignment).glob("*")
                     if p.is_dir())]
    module = ASSIGNMENT_MODULES[assignment] + ".py"
    folders, wants = [], {}
    for i in range(CORPUS_RUNS):
        for source in [*(corpus / m for m in sorted(expected)), *right]:
            folder = tmp_path / "class" / f"{source.name}__{i}"
            folder.mkdir(parents=True)
            shutil.copyfile(source / module, folder / module)
            folders.append(folder)
            wants[folder.name] = set(expected.get(source.name, {}).get("lost", []))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(2 * (os.cpu_count() or 1))]
    try:
        results = grade(assignment, folders, tmp_path / "out", jobs=2, timeout=7000)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    wrong = {name: (sorted(lost(r)), sorted(wants[name])) for name, r in results.items()
             if lost(r) != wants[name]}
    assert not wrong
