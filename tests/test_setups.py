"""The attack corpus in the setups instructors really grade in, each made by the test.

``tests/test_attacks.py`` grades the corpus as root with this interpreter. Here the same
classes are graded

* ``root_venv_0700``: as root, from a venv over this interpreter's base (pyenv's lives in
  /root, mode 0700), made in a folder of mode 0700, so the sandbox's uid can traverse
  neither: the private root must give it exactly the interpreter, read-only;
* ``nobody_venv``: as uid ``nobody`` (``setpriv``), from a venv over the system Python with
  pytest installed by pip, the kit copied where ``nobody`` can read it: the rootless
  sandbox (a user namespace with every other namespace and a private root);

* ``docker_like``: as root where namespaces are refused (``tests/docker_like.py``: no
  CAP_SYS_ADMIN, ``unshare`` and namespace flags refused by a seccomp filter, as in
  Docker's default profile; the machine's checkout of the kit hidden, as a container does
  not have it), from a venv over the system Python in a folder only root may read, with
  a copy of the kit there: the uid level (own uid, the grader's files hidden by their
  permissions, network sockets refused, shared folders swept);

with the same verdicts as root's, the classmates' grades untouched, nothing surviving the
grading and nothing changed outside the output folder (:func:`test_attacks.check_attack`,
:func:`test_attacks.check_harmless`). The two attacks that rewrite the in-process
instrumentation are known limits (test_attacks.KNOWN_LIMITS) and are left out of the
verdicts, not out of the harm checks.

Where the uid level cannot be had either (there, the kit readable by every uid, or an
interpreter in /root that the sandbox's uid cannot run), the grader refuses (exit 2) and
names the cause; with ``--allow-weak-sandbox`` it grades and every report says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from test_attacks import ALL, EXPECTED, KNOWN_LIMITS, check_attack, check_harmless, grade_class

from helpers import ROOT, grade

DOCKER_LIKE = [sys.executable, str(ROOT / "tests" / "docker_like.py"), "--"]
# The refusal tests put a copy of the kit (hidden suites, solutions) where every uid may
# read it; a container has no such copy. They hold this lock exclusively while it exists,
# and the uid level's gradings hold it shared, so that the attack that searches the disk
# for the kit does not find a sibling test's copy (xdist runs them side by side).
# (Per user: only root's tests make such copies and grade at the uid level.)
READABLE_LOCK = Path(tempfile.gettempdir()) / f"kit-tests-readable-kit-{os.getuid()}.lock"


@contextlib.contextmanager
def readable_kit(exclusive: bool):
    fd = os.open(READABLE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def holds_readable_kit(test):
    """Run ``test`` holding :func:`readable_kit` exclusively."""
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        with readable_kit(exclusive=True):
            return test(*args, **kwargs)
    return wrapper
PARTS = ("grader", "solutions", "assignments", "pyproject.toml")


def _nobody() -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _lacks_for_nobody() -> str:
    """Why the ``nobody`` setup cannot be made here ("" if it can)."""
    if os.geteuid() != 0:
        return "needs root to become nobody"
    if _nobody() is None:
        return "there is no user nobody"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        return "there is no system Python (/usr/bin/python3)"
    done = subprocess.run([system, "-c", "import ensurepip, venv, sys; "
                           "assert sys.version_info >= (3, 10)"], capture_output=True)
    if done.returncode != 0:
        return "the system Python is older than 3.10 or has no venv (apt install python3-venv)"
    return ""


def _private_folder(owner: tuple[int, int] | None = None) -> Path:
    """A fresh folder in /tmp (pytest's are root's alone), given to ``owner``."""
    folder = Path(tempfile.mkdtemp(prefix="kit-setup-"))
    if owner:
        os.chown(folder, *owner)
    return folder


def _copy_kit(dest: Path) -> Path:
    kit = dest / "kit"
    kit.mkdir()
    for part in PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, kit / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(src, kit / part)
    return kit


def root_venv_0700(base: Path) -> dict:
    """A venv over this interpreter's base, made in a folder only root may traverse; it
    sees this interpreter's packages (pytest) through a .pth file."""
    hidden = base / "hidden"
    hidden.mkdir(mode=0o700)
    base_python = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    venv = hidden / "venv"
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"], check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()
    paths = [p for p in sys.path if p.endswith("-packages") and os.path.isdir(p)]
    Path(site, "outer.pth").write_text("".join(
        f"import site; site.addsitedir({p!r})\n" for p in paths))
    return {"launch": (str(python),), "kit": ROOT, "env": None,
            "level": "own uid per sandbox; namespaces: mount, pid, net, ipc, uts; "
                     "private root file system"}


def nobody_venv(base: Path) -> dict:
    """uid nobody, a venv over the system Python with pytest from pip, a copy of the kit."""
    owner = _nobody()
    assert owner is not None
    kit = _copy_kit(base)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8"}
    as_nobody = ("setpriv", f"--reuid={owner[0]}", f"--regid={owner[1]}", "--clear-groups")
    subprocess.run(["chown", "-R", f"{owner[0]}:{owner[1]}", str(base)], check=True)
    python = _system_venv(base, env, as_nobody)
    return {"launch": (*as_nobody, str(python)), "kit": kit, "env": env,
            "level": "own user namespace (rootless); namespaces: mount, pid, net, ipc, uts; "
                     "private root file system"}


def _system_venv(base: Path, env: dict[str, str], prefix: tuple[str, ...] = ()) -> Path:
    """A venv over the system Python in ``base`` with pytest from pip; its python."""
    venv = base / "venv"
    for cmd in (["/usr/bin/python3", "-m", "venv", str(venv)],
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", "pytest>=7.4", "pytest-timeout>=2.2"]):
        done = subprocess.run([*prefix, *cmd], env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    return venv / "bin" / "python"


def _hidden_in_container() -> list[str]:
    """What a container would not have: this checkout of the kit (and /work, where other
    checkouts live on the kit's development machines)."""
    found = [p for p in (str(ROOT), "/work") if os.path.isdir(p)]
    return [p for p in found if not any(p.startswith(q + "/") for q in found)]


def docker_like(base: Path, keep: tuple[Path, ...] = ()) -> dict:
    """Root where namespaces are refused, the kit and a venv over the system Python in a
    folder only root may read (``base`` is 0700); every other folder in /tmp and the like
    that other users may enter is hidden (a CI runner may keep a checkout of the kit
    there), but ``keep``."""
    kit = _copy_kit(base)
    wrapper = base / "docker_like.py"
    shutil.copyfile(ROOT / "tests" / "docker_like.py", wrapper)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8"}
    python = _system_venv(base, env)
    hide = [a for p in _hidden_in_container() for a in ("--hide", p)]
    hide += ["--shared-hidden", *(a for p in keep for a in ("--keep", str(p)))]
    return {"launch": (sys.executable, str(wrapper), *hide, "--", str(python)), "kit": kit,
            "env": env, "level": "own uid per sandbox; the grader's files hidden by file "
                                 "permissions"}


def _lacks_for_docker_like() -> str:
    return _docker_like_works() or ("" if os.path.exists("/usr/bin/python3") else
                                    "there is no system Python (/usr/bin/python3)")


# Where a setup's verdict differs by design. The uid level has no size-limited private
# folders: a submission that fills the disk meets no full disk (as it does in the full
# sandbox, and then behaves) but init's watch, which stops it at DISK_MAX: it loses every
# check, told why; the machine's disk and the classmates are spared all the same.
LEVEL_EXPECTED = {("docker_like", "disk_fill"): (ALL, {"returns_sum": "to disk"})}

SETUPS = {"root_venv_0700": (root_venv_0700, lambda: "" if os.geteuid() == 0 else
                             "needs root"),
          "nobody_venv": (nobody_venv, _lacks_for_nobody),
          "docker_like": (docker_like, _lacks_for_docker_like)}
CASES = [pytest.param(setup, assignment, id=f"{setup}/{assignment}")
         for setup in SETUPS for assignment in EXPECTED]


@pytest.fixture(scope="session")
def made_setups():
    """Each setup's grader (its venv, its copy of the kit), made once per test process
    and shared by the assignments' gradings (a venv with pytest from pip costs seconds);
    removed when the session ends."""
    made: dict[str, tuple[Path, dict]] = {}

    def get(setup: str) -> tuple[Path, dict]:
        if setup not in made:
            owner = _nobody() if setup == "nobody_venv" else None
            base = _private_folder(owner)
            try:
                made[setup] = base, SETUPS[setup][0](base)
            except BaseException:
                shutil.rmtree(base, ignore_errors=True)
                raise
        return made[setup]

    yield get
    for base, _ in made.values():
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("setup", "assignment"), CASES)
def test_attacks_in_setup(made_setups, setup, assignment):
    why = SETUPS[setup][1]()
    if why:
        pytest.skip(f"{setup}: {why}")
    owner = _nobody() if setup == "nobody_venv" else None
    home, made = made_setups(setup)
    grader = dict(made)
    level = grader.pop("level")
    work = Path(tempfile.mkdtemp(prefix=f"work-{assignment}-", dir=home))
    if owner:
        os.chown(work, *owner)
    try:
        with readable_kit(exclusive=False) if setup == "docker_like" \
                else contextlib.nullcontext():
            g = grade_class(assignment, work, bombs=True, **grader)
        assert all(level in r["output"] for r in g.results.values()), \
            g.results["reference"]["output"]
        failures = []
        for attack in EXPECTED[assignment]:
            if (assignment, attack) in KNOWN_LIMITS:
                continue
            try:
                check_attack(g, assignment, attack, LEVEL_EXPECTED.get((setup, attack)))
            except AssertionError as exc:
                failures.append(f"{attack}: {str(exc)[:1500]}")
                if attack == "steal_hidden_tests":
                    failures.append(f"copies of the kit other users may read: "
                                    f"{_readable_copies()}")
        assert not failures, "\n".join(failures)
        check_harmless(g)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _readable_copies(budget: float = 10.0) -> list[str]:
    """Where another uid might find hidden suites (what steal_hidden_tests looks for):
    a failure's clue, found within ``budget`` seconds."""
    import time
    end, found = time.monotonic() + budget, []
    for folder, dirs, _files in os.walk("/"):
        if time.monotonic() > end:
            break
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in ("/proc", "/sys")
                   and os.stat(os.path.join(folder, d), follow_symlinks=False).st_mode & 0o005]
        if os.path.basename(folder) == "suites":
            found.append(folder)
    return found


def _docker_like_works() -> str:
    if os.geteuid() != 0:
        return "needs root (the setup is root in a container)"
    done = subprocess.run([*DOCKER_LIKE, "unshare", "--mount", "true"], capture_output=True,
                          text=True, timeout=60)
    if "seccomp" in done.stderr or "no_new_privs" in done.stderr:
        return f"this kernel refuses a seccomp filter: {done.stderr[-300:]}"
    assert done.returncode != 0, "the filter let unshare through"
    return ""


@pytest.mark.timeout(300)
@holds_readable_kit
def test_where_neither_namespaces_nor_the_uid_level_can_be_had_grading_refuses(tmp_path):
    """As in a Docker container, with the kit where every uid may read it: no namespaces,
    and the uid level would show the hidden suites. ``grade`` refuses with the probes'
    causes and what to do; ``--allow-weak-sandbox`` grades, and the score table, the
    summaries and every results.json carry the warning."""
    why = _docker_like_works()
    if why:
        pytest.skip(why)
    readable = _private_folder()
    try:
        os.chmod(readable, 0o755)
        kit = _copy_kit(readable)
        student = tmp_path / "class" / "alice"
        student.mkdir(parents=True)
        shutil.copyfile(ROOT / "solutions" / "thread_counter" / "counter.py",
                        student / "counter.py")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
        refused = subprocess.run([*DOCKER_LIKE, sys.executable, "-m", "grader", "grade",
                                  "thread_counter", str(student), "--out",
                                  str(tmp_path / "no")],
                                 cwd=kit, env=env, capture_output=True, text=True, timeout=200)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "refusing to grade" in refused.stderr
        assert "unshare: Operation not permitted" in refused.stderr  # the probe's finding
        # ... and why the uid level is out of reach: the sandbox's uid cannot run this
        # interpreter (pyenv's in /root), or it can read the kit.
        assert (f"the sandbox's uid can read {kit}" in refused.stderr
                or "the sandbox's uid cannot run" in refused.stderr), refused.stderr
        assert "CAP_SYS_ADMIN" in refused.stderr  # what to do, for a container
        assert not (tmp_path / "no").exists()
        doctor = subprocess.run([*DOCKER_LIKE, sys.executable, "-m", "grader", "doctor"],
                                cwd=kit, env=env, capture_output=True, text=True, timeout=200)
        assert doctor.returncode == 1
        assert "- mount namespace: sandbox setup failed: [Errno 1] unshare: Operation not " \
               "permitted" in doctor.stdout, doctor.stdout
        out = tmp_path / "out"
        results = grade("thread_counter", [student], out, env=env, cwd=kit,
                        launch=(*DOCKER_LIKE, sys.executable),
                        options=("--allow-weak-sandbox",))
        assert results["alice"]["score"] == results["alice"]["max_score"]
        assert results["alice"]["output"].startswith("WARNING: graded with a weak sandbox")
        for summary in ("summary.md", "summary.html"):
            assert "WARNING: graded with a weak sandbox" in (out / summary).read_text()
        table = subprocess.run([*DOCKER_LIKE, sys.executable, "-m", "grader", "grade",
                                "thread_counter", str(student), "--out",
                                str(tmp_path / "again"), "--allow-weak-sandbox", "--quiet"],
                               cwd=kit, env=env, capture_output=True, text=True, timeout=200)
        assert table.returncode == 0 and "WARNING: graded with a weak sandbox" in table.stdout
    finally:
        shutil.rmtree(readable, ignore_errors=True)


@pytest.mark.timeout(600)
@holds_readable_kit
def test_the_uid_level_refuses_a_readable_class_and_grades_gradescope_bundles():
    """At the uid level (docker_like, the kit private), a class folder that every uid may
    read is refused (exit 2), naming it and what to do; the output folder the grader
    makes is private; ``doctor`` says the uid level is in force and exits 0. A Gradescope
    bundle unpacked where every uid may read it grades there (its run_autograder makes
    the kit private first)."""
    why = _lacks_for_docker_like()
    if why:
        pytest.skip(f"docker_like: {why}")
    base = _private_folder()
    readable = _private_folder()
    try:
        grader = docker_like(base, keep=(readable,))
        os.chmod(readable, 0o755)
        for name in ("alice", "bob"):
            (readable / "class" / name).mkdir(parents=True)
            shutil.copyfile(ROOT / "solutions" / "thread_counter" / "counter.py",
                            readable / "class" / name / "counter.py")
        out = base / "out"
        cmd = [*grader["launch"], "-m", "grader", "grade", "thread_counter", "--class",
               str(readable / "class"), "--out", str(out)]
        refused = subprocess.run(cmd, cwd=grader["kit"], env=grader["env"],
                                 capture_output=True, text=True, timeout=200)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert f"student code could read {readable / 'class'}/" in refused.stderr, \
            refused.stderr
        assert "chmod 700" in refused.stderr
        assert not list(out.iterdir())  # nothing graded
        assert out.stat().st_mode & 0o077 == 0
        doctor = subprocess.run([*grader["launch"], "-m", "grader", "doctor"],
                                cwd=grader["kit"], env=grader["env"], capture_output=True,
                                text=True, timeout=200)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "the uid level is in force" in doctor.stdout
        assert "[x] uid level (no namespaces)" in doctor.stdout
        bundle = base / "autograder.zip"
        done = subprocess.run([sys.executable, "-m", "grader", "export", "gradescope",
                               "thread_counter", "-o", str(bundle)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        autograder = readable / "autograder"
        with zipfile.ZipFile(bundle) as zf:
            zf.extractall(autograder / "source")
        (autograder / "submission").mkdir()
        shutil.copyfile(ROOT / "solutions" / "thread_counter" / "counter.py",
                        autograder / "submission" / "counter.py")
        python = grader["launch"][-1]
        ran = subprocess.run([*grader["launch"][:-1], "bash",
                              str(autograder / "source" / "run_autograder")],
                             env={**grader["env"], "AUTOGRADER_ROOT": str(autograder),
                                  "KIT_PYTHON": python},
                             capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        result = json.loads((autograder / "results" / "results.json").read_text())
        assert result["score"] == result["max_score"] == 10, result["output"]
        assert "the grader's files hidden by file permissions" in result["output"]
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(readable, ignore_errors=True)
