"""Benchmark: grading a whole class, against itself and against nbgrader.

Run: ``python tests/benchmarks/bench_class.py [--size 60] [--assignment A ...]
[--wrong 0.25] [--no-nbgrader]`` (not collected by pytest; about half an hour for all three
assignments with nbgrader, as root). Every number comes from this one run.

For each assignment a synthetic class of ``--size`` students is built: a quarter (``--wrong``)
are the kit's wrong submissions (``tests/corpus/<assignment>/``, in turn, hanging and
deadlocking ones included), the rest copies of the reference solution and of the correct
variants in ``tests/correct/<assignment>/``. The class is then graded

* by :func:`grader.grading.grade` (what ``python -m grader grade --class`` runs) with
  ``--jobs 1`` and with ``--jobs 2``;
* by ``nbgrader autograde`` through the kit's nbgrader course (``python -m grader nbgrader
  init``, ``nbgrader generate_assignment``, each student's module and the released
  notebook under ``submitted/<student>/<assignment>/``): one student after another, a
  kernel each, whose grade cells grade the module with the kit.

Printed per assignment:

* seconds per submission (wall time of the class / students), for each way;
* the speed-up of ``--jobs 2`` over ``--jobs 1`` (goal: at least 1.8 on 2 cores);
* the grader's overhead over the time the checks take by design: the class's wall time
  with ``--jobs 1`` divided by the sum, over its students, of the time during which the
  student's code ran under some check (:attr:`grader.reports.StudentResult.busy`: the union
  of the runs' spans, each from the import of the module to the end of the scenario, on
  the machine's clock; that is where the grader's injected sleeps, barriers and deadlines
  are spent). Goal: at most 1.5. With ``--jobs 2`` the same ratio is shown for
  ``jobs x wall``;
* ``nbgrader autograde``'s seconds per submission over the kit's with ``--jobs 2``
  (goal: at least 3);
* peak memory: the largest sum of the proportional set sizes (PSS) of every process of the
  grading (the grading process itself, pytest, the sandboxes and the students' processes),
  sampled every 0.5 s, divided by the jobs;
* whether the three gradings gave every student the same score.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from grader.assignments import ASSIGNMENTS  # noqa: E402
from grader.grading import admission, engine  # noqa: E402
from grader.sandbox.tree import descendants  # noqa: E402


def build_class(name: str, size: int, wrong: float, folder: Path) -> dict[str, Path]:
    """``size`` student folders under ``folder``: student id -> folder."""
    a = ASSIGNMENTS[name]
    right = [ROOT / "solutions" / name]
    correct = ROOT / "tests" / "correct" / name
    if correct.is_dir():
        right += sorted(p for p in correct.iterdir() if (p / a.filename).is_file())
    mutants = sorted(p for p in (ROOT / "tests" / "corpus" / name).iterdir()
                     if (p / a.filename).is_file())
    n_wrong = round(size * wrong)
    students = {}
    for i in range(size):
        # Spread the wrong ones over the class (the slow ones are not all at the end).
        is_wrong = n_wrong and (i * n_wrong) // size != ((i + 1) * n_wrong) // size
        source = (mutants[((i * n_wrong) // size) % len(mutants)] if is_wrong
                  else right[i % len(right)])
        student = f"s{i:03d}-{source.name}"
        dest = folder / student
        dest.mkdir(parents=True)
        shutil.copy(source / a.filename, dest / a.filename)
        students[student] = dest
    return students


class PeakMemory:
    """Samples the PSS of a process tree every ``interval`` seconds; ``peak`` in bytes."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root, self.interval = root, interval
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def _tree(self) -> list[int]:
        return [self.root, *descendants(self.root)]

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        return 0

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, sum(self._pss(p) for p in self._tree()))


def cpu_seconds() -> float:
    """CPU time the whole machine has spent busy so far (all cores)."""
    reading = admission.machine_cpu()
    assert reading is not None, "this benchmark reads /proc/stat"
    return reading[1]


def kit_grading(name: str, students: dict[str, Path], out: Path, jobs: int | str) -> dict:
    started, cpu = time.monotonic(), cpu_seconds()
    most = 0
    original = engine.grade_one

    def counted(*args, **kwargs):  # (how many students were graded at once, at most)
        nonlocal most
        with lock:
            counted.now += 1
            most = max(most, counted.now)
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                counted.now -= 1

    counted.now, lock = 0, threading.Lock()
    engine.grade_one = counted
    try:
        with PeakMemory(os.getpid()) as memory:
            results = engine.grade(ASSIGNMENTS[name], list(students.values()), out, jobs,
                                quiet=True, students=list(students))
    finally:
        engine.grade_one = original
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu
    assert not [r.student for r in results if r.kit_errors], "the kit failed on a student"
    return {"wall": wall, "busy": sum(r.busy for r in results), "cpu": cpu, "most": most,
            "scores": {r.student: r.score for r in results}, "peak": memory.peak}


def nbgrader_grading(name: str, students: dict[str, Path], folder: Path) -> dict:
    course = folder / "course"
    subprocess.run([sys.executable, "-m", "grader", "nbgrader", "init", str(course),
                    "--assignments", name], cwd=ROOT, check=True, capture_output=True)

    def nbgrader(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    nbgrader("generate_assignment", name)
    release = course / "release" / name
    for student, source in students.items():
        dest = course / "submitted" / student / name
        shutil.copytree(release, dest)
        shutil.copy(source / ASSIGNMENTS[name].filename, dest)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", name],
                            cwd=course, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    with PeakMemory(proc.pid) as memory:
        output, _ = proc.communicate()
    wall = time.monotonic() - started
    assert proc.returncode == 0, output[-3000:]
    nbgrader("export", "--to", str(folder / "grades.csv"))
    with open(folder / "grades.csv") as f:
        scores = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
    return {"wall": wall, "scores": scores, "peak": memory.peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=60, help="students per assignment")
    parser.add_argument("--assignment", action="append", choices=sorted(ASSIGNMENTS),
                        help="(repeatable) default: all three")
    parser.add_argument("--wrong", type=float, default=0.25,
                        help="share of wrong submissions (default: 0.25)")
    parser.add_argument("--no-nbgrader", action="store_true")
    args = parser.parse_args()
    names = args.assignment or sorted(ASSIGNMENTS)
    if not args.no_nbgrader:
        # nbgrader's kernels import the kit as installed, not from this checkout.
        probe = subprocess.run([sys.executable, "-c", "import grader, nbgrader; "
                                "print(grader.__file__)"], cwd=tempfile.gettempdir(),
                               capture_output=True, text=True)
        if probe.returncode or not probe.stdout.startswith(str(ROOT)):
            sys.exit(f"nbgrader's kernels would not grade with this kit ({probe.stdout.strip()}"
                     f"{probe.stderr.strip()[-200:]}): run pip install -e '{ROOT}[test]' first, "
                     "or pass --no-nbgrader")
    print(f"{args.size} students per assignment, {args.wrong:.0%} wrong; "
          f"{os.cpu_count()} cores; Python {sys.version.split()[0]}", flush=True)
    rows = []
    for name in names:
        folder = Path(tempfile.mkdtemp(prefix="kit-bench-class-"))
        try:
            students = build_class(name, args.size, args.wrong, folder / "class")
            one = kit_grading(name, students, folder / "out1", 1)
            print(f"{name}: --jobs 1 {one['wall']:.1f} s", flush=True)
            two = kit_grading(name, students, folder / "out2", 2)
            print(f"{name}: --jobs 2 {two['wall']:.1f} s", flush=True)
            auto = kit_grading(name, students, folder / "auto", "auto")
            print(f"{name}: --jobs auto {auto['wall']:.1f} s", flush=True)
            nb = None if args.no_nbgrader else nbgrader_grading(name, students, folder)
            if nb:
                print(f"{name}: nbgrader autograde {nb['wall']:.1f} s", flush=True)
            rows.append((name, len(students), one, two, auto, nb))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    mib = 1 << 20
    for name, n, one, two, auto, nb in rows:
        print(f"\n{name}: {n} students")
        print(f"  seconds per submission: --jobs 1 {one['wall'] / n:.2f}, --jobs 2 "
              f"{two['wall'] / n:.2f}, --jobs auto (the default) {auto['wall'] / n:.2f}"
              + (f", nbgrader autograde {nb['wall'] / n:.2f}" if nb else ""))
        print(f"  speed-up of --jobs 2 over --jobs 1: {one['wall'] / two['wall']:.2f} "
              f"(goal: >= 1.8)")
        print(f"  CPU per submission: {one['cpu'] / n:.2f} s with --jobs 1, "
              f"{two['cpu'] / n:.2f} s with --jobs 2; cores busy on average: "
              f"{one['cpu'] / one['wall']:.2f}, {two['cpu'] / two['wall']:.2f} and "
              f"{auto['cpu'] / auto['wall']:.2f} (auto) of "
              f"{os.cpu_count()} (the machine's, whatever runs on it)")
        print(f"  checks' designed time: {one['busy'] / n:.2f} s per submission; overhead "
              f"(wall / designed): --jobs 1 {one['wall'] / one['busy']:.2f} (goal: <= 1.5), "
              f"--jobs 2 {2 * two['wall'] / two['busy']:.2f}")
        if nb:
            print(f"  nbgrader autograde / kit, per submission: {nb['wall'] / two['wall']:.2f} "
                  f"with --jobs 2, {nb['wall'] / auto['wall']:.2f} with --jobs auto "
                  f"(goal: >= 3)")
        print(f"  peak memory: --jobs 1 {one['peak'] / mib:.0f} MiB, --jobs 2 "
              f"{two['peak'] / mib:.0f} MiB ({two['peak'] / 2 / mib:.0f} MiB per job), "
              f"--jobs auto {auto['peak'] / mib:.0f} MiB (up to {auto['most']} students "
              f"at once)"
              + (f", nbgrader autograde {nb['peak'] / mib:.0f} MiB" if nb else ""))
        same = one["scores"] == two["scores"] == auto["scores"]
        line = f"  same scores with --jobs 1, 2 and auto: {same}"
        if nb:
            differ = sorted(s for s in one["scores"] if nb["scores"].get(s) != one["scores"][s])
            line += "; nbgrader autograde: " + ("the same" if not differ else "differ: "
                                                + ", ".join(f"{s} {one['scores'][s]:g} vs "
                                                            f"{nb['scores'].get(s)}"
                                                            for s in differ))
        print(line)
    designed = [one["busy"] / n for _, n, one, _, _, _ in rows]
    if designed:
        print(f"\n(designed time per submission, median over assignments: "
              f"{statistics.median(designed):.2f} s)")


if __name__ == "__main__":
    main()
