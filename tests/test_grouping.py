"""The kit's own tests that share one grading run on one worker under ``pytest -n``
(``conftest.py``), whatever pytest's version: each such test file grades its class once
per worker that runs any of its tests, so a group split over two workers costs a second
grading of the same class."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_GRADINGS, group_of

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.timeout(120), pytest.mark.fast]  # (fast: no sandbox)

# A stand-in for tests/test_corpus.py: two assignments of eight tests, each test noting
# the worker that ran it, and four tests of no group.
STAND_IN = '''
import os
import pytest

CASES = [(a, i) for a in ("pool_variants", "thread_counter") for i in range(8)]


@pytest.mark.parametrize(("assignment", "i"), CASES, ids=[f"{a}/{i}" for a, i in CASES])
def test_shared(assignment, i):
    with open(os.path.join(os.environ["NOTES"], f"{assignment}-{i}"), "w") as f:
        f.write(os.environ.get("PYTEST_XDIST_WORKER", "none"))


@pytest.mark.parametrize("i", range(4))
def test_alone(i):
    pass
'''


def test_every_grouped_file_exists_and_names_a_known_grouping():
    for path, how in SHARED_GRADINGS.items():
        assert (ROOT / path).is_file(), path
        assert how in ("module", "assignment"), (path, how)


def test_group_of_test_ids():
    corpus = "tests/test_corpus.py::test_mutant_loses_exactly_what_it_should"
    assert group_of(f"{corpus}[pool_variants/apply_in_parent]") == \
        group_of(f"{corpus}[pool_variants/serial_map]") == "tests/test_corpus.py::pool_variants"
    assert group_of("tests/test_attacks.py::test_attacks_harm_nobody[thread_counter]") == \
        group_of("tests/test_attacks.py::test_attack_is_graded_right[thread_counter/x]")
    assert group_of("tests/test_nbgrader.py::test_a") == group_of("tests/test_nbgrader.py::b")
    alone = "tests/test_cli.py::test_usage[a/b]"
    assert group_of(alone) == alone


def test_a_group_runs_on_one_worker_under_pytest_n(tmp_path):
    """With pytest-xdist for real, 2 workers: every test of one assignment ran on the same
    worker (xdist's own load scheduling sends them out two by two to both workers)."""
    pytest.importorskip("xdist")
    tests = tmp_path / "tests"
    tests.mkdir()
    shutil.copyfile(ROOT / "tests" / "conftest.py", tests / "conftest.py")
    (tests / "test_corpus.py").write_text(STAND_IN)
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    notes = tmp_path / "notes"
    notes.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
         "--dist", "loadgroup"], cwd=tmp_path, capture_output=True, text=True, timeout=100,
        env={**os.environ, "NOTES": str(notes), "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    workers: dict[str, set[str]] = {}
    for note in notes.iterdir():
        workers.setdefault(note.name.rsplit("-", 1)[0], set()).add(note.read_text())
    assert set(workers) == {"pool_variants", "thread_counter"}
    assert all(len(w) == 1 and w != {"none"} for w in workers.values()), workers
