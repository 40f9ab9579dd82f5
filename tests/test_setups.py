"""The attack corpus in the setups instructors really grade in, each made by the test.

``tests/test_attacks.py`` grades the corpus as root with this interpreter. Here the same
classes are graded

* ``root_venv_0700``: as root, from a venv over this interpreter's base (pyenv's lives in
  /root, mode 0700), made in a folder of mode 0700, so the sandbox's uid can traverse
  neither: the private root must give it exactly the interpreter, read-only;
* ``nobody_venv``: as uid ``nobody`` (``setpriv``), from a venv over the system Python with
  pytest installed by pip, the kit copied where ``nobody`` can read it: the rootless
  sandbox (a user namespace with every other namespace and a private root);

with the same verdicts as root's, the classmates' grades untouched, nothing surviving the
grading and nothing changed outside the output folder (:func:`test_attacks.check_attack`,
:func:`test_attacks.check_harmless`). The two attacks that rewrite the in-process
instrumentation are known limits (test_attacks.KNOWN_LIMITS) and are left out of the
verdicts, not out of the harm checks.

Where namespaces are refused (``docker_like``: root without CAP_SYS_ADMIN, ``unshare`` and
namespace flags refused by a seccomp filter, as in Docker's default profile), the grader
refuses (exit 2) and names the cause; with ``--allow-weak-sandbox`` it grades and every
report says so.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_attacks import EXPECTED, KNOWN_LIMITS, check_attack, check_harmless, grade_class

from helpers import ROOT, grade

DOCKER_LIKE = [sys.executable, str(ROOT / "tests" / "docker_like.py"), "--"]
KIT_PARTS = ("grader", "solutions", "assignments", "pyproject.toml")


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
    for part in KIT_PARTS:
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
    venv = base / "venv"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "LANG": "C.UTF-8"}
    as_nobody = ("setpriv", f"--reuid={owner[0]}", f"--regid={owner[1]}", "--clear-groups")
    subprocess.run(["chown", "-R", f"{owner[0]}:{owner[1]}", str(base)], check=True)
    for cmd in (["/usr/bin/python3", "-m", "venv", str(venv)],
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", "pytest>=7.4", "pytest-timeout>=2.2"]):
        done = subprocess.run([*as_nobody, *cmd], env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    return {"launch": (*as_nobody, str(venv / "bin" / "python")), "kit": kit, "env": env,
            "level": "own user namespace (rootless); namespaces: mount, pid, net, ipc, uts; "
                     "private root file system"}


SETUPS = {"root_venv_0700": (root_venv_0700, lambda: "" if os.geteuid() == 0 else
                             "needs root"),
          "nobody_venv": (nobody_venv, _lacks_for_nobody)}
CASES = [pytest.param(setup, assignment, id=f"{setup}/{assignment}",
                      marks=pytest.mark.xdist_group(f"setup-{setup}-{assignment}"))
         for setup in SETUPS for assignment in EXPECTED]


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("setup", "assignment"), CASES)
def test_attacks_in_setup(setup, assignment):
    make, lacks = SETUPS[setup]
    why = lacks()
    if why:
        pytest.skip(f"{setup}: {why}")
    owner = _nobody() if setup == "nobody_venv" else None
    base = _private_folder(owner)
    try:
        grader = make(base)
        level = grader.pop("level")
        work = base / "work"
        work.mkdir()
        if owner:
            os.chown(work, *owner)
        g = grade_class(assignment, work, bombs=True, **grader)
        assert all(level in r["output"] for r in g.results.values()), \
            g.results["reference"]["output"]
        failures = []
        for attack in EXPECTED[assignment]:
            if (assignment, attack) in KNOWN_LIMITS:
                continue
            try:
                check_attack(g, assignment, attack)
            except AssertionError as exc:
                failures.append(f"{attack}: {str(exc)[:1500]}")
        assert not failures, "\n".join(failures)
        check_harmless(g)
    finally:
        shutil.rmtree(base, ignore_errors=True)


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
def test_where_namespaces_are_refused_grading_refuses_and_says_why(tmp_path):
    """As in a Docker container: no namespaces, so no private root. ``grade`` refuses with
    the probe's cause and what to do; ``--allow-weak-sandbox`` grades, and the score table,
    the summaries and every results.json carry the warning."""
    why = _docker_like_works()
    if why:
        pytest.skip(why)
    student = tmp_path / "class" / "alice"
    student.mkdir(parents=True)
    shutil.copyfile(ROOT / "solutions" / "thread_counter" / "counter.py",
                    student / "counter.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    refused = subprocess.run([*DOCKER_LIKE, sys.executable, "-m", "grader", "grade",
                              "thread_counter", str(student), "--out", str(tmp_path / "no")],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=200)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refusing to grade" in refused.stderr
    assert "unshare: Operation not permitted" in refused.stderr  # the probe's own finding
    assert "CAP_SYS_ADMIN" in refused.stderr  # what to do, for a container
    assert not (tmp_path / "no").exists()
    doctor = subprocess.run([*DOCKER_LIKE, sys.executable, "-m", "grader", "doctor"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=200)
    assert doctor.returncode == 1
    assert "- mount namespace: sandbox setup failed: [Errno 1] unshare: Operation not " \
           "permitted" in doctor.stdout, doctor.stdout
    out = tmp_path / "out"
    results = grade("thread_counter", [student], out, env=env,
                    launch=(*DOCKER_LIKE, sys.executable),
                    options=("--allow-weak-sandbox",))
    assert results["alice"]["score"] == results["alice"]["max_score"]
    assert results["alice"]["output"].startswith("WARNING: graded with a weak sandbox")
    for summary in ("summary.md", "summary.html"):
        assert "WARNING: graded with a weak sandbox" in (out / summary).read_text()
    table = subprocess.run([*DOCKER_LIKE, sys.executable, "-m", "grader", "grade",
                            "thread_counter", str(student), "--out", str(tmp_path / "again"),
                            "--allow-weak-sandbox", "--quiet"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=200)
    assert table.returncode == 0 and "WARNING: graded with a weak sandbox" in table.stdout
