"""``python -m grader``: grade submissions of the concurrency kit.

Each student's submission is judged by the assignment's hidden pytest suite, run as its own
``pytest`` process from a grader-owned folder with a grader-owned configuration (a
``conftest.py``/``pytest.ini``/``pytest.py`` in a submission has no effect). The suite runs
the student's code only inside sandbox processes (:mod:`grader.sandbox`).
"""

from __future__ import annotations

import argparse
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

from grader import report, sandbox, warm
from grader.assignments import ASSIGNMENTS, SUITES, Assignment
from grader.sandbox import pool

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
STUDENT_TIMEOUT = 600.0


def _pytest_env(run_token: str, pool_env: dict[str, str]) -> dict[str, str]:
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
              warm_pytest: warm.WarmPytest | None = None) -> report.StudentResult:
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
            "-p", "pytest_timeout", "-p", "grader.plugin", "-p", "no:cacheprovider",
            "-q", "--no-header",
            "-o", "console_output_style=classic", "--timeout", str(int(STUDENT_TIMEOUT)),
            "--submission", str(submission), "--kit-results", str(results),
        ]
        log = Path(tmp) / "pytest.log"
        code = None
        if warm_pytest is not None:
            code = warm_pytest.run(cmd[3:], Path(tmp), log, STUDENT_TIMEOUT + 60)
        if code is None:
            _cold_pytest(cmd, Path(tmp), log, _pytest_env(run_token, pool_env or {}))
        elapsed = time.monotonic() - started
        try:
            checks = json.loads(results.read_text())
        except (OSError, ValueError):
            checks = []
        if not checks:
            text = log.read_text(errors="replace")[-3000:]
            return report.StudentResult(student, [], elapsed,
                                        kit_errors=[f"the hidden suite did not run:\n{text}"])
        taken, left_out = sandbox.submission_files(submission)
        notes = list(left_out)
        if assignment.filename not in {p.name for p in taken}:
            found = sorted(p.name for p in submission.glob("*.py"))
            notes.insert(0, f"No {assignment.filename} in the submission"
                         + (f" (found: {', '.join(found)})." if found else "."))
        note = " ".join(notes)
        return report.StudentResult(student, checks, elapsed, note=note)


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
          quiet: bool = False, students: list[str] | None = None) -> list[report.StudentResult]:
    """Grade every submission and write the reports into ``out``: ``jobs`` students at a
    time, or ``"auto"`` (see :class:`Admission`). ``students``: their ids, in the same
    order (default: the folders' names)."""
    admission = Admission(jobs)
    students = students or [s.name for s in submissions]
    out.mkdir(parents=True, exist_ok=True)
    sandbox.share_inside()  # (one copy for the pool and every student's pytest)
    # Every process of this run carries the token in its environment, so that whatever a
    # submission left behind can be found and killed (a caller may choose the token).
    run_token = os.environ.get("KIT_RUN_TOKEN") or uuid.uuid4().hex
    warning = weak_sandbox_warning()
    header = (f"{assignment.name}: graded by the concurrency kit; student code ran in "
              f"sandbox processes ({_isolation_words()}).")
    if warning:
        header = f"{warning}\n{header}"
    results: list[report.StudentResult] = []
    total = len(submissions)
    # Warm sandboxes shared by all students' suites (each suite runs up to KIT_SANDBOXES
    # checks at once); see grader.sandbox.pool.
    sandboxes = admission.most * int(os.environ.get("KIT_SANDBOXES", "6"))
    warm_pool = pool.Pool(sandboxes, run_token) if pool.wanted() else None
    pool_env = warm_pool.env() if warm_pool else {}
    # One pytest imported once, forked per student (grader.warm); KIT_WARM=0: a fresh
    # pytest process each.
    home = Path(tempfile.mkdtemp(prefix="kit-warm-"))
    sandbox.own_scratch(home)
    pytests = None
    try:
        if len(submissions) > 1 and os.environ.get("KIT_WARM", "1") != "0":
            pytests = warm.WarmPytest(_pytest_env(run_token, pool_env), home)
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
                    report.write_student(out, result, header)
                    report.write_feedback(out, assignment.name, result)
                    progress.done(result)
        progress.close()
    finally:
        if pytests is not None:
            pytests.close()
        if warm_pool is not None:
            warm_pool.close()
        sandbox.kill_marked("KIT_RUN_TOKEN", run_token)
        shutil.rmtree(home, ignore_errors=True)
    report.write_csv(out, results)
    report.write_summary(out, assignment.name, results, warning)
    return results


class Admission:
    """How many students are graded at once.

    A number: exactly that many. ``"auto"`` (the grading command's default): at least one
    per core, and one more, at most every :attr:`WINDOW` seconds, while the machine's CPUs
    were less than :attr:`IDLE` busy over the last window, up to :attr:`MOST_PER_CORE` per
    core. Most of a check is waiting by design (the grader's sleeps and barriers) and a
    deadlocked or hanging submission waits until its deadline, up to 30 s; such students
    leave cores idle, and the next students use them instead of queueing behind them. A
    busy machine (CPU-bound checks, a spinning submission, other users) gets no more than
    the cores.
    """

    WINDOW = 0.5
    IDLE = 0.6
    MOST_PER_CORE = 3

    def __init__(self, jobs: int | str) -> None:
        cores = os.cpu_count() or 1
        self.adaptive = jobs == "auto"
        self.least = cores if self.adaptive else max(1, int(jobs))
        self.most = self.least * self.MOST_PER_CORE if self.adaptive else self.least
        self.cores = cores
        self.last = machine_cpu()

    def may_start(self, running: int) -> bool:
        if running < self.least:
            return True
        if not self.adaptive or running >= self.most:
            return False
        now = machine_cpu()
        if now is None or self.last is None:
            return False
        elapsed = now[0] - self.last[0]
        if elapsed < self.WINDOW:
            return False
        busy = (now[1] - self.last[1]) / (elapsed * self.cores)
        # (A new window starts at every decision: at most one more student per window.)
        self.last = now
        return busy < self.IDLE


def machine_cpu() -> tuple[float, float] | None:
    """(monotonic now, CPU seconds the machine's cores have been busy so far, all of them
    together: /proc/stat), or None where unreadable."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return time.monotonic(), (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


class Progress:
    """Progress on stderr: a bar redrawn in place on a terminal (submissions done, how
    many lost points, time left), one line per submission otherwise (logs, CI)."""

    def __init__(self, name: str, total: int, quiet: bool, stream=None):
        self.name, self.total, self.quiet = name, total, quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.count = self.lost = self.errors = 0
        self.started = time.monotonic()

    def done(self, result: report.StudentResult) -> None:
        self.count += 1
        self.errors += bool(result.kit_errors)
        self.lost += bool(not result.kit_errors and result.score < result.max_score)
        if self.quiet:
            return
        status = (report.fraction(result.score, result.max_score) if not result.kit_errors
                  else f"KIT ERROR, see {report.KIT_ERROR} in its folder")
        if not self.tty:
            print(f"[{self.count}/{self.total}] {self.name} "
                  f"{report.clean(result.student, one_line=True)}: {status} "
                  f"({result.execution_time:.1f} s)", file=self.stream, flush=True)
            return
        spent = time.monotonic() - self.started
        left = spent / self.count * (self.total - self.count)
        width = 24
        filled = round(width * self.count / self.total)
        bar = "#" * filled + "." * (width - filled)
        errors = f", {self.errors} kit errors" if self.errors else ""
        print(f"\r{self.name} [{bar}] {self.count}/{self.total} graded, {self.lost} with points "
              f"lost{errors}, ~{_duration(left)} left ", end="", file=self.stream,
              flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet and self.count:
            print(f" done in {_duration(time.monotonic() - self.started)}",
                  file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _isolation_words() -> str:
    return sandbox.isolation().summary()


# At the uid level: what the sandbox's uid could read of this grading's folders (found by
# require_sandbox; the instructor graded anyway).
_exposure = ""


def weak_sandbox_warning() -> str:
    """Empty under the full sandbox; else the warning every report of a grading carries
    (the instructor chose to grade anyway: ``--allow-weak-sandbox``)."""
    weakness = sandbox.isolation().weakness() or _exposure
    return f"WARNING: graded with a weak sandbox: {weakness}" if weakness else ""


def require_sandbox(allow_weak: bool, private: list[Path] = ()) -> None:
    """Refuse to grade (exit 2) unless the full sandbox is in force or the instructor
    explicitly accepts less; say what is missing, why, and what to do. At the uid level
    (no private root) the folders in ``private`` (other students', the output folder)
    must be out of the sandbox uid's reach too (probed as that uid)."""
    global _exposure
    iso = sandbox.isolation()
    if iso.full:
        seen = sandbox.exposed(list(private)) if iso.permissions else []
        if not seen:
            return
        _exposure = (f"student code could read {seen[0]} (the uid level sees the "
                     f"machine's files): {sandbox.hiding_advice()}")
    if allow_weak:
        print(f"{weak_sandbox_warning()}\n(--allow-weak-sandbox: grading anyway; every "
              f"report says so)", file=sys.stderr)
        return
    if _exposure:
        print(f"python -m grader: error: refusing to grade: {_exposure}.\n"
              f"  in force: {iso.summary()}\n"
              f"  --allow-weak-sandbox grades anyway, with a warning in every report.",
              file=sys.stderr)
        raise SystemExit(2)
    print(f"python -m grader: error: refusing to grade: the sandbox here cannot keep "
          f"student code apart, so a grade could not be trusted.\n"
          f"  in force: {iso.summary()}\n"
          f"  what that allows: {iso.weakness()}\n"
          f"  what to do: {iso.advice()}\n"
          f"  `python -m grader doctor` shows every feature; --allow-weak-sandbox grades "
          f"anyway, with a warning in every report.", file=sys.stderr)
    raise SystemExit(2)


def _submissions(paths: list[str]) -> list[Path]:
    """The student folders, as given (a student's id is the folder's own name)."""
    out = []
    for p in paths:
        path = Path(p)
        if path.is_symlink():
            raise _usage_error(f"{p} is a symbolic link, not a student's folder: a link "
                               f"would be graded as the folder it points to (another "
                               f"student's?). Give the folder itself.")
        if not path.is_dir():
            raise _usage_error(f"{p} is not a folder (give one folder per student)")
        out.append(Path(os.path.abspath(path)))  # (normalized, links not followed)
    names = [p.name for p in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _usage_error(f"two submissions share the student id {dupes[0]!r} (the "
                           f"folder name is the student id)")
    return out


def _usage_error(message: str) -> SystemExit:
    print(f"python -m grader grade: error: {message}", file=sys.stderr)
    return SystemExit(2)


def _nbgrader_submissions(course: str, assignment: str) -> tuple[list[Path], list[str]]:
    """``COURSE/submitted/<student>/<assignment>/`` folders and their student ids."""
    root = Path(course)
    if not (root / "submitted").is_dir():
        raise _usage_error(f"{root / 'submitted'} is not a folder: give the nbgrader course "
                           f"folder (the one holding nbgrader_config.py), after `nbgrader "
                           f"collect {assignment}`")
    folders = sorted(p.resolve() for p in (root / "submitted").glob(f"*/{assignment}")
                     if p.is_dir())
    if not folders:
        raise _usage_error(f"no submissions of {assignment!r} under "
                           f"{root / 'submitted'}/<student>/{assignment}/")
    return folders, [p.parent.name for p in folders]


def _class_submissions(folder: str) -> list[Path]:
    """The student folders of a class folder (hidden folders left out)."""
    root = Path(folder)
    if not root.is_dir():
        raise _usage_error(f"{folder} is not a folder (give a folder of student folders)")
    found = sorted(p for p in root.iterdir()
                   if (p.is_dir() or p.is_symlink()) and not p.name.startswith("."))
    if not found:
        raise _usage_error(f"{folder} holds no student folders")
    return _submissions([str(p) for p in found])


def cmd_grade(args: argparse.Namespace) -> int:
    assignment = ASSIGNMENTS[args.assignment]
    sources = sum(bool(x) for x in (args.submissions, args.nbgrader, args.klass))
    if sources != 1:
        raise _usage_error("give SUBMISSION_DIRs, or --class CLASS_DIR, or --nbgrader "
                           "COURSE_DIR (one of them)")
    if args.nbgrader:
        folders, students = _nbgrader_submissions(args.nbgrader, args.assignment)
    elif args.klass:
        folders, students = _class_submissions(args.klass), None
    else:
        folders, students = _submissions(args.submissions), None
    require_sandbox(args.allow_weak_sandbox, _private_folders(folders, Path(args.out)))
    results = grade(assignment, folders, Path(args.out), args.jobs, args.quiet, students)
    print(report.table(assignment.name, results, weak_sandbox_warning()))
    print(f"\nwrote {Path(args.out) / 'grades.csv'} and one results.json per student")
    return 2 if any(r.kit_errors for r in results) else 0


def _private_folders(folders: list[Path], out: Path) -> list[Path]:
    """What a sandbox must not read of this grading: the output folder (made private
    here at the uid level, where the sandbox sees the machine's files), and the students'
    folders when there are several (one's own folder is no secret to oneself)."""
    if sandbox.isolation().permissions:
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
    return [out, *(folders if len(folders) > 1 else [])]


def cmd_example(args: argparse.Namespace) -> int:
    out = Path(args.out)
    broken = False
    require_sandbox(args.allow_weak_sandbox, _private_folders([], out))
    for name, assignment in ASSIGNMENTS.items():
        folder = EXAMPLES / name
        subs = sorted(p for p in folder.iterdir() if p.is_dir())
        results = grade(assignment, subs, out / name, args.jobs, args.quiet)
        print(report.table(name, results, weak_sandbox_warning()))
        print()
        broken |= any(r.kit_errors for r in results)
    print(f"reports written under {out}/<assignment>/")
    return 2 if broken else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    iso = sandbox.isolation(fresh=True)
    print(sandbox.doctor(iso))
    return 0 if iso.full else 1


def cmd_nbgrader_init(args: argparse.Namespace) -> int:
    from grader import nbcourse

    try:
        written = nbcourse.init_course(Path(args.course_dir), args.assignments,
                                       args.course_id, args.exchange, args.force)
    except FileExistsError as exc:
        raise SystemExit(f"error: {exc}") from None
    root = Path(args.course_dir).resolve()
    for path in written:
        print(f"wrote {path.relative_to(root)}")
    print(f"\nnext, in {root}:\n  nbgrader generate_assignment {args.assignments[0]}"
          f"\n  nbgrader release_assignment {args.assignments[0]}\n(see the README's "
          f"nbgrader walk-through for collect, autograde, feedback and export)")
    return 0


def cmd_export_gradescope(args: argparse.Namespace) -> int:
    from grader import export

    names = export.gradescope(args.assignment, Path(args.output), args.allow_weak_sandbox)
    print(f"wrote {args.output}: setup.sh, run_autograder and the kit ({len(names) - 2} "
          f"files, hidden suites included) for {args.assignment}; students submit "
          f"{ASSIGNMENTS[args.assignment].filename}")
    return 0


def cmd_export_classroom(args: argparse.Namespace) -> int:
    from grader import export

    path = Path(args.output) / ".github" / "workflows" / "classroom.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(export.classroom(args.assignment, args.kit_source))
    print(f"wrote {path}: students push {ASSIGNMENTS[args.assignment].filename}; set the "
          f"organisation secret KIT_PIP_SOURCE to where pip finds the kit (private)")
    return 0


def cmd_verdict(args: argparse.Namespace) -> int:
    try:
        test = report.find_test(json.loads(Path(args.results).read_text()), args.check)
    except (OSError, ValueError, AttributeError):
        test = None
    if test is None:
        print(f"no check {args.check!r} in {args.results}: the grading step failed "
              f"(see its log)")
        return 2
    print(report.test_line(test))
    if test["status"] != "passed":
        print(test["output"])
        return 1
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for name, a in ASSIGNMENTS.items():
        print(f"{name:16} {a.filename:11} {a.summary}")
    return 0


def _jobs(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of students (1 or more) "
                                         "or auto")
    return value


def _weak_sandbox_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-weak-sandbox", action="store_true",
        help="grade even where the full sandbox (own uid or user namespace, every "
             "namespace, a private root) cannot be had; without it the command refuses "
             "(exit 2) and says why. The score table, summary and every results.json then "
             "carry a warning naming what student code could do")


def _assignment_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", choices=sorted(ASSIGNMENTS), metavar="ASSIGNMENT",
                        help="one of: " + ", ".join(sorted(ASSIGNMENTS)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description=(
            "Grade submissions of the concurrency kit. Each submission is a folder named "
            "after the student that holds the assignment's module. Student code runs only in "
            "sandbox processes with time and resource limits; their whole process tree is "
            "killed after each check. Reports: OUT/<student>/results.json (Gradescope "
            "schema) and OUT/grades.csv."),
        epilog="assignments: " + ", ".join(
            f"{n} ({a.filename})" for n, a in ASSIGNMENTS.items()),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cores = os.cpu_count() or 1

    g = sub.add_parser(
        "grade", help="grade student folders for one assignment",
        description=(
            "Grade each SUBMISSION_DIR (one student's folder; its name is the student id) "
            "against ASSIGNMENT's hidden checks, --jobs at a time, with a progress bar on "
            "a terminal. Writes OUT/<student>/results.json (Gradescope schema), "
            "OUT/<student>/feedback.md and .html (every lost point explained), "
            "OUT/grades.csv and OUT/summary.md and .html (score histogram, most common "
            "mistakes), prints a score table. Exit status 0 when grading completed, "
            "whatever the scores; 2 for a usage error or if the kit itself failed on a "
            "submission."))
    _assignment_argument(g)
    g.add_argument("submissions", nargs="*", metavar="SUBMISSION_DIR")
    g.add_argument("--class", dest="klass", metavar="CLASS_DIR",
                   help="grade every student folder in CLASS_DIR (a folder of student "
                        "folders, each named after its student)")
    g.add_argument("--nbgrader", metavar="COURSE_DIR",
                   help="grade COURSE_DIR/submitted/<student>/ASSIGNMENT/ of an nbgrader "
                        "course instead (the student id is the <student> folder)")
    g.add_argument("--out", required=True, metavar="OUT_DIR", help="folder for the reports")
    g.add_argument("--jobs", type=_jobs, default="auto", metavar="N|auto",
                   help=f"students graded at once: N, or auto (the default): {cores} (the "
                        f"cores), more while CPUs idle (checks mostly wait: the grader's "
                        f"sleeps and barriers, deadlocked submissions), at most "
                        f"{Admission.MOST_PER_CORE * cores}")
    g.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    _weak_sandbox_argument(g)
    g.set_defaults(func=cmd_grade)

    e = sub.add_parser(
        "example", help="grade the bundled example class (all assignments)",
        description=("Grade examples/<assignment>/<student>/ for every assignment: correct "
                     "and typically wrong submissions, so you can see the reports."))
    e.add_argument("--out", default="example-grades", metavar="OUT_DIR",
                   help="folder for the reports (default: ./example-grades)")
    e.add_argument("--jobs", type=_jobs, default="auto", metavar="N|auto",
                   help="students graded at once (default: auto, as for grade)")
    e.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    _weak_sandbox_argument(e)
    e.set_defaults(func=cmd_example)

    d = sub.add_parser(
        "doctor", help="show which sandbox isolation this machine gives student code",
        description=("Probe this machine (by really starting sandboxes) and print which "
                     "isolation is in force for student code and what is missing. Exit "
                     "status 0 if everything is available, 1 otherwise."))
    d.set_defaults(func=cmd_doctor)

    nb = sub.add_parser(
        "nbgrader", help="set the kit up as an nbgrader course",
        description="Commands for running the kit through nbgrader (0.9).")
    nbsub = nb.add_subparsers(dest="nbgrader_command", required=True, metavar="COMMAND")
    init = nbsub.add_parser(
        "init", help="create an nbgrader course with the kit's assignments",
        description=(
            "Write COURSE_DIR/nbgrader_config.py and COURSE_DIR/source/<assignment>/ for "
            "each assignment: the student module with solution regions (generated from "
            "the kit's solutions), the public tests, and a notebook with the exercise and "
            "one locked grade cell per hidden check that runs the kit's sandboxed grader. "
            "Then, in COURSE_DIR: nbgrader generate_assignment, release_assignment, "
            "collect, autograde, generate_feedback, export (see the README)."))
    init.add_argument("course_dir", metavar="COURSE_DIR")
    init.add_argument("--assignments", nargs="+", choices=sorted(ASSIGNMENTS),
                      default=sorted(ASSIGNMENTS), metavar="ASSIGNMENT",
                      help="which assignments (default: all)")
    init.add_argument("--course-id", default="concurrency",
                      help="nbgrader course id (default: concurrency)")
    init.add_argument("--exchange", default="/srv/nbgrader/exchange",
                      help="nbgrader exchange root (default: /srv/nbgrader/exchange)")
    init.add_argument("--force", action="store_true",
                      help="write source/<assignment>/ again if it exists")
    init.set_defaults(func=cmd_nbgrader_init)

    ex = sub.add_parser(
        "export", help="package the grader for another platform (Gradescope, GitHub "
                       "Classroom)",
        description="Package an assignment's grader to run elsewhere.")
    exsub = ex.add_subparsers(dest="export_command", required=True, metavar="PLATFORM")
    gs = exsub.add_parser(
        "gradescope", help="a Gradescope autograder bundle (autograder.zip)",
        description=(
            "Write a Gradescope autograder zip for ASSIGNMENT: setup.sh (installs the kit "
            "it carries), run_autograder (grades /autograder/submission into "
            "/autograder/results/results.json; honours AUTOGRADER_ROOT and KIT_PYTHON) "
            "and the kit with its hidden suites under kit/. Upload it as the "
            "assignment's autograder; students submit their module file."))
    _assignment_argument(gs)
    gs.add_argument("-o", "--output", default="autograder.zip", metavar="ZIP",
                    help="where to write the bundle (default: ./autograder.zip)")
    gs.add_argument("--allow-weak-sandbox", action="store_true",
                    help="the bundle grades even where the autograder's container refuses "
                         "namespaces (Docker's default seccomp profile), with a warning in "
                         "every results.json; without it the student sees the grader's "
                         "refusal there (python -m grader doctor in the container says why)")
    gs.set_defaults(func=cmd_export_gradescope)
    gc = exsub.add_parser(
        "classroom", help="a GitHub Classroom autograding workflow",
        description=(
            "Write DIR/.github/workflows/classroom.yml for ASSIGNMENT's template "
            "repository: it installs the kit from KIT_SOURCE (default: the organisation "
            "secret KIT_PIP_SOURCE; keep the kit private, it holds the hidden suites), "
            "grades the module once in the full sandbox, and reports each hidden check "
            "with its points and explanation."))
    _assignment_argument(gc)
    gc.add_argument("-o", "--output", default=".", metavar="DIR",
                    help="the template repository's folder (default: .)")
    gc.add_argument("--kit-source", default="${{ secrets.KIT_PIP_SOURCE }}",
                    help="what pip installs the kit from")
    gc.set_defaults(func=cmd_export_classroom)

    v = sub.add_parser(
        "verdict", help="one check of a results.json (exit 0 if it passed)",
        description=("Print one check of a results.json written by `grade` (its name, "
                     "score and explanation); exit status 0 if it passed, 1 if not, 2 if "
                     "the file or the check is missing. Used by the GitHub Classroom "
                     "workflow's steps."))
    v.add_argument("results", metavar="RESULTS_JSON")
    v.add_argument("check", metavar="CHECK_ID")
    v.set_defaults(func=cmd_verdict)

    ls = sub.add_parser("list", help="list the assignments")
    ls.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # `... | head`: the reports are written, stdout went away
        sys.stderr.close()
        return 0
