"""The kit under every CPython present besides the one running the tests (3.10 to 3.14).

For each interpreter found (pyenv's versions or ``python3.X`` on PATH), the grader itself
runs on it (so do the sandboxes, which use the grader's interpreter): the reference
solutions get full marks and the stubs 0, the controlled scheduler catches an unlocked
counter, and the scheduler's own tests (tests/test_schedule.py) pass. An interpreter that
is not installed is reported as skipped, by name. With ``KIT_CORPUS_PYTHONS=1`` every
corpus is also graded under each of them and must lose exactly what expected.json says,
with the same explanations (each Python words its errors and stacks its own way).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import ASSIGNMENT_MODULES, ROOT, copy_as

VERSIONS = ["3.10", "3.11", "3.12", "3.13", "3.14"]
MINE = "{}.{}".format(*sys.version_info[:2])


def find(version: str) -> str | None:
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for path in sorted(glob.glob(f"{root}/versions/{version}.*/bin/python"), reverse=True):
        if os.access(path, os.X_OK):
            return path
    return shutil.which(f"python{version}")


def ensure_pytest(python: str) -> None:
    have = subprocess.run([python, "-c", "import pytest, pytest_timeout"],
                          capture_output=True, check=False)
    if have.returncode != 0:
        subprocess.run([python, "-m", "pip", "install", "-q", "pytest", "pytest-timeout"],
                       check=True, capture_output=True, timeout=300)


PICKLING = {"pool_variants": "lambda_wrapper", "process_fanout": "lambda_target"}


def unexpected(assignment: str, mutant: str, out) -> dict | None:
    """How the grading in ``out`` of a corpus mutant differs from its expected.json entry
    (the checks lost, a piece of each explanation); None if it does not."""
    want = json.loads((ROOT / "tests" / "corpus" / assignment / "expected.json")
                      .read_text())[mutant]
    result = json.loads((out / mutant / "results.json").read_text())
    failed = {t["tags"][0]: t["output"] for t in result["tests"] if t["status"] == "failed"}
    if set(failed) == set(want["lost"]) and all(
            phrase in failed.get(check_id, "") for check_id, phrase in want["says"].items()):
        return None
    return {"mutant": f"{assignment}/{mutant}", "lost": sorted(failed),
            "expected": want["lost"], "said": {c: failed.get(c, "")[:300] for c in want["says"]}}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("version", [v for v in VERSIONS if v != MINE])
def test_grading_on_other_python(version, tmp_path):
    python = find(version)
    if python is None:
        pytest.skip(f"CPython {version} is not installed here")
    ensure_pytest(python)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    unlocked = tmp_path / "in" / "unlocked"
    unlocked.mkdir(parents=True)
    source = (ROOT / "solutions" / "thread_counter" / "counter.py").read_text()
    (unlocked / "counter.py").write_text(source.replace("with lock:", "if True:"))
    assert "if True:" in (unlocked / "counter.py").read_text()
    for assignment, module in ASSIGNMENT_MODULES.items():
        folders = [copy_as(ROOT / "solutions" / assignment / f"{module}.py",
                           tmp_path / assignment, "solution"),
                   copy_as(ROOT / "assignments" / assignment / f"{module}.py",
                           tmp_path / assignment, "stub")]
        if assignment == "thread_counter":
            folders.append(unlocked)
        # Each Python words pickle's errors its own way (3.13: "Can't get local object"):
        # the explanation must still name the cause.
        mutant = PICKLING.get(assignment)
        if mutant:
            folders.append(ROOT / "tests" / "corpus" / assignment / mutant)
        out = tmp_path / "out" / assignment
        done = subprocess.run([python, "-m", "grader", "grade", assignment, *map(str, folders),
                               "--out", str(out), "--quiet"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        good = json.loads((out / "solution" / "results.json").read_text())
        bad = json.loads((out / "stub" / "results.json").read_text())
        assert good["score"] == good["max_score"] > 0, [t["output"] for t in good["tests"]]
        assert bad["score"] == 0
        if mutant:
            assert unexpected(assignment, mutant, out) is None
        if assignment == "thread_counter":
            racy = json.loads((out / "unlocked" / "results.json").read_text())
            lost = {t["tags"][0] for t in racy["tests"] if t["status"] == "failed"}
            assert lost == {"race_free"}, racy
    done = subprocess.run([python, "-m", "pytest", "tests/test_schedule.py", "-q",
                           "-p", "no:cacheprovider", "-o", "addopts="], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:]


CORPUS_PYTHONS = os.environ.get("KIT_CORPUS_PYTHONS", "0") == "1"


@pytest.mark.skipif(not CORPUS_PYTHONS, reason="set KIT_CORPUS_PYTHONS=1 to grade every "
                    "corpus under each other CPython (a few minutes per version on 2 cores)")
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("version", [v for v in VERSIONS if v != MINE])
def test_corpus_on_other_python(version, tmp_path):
    python = find(version)
    if python is None:
        pytest.skip(f"CPython {version} is not installed here")
    ensure_pytest(python)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wrong = []
    for assignment in ASSIGNMENT_MODULES:
        corpus = ROOT / "tests" / "corpus" / assignment
        expected = json.loads((corpus / "expected.json").read_text())
        out = tmp_path / assignment
        done = subprocess.run([python, "-m", "grader", "grade", assignment,
                               *(str(corpus / name) for name in sorted(expected)),
                               "--out", str(out), "--quiet"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=1200, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        wrong += filter(None, (unexpected(assignment, name, out) for name in expected))
    assert not wrong, wrong
