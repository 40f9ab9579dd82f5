"""The grader's command line: help, usage errors, report formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import ROOT, copy_as, read_csv

pytestmark = pytest.mark.timeout(300)


def cli(*args: str, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=240, check=False)


@pytest.mark.fast
def test_help_explains_every_command():
    top = cli("--help")
    assert top.returncode == 0
    for word in ("grade", "example", "list", "results.json", "grades.csv", "sandbox",
                 "KIT_*"):
        assert word in top.stdout
    grade = cli("grade", "--help")
    assert grade.returncode == 0
    for word in ("ASSIGNMENT", "SUBMISSION_DIR", "--out", "--jobs", "process_fanout",
                 "pool_variants", "thread_counter", "Exit status"):
        assert word in grade.stdout
    assert cli("example", "--help").returncode == 0
    assert "--nbgrader" in grade.stdout
    init = cli("nbgrader", "init", "--help")
    assert init.returncode == 0
    for word in ("COURSE_DIR", "--assignments", "--course-id", "--exchange", "--force",
                 "generate_assignment"):
        assert word in init.stdout


@pytest.mark.fast
def test_list_names_assignments_and_modules():
    out = cli("list").stdout
    for word in ("process_fanout", "fanout.py", "pool_variants", "pools.py",
                 "thread_counter", "counter.py"):
        assert word in out


@pytest.mark.parametrize("args", [
    ("grade",),
    ("grade", "no_such_assignment", ".", "--out", "x"),
    ("grade", "thread_counter", "--out", "x"),
    ("grade", "thread_counter", "--nbgrader", "/no/such/course", "--out", "x"),
    ("grade", "thread_counter", ".", "--nbgrader", ".", "--out", "x"),
    ("nbgrader",),
    ("grade", "thread_counter", "--class", "/no/such/class", "--out", "x"),
    ("grade", "thread_counter", ".", "--class", ".", "--out", "x"),
])
@pytest.mark.fast
def test_usage_errors_exit_nonzero_with_a_message(args):
    done = cli(*args)
    assert done.returncode == 2
    assert "usage:" in done.stderr or "error" in done.stderr


@pytest.mark.fast
def test_missing_folder_is_a_usage_error(tmp_path):
    done = cli("grade", "thread_counter", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "not a folder" in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.fast
def test_a_linked_student_folder_is_refused(tmp_path):
    """A link in a class folder would be graded as the folder it points to (another
    student's work under this name): refused, and nothing is graded."""
    klass = tmp_path / "class"
    ann = copy_as(ROOT / "solutions" / "thread_counter" / "counter.py", klass, "ann")
    (klass / "bob").symlink_to(ann)
    done = cli("grade", "thread_counter", "--class", str(klass), "--out", str(tmp_path / "o"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "bob is a symbolic link" in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.fast
def test_a_linked_nbgrader_submission_is_refused(tmp_path):
    """The same in an nbgrader course's submitted/ folder: a student folder (or its
    assignment folder) that is a link is refused, not graded under another's name."""
    course = tmp_path / "course"
    ann = copy_as(ROOT / "solutions" / "thread_counter" / "counter.py",
                  course / "submitted" / "ann", "thread_counter")
    (course / "submitted" / "bob").symlink_to(ann.parent)
    (course / "submitted" / "cy").mkdir()
    (course / "submitted" / "cy" / "thread_counter").symlink_to(ann)
    for link in (course / "submitted" / "bob", course / "submitted" / "cy" / "thread_counter"):
        done = cli("grade", "thread_counter", "--nbgrader", str(course), "--out",
                   str(tmp_path / "o"))
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"{link} is a symbolic link" in done.stderr, done.stderr
        assert not (tmp_path / "o").exists()
        link.unlink()  # (then the next one is met)


def test_odd_and_oversized_files_do_not_stop_the_class(tmp_path):
    """A Python file whose name is not UTF-8, one of 2 MiB and 250 small ones: the student
    is graded on the rest and told what was left out; the classmate after them is graded
    as usual."""
    klass = tmp_path / "class"
    ann = copy_as(ROOT / "solutions" / "thread_counter" / "counter.py", klass, "ann")
    (ann / "big.py").write_text("# " + "x" * (2 << 20) + "\n")
    for i in range(250):
        (ann / f"part{i:03d}.py").write_text(f"PART = {i}\n")
    with open(bytes(ann) + b"/caf\xe9.py", "w") as f:
        f.write("X = 1\n")
    copy_as(ROOT / "solutions" / "thread_counter" / "counter.py", klass, "bob")
    done = cli("grade", "thread_counter", "--class", str(klass), "--out", str(tmp_path / "o"),
               "--jobs", "2", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    results = {s: json.loads((tmp_path / "o" / s / "results.json").read_text())
               for s in ("ann", "bob")}
    assert all(r["score"] == r["max_score"] == 10 for r in results.values()), results
    assert "big.py (2,097,155 bytes) was left out" in results["ann"]["output"]
    assert "part249.py was left out: a submission may have 200 Python files" in \
        results["ann"]["output"]
    assert [r["student"] for r in read_csv(tmp_path / "o" / "grades.csv")] == ["ann", "bob"]


def test_reports_follow_the_gradescope_schema(tmp_path):
    good = copy_as(ROOT / "solutions" / "thread_counter" / "counter.py", tmp_path, "ann")
    empty = tmp_path / "bea"
    empty.mkdir()
    (empty / "notes.txt").write_text("I could not do it")
    done = cli("grade", "thread_counter", str(good), str(empty), "--out", str(tmp_path / "o"))
    assert done.returncode == 0, done.stderr
    assert "ann" in done.stdout and "bea" in done.stdout  # the score table
    for student in ("ann", "bea"):
        result = json.loads((tmp_path / "o" / student / "results.json").read_text())
        assert set(result) >= {"score", "max_score", "execution_time", "output", "tests"}
        for test in result["tests"]:
            assert set(test) >= {"name", "score", "max_score", "status", "output",
                                 "visibility"}
            assert test["status"] in ("passed", "failed")
            assert test["score"] in (0, test["max_score"])
        assert result["score"] == sum(t["score"] for t in result["tests"])
    bea = json.loads((tmp_path / "o" / "bea" / "results.json").read_text())
    assert bea["score"] == 0
    assert all("no counter.py in your submission" in t["output"] for t in bea["tests"])
    assert "No counter.py in the submission" in bea["output"]
    rows = read_csv(tmp_path / "o" / "grades.csv")
    assert [r["student"] for r in rows] == ["ann", "bea"]
    assert list(rows[0])[:3] == ["student", "score", "max_score"]
    assert float(rows[0]["score"]) == float(rows[0]["max_score"]) > 0
    # Nothing written outside the output folder: the submission folders are untouched.
    assert sorted(p.name for p in good.iterdir()) == ["counter.py"]
    assert sorted(p.name for p in empty.iterdir()) == ["notes.txt"]


@pytest.mark.fast
def test_jobs_is_a_number_or_auto(tmp_path):
    folder = copy_as(ROOT / "solutions" / "thread_counter" / "counter.py", tmp_path, "ann")
    for bad in ("0", "-1", "two"):
        done = cli("grade", "thread_counter", str(folder), "--out", str(tmp_path / "o"),
                   "--jobs", bad)
        assert done.returncode == 2 and "or auto" in done.stderr, done.stderr
    assert "auto" in cli("grade", "--help").stdout
    done = cli("grade", "thread_counter", str(folder), "--out", str(tmp_path / "o"),
               env={**os.environ, "KIT_SANDBOXES": "many"})
    assert done.returncode == 2 and "KIT_SANDBOXES must be a whole number" in done.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.fast
def test_doctor_lists_the_settings():
    done = cli("doctor", env={**os.environ, "KIT_WARM": "0"})
    assert "KIT_WARM = '0' (set)" in done.stdout, done.stdout
    assert "KIT_SANDBOXES = '6' (default)" in done.stdout or "KIT_SANDBOXES" in os.environ


class Clock:
    """grader.grading.admission.machine_cpu: (seconds, busy CPU seconds), set by the test."""

    def __init__(self) -> None:
        self.now = (0.0, 0.0)

    def __call__(self):
        return self.now


@pytest.mark.fast
def test_fixed_jobs_start_exactly_that_many():
    sys.path.insert(0, str(ROOT))
    from grader.grading.admission import Admission

    fixed = Admission(3)
    assert [fixed.may_start(n) for n in range(5)] == [True, True, True, False, False]
    assert fixed.most == 3


@pytest.mark.fast
def test_auto_jobs_add_students_only_while_cpus_idle(monkeypatch):
    """auto: the cores at once; one more per window in which the machine's CPUs were less
    than Admission.IDLE busy (students waiting on deadlines), never past the most."""
    sys.path.insert(0, str(ROOT))
    from grader.grading import admission

    clock = Clock()
    monkeypatch.setattr(admission, "machine_cpu", clock)
    auto = admission.Admission("auto")
    auto.cores, auto.least, auto.most = 2, 2, 6
    assert auto.may_start(0) and auto.may_start(1)
    assert not auto.may_start(2)  # (no window has passed)
    clock.now = (1.0, 1.8)  # 0.9 of 2 cores busy: no more
    assert not auto.may_start(2)
    clock.now = (1.2, 1.82)  # a window not yet over
    assert not auto.may_start(2)
    clock.now = (2.0, 2.0)  # 0.2 CPU seconds in 1 s on 2 cores: idle
    assert auto.may_start(2)
    assert not auto.may_start(3)  # (one per window)
    clock.now = (3.0, 2.1)
    assert auto.may_start(5)
    clock.now = (4.0, 2.1)
    assert not auto.may_start(6)  # the most
    assert auto.may_start(1)  # below the cores: always
