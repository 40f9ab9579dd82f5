"""The public tests students get: pass on the reference solutions, fail on the stubs.

They are run the way a student runs them: plain ``pytest`` inside a copy of the assignment
folder (test_public.py next to the module), in a fresh process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from helpers import ASSIGNMENT_MODULES, ROOT


def run_public(assignment: str, module_source, tmp_path) -> subprocess.CompletedProcess:
    folder = tmp_path / assignment
    shutil.copytree(ROOT / "assignments" / assignment, folder)
    module = ASSIGNMENT_MODULES[assignment] + ".py"
    shutil.copyfile(module_source / module, folder / module)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-o", "addopts="],
                          cwd=folder, capture_output=True, text=True, timeout=500, check=False)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
def test_public_tests_pass_on_the_solution(assignment, tmp_path):
    done = run_public(assignment, ROOT / "solutions" / assignment, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


@pytest.mark.timeout(600)
@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
def test_public_tests_fail_on_the_stub(assignment, tmp_path):
    done = run_public(assignment, ROOT / "assignments" / assignment, tmp_path)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "NotImplementedError" in done.stdout
    assert " passed" not in done.stdout.splitlines()[-1]
