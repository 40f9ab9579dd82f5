"""The kit as a real nbgrader course: init, generate_assignment, autograde,
generate_feedback and export, run with the real ``nbgrader`` commands.

The course is graded once per test module (``course`` fixture): a right, a wrong, a
hanging and a hostile submission of ``thread_counter`` placed under ``submitted/``, and
one more (right) that goes through nbgrader's exchange (release, fetch, submit,
collect). The hostile one adds a cell that replaces the kit's check function, rewrites a
grade cell, deletes another, and puts an
``ipykernel_launcher.py`` next to the notebook (the kernel is started as ``python -m
ipykernel_launcher`` in that folder).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from helpers import ROOT, processes_with

sys.path.insert(0, str(ROOT))

from grader.assignments import ASSIGNMENTS  # noqa: E402
from grader.integrations import nbcourse  # noqa: E402

pytest.importorskip("nbgrader", reason="nbgrader is part of the kit's test extra")

A = "thread_counter"
SOLUTION = (ROOT / "solutions" / A / "counter.py").read_text()
HANG = SOLUTION + "\n\ndef run_workers(n_threads=2000):\n    while True:\n        pass\n"


def nbgrader(course: Path, *args: str, env: dict | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def solution_hunks(name: str) -> list[str]:
    """The solution's own code: the text of every solution region of the source module."""
    a = ASSIGNMENTS[name]
    module = nbcourse.source_module(
        (ROOT / "assignments" / name / a.filename).read_text(),
        (ROOT / "solutions" / name / a.filename).read_text())
    hunks, current = [], None
    for line in module.splitlines():
        if line.strip() == nbcourse.BEGIN_SOLUTION:
            current = []
        elif line.strip() == nbcourse.END_SOLUTION:
            text = "\n".join(current).strip()
            if len(text) > 40:  # (a bare "import threading" proves nothing)
                hunks.append(text)
            current = None
        elif current is not None:
            current.append(line)
    return hunks


def texts_under(folder: Path) -> dict[Path, str]:
    return {p: p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course") / "course"
    done = subprocess.run([sys.executable, "-m", "grader", "nbgrader", "init", str(root),
                           "--exchange", str(root.parent / "exchange")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in sorted(ASSIGNMENTS):
        nbgrader(root, "generate_assignment", name)
    release = root / "release" / A
    modules = {
        "right": (ROOT / "tests" / "correct" / A / "rlock" / "counter.py").read_text(),
        "wrong": (ROOT / "tests" / "corpus" / A / "no_lock" / "counter.py").read_text(),
        "hangs": HANG,
        "hostile": (ROOT / "tests" / "corpus" / A / "no_lock" / "counter.py").read_text(),
    }
    for student, module in modules.items():
        folder = root / "submitted" / student / A
        folder.mkdir(parents=True)
        for path in release.iterdir():
            (folder / path.name).write_bytes(path.read_bytes())
        (folder / "counter.py").write_text(module)
    hostile = root / "submitted" / "hostile" / A
    nb = json.loads((hostile / f"{A}.ipynb").read_text())
    nb["cells"].insert(0, {"cell_type": "code", "execution_count": None, "id": "mine",
                           "metadata": {}, "outputs": [],
                           "source": "import grader.integrations.nbcells as n\n"
                                     "n.check = lambda *a, **k: print('passed')\n"})
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "kit_race_free":
            cell["source"] = "print('race free')"
    nb["cells"] = [c for c in nb["cells"]
                   if c["metadata"].get("nbgrader", {}).get("grade_id") != "kit_reset"]
    (hostile / f"{A}.ipynb").write_text(json.dumps(nb))
    (hostile / "ipykernel_launcher.py").write_text("raise SystemExit('not the kernel')\n")

    # One more student goes the whole way through nbgrader's exchange: release, fetch,
    # edit the module (and run pytest, leaving caches behind), submit, collect. The
    # exchange names the student after the submitting user.
    exchange = root.parent / "exchange"
    exchange.mkdir()
    nbgrader(root, "release_assignment", A)
    home = root.parent / "home"
    home.mkdir()
    nbgrader(home, "fetch_assignment", A, "--course", "concurrency",
             f"--Exchange.root={exchange}")
    fetched = home / A
    (fetched / "counter.py").write_text(modules["right"])
    for cache in (".pytest_cache", "__pycache__"):
        (fetched / cache).mkdir()
        (fetched / cache / "junk").write_text("x")
    nbgrader(home, "submit", A, "--course", "concurrency", f"--Exchange.root={exchange}")
    nbgrader(root, "collect", A)
    collected = [p for p in (root / "submitted").iterdir() if p.name not in modules]
    assert len(collected) == 1, collected
    modules[collected[0].name] = modules["right"]

    token, kit_token = uuid.uuid4().hex, uuid.uuid4().hex
    env = {**os.environ, "KIT_RUN_TOKEN": token}
    # The kit's own grading of the same tree, alongside (most of both is waiting). Its
    # own token: at its end it kills whatever carries its token (autograde would).
    kit = subprocess.Popen([sys.executable, "-m", "grader", "grade", A, "--nbgrader",
                            str(root), "--out", str(root.parent / "kit"), "--quiet"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env={**env, "KIT_RUN_TOKEN": kit_token})
    started = time.monotonic()
    nbgrader(root, "autograde", A, env=env)
    autograde_seconds = time.monotonic() - started
    nbgrader(root, "generate_feedback", A, env=env)
    nbgrader(root, "export", "--to", str(root / "grades.csv"), env=env)
    output, _ = kit.communicate(timeout=600)
    assert kit.returncode == 0, output
    return {"root": root, "tokens": (token, kit_token), "students": list(modules),
            "exchanged": collected[0].name,
            "autograde_seconds": autograde_seconds, "kit": root.parent / "kit"}


def nbgrader_scores(root: Path, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(A, A, student)
        return {g.name.removeprefix("kit_"): g.score for g in sub.grades}


@pytest.mark.timeout(900)
def test_release_holds_exactly_the_stubs(course):
    """generate_assignment released each module with its solution regions stripped:
    exactly the stub students get from assignments/, and no solution code anywhere."""
    for name, a in ASSIGNMENTS.items():
        release = course["root"] / "release" / name
        assert (release / a.filename).read_text() == (
            ROOT / "assignments" / name / a.filename).read_text()
        for path, text in texts_under(release).items():
            assert "BEGIN SOLUTION" not in text, path
            for hunk in solution_hunks(name):
                assert hunk not in text, (path, hunk)


@pytest.mark.timeout(900)
def test_autograde_gives_the_kits_points_per_check(course):
    """Every student, hostile and hanging ones included, is in autograded/ and gets per
    check exactly the points of `python -m grader grade` on the same module."""
    root = course["root"]
    for student in course["students"]:
        assert (root / "autograded" / student / A / f"{A}.ipynb").is_file(), student
        kit = json.loads((course["kit"] / student / "results.json").read_text())
        want = {t["tags"][0]: float(t["score"]) for t in kit["tests"]}
        assert nbgrader_scores(root, student) == want, student
    assert sum(nbgrader_scores(root, "right").values()) == 10
    assert nbgrader_scores(root, "wrong")["race_free"] == 0
    assert sum(nbgrader_scores(root, "hangs").values()) == 0
    # The hostile student's added cell and rewritten cell did not run; the deleted cell
    # came back; the stray module next to the notebook did not become the kernel.
    assert nbgrader_scores(root, "hostile") == nbgrader_scores(root, "wrong")
    assert not (root / "autograded" / "hostile" / A / "ipykernel_launcher.py").exists()
    # The student who went through the exchange: collected without caches, full marks.
    exchanged = course["exchanged"]
    assert sum(nbgrader_scores(root, exchanged).values()) == 10
    names = {p.name for p in (root / "submitted" / exchanged / A).iterdir()}
    assert {"counter.py", f"{A}.ipynb"} <= names
    assert not names & {".pytest_cache", "__pycache__"}, names
    # Five kernels and gradings, one of them hanging until the kit's limits: bounded.
    assert course["autograde_seconds"] < 4 * 60


@pytest.mark.timeout(900)
def test_feedback_explains_and_shows_no_solution(course):
    root = course["root"]
    wrong = (root / "feedback" / "wrong" / A / f"{A}.html").read_text()
    assert "lost update" in wrong and "0/2" in wrong
    hangs = (root / "feedback" / "hangs" / A / f"{A}.html").read_text()
    assert "did not return within" in hangs
    for path, text in texts_under(root / "feedback").items():
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, path
        if path.name == "counter.py":  # the student's own module, handed back as it came
            student = path.relative_to(root / "feedback").parts[0]
            assert text == (root / "submitted" / student / A / "counter.py").read_text()
            continue
        for hunk in solution_hunks(A):
            assert hunk not in text, (path, hunk)


@pytest.mark.timeout(900)
def test_export_has_the_right_totals(course):
    root = course["root"]
    with open(root / "grades.csv", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    with open(course["kit"] / "grades.csv", newline="") as f:
        kit = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(course["students"]) == set(kit)
    for student, row in rows.items():
        assert float(row["score"]) == float(kit[student]["score"]), student
        assert float(row["max_score"]) == 10.0


@pytest.mark.timeout(900)
def test_nothing_is_left_running(course):
    for token in course["tokens"]:
        assert processes_with(token) == []


@pytest.mark.timeout(60)
def test_source_modules_round_trip():
    """One source of truth: each source module strips to the stub and runs as the
    solution."""
    for name, a in ASSIGNMENTS.items():
        stub = (ROOT / "assignments" / name / a.filename).read_text()
        solution = (ROOT / "solutions" / name / a.filename).read_text()
        module = nbcourse.source_module(stub, solution)
        assert nbcourse.BEGIN_SOLUTION in module
        assert nbcourse.strip_solutions(module) == stub
        assert nbcourse.solution_of(module) == solution


@pytest.mark.timeout(60)
def test_release_hook_fails_closed(tmp_path):
    """nbgrader only logs a failing hook: a file whose regions cannot be stripped is
    removed from the release rather than shipped with its solution."""
    release = tmp_path / "release" / A
    release.mkdir(parents=True)
    (release / "broken.py").write_text("### BEGIN SOLUTION\nsecret = 42\n")
    (release / "fine.py").write_text("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\n")
    nbcourse.release_hook(str(tmp_path))(assignment=A, student=".", notebooks=[])
    assert not (release / "broken.py").exists()
    assert (release / "fine.py").read_text() == "x = 1\n"


@pytest.mark.timeout(60)
def test_init_does_not_overwrite_without_force(tmp_path):
    cmd = [sys.executable, "-m", "grader", "nbgrader", "init", str(tmp_path / "c"),
           "--assignments", A]
    first = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode != 0 and "--force" in again.stderr
    forced = subprocess.run(cmd + ["--force"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert forced.returncode == 0, forced.stderr
