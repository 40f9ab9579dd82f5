"""The README's first command grades the bundled example class into the expected table."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import ROOT, lost


@pytest.mark.timeout(600)
def test_example_class_grades_as_expected(tmp_path):
    done = subprocess.run([sys.executable, "-m", "grader", "example", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=500, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = json.loads((ROOT / "examples" / "expected.json").read_text())
    for assignment, students in expected.items():
        assert assignment in done.stdout
        for student, lost_checks in students.items():
            result = json.loads((tmp_path / assignment / student / "results.json").read_text())
            assert lost(result) == set(lost_checks), (assignment, student)
            score = f"{result['score']}/{result['max_score']}"
            assert any(line.split()[:2] == [student, score]
                       for line in done.stdout.splitlines()), (student, done.stdout)
    assert "[1/4]" in done.stderr  # progress lines
