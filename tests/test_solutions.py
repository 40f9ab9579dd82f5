"""Every reference solution earns full marks; every stub earns 0, with the stub explained."""

from __future__ import annotations

import sys

import pytest

from helpers import ASSIGNMENT_MODULES, ROOT, copy_as, grade, lost, outputs, read_csv

sys.path.insert(0, str(ROOT))

from grader.assignments import ASSIGNMENTS, checks_of  # noqa: E402


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
@pytest.mark.timeout(600)
def test_solution_full_marks_and_stub_zero(assignment, tmp_path):
    module = ASSIGNMENT_MODULES[assignment] + ".py"
    solution = copy_as(ROOT / "solutions" / assignment / module, tmp_path / "in", "solution")
    stub = copy_as(ROOT / "assignments" / assignment / module, tmp_path / "in", "stub")
    results = grade(assignment, [solution, stub], tmp_path / "out")

    good = results["solution"]
    assert good["score"] == good["max_score"] > 0, outputs(good)
    assert all(t["status"] == "passed" and t["output"] == "" for t in good["tests"])

    bad = results["stub"]
    assert bad["score"] == 0 and bad["max_score"] == good["max_score"]
    assert lost(bad) == {t["tags"][0] for t in good["tests"]}
    assert any("NotImplementedError" in text for text in outputs(bad).values()), outputs(bad)

    # The checks the exports list (nbgrader's grade cells, GitHub Classroom's steps) are
    # exactly the ones graded, with their points.
    assert [(c["id"], c["name"], c["points"]) for c in checks_of(ASSIGNMENTS[assignment])] == [
        (t["tags"][0], t["name"], t["max_score"]) for t in good["tests"]]

    rows = {r["student"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert float(rows["solution"]["score"]) == good["max_score"]
    assert float(rows["stub"]["score"]) == 0
    assert list(rows["solution"])[:3] == ["student", "score", "max_score"]


CORRECT = ROOT / "tests" / "correct"


@pytest.mark.parametrize("assignment", sorted(p.name for p in CORRECT.iterdir() if p.is_dir()))
@pytest.mark.timeout(600)
def test_correct_variants_full_marks(assignment, tmp_path):
    """Other correct ways to write each exercise get full marks too: the counter with
    try/finally, an RLock, a lock passed in or on a class, locked reads, a semaphore, a
    condition, a Thread subclass; the fan-out with a Process subclass or a queue made
    elsewhere and passed in; pools closed and joined, or terminated, without `with`."""
    folders = sorted(p for p in (CORRECT / assignment).iterdir() if p.is_dir())
    assert len(folders) >= 2
    results = grade(assignment, folders, tmp_path / "out")
    for name, result in results.items():
        assert result["score"] == result["max_score"], (name, outputs(result))
