"""Attacks: hostile submissions that try to earn what they did not do, or to harm the grader.

``tests/attacks/<assignment>/<attack>/`` is one hostile submission (the module, and any other
files the attack brings); its docstring says what it does and what it must earn. Most are
the reference solution plus the attack, so that the honest part earns its points and the
expectation names exactly the points the attack must not earn.

Each assignment's attacks are graded in ONE real ``python -m grader grade`` call (started
with ``ulimit -n 1024``, as a shell may start it), together with the reference solution
and the unchanged stub, graded after them (as in ``test_corpus.py``, the grading is
shared by that assignment's tests, which run in one xdist group). Per attack
(``test_attack_is_graded_right``): the exact set of lost checks, a piece of the explanation
where one is expected, the student's ``execution_time`` under :data:`BOUND`, and no forged
claim in the report. Per class (``test_attacks_harm_nobody``): the reference solution keeps
full marks and the stub earns nothing (one student's attack does not change another's
grade); no process of the grading survives it (every sandbox process carries the
``KIT_RUN_TOKEN`` set for the call); nothing changed outside the output folder (the
repository, ``/tmp``, ``/dev/shm`` and ``/var/tmp`` are compared before and after, see
:func:`changes`), and no ``results.json`` or ``grades.csv`` anywhere holds a forged claim.

Placeholders in the attack files, filled in when the class is assembled: ``@TOKEN@`` (unique
per run), ``@OUT@`` (the ``--out`` folder), ``@ROOT@`` (this repository).

The bombs (fork, memory, disk) run only where the sandbox has every limit (``python -m
grader doctor`` exits 0): without a private root, cgroups and an own uid they would hit the
machine running the tests instead.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import ASSIGNMENT_MODULES, ROOT, grade, lost, outputs, processes_with

ATTACKS = ROOT / "tests" / "attacks"
BOUND = 60.0  # seconds of grading per student, whatever the submission does
# Hanging in every check must cost about one check's limit (28 s + 5), not one per round.
TIGHT = {"hangs_everywhere": 45.0, "hangs_under_spawn": 45.0}
ALL = "every check"  # what the stub loses: a submission that must earn nothing
BOMBS = {"fork_bomb", "disk_fill", "memory_bomb"}
REPORT_NAMES = {"results.json", "grades.csv"}

# attack -> (the checks it must lose, {check: a piece of its explanation, or a tuple of
# pieces of which one must be there})
Says = dict[str, str | tuple[str, ...]]
EXPECTED: dict[str, dict[str, tuple[set[str] | str, Says]]] = {
    "thread_counter": {
        "atexit_exit_stub": (ALL, {"returns_sum": "NotImplementedError"}),
        "site_customize": (ALL, {"returns_sum": "NotImplementedError"}),
        "forge_reports": (ALL, {"returns_sum": "NotImplementedError"}),
        "forge_runner_result": (ALL, {}),
        "patch_the_runner": (ALL, {}),
        "steal_hidden_tests": (ALL, {"returns_sum": "NotImplementedError"}),
        "agreeable_sum": ({"returns_sum"}, {"returns_sum": "Agreeable"}),
        "agreeable_hides_race": ({"returns_sum", "num_matches", "race_free"},
                                 {"num_matches": "Total"}),
        "inline_thread": ({"overlap"}, {"overlap": "never"}),
        "patch_the_overlap_gate": ({"overlap"}, {"overlap": "could not confirm"}),
        "idle_threads": ({"overlap"}, {}),
        "leave_state": (set(), {}),
        "witness_flood": (ALL, {"returns_sum": "leave the grader's sockets alone"}),
        "disk_fill": (set(), {}),
        "hostile_feedback": (ALL, {"returns_sum": "raised RuntimeError"}),
        "odd_files": (set(), {}),
    },
    "process_fanout": {
        "atexit_exit": (set(), {}),
        "agreeable_list": ({"count", "strings"}, {"count": "Agreeable"}),
        "fake_pids": ({"in_children"}, {"in_children": "thread"}),
        "patch_the_barrier": ({"concurrent"}, {"concurrent": "never ran at the same time"}),
        "respawn_at_import": ({"portable"}, {"portable": "importing fanout.py"}),
        "unpicklable_target": ({"portable"}, {"portable": "pickl"}),
        "deep_records": (ALL, {"count": "more data for the grader than it reads"}),
        "replay_barrier": ({"concurrent"}, {"concurrent": "never ran at the same time"}),
        "helper_connections": ({"in_children"}, {"in_children": "thread"}),
    },
    "pool_variants": {
        "agreeable_results": ({"map", "map_async", "apply_async", "square_cube"},
                              {"map": "AgreeableList", "map_async": "Agreeable"}),
        # A worker gone: Pool.map waits for its task for ever; seen stuck, told at once.
        "dying_worker": ({"map"}, {"map": "never returned: after"}),
        # Killed for its memory (say so), or still allocating at the deadline.
        "memory_bomb": ({"square_cube"}, {"square_cube": ("memory", "did not return within")}),
        "fork_bomb": ({"square_cube"}, {"square_cube": "processes at once"}),
        "hangs_everywhere": ({"apply", "map", "apply_async", "map_async", "imap_unordered",
                              "in_workers", "processes", "apply_blocks", "parallel",
                              "cleanup", "portable"}, {"map": "(a deadlock)"}),
        "hangs_under_spawn": ({"portable"}, {"portable": "[spawn]"}),
    },
}


@functools.lru_cache(maxsize=1)
def fully_confined() -> bool:
    """Whether ``python -m grader doctor`` finds every isolation feature in force."""
    done = subprocess.run([sys.executable, "-m", "grader", "doctor"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode == 0


@pytest.mark.timeout(60)
@pytest.mark.fast
def test_every_attack_folder_has_an_expectation():
    for assignment, module in ASSIGNMENT_MODULES.items():
        folders = {p.name for p in (ATTACKS / assignment).iterdir() if p.is_dir()}
        assert folders == set(EXPECTED[assignment]), assignment
        for name in folders:
            assert (ATTACKS / assignment / name / f"{module}.py").is_file(), (assignment, name)


# --- assembling the class ------------------------------------------------------------------

def make_files(folder: Path, spec: Path) -> None:
    """The files an attack's ``files.json`` asks for, which a repository should not hold:
    ``sparse`` (name -> size: files of that size that take no disk), ``hex_names`` (the
    bytes of a file name, in hex -> text: names that are not UTF-8) and ``links``
    (name -> target)."""
    if not spec.is_file():
        return
    wanted = json.loads(spec.read_text())
    for name, size in wanted.get("sparse", {}).items():
        with open(folder / name, "wb") as f:
            f.truncate(size)
    for hexname, text in wanted.get("hex_names", {}).items():
        with open(os.path.join(os.fsencode(folder), bytes.fromhex(hexname)), "w") as f:
            f.write(text)
    for name, target in wanted.get("links", {}).items():
        os.symlink(target, folder / name)


def assemble(assignment: str, names: list[str], class_dir: Path,
             fill: dict[str, str]) -> list[Path]:
    """Copy each attack folder to ``class_dir/<attack>`` with the placeholders filled in,
    plus the reference solution (``reference``) and the unchanged stub (``stub``)."""
    folders = []
    for name in names:
        folder = class_dir / name
        folder.mkdir(parents=True)
        for src in sorted((ATTACKS / assignment / name).iterdir()):
            if src.is_file() and src.suffix == ".py":
                text = src.read_text()
                for key, value in fill.items():
                    text = text.replace(key, value)
                (folder / src.name).write_text(text)
        make_files(folder, ATTACKS / assignment / name / "files.json")
        folders.append(folder)
    module = ASSIGNMENT_MODULES[assignment] + ".py"
    for name, source in (("reference", ROOT / "solutions" / assignment / module),
                         ("stub", ROOT / "assignments" / assignment / module)):
        (class_dir / name).mkdir()
        shutil.copyfile(source, class_dir / name / module)
        folders.append(class_dir / name)
    return folders


# --- what changed outside the output folder -------------------------------------------------

SKIP_DIRS = {"__pycache__", ".git", ".ruff_cache", ".pytest_cache", ".benchmarks"}
# Source files people edit while the suite runs (another checkout's engineer, an editor's
# autosave) are not the grader's doing; reports and anything else are.
SOURCE_SUFFIXES = {".py", ".md", ".toml", ".ini", ".txt", ".cfg", ".json"}
# Semaphores and shared memory that multiprocessing on the host (other tests) creates.
SHM_PREFIXES = ("sem.", "psm_", "wnsm_", "mp-", "pym-")
# Where the kit's tests grade in /tmp (pytest's folders; test_setups' folders that another
# user can reach): reports there are other tests' gradings.
TEST_FOLDERS = ("/tmp/pytest-of-", "/tmp/kit-setup-")


def listing(top: Path, skip: set[Path]) -> dict[str, int]:
    """path -> size of every file under ``top`` (``skip``'d folders and caches left out)."""
    files: dict[str, int] = {}
    for folder, dirs, names in os.walk(top):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
                   and Path(folder, d) not in skip]
        for name in names:
            path = os.path.join(folder, name)
            try:
                files[path] = os.lstat(path).st_size
            except OSError:
                continue
    return files


def snapshot(skip: set[Path], kit: Path = ROOT) -> dict[str, dict[str, int]]:
    return {str(top): listing(top, skip) for top in (kit, Path("/tmp"), Path("/dev/shm"),
                                                     Path("/var/tmp")) if top.is_dir()}


def changes(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
            claim: str, kit: Path = ROOT) -> list[str]:
    """What appeared, vanished or changed size and is not explained by concurrent work.

    The repository is compared strictly (but for edited source files). ``/tmp`` is shared
    with the tests running in parallel: there only new or changed files count that hold the
    claim or are reports outside pytest's own temporary folders. ``/dev/shm`` and
    ``/var/tmp`` are compared strictly, but for multiprocessing's transient files. Outside
    the repository, reports forged with another grading's claim (written, or swept, by a
    grading at the uid level running at the same time) are that grading's.
    """
    found = []
    for top, old in before.items():
        new = after.get(top, {})
        for path in sorted(set(old) | set(new)):
            if old.get(path) == new.get(path):
                continue
            name = os.path.basename(path)
            how = ("new" if path not in old else "removed" if path not in new
                   else f"size {old[path]} -> {new[path]}")
            ours = top != str(kit) and holds(Path(path), claim)
            if top == str(kit):
                if Path(path).suffix in SOURCE_SUFFIXES and name not in REPORT_NAMES:
                    continue
            elif (not ours and holds(Path(path), "forged-")) or \
                    (path not in new and name in REPORT_NAMES) or \
                    (top != str(kit) and _other_token(path, claim)) or \
                    (top != str(kit) and path in new and not os.path.lexists(path)):
                # Another grading's forged report or attack's files (the uid level's
                # sandboxes write the host's /tmp and /dev/shm until init sweeps them),
                # there or swept since: a file that came after this grading began and is
                # gone again now that it is over was another's (this grading's processes
                # have all ended: the survivors are checked apart).
                continue
            elif top == "/tmp":
                if path not in new:
                    continue
                report = name in REPORT_NAMES and not path.startswith(TEST_FOLDERS)
                if not (report or ours):
                    continue
            elif name.startswith(SHM_PREFIXES):
                continue
            found.append(f"{path} ({how})")
    return found


TOKEN = re.compile(r"[0-9a-f]{32}")


def _other_token(path: str, claim: str) -> bool:
    """Whether ``path`` is named by another grading's token (attacks name the files they
    leave by their grading's: see tests/attacks/thread_counter/leave_state)."""
    return any(t != claim.removeprefix("forged-") for t in TOKEN.findall(path))


def holds(path: Path, text: str) -> bool:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 4 << 20:
            return False
        return text.encode() in path.read_bytes()
    except OSError:
        return False


def forged_reports(claim: str) -> list[str]:
    """Every ``results.json``/``grades.csv`` that holds ``claim``, wherever the grading or a
    sandbox escape could have put it."""
    found = []
    for top in (ROOT, Path("/tmp"), Path("/work"), Path("/root"), Path("/run"),
                Path("/dev/shm"), Path("/var/tmp")):
        for folder, dirs, names in os.walk(top):
            dirs[:] = [d for d in dirs if d not in (".git", "__pycache__")]
            for name in REPORT_NAMES.intersection(names):
                if holds(Path(folder, name), claim):
                    found.append(os.path.join(folder, name))
    return found


# --- the attacks ---------------------------------------------------------------------------

def live_outside_the_sandbox(folder: Path, module: str) -> str:
    """Import the attack module in a plain interpreter (``site`` on, the folder on the path):
    proof that the attack works where nothing stops it. Returns what it printed."""
    code = (f"import {module}; print({module}.run_workers(10), "
            f"getattr({module}, 'rigged_by', None) or getattr({module}, 'FOUND', [])[:1])")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KIT_"))}
    env["PYTHONPATH"] = str(folder)
    done = subprocess.run([sys.executable, "-c", code], cwd=folder.parent.parent,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@dataclass
class Graded:
    """One assignment's class, graded once, and what the grading left behind."""

    results: dict[str, dict]
    folders: int
    elapsed: float
    claim: str
    out: Path
    survivors: list[int]
    changed: list[str]
    forged: list[str]


_graded: dict[str, Graded | str] = {}


def grade_class(assignment: str, base: Path, launch: tuple[str, ...] = (sys.executable,),
                kit: Path = ROOT, env: dict[str, str] | None = None,
                bombs: bool | None = None) -> Graded:
    """Grade the assignment's attacks with the reference and the stub in ``base``, with
    the grader started as ``launch`` (an interpreter, and what runs it: another user, a
    filter) from the kit at ``kit``, in ``env`` (default: this process's)."""
    token = uuid.uuid4().hex
    claim = "forged-" + token
    out = base / "out"
    bombs = fully_confined() if bombs is None else bombs
    names = sorted(n for n in EXPECTED[assignment] if n not in BOMBS or bombs)
    folders = assemble(assignment, names, base / "class",
                       {"@TOKEN@": token, "@OUT@": str(out), "@ROOT@": str(kit)})
    before = snapshot(skip={base}, kit=kit)
    started = time.monotonic()
    # Every sandbox process carries the token: what survives the grading can be found.
    env = {**(os.environ if env is None else env), "KIT_RUN_TOKEN": token}
    # As an instructor's shell may start it (``ulimit -n 1024``): the attacks that hold
    # descriptors in init must not cost the honest students graded after them.
    results = grade(assignment, folders, out, launch=launch, cwd=kit, env=env, nofile=1024)
    elapsed = time.monotonic() - started
    survivors = processes_with(token)
    after = snapshot(skip={base}, kit=kit)
    return Graded(results, len(folders), elapsed, claim, out, survivors,
                  changes(before, after, claim, kit), forged_reports(claim))


@pytest.fixture
def graded(tmp_path_factory):
    def get(assignment: str) -> Graded:
        if assignment not in _graded:
            try:
                _graded[assignment] = grade_class(
                    assignment, tmp_path_factory.mktemp(f"attacks-{assignment}"))
            except Exception as exc:  # one failed grading, not one per attack
                _graded[assignment] = f"grading {assignment} failed: {exc!r}"[:5000]
        done = _graded[assignment]
        if isinstance(done, str):
            pytest.fail(done)
        return done
    return get


# Known limit (docs/design.md, "What the sandbox does not stop"): the grader's instrumentation runs
# in the student's process, so code that rewrites it there (or writes the runner's result
# file and leaves) fakes what it observes. Only the pids of probe calls are observed from
# outside (the init's SO_PEERCRED witness). Strict: these turn into failures once fixed.
FORGES_IN_PROCESS = pytest.mark.xfail(
    strict=True, reason="in-process instrumentation can be rewritten by the student's code")
KNOWN_LIMITS = {("thread_counter", "forge_runner_result"), ("thread_counter", "patch_the_runner"),
                ("thread_counter", "idle_threads")}
CASES = [pytest.param(a, n, id=f"{a}/{n}",  # (one worker per assignment: conftest.py)
                      marks=[FORGES_IN_PROCESS] if (a, n) in KNOWN_LIMITS else [])
         for a in EXPECTED for n in EXPECTED[a]]
CLASSES = list(EXPECTED)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("assignment", "attack"), CASES)
def test_attack_is_graded_right(graded, assignment, attack):
    if attack in BOMBS and not fully_confined():
        pytest.skip("the sandbox lacks limits (see `python -m grader doctor`): no bombs")
    check_attack(graded(assignment), assignment, attack)


def check_attack(g: Graded, assignment: str, attack: str,
                 expected: tuple[set[str] | str, Says] | None = None) -> None:
    """The attack lost exactly the checks it must (``expected``, default :data:`EXPECTED`),
    was told why, in bounded time, and its claim is nowhere in its report."""
    result = g.results[attack]
    want, says = expected or EXPECTED[assignment][attack]
    if want == ALL:
        want = set(outputs(g.results["reference"]))
    texts = outputs(result)
    shown = {check: text[:400] for check, text in texts.items() if text}
    assert lost(result) == want, shown
    for check, phrases in says.items():
        phrases = (phrases,) if isinstance(phrases, str) else phrases
        assert any(p in texts[check] for p in phrases), (check, phrases, texts[check])
    assert result["execution_time"] < TIGHT.get(attack, BOUND), result["execution_time"]
    assert g.claim not in json.dumps(result)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("assignment", CLASSES)
def test_attacks_harm_nobody(graded, assignment):
    """The classmates keep their grades, nothing of the grading survives it, and nothing
    outside the output folder changed."""
    check_harmless(graded(assignment))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("assignment", ["thread_counter"])
def test_student_text_reaches_the_reports_only_as_text(graded, assignment):
    """hostile_feedback's exception text closes fences, fakes a Score heading, carries
    HTML, a link and terminal escapes: in feedback.md it stays inside fences, no heading
    but the grader's, in feedback.html it is escaped, and no report holds an escape or a
    control character."""
    import re

    from test_report_text import CONTROL, _fences

    folder = graded(assignment).out / "hostile_feedback"
    md = (folder / "feedback.md").read_text(encoding="utf-8")
    outside, blocks = _fences(md)
    assert any("# Score: 10/10" in line for block in blocks for line in block)
    headings = [line for line in outside if line.lstrip().startswith("#")]
    assert all(not re.search(r"Score: 10/10|script|evil", h) for h in headings), headings
    assert not [line for line in outside if "<script" in line or "evil" in line]
    page = (folder / "feedback.html").read_text(encoding="utf-8")
    body = page.split("</style>", 1)[1]
    assert "<script" not in body and "<img" not in body and "&lt;script&gt;" in body
    for name in ("feedback.md", "feedback.html"):
        text = (folder / name).read_text(encoding="utf-8")
        assert not CONTROL.search(text.replace("\n", "")), name
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    for test in results["tests"]:  # (JSON would escape them: look at the decoded text)
        assert not CONTROL.search(test["output"].replace("\n", "")), test["name"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("assignment", ["thread_counter"])
def test_a_hostile_folder_costs_its_honest_student_nothing(graded, assignment):
    """odd_files: full marks, and the note names what was left out and why; the 512 MiB
    file was not copied anywhere (only the assignment's Python files are)."""
    result = graded(assignment).results["odd_files"]
    assert result["score"] == result["max_score"], outputs(result)
    assert "generated.py (2,097,152 bytes) was left out" in result["output"]
    assert "passwd.py is not a regular file (a link?): it was left out" in result["output"]
    assert "video.mp4" not in result["output"]


def check_harmless(g: Graded) -> None:
    reference, stub = g.results["reference"], g.results["stub"]
    assert reference["score"] == reference["max_score"], {
        check: text for check, text in outputs(reference).items() if text}
    assert stub["score"] == 0 and lost(stub) == set(outputs(reference)), outputs(stub)
    assert g.elapsed < BOUND * g.folders
    assert g.survivors == []
    assert g.changed == []
    assert g.forged == []
    assert g.claim not in (g.out / "grades.csv").read_text()


@pytest.mark.timeout(120)
def test_rigging_attacks_are_live(tmp_path):
    """The customize and stealing attacks are not duds: outside the sandbox, with ``site``
    on and the kit's files reachable, they do turn the stub into a working module."""
    class_dir = tmp_path / "class"
    folders = assemble("thread_counter", ["site_customize", "steal_hidden_tests"], class_dir,
                       {"@TOKEN@": "x", "@OUT@": str(tmp_path / "out"), "@ROOT@": str(ROOT)})
    rigged = live_outside_the_sandbox(folders[0], "counter")
    assert rigged.split()[0] == "45", rigged
    assert "customize" in rigged
    stolen = live_outside_the_sandbox(folders[1], "counter")
    assert stolen.split()[0] == "45", stolen
    assert "solutions/thread_counter/counter.py" in stolen


@pytest.mark.fast
@pytest.mark.timeout(30)
def test_another_gradings_leftovers_are_not_this_ones():
    """A grading at the uid level writes the machine's /dev/shm until init sweeps it; a
    test grading beside it may see those files appear. Files named by another grading's
    token are that grading's, and so are files that appeared and are gone again once this
    grading is over (swept by the other's init); ours, or unnamed ones still there,
    count."""
    import shutil

    ours, other = uuid.uuid4().hex, uuid.uuid4().hex
    claim = "forged-" + ours
    unnamed = f"ro-left-{uuid.uuid4().int % 10**9}"
    made = [Path(f"/dev/shm/ro-left-{ours}-8"), Path(f"/dev/shm/{unnamed}")]
    try:
        for folder in made:
            folder.mkdir()
            (folder / "hard-link").write_text("x")
        after = {"/dev/shm": {f"/dev/shm/ro-left-{other}-7/hard-link": 5,
                              f"/dev/shm/ro-left-{ours}-8/hard-link": 5,
                              f"/dev/shm/{unnamed}/hard-link": 5,
                              f"/dev/shm/gone-{uuid.uuid4().hex[:8]}/results.json": 5}}
        found = changes({"/dev/shm": {}}, after, claim)
    finally:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
    assert sorted(found) == sorted([f"/dev/shm/{unnamed}/hard-link (new)",
                                    f"/dev/shm/ro-left-{ours}-8/hard-link (new)"]), found
