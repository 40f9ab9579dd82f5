"""Grading a class: the reports students and instructors read, determinism, progress, and
the Gradescope bundle run end to end outside Gradescope."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
import zipfile

import pytest

from helpers import ROOT, copy_as, grade, processes_with

sys.path.insert(0, str(ROOT))

from grader.grading.progress import Progress  # noqa: E402
from grader.reports import StudentResult  # noqa: E402

A = "thread_counter"
SOLUTION = ROOT / "solutions" / A / "counter.py"
NO_LOCK = ROOT / "tests" / "corpus" / A / "no_lock" / "counter.py"
NO_RESET = ROOT / "tests" / "corpus" / A / "no_reset" / "counter.py"
SERIAL = ROOT / "tests" / "corpus" / A / "join_in_start_loop" / "counter.py"


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    folders = [copy_as(SOLUTION, tmp / "class", "ann"), copy_as(NO_LOCK, tmp / "class", "ben"),
               copy_as(NO_LOCK, tmp / "class", "cid"), copy_as(NO_RESET, tmp / "class", "dee"),
               copy_as(SERIAL, tmp / "class", "eve")]
    first = tmp / "first"
    second = tmp / "second"
    grade(A, folders, first)
    # The second time as one class folder (--class): the same students, the same grades.
    done = subprocess.run([sys.executable, "-m", "grader", "grade", A, "--class",
                           str(tmp / "class"), "--out", str(second), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"first": first, "second": second}


@pytest.mark.timeout(600)
def test_grading_twice_gives_identical_grades(klass):
    """(Once by folders, once as a class folder.)"""
    assert (klass["first"] / "grades.csv").read_text() == (
        klass["second"] / "grades.csv").read_text()
    for report in ("summary.md", "summary.html"):
        assert (klass["first"] / report).read_text() == (klass["second"] / report).read_text()


@pytest.mark.timeout(600)
def test_feedback_explains_each_lost_point(klass):
    out = klass["first"]
    ben = (out / "ben" / "feedback.md").read_text()
    assert "# thread_counter: feedback for ben" in ben and "**Score: 8/10**" in ben
    assert "## Lost points (1 of 5 checks)" in ben
    assert "no update is lost when threads switch at the worst moment (0/2)" in ben
    assert "was lost" in ben  # the kit's explanation of the lost update, verbatim
    assert "- the threads really ran at the same time (2/2)" in ben
    page = (out / "ben" / "feedback.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "was lost" in page
    assert "<pre>" in page and "&lt;" not in ben  # explanations escaped in HTML only
    ann = (out / "ann" / "feedback.md").read_text()
    assert "**Score: 10/10**" in ann and "Every check passed." in ann


@pytest.mark.timeout(600)
def test_summary_counts_scores_and_mistakes(klass):
    text = (klass["first"] / "summary.md").read_text()
    assert "5 submissions graded; 1 with full marks" in text
    assert "| 8 | 4 |" in text and "| 10 | 1 |" in text
    mistakes = text.split("## Most common mistakes")[1]
    # Most common first: two students lost race_free, one each overlap and reset.
    assert mistakes.index("worst moment | 2 | 40 %") < mistakes.index("from 0 | 1 | 20 %")
    assert "same time | 1 | 20 %" in mistakes
    assert "<table>" in (klass["first"] / "summary.html").read_text()


def _spans(page: str) -> list[tuple[str, float, float]]:
    """(lane, start, end) of the first timeline drawn in a feedback.html (from the bars'
    titles: the times the grader recorded, to 0.1 ms)."""
    import re

    svg = page.split("<svg", 1)[1].split("</svg>", 1)[0]
    return [(lane, float(a), float(b)) for lane, a, b in
            re.findall(r"<title>(.+?), [^,<]+: ([0-9.]+) s to ([0-9.]+) s</title>", svg)]


@pytest.mark.timeout(600)
def test_feedback_draws_what_the_threads_did(klass):
    """The overlap check's picture: for a correct counter, three worker threads are inside
    worker() at the same moment (the grader held the first until then); for one that
    joins each thread right after starting it, the next thread enters only after the
    previous one left."""
    ann = _spans((klass["first"] / "ann" / "feedback.html").read_text())
    eve = _spans((klass["first"] / "eve" / "feedback.html").read_text())
    first3 = ann[:3]
    assert len(first3) == 3 and max(a for _, a, _ in first3) <= min(b for _, _, b in first3)
    assert len(eve) >= 3
    for (_, _, left), (_, entered, _) in zip(eve, eve[1:]):
        assert left <= entered, eve
    md = (klass["first"] / "eve" / "feedback.md").read_text()
    assert "## What your program did" in md and "Thread-2 (worker)" in md


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def result(name: str, passed: bool) -> StudentResult:
        return StudentResult(name, [{"id": "x", "name": "x", "max_score": 2,
                                     "passed": passed, "output": ""}], 1.5)

    term = Terminal()
    bar = Progress(A, 2, quiet=False, stream=term)
    bar.done(result("ann", True))
    bar.done(result("ben", False))
    bar.close()
    text = term.getvalue()
    assert text.count("\r") == 2 and "2/2 graded, 1 with points lost" in text
    assert "left" in text and text.endswith("\n")
    log = io.StringIO()
    lines = Progress(A, 2, quiet=False, stream=log)
    lines.done(result("ann", True))
    lines.close()
    assert log.getvalue() == "[1/2] thread_counter ann: 2/2 (1.5 s)\n"


@pytest.mark.timeout(600)
def test_a_hanging_student_does_not_stall_the_class(tmp_path):
    """--jobs 2: a student whose run_workers spins for ever holds one job until the
    grader's deadline (about 30 s: a busy loop is no deadlock, which would end at once);
    the other job grades the rest of the class meanwhile. The hanging student is first in
    line, so every other one finishes before it, each with the right grade."""
    (tmp_path / "spin").mkdir()
    spins = tmp_path / "spin" / "counter.py"
    spins.write_text(SOLUTION.read_text() + "\n\ndef run_workers(n_threads=2000):\n"
                     "    while True:\n        pass\n")
    folders = [copy_as(spins, tmp_path / "class", "aaa-spins")]
    for i in range(6):
        folders.append(copy_as(SOLUTION if i % 2 else NO_LOCK, tmp_path / "class", f"s{i}"))
    done = subprocess.run([sys.executable, "-m", "grader", "grade", A, "--class",
                           str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                           "--jobs", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=500)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert len(lines) == 7, done.stderr
    assert "aaa-spins" in lines[-1], lines
    assert lines[-1].startswith("[7/7]") and " 0/10 " in lines[-1]
    for i in range(6):
        want = "10/10" if i % 2 else "8/10"
        assert any(f" s{i}: {want} " in line for line in lines[:-1]), (i, lines)


@pytest.mark.timeout(300)
def test_gradescope_bundle_grades_a_submission_end_to_end(tmp_path):
    bundle = tmp_path / "autograder.zip"
    done = subprocess.run([sys.executable, "-m", "grader", "export", "gradescope", A, "-o",
                           str(bundle)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        assert {"setup.sh", "run_autograder", "kit/pyproject.toml",
                f"kit/grader/suites/{A}/test_counter.py"} <= set(names)
        assert not any(n.startswith(("kit/solutions", "kit/tests")) for n in names)
        root = tmp_path / "autograder"
        zf.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    (root / "submission").mkdir()
    (root / "submission" / "counter.py").write_text(NO_LOCK.read_text())
    token = uuid.uuid4().hex
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "KIT_PYTHON": sys.executable,
           "KIT_RUN_TOKEN": token}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(root / "source" / "run_autograder")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((root / "results" / "results.json").read_text())
    assert (result["score"], result["max_score"]) == (8, 10)
    # The kit (hidden suites) is private to root: at the uid level (Gradescope's
    # containers refuse namespaces) the student's uid cannot read it.
    assert (root / "source").stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in (root / "source").rglob("*.py"))
    assert [t["tags"][0] for t in result["tests"] if t["status"] == "failed"] == ["race_free"]
    assert processes_with(token) == []
    # Same bundle, same bytes: an instructor can tell whether it changed.
    again = tmp_path / "again.zip"
    subprocess.run([sys.executable, "-m", "grader", "export", "gradescope", A, "-o",
                    str(again)], cwd=ROOT, check=True, capture_output=True, timeout=60)
    assert again.read_bytes() == bundle.read_bytes()


@pytest.mark.timeout(60)
def test_gradescope_setup_installs_the_dependencies_not_the_kit(tmp_path):
    """A kit installed into site-packages would put the hidden suites where every uid may
    read them; setup.sh installs exactly pyproject.toml's dependencies."""
    import re

    from grader.integrations import export

    export.gradescope(A, tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        setup = zf.read("setup.sh").decode()
    declared = re.search(r"^dependencies = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(),
                         re.M).group(1)
    assert set(re.findall(r'"([^"]+)"', declared)) == set(export.DEPENDENCIES)
    install = [line for line in setup.splitlines() if "pip install" in line]
    assert install[-1].endswith(" ".join(f"'{d}'" for d in export.DEPENDENCIES))
    assert "/autograder/source/kit" not in "\n".join(install)


@pytest.mark.timeout(120)
def test_gradescope_bundle_reports_a_broken_grader(tmp_path):
    """If the kit cannot even start, the student gets a results.json that says so."""
    from grader.integrations import export

    root = tmp_path / "autograder"
    bundle = tmp_path / "autograder.zip"
    export.gradescope(A, bundle)
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    (root / "submission").mkdir()
    (root / "source" / "kit" / "grader" / "__main__.py").write_text("raise SystemExit(3)\n")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "KIT_PYTHON": sys.executable}
    env.pop("PYTHONPATH", None)
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads((root / "results" / "results.json").read_text())
    assert result["score"] == 0 and "The grader failed (exit status 3)" in result["output"]


@pytest.mark.timeout(300)
def test_github_classroom_workflow_runs_its_steps(tmp_path):
    """The workflow is valid YAML in GitHub Classroom's shape (one command-grader step
    per check, worth its points, and a reporter that lists them all); its grading step
    and each check's command, run here as the runner would run them, give each check's
    verdict as an exit status, with the explanation on stdout."""
    yaml = pytest.importorskip("yaml")
    from grader.integrations import export

    work = tmp_path / "grading"
    flow = yaml.safe_load(export.classroom(A, "kit-from-somewhere", workdir=str(work)))
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    checks = [s for s in steps if s.get("uses", "").startswith(
        "classroom-resources/autograding-command-grader")]
    assert [s["id"] for s in checks] == ["returns-sum", "num-matches", "reset", "overlap",
                                         "race-free"]
    assert sum(s["with"]["max-score"] for s in checks) == 10
    reporter = steps[-1]
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in checks]
    assert set(reporter["env"]) == {s["name"].upper() + "_RESULTS" for s in checks}
    install = next(s for s in steps if s.get("name") == "Install the concurrency kit")
    assert install["env"]["KIT_PIP_SOURCE"] == "kit-from-somewhere"

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "counter.py").write_text(NO_LOCK.read_text())
    grading = next(s for s in steps if s.get("name") == "Grade with the concurrency kit")
    token = uuid.uuid4().hex
    env = {**os.environ, "KIT_RUN_TOKEN": token}
    done = subprocess.run(["bash", "-e", "-c", grading["run"]], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in checks:
        ran = subprocess.run(["bash", "-c", step["with"]["command"]], cwd=repo, env=env,
                             capture_output=True, text=True, timeout=60)
        assert ran.returncode == (1 if step["name"] == "race_free" else 0), ran.stdout
        assert ran.stdout.startswith(step["with"]["test-name"])
    assert "was lost" in ran.stdout  # race_free, the last step: the explanation
    assert processes_with(token) == []
