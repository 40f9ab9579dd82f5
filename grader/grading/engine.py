"""Grade a class: each student's hidden suite in a pytest process of its own (forked from
the warm pytest server where there is one), the class's pool of warm sandboxes shared by
all of them, and the reports written as students finish."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from grader import reports, sandbox, settings
from grader.assignments import SUITES, Assignment
from grader.grading import warm
from grader.grading.admission import Admission
from grader.grading.progress import Progress
from grader.grading.trust import isolation_words, weak_sandbox_warning
from grader.sandbox import pool

ROOT = Path(__file__).resolve().parent.parent.parent
STUDENT_TIMEOUT = 600.0


def pytest_env(run_token: str, pool_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "KIT_", "PYTHON"))}
    env["PYTHONPATH"] = str(ROOT)
    if os.environ.get("KIT_INSIDE"):  # (sandbox.share_inside: one copy for the class)
        env["KIT_INSIDE"] = os.environ["KIT_INSIDE"]
    env["KIT_RUN_TOKEN"] = run_token
    env["KIT_POOL"] = "0"  # (a pytest of its own, unless the class's pool is given)
    env.update(pool_env)
    # The machine is probed once per class, not once per student.
    env["KIT_ISOLATION"] = sandbox.isolation().to_env()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Only the plugins the kit names: whatever else is installed cannot change a verdict.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def grade_one(assignment: Assignment, submission: Path, run_token: str,
              pool_env: dict[str, str] | None = None,
              student: str | None = None,
              warm_pytest: warm.WarmPytest | None = None) -> reports.StudentResult:
    """Run the hidden suite on one student's folder; never raises for the student's code.
    ``student`` is the student id (default: the folder's name). With ``warm_pytest`` (whose
    environment must be :func:`_pytest_env` of the same token and pool), the suite's pytest
    is forked from it instead of started afresh."""
    student = student or submission.name
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kit-grade-") as tmp:
        sandbox.own_scratch(tmp)
        results = Path(tmp) / "checks.json"
        cmd = [
            sys.executable, "-m", "pytest", str(assignment.suite),
            "-c", str(SUITES / "pytest.ini"), "--rootdir", str(SUITES),
            "-p", "pytest_timeout", "-p", "grader.checks.plugin", "-p", "no:cacheprovider",
            "-q", "--no-header",
            "-o", "console_output_style=classic", "--timeout", str(int(STUDENT_TIMEOUT)),
            "--submission", str(submission), "--kit-results", str(results),
        ]
        log = Path(tmp) / "pytest.log"
        code = None
        if warm_pytest is not None:
            code = warm_pytest.run(cmd[3:], Path(tmp), log, STUDENT_TIMEOUT + 60)
        if code is None:
            _cold_pytest(cmd, Path(tmp), log, pytest_env(run_token, pool_env or {}))
        elapsed = time.monotonic() - started
        try:
            checks = json.loads(results.read_text())
        except (OSError, ValueError):
            checks = []
        if not checks:
            text = log.read_text(errors="replace")[-3000:]
            return reports.StudentResult(student, [], elapsed,
                                        kit_errors=[f"the hidden suite did not run:\n{text}"])
        taken, left_out = sandbox.submission_files(submission)
        notes = list(left_out)
        if assignment.filename not in {p.name for p in taken}:
            found = sorted(p.name for p in submission.glob("*.py"))
            notes.insert(0, f"No {assignment.filename} in the submission"
                         + (f" (found: {', '.join(found)})." if found else "."))
        note = " ".join(notes)
        return reports.StudentResult(student, checks, elapsed, note=note)


def _cold_pytest(cmd: list[str], cwd: Path, log: Path, env: dict[str, str]) -> None:
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=STUDENT_TIMEOUT + 60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def grade(assignment: Assignment, submissions: list[Path], out: Path, jobs: int | str,
          quiet: bool = False, students: list[str] | None = None) -> list[reports.StudentResult]:
    """Grade every submission and write the reports into ``out``: ``jobs`` students at a
    time, or ``"auto"`` (see :class:`Admission`). ``students``: their ids, in the same
    order (default: the folders' names)."""
    admission = Admission(jobs)
    students = students or [s.name for s in submissions]
    out.mkdir(parents=True, exist_ok=True)
    sandbox.share_inside()  # (one copy for the pool and every student's pytest)
    # Every process of this run carries the token in its environment, so that whatever a
    # submission left behind can be found and killed (a caller may choose the token).
    run_token = settings.get("KIT_RUN_TOKEN") or uuid.uuid4().hex
    warning = weak_sandbox_warning()
    header = (f"{assignment.name}: graded by the concurrency kit; student code ran in "
              f"sandbox processes ({isolation_words()}).")
    if warning:
        header = f"{warning}\n{header}"
    results: list[reports.StudentResult] = []
    total = len(submissions)
    # Warm sandboxes shared by all students' suites (each suite runs up to KIT_SANDBOXES
    # checks at once); see grader.sandbox.pool.
    sandboxes = admission.most * settings.number("KIT_SANDBOXES")
    warm_pool = pool.Pool(sandboxes, run_token) if pool.wanted() else None
    if warm_pool is not None and submissions:
        warm_pool.warm_up(submissions[0].resolve(), assignment.module,
                          min(settings.number("KIT_SANDBOXES"), sandboxes))
    pool_env = warm_pool.env() if warm_pool else {}
    # One pytest imported once, forked per student (grader.grading.warm); KIT_WARM=0: a fresh
    # pytest process each.
    home = Path(tempfile.mkdtemp(prefix="kit-warm-"))
    sandbox.own_scratch(home)
    pytests = None
    try:
        if len(submissions) > 1 and settings.enabled("KIT_WARM"):
            pytests = warm.WarmPytest(pytest_env(run_token, pool_env), home)
        todo = list(zip(submissions, students))
        running: set = set()
        progress = Progress(assignment.name, total, quiet)
        with ThreadPoolExecutor(max_workers=admission.most) as workers:
            while todo or running:
                while todo and admission.may_start(len(running)):
                    folder, who = todo.pop(0)
                    running.add(workers.submit(grade_one, assignment, folder, run_token,
                                               pool_env, who, pytests))
                finished, running = wait(running, timeout=Admission.WINDOW,
                                         return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()
                    results.append(result)
                    reports.write_student(out, result, header)
                    reports.write_feedback(out, assignment.name, result)
                    progress.done(result)
        progress.close()
    finally:
        if pytests is not None:
            pytests.close()
        if warm_pool is not None:
            warm_pool.close()
        sandbox.kill_marked("KIT_RUN_TOKEN", run_token)
        shutil.rmtree(home, ignore_errors=True)
    reports.write_csv(out, results)
    reports.write_summary(out, assignment.name, results, warning)
    return results
