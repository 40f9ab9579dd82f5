"""The kit as an nbgrader course: ``python -m grader nbgrader init COURSE_DIR``.

Out of the box, nbgrader 0.9 mishandles a course whose students write ``.py`` modules:
``generate_assignment`` copies ``.py`` files verbatim (solution markers are stripped in
notebooks only), ``autograde`` overwrites every submitted non-notebook file with the
instructor's copy unless it is listed in ``Autograde.exclude_overwriting``, a grade cell
that writes anything to stderr scores 0, the tests run in the autograding kernel with no
sandbox, and feedback shows hidden tests. What :func:`init_course` builds instead:

* ``source/<assignment>/``: the student module with ``### BEGIN SOLUTION`` /
  ``### END SOLUTION`` regions, generated from ``solutions/`` and the stub in
  ``assignments/`` (one source of truth: each region holds the solution's lines, followed
  by a ``### BEGIN STUB`` / ``### END STUB`` region with the stub's lines commented out),
  the public tests, and a notebook: the exercise text and one locked grade cell per
  hidden check, worth that check's points, whose body asks the kit's sandboxed grader
  (:mod:`grader.integrations.nbcells`) about the student's module. The hidden suites
  stay in the installed kit and are never part of ``source/``;
* ``nbgrader_config.py``: the student module excluded from overwriting, a release hook
  (:func:`release_hook`) that strips solution regions from ``.py`` files (and deletes a
  file it cannot strip: fail closed), a preprocessor (:class:`KitPrepare`) that, before
  the notebook runs, drops every cell the student added and every file that is not part
  of the assignment (a student's ``ipykernel_launcher.py`` next to the notebook would
  otherwise start the kernel), grade cells restored when deleted, execution time limits
  above the kit's own, and feedback without hidden tests.
"""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

from grader.assignments import ASSIGNMENTS, Assignment, checks_of

ROOT = Path(__file__).resolve().parent.parent.parent
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_STUB, END_STUB = "### BEGIN STUB", "### END STUB"
# Above the kit's own bound for a student (grader.cli.STUDENT_TIMEOUT, plus its kill
# margin): the first grade cell runs the whole hidden suite.
CELL_TIMEOUT = 720


# --- the student module with solution regions ----------------------------------------

def _indent(lines: list[str]) -> str:
    widths = [len(x) - len(x.lstrip()) for x in lines if x.strip()]
    if not widths:
        return ""
    shortest = min(widths)
    return next(x for x in lines if x.strip() and len(x) - len(x.lstrip()) == shortest)[
        :shortest]


def source_module(stub: str, solution: str) -> str:
    """The instructor's module: the solution, where every part that differs from the stub
    is a solution region followed by the stub's lines, commented out, in a stub region."""
    a, b = stub.splitlines(keepends=True), solution.splitlines(keepends=True)
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out += a[i1:i2]
            continue
        theirs, ours = a[i1:i2], b[j1:j2]
        pad = _indent(theirs + ours)
        if ours:
            out += [f"{pad}{BEGIN_SOLUTION}\n", *ours, f"{pad}{END_SOLUTION}\n"]
        if theirs:
            out.append(f"{pad}{BEGIN_STUB}\n")
            for line in theirs:
                body = line.rstrip("\n")
                out.append(f"{pad}#{(' ' + body[len(pad):]) if body.strip() else ''}\n")
            out.append(f"{pad}{END_STUB}\n")
    return "".join(out)


class RegionError(ValueError):
    """Markers that do not pair up."""


def _regions(text: str, keep: str) -> str:
    """``keep="stub"``: what students get; ``keep="solution"``: the solution module."""
    out, mode = [], None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        marker = line.strip()
        if marker in (BEGIN_SOLUTION, BEGIN_STUB):
            if mode is not None:
                raise RegionError(f"line {number}: {marker} inside another region")
            mode = "solution" if marker == BEGIN_SOLUTION else "stub"
            pad = line[:len(line) - len(line.lstrip())]
            continue
        if marker in (END_SOLUTION, END_STUB):
            if mode != ("solution" if marker == END_SOLUTION else "stub"):
                raise RegionError(f"line {number}: {marker} without its BEGIN")
            mode = None
            continue
        if mode is None:
            out.append(line)
        elif mode == keep == "solution":
            out.append(line)
        elif mode == keep == "stub":
            body = line.rstrip("\n")
            rest = body[len(pad):]
            if not body.startswith(pad) or not rest.startswith("#"):
                raise RegionError(f"line {number}: a stub line must be a comment")
            out.append(pad + rest[2:] + "\n" if rest.startswith("# ") else "\n")
    if mode is not None:
        raise RegionError("a region is not closed")
    return "".join(out)


def strip_solutions(text: str) -> str:
    """The released module: solution regions removed, stub regions uncommented."""
    return _regions(text, "stub")


def solution_of(text: str) -> str:
    """The module the instructor's source runs as: stub regions removed."""
    return _regions(text, "solution")


def release_hook(root: str):
    """nbgrader's ``GenerateAssignment.post_convert_hook``: strip the solution regions of
    every ``.py`` file released for the assignment. nbgrader only logs a hook's failure,
    so a file that cannot be stripped is deleted from the release instead (fail closed)."""

    def hook(assignment: str, student: str, notebooks: list[str]) -> None:
        import logging

        log = logging.getLogger("concurrency-kit")
        release = Path(root) / "release" / assignment
        for path in sorted(release.rglob("*.py")):
            try:
                text = strip_solutions(path.read_text())
                if BEGIN_SOLUTION.lstrip("# ") in text:
                    raise RegionError("a solution marker is left")
                path.write_text(text)
            except (OSError, UnicodeDecodeError, RegionError) as exc:
                log.error("removed %s from the release: its solution regions could not "
                          "be stripped (%s)", path, exc)
                path.unlink()

    return hook


# --- the notebook ------------------------------------------------------------------------

def _cell(kind: str, cell_id: str, source: str, points: float | None = None) -> dict:
    meta = {"grade": points is not None, "grade_id": cell_id, "locked": True,
            "schema_version": 3, "solution": False, "task": False}
    if points is not None:
        meta["points"] = points
    cell = {"cell_type": kind, "id": cell_id.replace("_", "-"),
            "metadata": {"deletable": False, "editable": False, "nbgrader": meta},
            "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook(assignment: Assignment) -> dict:
    """The assignment's notebook: the exercise, then one grade cell per hidden check."""
    readme = (ROOT / "assignments" / assignment.name / "README.md").read_text()
    checks = checks_of(assignment)
    total = sum(c["points"] for c in checks)
    intro = (
        f"# {assignment.name}: your work is in `{assignment.filename}`\n\n"
        f"Write your solution in **`{assignment.filename}`** (next to this notebook), not "
        f"in this notebook. Run the public tests in a terminal in this folder with "
        f"`pytest`. When you submit, your instructor's grader runs the hidden checks "
        f"below on your module ({len(checks)} checks, {total:g} points), each in a "
        f"sandbox, and the feedback explains every point you lost.\n\n"
        f"The cells of this notebook are locked: cells you add are removed before "
        f"grading, and the graded cells are restored from the instructor's copy.")
    cells = [_cell("markdown", "kit_intro", intro),
             _cell("markdown", "kit_exercise", readme)]
    for c in checks:
        # Under `nbgrader validate` (the student's own run, where the kit and its hidden
        # suites need not be installed) the cell only says when the check runs.
        source = (f"# Hidden check {c['id']!r} ({c['points']:g} points): {c['name']}.\n"
                  f"# Run by the course's grader on your {assignment.filename} when you "
                  f"submit; `pytest` runs the public tests.\n"
                  f"import os\n"
                  f"if os.environ.get(\"NBGRADER_EXECUTION\") != \"validate\":\n"
                  f"    from grader.integrations.nbcells import check\n"
                  f"    check({assignment.name!r}, {c['id']!r})")
        cells.append(_cell("code", f"kit_{c['id']}", source, c["points"]))
    return {"cells": cells, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


# --- the course ---------------------------------------------------------------------------

CONFIG = '''\
# nbgrader configuration written by `python -m grader nbgrader init` (concurrency kit).
# Students write {modules}; each notebook's grade cells run the kit's sandboxed
# grader on that module (grader/integrations/nbcourse.py in the kit says why each line
# is here).
import os
import sys

try:
    import grader  # noqa: F401
except ImportError:  # the kit where it was when this file was written
    sys.path.append({kit!r})
from grader.integrations.nbcourse import CELL_TIMEOUT, release_hook

HERE = os.path.dirname(os.path.abspath(__file__))
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = HERE
c.Exchange.root = {exchange!r}
# What a student may hand in: the notebooks and the assignment's own files.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            ".pytest_cache"]

# Release: strip the solution regions from the .py files too (nbgrader does notebooks).
c.GenerateAssignment.post_convert_hook = release_hook(HERE)

# Autograde: keep the student's module (nbgrader would overwrite it with the solution),
# run the notebook exactly as released (KitPrepare: no student cells, no stray files),
# restore deleted grade cells, and give the kit's grader time to finish.
c.Autograde.exclude_overwriting = {exclude!r}
c.Autograde.autograde_preprocessors = [
    "grader.integrations.nbcourse.KitPrepare",
    "nbgrader.preprocessors.Execute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.KitPrepare.source_root = os.path.join(HERE, "source")
c.OverwriteCells.add_missing_cells = True
c.Execute.kernel_name = "python3"
c.Execute.timeout = CELL_TIMEOUT
c.Execute.raise_on_iopub_timeout = False

# Feedback: never show hidden tests (the kit's cells hold none, but an added one might).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
'''


def init_course(course_dir: Path, names: list[str], course_id: str, exchange: str,
                force: bool = False) -> list[Path]:
    """Write ``nbgrader_config.py`` and ``source/<assignment>/`` for each assignment;
    returns the files written."""
    course_dir = Path(course_dir).resolve()
    written = []
    targets = [course_dir / "source" / n for n in names]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]} exists (use --force to write it again)")
    course_dir.mkdir(parents=True, exist_ok=True)
    for name, target in zip(names, targets):
        assignment = ASSIGNMENTS[name]
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        stub = (ROOT / "assignments" / name / assignment.filename).read_text()
        solution = (ROOT / "solutions" / name / assignment.filename).read_text()
        module = source_module(stub, solution)
        assert strip_solutions(module) == stub and solution_of(module) == solution
        files = {assignment.filename: module,
                 f"{name}.ipynb": json.dumps(notebook(assignment), indent=1) + "\n"}
        for extra in ("test_public.py", "pytest.ini"):
            files[extra] = (ROOT / "assignments" / name / extra).read_text()
        for filename, text in files.items():
            (target / filename).write_text(text)
            written.append(target / filename)
    config = course_dir / "nbgrader_config.py"
    config.write_text(CONFIG.format(
        modules=", ".join(ASSIGNMENTS[n].filename for n in names), course_id=course_id,
        kit=str(ROOT),
        exchange=exchange, exclude={n: [ASSIGNMENTS[n].filename] for n in names}))
    written.append(config)
    return written


# --- autograding: run the notebook as released ------------------------------------------

def _prepare(nb, resources, source_root: str = ""):
    """Drop the cells the student added and the files that are not the assignment's."""
    from nbgrader.api import Gradebook

    info = resources["nbgrader"]
    with Gradebook(info["db_url"]) as gb:
        known = {cell.name for cell in
                 gb.find_notebook(info["notebook"], info["assignment"]).source_cells}
    nb.cells = [cell for cell in nb.cells
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in known]
    folder = Path(resources["metadata"]["path"])
    # (autograded/<student>/<assignment> next to source/<assignment> by default)
    root = Path(source_root) if source_root else folder.parents[2] / "source"
    source = root / info["assignment"]
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is missing: set KitPrepare.source_root")
    allowed = {p.name for p in source.iterdir()}
    for path in folder.iterdir():
        if path.name not in allowed and path.suffix != ".ipynb":
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    return nb, resources


def __getattr__(name: str):
    # Built on first use: importing this module (for the release hook) must not need
    # nbgrader's preprocessor stack.
    if name == "KitPrepare":
        from nbgrader.preprocessors import NbGraderPreprocessor
        from traitlets import Unicode

        class KitPrepare(NbGraderPreprocessor):
            """Autograde, before the notebook runs: keep only the cells nbgrader knows
            from the instructor's notebook (a student's added cell would run in the
            grading kernel) and only the files of the assignment's source folder plus
            notebooks (the kernel starts in that folder, and a student's
            ``ipykernel_launcher.py`` there would be the kernel)."""

            source_root = Unicode("", help="the course's source folder").tag(config=True)

            def preprocess(self, nb, resources):
                return _prepare(nb, resources, self.source_root)

        globals()["KitPrepare"] = KitPrepare
        return KitPrepare
    raise AttributeError(name)
