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
import sys
from pathlib import Path

from grader import reports, sandbox, settings
from grader.assignments import ASSIGNMENTS
from grader.grading.admission import Admission
from grader.grading.engine import grade
from grader.grading.trust import require_sandbox, weak_sandbox_warning

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


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
    found = sorted(p for p in (root / "submitted").glob(f"*/{assignment}") if p.is_dir())
    if not found:
        raise _usage_error(f"no submissions of {assignment!r} under "
                           f"{root / 'submitted'}/<student>/{assignment}/")
    for path in found:
        link = next((p for p in (path.parent, path) if p.is_symlink()), None)
        if link is not None:
            raise _usage_error(f"{link} is a symbolic link, not a submission: it would be "
                               f"graded as the folder it points to (another student's?)")
    # The student id is the folder's own name (links refused above: no target's name).
    return [Path(os.path.abspath(p)) for p in found], [p.parent.name for p in found]


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
    try:
        settings.number("KIT_SANDBOXES")
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    if args.nbgrader:
        folders, students = _nbgrader_submissions(args.nbgrader, args.assignment)
    elif args.klass:
        folders, students = _class_submissions(args.klass), None
    else:
        folders, students = _submissions(args.submissions), None
    require_sandbox(args.allow_weak_sandbox, _private_folders(folders, Path(args.out)))
    results = grade(assignment, folders, Path(args.out), args.jobs, args.quiet, students)
    print(reports.table(assignment.name, results, weak_sandbox_warning()))
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
        print(reports.table(name, results, weak_sandbox_warning()))
        print()
        broken |= any(r.kit_errors for r in results)
    print(f"reports written under {out}/<assignment>/")
    return 2 if broken else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    iso = sandbox.isolation(fresh=True)
    print(sandbox.doctor(iso))
    print("\nsettings (environment; grader/settings.py lists every KIT_* variable):")
    print("\n".join(settings.describe()))
    return 0 if iso.full else 1


def cmd_nbgrader_init(args: argparse.Namespace) -> int:
    from grader.integrations import nbcourse

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
    from grader.integrations import export

    names = export.gradescope(args.assignment, Path(args.output), args.allow_weak_sandbox)
    print(f"wrote {args.output}: setup.sh, run_autograder and the kit ({len(names) - 2} "
          f"files, hidden suites included) for {args.assignment}; students submit "
          f"{ASSIGNMENTS[args.assignment].filename}")
    return 0


def cmd_export_classroom(args: argparse.Namespace) -> int:
    from grader.integrations import export

    path = Path(args.output) / ".github" / "workflows" / "classroom.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(export.classroom(args.assignment, args.kit_source))
    print(f"wrote {path}: students push {ASSIGNMENTS[args.assignment].filename}; set the "
          f"organisation secret KIT_PIP_SOURCE to where pip finds the kit (private)")
    return 0


def cmd_verdict(args: argparse.Namespace) -> int:
    try:
        test = reports.find_test(json.loads(Path(args.results).read_text()), args.check)
    except (OSError, ValueError, AttributeError):
        test = None
    if test is None:
        print(f"no check {args.check!r} in {args.results}: the grading step failed "
              f"(see its log)")
        return 2
    print(reports.test_line(test))
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
            f"{n} ({a.filename})" for n, a in ASSIGNMENTS.items())
        + ". Settings are KIT_* environment variables: `python -m grader doctor` prints "
          "them with their values (grader/settings.py lists every one).",
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
                     "isolation is in force for student code, what is missing and why, "
                     "and the KIT_* settings in force. Exit status 0 if everything is "
                     "available, 1 otherwise."))
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
            "repository: it installs the kit from --kit-source (default: the organisation "
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
