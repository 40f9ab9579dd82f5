"""A check in a sandbox: :func:`run` (a sandbox of its own) or a :class:`Session` (one
sandbox serving many checks of one submission, a process forked per check).

::

    grader (trusted: pytest + hidden suite)       sandbox (untrusted)
    run(scenario, submission, start_method) ───▶  python -I -S /kit/grader/inside/main.py
    Run(status, data, records, stdout tail) ◀───  result.json + probe records (plain JSON)

Guarantees:

* the student's module is imported only in the sandbox's processes, never here; what comes
  back is parsed as JSON data, never unpickled, and the student's stdout and stderr go to
  files whose size is capped (``RLIMIT_FSIZE``) and which are never parsed for verdicts;
* the sandbox is the one :mod:`grader.sandbox.detect` finds (see ``python -m grader
  doctor``): in full, a uid of its own (root) or a user namespace of its own (without
  root), mount, PID, network, IPC and UTS namespaces and a private root that holds only
  the interpreter, copies of the grader's ``inside`` package and of the submission
  (read-only; on tmpfs, so that no mount names a folder of the grader's);
* a wall-time limit (the check's deadline plus :data:`GRACE`) that the sandbox's init
  enforces, with a backstop here; nothing of the sandbox survives the check (its PID
  namespace, cgroup or subreaper init; an environment token at the weakest level);
* the submission's top-level Python files are copied into a scratch folder of the
  grader's: its ``conftest.py``, ``pytest.ini`` or ``pytest.py`` never reach pytest.
"""

from __future__ import annotations

import atexit
import compileall
import functools
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import settings
from grader.inside import lines
from grader.inside.output import collect, tail
from grader.sandbox.detect import Isolation, detect
from grader.sandbox.launcher import KILLED_AT_LIMIT, SETUP_FAILED, Witness, sweep_uid
from grader.sandbox.plan import (
    build_plan,
    launch_command,
    observe_by,
    sandbox_python,
    shared_dirs,
)
from grader.sandbox.resources import (
    DISK_FLAG,
    MEMORY_FLAG,
    PROCESSES_FLAG,
    TASKS_MAX,
    Cgroup,
    UidSlot,
    own_scratch,
)
from grader.sandbox.tree import (
    kill_until_gone,
    live_of_uid,
    parent_pid,
    readable,
    stat_fields,
    wait,
)

MAIN = Path(__file__).resolve().parent.parent / "inside" / "main.py"
OUTPUT_LIMIT = 8 * 1024 * 1024
DEFAULT_LIMITS = {
    "RLIMIT_CPU": 120,
    "RLIMIT_FSIZE": OUTPUT_LIMIT,
    "RLIMIT_AS": 6 * 1024**3,
    "RLIMIT_CORE": 0,
}
GRACE = 5.0


@dataclass
class Run:
    """What one sandbox run left behind, as plain data.

    ``status`` is ``"ok"`` (the scenario finished, perhaps with the student's exception in
    ``error``), ``"timeout"`` (the runner's watchdog fired; ``timeout["stacks"]`` says where
    each thread was), ``"killed"`` (no result within the wall limit), ``"died"`` (the
    process ended without writing a result: ``os._exit``, a crash, a signal) or
    ``"oversized"`` (it left more than the grader reads, :mod:`grader.inside.bounded`;
    ``phase`` says what).
    """

    scenario: str
    start_method: str | None
    status: str
    phase: str
    pid: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    timeout: dict[str, Any] | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None
    elapsed: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    out_of_memory: bool = False
    # More processes at once than the sandbox allows (a fork bomb): init killed them all.
    too_many_processes: bool = False
    # More on disk than the sandbox allows (the uid level, see DISK_MAX): init stopped it.
    too_much_disk: bool = False
    # Facts observed by the sandbox's init (pids, barriers, thread counts) are in
    # ``records``/``data``; False where the machine gives no such witness.
    witnessed: bool = False
    # [start, end] of the student's code (import and scenario) on the monotonic clock, as
    # the runner saw it (None if it wrote no result). For benchmarks, never for verdicts.
    span: list[float] | None = None
    # The grader gave up the rest of the check (Cancel.abandon): a call that was not over
    # was stopped, and is not judged.
    abandoned: bool = False

    @property
    def finished(self) -> bool:
        """The scenario ran to its end without raising."""
        return self.status == "ok" and self.error is None


def isolation(fresh: bool = False) -> Isolation:
    """What this machine allows (see :mod:`grader.sandbox.detect`)."""
    return detect(fresh)


def _ancestors() -> set[int]:
    """This process and its ancestors (they may carry a token they handed down)."""
    pids, pid = set(), os.getpid()
    while pid and pid > 1 and pid not in pids:
        pids.add(pid)
        pid = parent_pid("/proc", pid)
    return pids


def kill_marked(name: str, value: str) -> None:
    """Kill every process whose environment has ``name=value`` (the fallback reaper)."""
    needle = f"{name}={value}".encode()
    spare = _ancestors()

    def marked() -> list[int]:
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in spare:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
        return found

    kill_until_gone(marked, limit=0.15, pause=0.05)


FILE_LIMIT = 1 << 20  # one Python file of a submission (the exercises need a few KiB)
TOTAL_LIMIT = 4 << 20  # all of them together
FILES_LIMIT = 200  # ... and how many (the launcher's copy has room for them)


def submission_files(submission: Path) -> tuple[list[Path], list[str]]:
    """What sandboxes get of a submission: its top-level Python files that are regular
    files (no links), each at most :data:`FILE_LIMIT` bytes, at most :data:`TOTAL_LIMIT`
    together (in name order); and, for the student, why any other Python file there was
    left out. File names need not be UTF-8."""
    files, left_out, total = [], [], 0
    for path in sorted(submission.iterdir()):
        if path.suffix != ".py":
            continue
        try:
            st = path.lstat()
        except OSError:
            continue
        name = path.name.encode("utf-8", "replace").decode()
        if not stat.S_ISREG(st.st_mode):
            left_out.append(f"{name} is not a regular file (a link?): it was left out.")
        elif len(files) >= FILES_LIMIT:
            left_out.append(f"{name} was left out: a submission may have {FILES_LIMIT} "
                            f"Python files.")
        elif st.st_size > FILE_LIMIT or total + st.st_size > TOTAL_LIMIT:
            left_out.append(f"{name} ({st.st_size:,} bytes) was left out: a submission's "
                            f"Python files may have {FILE_LIMIT >> 20} MiB each, "
                            f"{TOTAL_LIMIT >> 20} MiB in all.")
        else:
            files.append(path)
            total += st.st_size
    return files, left_out


def copy_submission(submission: Path, dest: Path) -> None:
    """Copy :func:`submission_files` (nothing else is needed to run it) into ``dest``,
    emptied first if it exists (it stays the same folder: a sandbox may have it
    mounted)."""
    if dest.is_dir() and not dest.is_symlink():
        for old in dest.iterdir():
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
    else:
        dest.mkdir(parents=True)
    for path in submission_files(submission)[0]:
        with open(path, "rb") as src, open(dest / path.name, "wb") as out:
            out.write(src.read(FILE_LIMIT + 1)[:FILE_LIMIT])  # (it may have grown since)


class Cancel:
    """Lets another thread stop a check: its sandbox is killed at once and the run comes
    back with status ``"skipped"`` (the suites cancel runs whose result cannot count).

    Or only the rest of it (:meth:`abandon`): a check that calls the student's code several
    times (:func:`grader.checks.judge.call_of`) makes no further call, and one under way is
    stopped; the calls that were over still count. Where the sandbox serves no session,
    abandoning does nothing (the check runs to its end, with the same verdicts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._abandoned = False
        self._kill: Any = None
        self._abandon: Any = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        # The kill runs under the lock: once bind(None) returns, this cancel can no longer
        # reach a sandbox that has gone on to serve another check (the class's pool).
        with self._lock:
            self._cancelled = True
            if self._kill is not None:
                self._kill()

    @property
    def abandoned(self) -> bool:
        return self._abandoned

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            if self._abandon is not None:
                self._abandon()

    def bind(self, kill: Any, abandon: Any = None) -> None:
        """Name what to kill, and how to abandon the rest, while a check runs (None when
        it is over)."""
        with self._lock:
            self._kill, self._abandon = kill, abandon
            if self._cancelled and kill is not None:
                kill()
            elif self._abandoned and abandon is not None:
                abandon()  # (came before the bind; said twice at worst)


def skipped(scenario: str, start_method: str | None, why: str,
            params: dict[str, Any] | None = None) -> Run:
    return Run(scenario=scenario, start_method=start_method, status="skipped", phase=why,
               params=params or {})


class _Jail:
    """One sandbox's resources on the trusted side: scratch folder (the submission copied
    in), uid, cgroup, and the launch of :mod:`grader.sandbox.launcher` (or of the bare runner where
    the machine gives no confinement)."""

    def __init__(self, submission: Path, workdir: Path | None = None,
                 run_token: str | None = None):
        self.iso = isolation()
        if not self.iso.confined:
            precompile()
        self.scratch = Path(tempfile.mkdtemp(prefix="kit-sandbox-", dir=workdir))
        own_scratch(self.scratch)
        os.chmod(self.scratch, 0o711)
        self.slot = self.cgroup = None
        try:
            self.slot = UidSlot.claim() if self.iso.uid else None
            self.cgroup = Cgroup.create(self.iso.cgroup) if self.iso.cgroup else None
            copy_submission(Path(submission), self.scratch / "submission")
        except BaseException:
            self.close()
            raise
        self.uid = self.slot.uid if self.slot else None
        scratch = self.scratch
        # The uid level: the sandbox sees the machine's files, as its own uid, from which
        # the grader's are hidden by their permissions (the kit's too: it runs a copy of
        # the inside package, and its outputs are copied out by init, regular files only).
        self.uid_level = self.iso.permissions and self.uid is not None and not self.iso.root
        if self.iso.root:  # the sandbox sees its own file system (see grader.sandbox.launcher)
            (scratch / "stage").mkdir(mode=0o700)  # (where the launcher mounts its copy)
            self.where = {"sub": "/sandbox/submission", "out": "/sandbox/out",
                          "work": "/sandbox/work", "main": "/kit/grader/inside/main.py",
                          "spec": "/kit/spec.json"}
        else:
            main = _inside_copy() if self.uid is not None else MAIN
            out = "sandbox-out" if self.uid_level else "out"
            self.where = {"sub": str(scratch / "submission"), "out": str(scratch / out),
                          "work": str(scratch / "work"), "main": str(main),
                          "spec": str(scratch / "spec.json")}
            for name in {"out", out, "work"}:
                (scratch / name).mkdir(mode=0o700)
            if self.uid is not None:
                for name in ("submission", out, "work"):
                    os.chown(scratch / name, self.uid, self.uid)
                    os.chmod(scratch / name, 0o700)
        self.token = uuid.uuid4().hex
        self.env = {
            # (not the grader's PATH: it names the instructor's folders)
            "PATH": f"{os.path.dirname(sandbox_python())}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": self.where["work"],
            "TMPDIR": "/tmp" if self.iso.root else self.where["work"],
            "MALLOC_ARENA_MAX": "2",
            "KIT_SANDBOX_TOKEN": self.token,
        }
        run_token = run_token or settings.get("KIT_RUN_TOKEN")
        if run_token:
            # Lets the grading command kill everything of a run it had to abandon.
            self.env["KIT_RUN_TOKEN"] = run_token
        if self.iso.root:
            self.env["KIT_WITNESS"] = "/kit/witness.sock"
        elif self.uid_level:
            self.env["KIT_WITNESS"] = str(scratch / "witness.sock")
        self.proc: subprocess.Popen | None = None
        self.witness_log = WitnessLog(self.scratch / "witness.jsonl")

    def spec(self, scenario: str, module: str, start_method: str | None,
             params: dict[str, Any], deadline: float, env: dict[str, Any] | None,
             out: str) -> dict[str, Any]:
        return {
            "scenario": scenario,
            "start_method": start_method,
            "module": module,
            "sub_dir": self.where["sub"],
            "probe_dir": out + "/probes",
            "result_path": out + "/result.json",
            "phase_path": out + "/phase",
            "deadline": deadline,
            "params": params,
            "limits": DEFAULT_LIMITS,
            "env": {"KIT_MODULE": module, **(env or {})},
            "observe": observe_by(self.iso),  # (the watchdog's: see there)
        }

    def launch(self, argv: list[str], wall: float, files: dict[str, str],
               stdin: Any = subprocess.DEVNULL, pass_fds: tuple[int, ...] = (),
               serves: bool = False) -> None:
        """Start the sandbox running ``argv``; ``files`` are placed at their paths inside
        (or, without a private root, next to the scratch folder's paths they name).
        ``serves``: ``argv`` is a session's server, which init's watch spares."""
        iso, scratch = self.iso, self.scratch
        if iso.root:
            copy, witness = ("/sandbox/out", str(scratch / "out")), "/kit/witness.sock"
        elif self.uid_level:
            copy, witness = (self.where["out"], str(scratch / "out")), self.env["KIT_WITNESS"]
        else:
            copy, witness = None, None
        if iso.confined:
            plan = build_plan(
                iso, scratch, argv=argv, env=self.env, cwd=self.where["work"], wall=wall,
                uid=self.uid, cgroups=self.cgroup.procs_files() if self.cgroup else [],
                copies=[(str(_inside_copy().parent), "/kit/grader/inside", None),
                        (str(scratch / "submission"), "/sandbox/submission",
                         str(scratch / "stage"))],
                files={"/kit/grader/__init__.py": "", **files} if iso.root else {},
                tmpfs=[("/sandbox/work", "size=64m,mode=700"),
                       ("/sandbox/out", "size=64m,mode=700")],
                copy_out=copy,
                rlimits={"RLIMIT_NPROC": TASKS_MAX} if self.uid is not None else {},
                witness=(witness, str(scratch / "witness.jsonl")) if witness else None,
                runner_fds=pass_fds,
            )
            plan["serves"] = serves
            cmd = launch_command(plan, scratch)
        else:
            cmd = argv
        if not iso.root:
            for path, text in files.items():
                Path(path).write_text(text)
                if self.uid is not None:
                    os.chown(path, self.uid, self.uid)
        with open(scratch / "stdout", "wb", opener=_private) as out, \
                open(scratch / "stderr", "wb", opener=_private) as err:
            self.proc = subprocess.Popen(
                cmd, cwd=scratch if iso.root else self.where["work"], env=self.env,
                stdin=stdin, stdout=out, stderr=err, start_new_session=True,
                close_fds=True, pass_fds=pass_fds,
            )

    def replace_submission(self, submission: Path) -> None:
        """Put ``submission``'s files where this sandbox sees them, in place of the last
        ones. With a private root, that is the launcher's copy (a tmpfs, see
        :func:`grader.sandbox.launcher.copy_in`), reached through its mount namespace.
        OSError if it cannot be reached (the caller starts a fresh sandbox then)."""
        if self.iso.root:
            if self.proc is None or self.proc.poll() is not None:
                raise OSError("the sandbox has ended")
            dest = Path(f"/proc/{self.proc.pid}/root{self.scratch}/stage")
            if not os.path.ismount(dest):
                raise OSError(f"{dest} is not the sandbox's copy")
            copy_submission(submission, dest)
        else:
            copy_submission(submission, self.scratch / "submission")

    def _reaped_by_init(self) -> bool:
        """The subreaper level: init is the launcher itself, and asked by SIGTERM it kills
        every process below it, then removes from the machine's /dev/shm what they held
        (see the launcher's ``release_shared_memory``), which a SIGKILL would leave."""
        return self.iso.subreaper and not self.iso.uid and "pid" not in self.iso.namespaces

    def kill_now(self) -> None:
        """Kill the sandbox (from any thread); :meth:`end` still cleans up after it."""
        if self.proc is not None:
            try:
                if self._reaped_by_init() and self.proc.returncode is None:
                    os.kill(self.proc.pid, signal.SIGTERM)
                else:
                    os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        if self.cgroup is not None:
            self.cgroup.kill()

    def end(self) -> None:
        """Whatever happened, nothing of this sandbox may survive."""
        self.kill_now()
        if self.proc is not None:
            if self._reaped_by_init():
                try:
                    self.proc.wait(timeout=2 * GRACE)  # (init's own kill takes ≤ 10 s)
                except subprocess.TimeoutExpired:
                    pass
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait()
            if self.proc.stdin is not None:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
        if not self.iso.uid and "pid" not in self.iso.namespaces:
            # (Under a subreaper init nothing should be left; this is the backstop.)
            kill_marked("KIT_SANDBOX_TOKEN", self.token)
        if self.uid_level and self.uid is not None and not self._init_cleaned_up():
            # (Init does both when the check ends; not if it was killed: a cancel.)
            uid = self.uid
            kill_until_gone(lambda: live_of_uid(uid), limit=5.0)
            sweep_uid(uid, shared_dirs())

    def _init_cleaned_up(self) -> bool:
        """Whether the launcher ended on its own, its init having killed and swept what
        the sandbox left (not killed by a signal, not failed while setting up)."""
        code = self.proc.returncode if self.proc is not None else None
        return code is not None and code >= 0 and code != SETUP_FAILED

    def _marks(self, name: str) -> int:
        """How often init's watch left the mark ``name`` (one byte each)."""
        try:
            return (self.scratch / name).stat().st_size
        except OSError:
            return 0

    def oom_kills(self) -> int:
        """How often the sandbox ran out of memory: the kernel's count in its cgroup, and
        init's marks where init watches the memory itself (without root)."""
        kills = self.cgroup.oom_kills() if self.cgroup is not None else 0
        return kills + self._marks(MEMORY_FLAG)

    def forks_stopped(self) -> int:
        """How often init stopped the sandbox's processes for being too many at once."""
        return self._marks(PROCESSES_FLAG)

    def disk_stopped(self) -> int:
        """How often init stopped the sandbox for what it wrote to disk (the uid level)."""
        return self._marks(DISK_FLAG)

    @property
    def witnessed(self) -> bool:
        """Whether the sandbox's init witnesses the probes (a private root, or the uid
        level)."""
        return self.iso.root or self.uid_level

    def witness(self) -> tuple[int | None, dict[str, dict[str, Any]]]:
        """(the pid init started, key -> what init saw) from the witness log."""
        return self.witness_log.read()

    def close(self) -> None:
        if self.cgroup is not None:
            self.cgroup.destroy()
        if self.slot is not None:
            self.slot.release()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _private(path: str, flags: int) -> int:
    """``open``'s opener for the grader's files in a scratch folder: mode 0600 (at the
    uid level the sandbox sees the machine's files, the scratch folder's path included)."""
    return os.open(path, flags, 0o600)


_inside: Path | None = None
_inside_lock = threading.Lock()


def _inside_copy() -> Path:
    """What sandboxes run: a copy of the grader's ``inside`` package, byte-compiled,
    readable by every uid, whatever the permissions of the kit itself (which should be
    private to the grader's user: it holds the hidden suites). Made once per grading
    process; its forks use it too, and so do the processes it starts (``KIT_INSIDE``).
    Removed when the process that made it exits (or, if that is killed, by the next
    grader's sweep). Returns its ``main.py``."""
    global _inside
    with _inside_lock:
        if _inside is not None and _inside.is_file():
            return _inside
        inherited = os.environ.get("KIT_INSIDE", "")
        if inherited.endswith("/grader/inside/main.py") and os.path.isfile(inherited) \
                and os.stat(inherited).st_uid == os.geteuid():
            _inside = Path(inherited)
            return _inside
        dest = Path(tempfile.mkdtemp(prefix="kit-inside-"))
        own_scratch(dest)
        inside = dest / "grader" / "inside"
        inside.mkdir(parents=True)
        (dest / "grader" / "__init__.py").write_text("")
        for source in MAIN.parent.glob("*.py"):
            shutil.copyfile(source, inside / source.name)
        compileall.compile_dir(str(inside), quiet=2)
        for folder, _dirs, files in os.walk(dest):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        maker = os.getpid()
        atexit.register(lambda: os.getpid() == maker and shutil.rmtree(dest, True))
        _inside = inside / "main.py"
        os.environ["KIT_INSIDE"] = str(_inside)
        return _inside


def share_inside() -> None:
    """Make the copy of the ``inside`` package now, in this process, so that every
    process it starts or forks later (the class's pool, each student's pytest) uses it
    and leaves nothing of its own behind; it goes when this process exits."""
    if isolation().confined:
        _inside_copy()


# How a run over init's notes is named (the run's phase): judge explains it by this.
WITNESS_OVERFLOW = "messages to the sandbox's witness"


def _make_run(scenario: str, start_method: str | None, params: dict[str, Any],
              left: dict[str, Any], killed: bool, exit_code: int | None, elapsed: float,
              runner: int | None, entries: dict[str, dict[str, Any]] | None,
              out_of_memory: bool, too_many_processes: bool = False,
              too_much_disk: bool = False, witness_overflow: bool = False) -> Run:
    """A :class:`Run` from what the check left (:func:`grader.inside.output.collect`)."""
    result = left.get("result") if isinstance(left.get("result"), dict) else {}
    phase = str(result.get("phase") or left.get("phase") or "starting")
    if witness_overflow and not left.get("oversized"):
        # Init stopped noting what the check's processes told it (Witness.LOG_LIMIT): the
        # rest of its probe calls cannot be confirmed, so none of the run is judged.
        left = {**left, "oversized": f"{WITNESS_OVERFLOW}: more than "
                                     f"{Witness.LOG_LIMIT >> 10} KiB of notes in one check"}
    if isinstance(left.get("oversized"), str) and left["oversized"]:
        # Over what the grader reads (grader.inside.bounded): nothing of it is judged.
        status, phase, result = "oversized", left["oversized"][:200], {}
        left = {**left, "records": []}
    elif result.get("timeout"):
        status = "timeout"
    elif result and result.get("phase") == "done":
        status = "ok"
    elif killed:
        status = "killed"
    else:
        status = "died"
    records = [r for r in left.get("records") or [] if isinstance(r, dict)]
    pid = result.get("pid")
    data = result.get("data") if isinstance(result.get("data"), dict) else {}
    span = result.get("span")
    if not (isinstance(span, list) and len(span) == 2
            and all(isinstance(t, (int, float)) for t in span) and span[0] <= span[1]):
        span = None
    if entries is not None:
        pid = verify(records, entries, runner)
        held = data.get("overlap")
        if isinstance(held, dict):  # the overlap gate's report: init's count of threads
            key = held.get("key")
            entry = entries.get(f"t-{key}") if isinstance(key, str) else None
            held["observed_threads"] = entry.get("threads") if entry else None
    return Run(
        scenario=scenario, start_method=start_method, status=status, phase=phase, pid=pid,
        data=data, error=result.get("error"), witnessed=entries is not None,
        timeout=result.get("timeout"), records=records, exit_code=exit_code,
        elapsed=elapsed, stdout_tail=str(left.get("stdout_tail") or ""),
        stderr_tail=str(left.get("stderr_tail") or ""), params=params,
        out_of_memory=out_of_memory, too_many_processes=too_many_processes,
        too_much_disk=too_much_disk, span=span,
        abandoned=left.get("abandoned") is True,
    )


def run(
    scenario: str,
    submission: Path,
    module: str,
    start_method: str | None = None,
    params: dict[str, Any] | None = None,
    deadline: float = 20.0,
    env: dict[str, Any] | None = None,
    workdir: Path | None = None,
    cancel: Cancel | None = None,
    run_token: str | None = None,
) -> Run:
    """Run ``scenario`` on the student's ``module`` from ``submission`` in a fresh sandbox.

    ``deadline`` is the runner's own limit (it then reports where threads were stuck);
    the process tree is killed at ``deadline + GRACE`` whatever happens.
    """
    params = params or {}
    if cancel is not None and cancel.cancelled:
        return skipped(scenario, start_method, "cancelled", params)
    jail = _Jail(submission, workdir, run_token)
    try:
        iso = jail.iso
        spec = jail.spec(scenario, module, start_method, params, deadline, env,
                         jail.where["out"])
        wall = deadline + GRACE
        started = time.monotonic()
        jail.launch([sandbox_python(), "-I", "-S", jail.where["main"], jail.where["spec"]],
                    wall, {jail.where["spec"]: json.dumps(spec)})
        if cancel is not None:
            cancel.bind(jail.kill_now)
        try:
            # The launcher enforces ``wall`` itself; this is the backstop if even that fails.
            exit_code: int | None = wait(jail.proc, wall + (10 * GRACE if iso.confined else 0))
            killed = exit_code == KILLED_AT_LIMIT and iso.confined
        except subprocess.TimeoutExpired:
            killed, exit_code = True, None
        if cancel is not None:
            cancel.bind(None)
        jail.end()
        if cancel is not None and cancel.cancelled:
            return skipped(scenario, start_method, "cancelled", params)
        elapsed = time.monotonic() - started
        left = collect(str(jail.scratch / "out"))
        left["stdout_tail"] = tail(str(jail.scratch / "stdout"))
        left["stderr_tail"] = tail(str(jail.scratch / "stderr"))
        runner, entries = jail.witness() if jail.witnessed else (None, None)
        return _make_run(scenario, start_method, params, left, killed, exit_code, elapsed,
                         runner, entries, jail.oom_kills() > 0, jail.forks_stopped() > 0,
                         jail.disk_stopped() > 0, jail.witness_log.overflowed)
    finally:
        jail.close()


def sessions_enabled() -> bool:
    """Whether a sandbox may serve many checks here (the full sandbox, and not switched
    off with ``KIT_SESSIONS=0``): for :class:`Session` and the class's pool."""
    return isolation().sessions and settings.enabled("KIT_SESSIONS")


class Session:
    """One sandbox that serves many checks of one submission, one after another.

    Each check runs in a process forked, inside the sandbox, from a server that never
    imports the student's module; between checks everything else in the sandbox is killed
    and its private folders emptied (see :func:`grader.inside.session.serve`). This saves
    the launch of a sandbox per check. Used where the sandbox has its own uid and PID
    namespace (so that ``kill(-1)`` inside reaches exactly the student's processes);
    elsewhere, and after anything goes wrong with the server, each check gets a fresh
    sandbox from :func:`run`, with the same verdicts. ``KIT_SESSIONS=0`` switches
    sessions off (for comparison).
    """

    def __init__(self, submission: Path, module: str, workdir: Path | None = None,
                 serve: bool = True, run_token: str | None = None):
        """``serve=False``: each check gets a sandbox of its own (cheaper when a session
        would serve a single check: its server preloads what every check may need)."""
        self.submission = Path(submission)
        self.module = module
        self.workdir = workdir
        self.run_token = run_token
        self.started_at: float | None = None
        self.launches = 0  # sandboxes this session started (a cancelled one is replaced)
        self.enabled = serve and sessions_enabled()
        self.jail: _Jail | None = None
        self.responses = -1
        self.count = 0
        self.checks_served = 0
        self.server: int | None = None
        self.requests_lock = threading.Lock()  # (the server's stdin: checks and abandons)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def use(self, submission: Path, module: str) -> None:
        """Serve another submission from the next check on (the class-wide pool,
        :mod:`grader.sandbox.pool`). Called between checks, when the server has killed everything
        of the previous check and emptied the private folders: the files the sandbox
        sees read-only as ``/sandbox/submission`` are replaced
        (:meth:`_Jail.replace_submission`), so nothing of the previous student is left
        for the next one to see. If they cannot be, the sandbox is closed and the next
        check gets a fresh one."""
        submission = Path(submission)
        self.module = module
        if submission == self.submission:
            return
        self.submission = submission
        if self.jail is not None:
            try:
                self.jail.replace_submission(submission)
            except OSError:
                self.close(graceful=False)  # (the next check starts a fresh sandbox)

    def start(self) -> None:
        """Launch the sandbox now rather than at the first check."""
        if self.enabled and self.jail is None:
            self._start()

    def _start(self) -> None:
        jail = _Jail(self.submission, self.workdir, self.run_token)
        self.started_at = time.monotonic()
        self.launches += 1
        read, write = os.pipe()
        session = {"response_fd": write,
                   "wipe": ["/tmp", "/dev/shm", "/sandbox/work", "/sandbox/out"]}
        try:
            jail.launch([sandbox_python(), "-I", "-S", jail.where["main"], "--serve",
                         "/kit/session.json"], SESSION_WALL,
                        {"/kit/session.json": json.dumps(session)},
                        stdin=subprocess.PIPE, pass_fds=(write,), serves=True)
        except BaseException:
            os.close(read)
            jail.close()
            raise
        finally:
            os.close(write)
        self.jail, self.responses = jail, read
        self.buffer = b""
        self.server = None  # (found again: the last sandbox's server is gone)

    def run(self, scenario: str, start_method: str | None = None,
            params: dict[str, Any] | None = None, deadline: float = 20.0,
            env: dict[str, Any] | None = None, cancel: Cancel | None = None) -> Run:
        params = params or {}
        fallback = {"scenario": scenario, "submission": self.submission,
                    "module": self.module, "start_method": start_method, "params": params,
                    "deadline": deadline, "env": env, "workdir": self.workdir,
                    "cancel": cancel, "run_token": self.run_token}
        if not self.enabled:
            return run(**fallback)
        if cancel is not None and cancel.cancelled:
            return skipped(scenario, start_method, "cancelled", params)
        if self.jail is None:
            self._start()
        jail = self.jail
        assert jail is not None and jail.proc is not None and jail.proc.stdin is not None
        self.count += 1
        # Unguessable: a check's processes must not be able to announce themselves to the
        # witness as the next check's runner (the witness keeps the first sighting).
        cid = f"c{self.count}-{uuid.uuid4().hex}"
        spec = jail.spec(scenario, self.module, start_method, params, deadline, env,
                         f"{jail.where['out']}/{cid}")
        spec["check"] = cid
        oom_before, forks_before = jail.oom_kills(), jail.forks_stopped()
        disk_before = jail.disk_stopped()
        jail.witness_log.forget()
        started = time.monotonic()
        try:
            self._tell(jail, {"id": cid, "spec": spec,
                              "abandoned": cancel is not None and cancel.abandoned})
            if cancel is not None:
                # (After the request, which an abandon must follow. A kill ends the whole
                # session: the next check starts a new one.)
                cancel.bind(jail.kill_now, lambda: self._abandon(jail, cid))
            answer = self._answer(deadline + GRACE + 10.0)
        except OSError:
            answer = None
        finally:
            if cancel is not None:
                cancel.bind(None)
        if cancel is not None and cancel.cancelled:
            self.close(graceful=False)
            return skipped(scenario, start_method, "cancelled", params)
        if answer is None or answer.get("id") != cid:
            return self._broken(fallback, started)
        elapsed = time.monotonic() - started
        runner, entries = jail.witness()
        entry = entries.get(f"runner-{cid}")
        oom = jail.oom_kills() > oom_before
        exit_code = answer.get("exit")
        self.checks_served += 1
        return _make_run(scenario, start_method, params, answer, bool(answer.get("killed")),
                         exit_code if isinstance(exit_code, int) else None, elapsed,
                         entry["pid"] if entry else None, entries, oom,
                         jail.forks_stopped() > forks_before,
                         jail.disk_stopped() > disk_before, jail.witness_log.overflowed)

    def _tell(self, jail: _Jail, message: dict[str, Any]) -> None:
        """One JSON line to the server's stdin (checks come from the thread that runs them,
        abandons from another)."""
        assert jail.proc is not None and jail.proc.stdin is not None
        with self.requests_lock:
            jail.proc.stdin.write(lines.encode(message))
            jail.proc.stdin.flush()

    def _abandon(self, jail: _Jail, cid: str) -> None:
        """Tell the server that check ``cid`` is not needed any further (see
        :mod:`grader.inside.session`)."""
        try:
            self._tell(jail, {"abandon": cid})
        except (OSError, ValueError):
            pass  # (the session is ending: so is the check)

    def _answer(self, timeout: float) -> dict[str, Any] | None:
        """The server's next JSON line, or None if it does not come in time, the server
        died (end of file: it alone holds the pipe) or something stopped it."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = end - time.monotonic()
            if left <= 0 or len(self.buffer) > ANSWER_LIMIT:
                return None
            ready = readable([self.responses], min(left, 0.25))
            if not ready:
                if self._server_stopped():
                    return None
                continue
            chunk = os.read(self.responses, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            return lines.decode(line, untrusted=True)  # (over a bound: rerun on its own)
        except ValueError:
            return None

    def _server_stopped(self) -> bool:
        """Whether the session's server is stopped (SIGSTOP from the student's code)."""
        if self.server is None:
            self.server = _find_server(self.jail.proc.pid if self.jail and self.jail.proc
                                       else None)
        if self.server is None:
            return False
        fields = stat_fields("/proc", self.server)
        return fields is None or fields[0] in ("T", "t")

    def _broken(self, fallback: dict[str, Any], started: float) -> Run:
        """The server is gone or stuck (the student's code killed or stopped it): end this
        sandbox and give the check, and every later one, a fresh sandbox of its own. The
        rerun's deadline is cut so that the check, both attempts together, stays within
        :data:`CHECK_BOUND` (only a submission that attacks the server is affected)."""
        self.close(graceful=False)
        self.enabled = False
        spent = time.monotonic() - started
        fallback["deadline"] = max(1.0, min(fallback["deadline"], CHECK_BOUND - GRACE - spent))
        return run(**fallback)

    def close(self, graceful: bool = True) -> None:
        jail, self.jail = self.jail, None
        if jail is None:
            return
        try:
            if graceful and jail.proc is not None and jail.proc.stdin is not None:
                try:
                    jail.proc.stdin.close()  # the server's loop ends; init kills the rest
                except OSError:
                    pass
                try:
                    wait(jail.proc, 10.0)
                except subprocess.TimeoutExpired:
                    pass
            jail.end()
        finally:
            os.close(self.responses)
            self.responses = -1
            jail.close()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except (OSError, ValueError):
        return []


def _find_server(launcher: int | None) -> int | None:
    """The session server's pid (as this process sees it): the launcher's child is init,
    whose child running ``--serve`` is the server."""
    if launcher is None:
        return None
    queue = _children(launcher)
    for _ in range(3):
        nxt = []
        for pid in queue:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if b"--serve" in f.read().split(b"\0"):
                        return pid
            except OSError:
                continue
            nxt += _children(pid)
        queue = nxt
    return None


SESSION_WALL = 3600.0
CHECK_BOUND = 55.0  # seconds a check may take in all, even when it breaks its session
ANSWER_LIMIT = 16 * 1024 * 1024


class WitnessLog:
    """Init's witness log (JSON lines), read as it grows: a pooled sandbox serves
    thousands of checks, and each check reads only what was added since the last."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.runner: int | None = None  # the pid init started
        self.seen: dict[str, dict[str, Any]] = {}  # key -> the first sighting
        self.overflowed = False  # init stopped noting: the check sent it too much

    def read(self) -> tuple[int | None, dict[str, dict[str, Any]]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            data = b""
        end = data.rfind(b"\n") + 1  # whole lines only; the rest is read next time
        self.offset += end
        for line in data[:end].splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            if "runner" in entry:
                self.runner = entry["runner"]
            elif entry.get("overflow") is True:
                self.overflowed = True
            elif isinstance(entry.get("key"), str):
                self.seen.setdefault(entry["key"], entry)
        return self.runner, self.seen

    def forget(self) -> None:
        """Before a session's next check: what the log held so far is the last check's
        (each check's keys are its own), so that memory here stays bounded by one check's
        log (init's budget, :attr:`Witness.LOG_LIMIT <grader.sandbox.launcher.Witness>`)
        however many checks the sandbox serves."""
        self.read()
        self.seen = {}
        self.overflowed = False


def verify(records: list[dict[str, Any]], seen: dict[str, dict[str, Any]],
           runner: int | None) -> int | None:
    """Replace the pids that probes claimed by the pids the sandbox's init saw (kernel
    credentials of the probe's message); returns ``runner``, the check's own process.
    A barrier counts for a record only if init saw the record's own process wait there.

    A record whose caller never reached the witness (the student broke the probe's
    connection, or patched it away) is attributed to the runner: the grader could not
    confirm that it ran anywhere else. ``claimed_pid`` keeps what the process said.
    """
    for rec in records:
        if "pid" not in rec:
            continue
        rec["claimed_pid"] = rec.get("pid")
        key = rec.get("key") if isinstance(rec.get("key"), str) else None
        entry = seen.get(key) if key else None
        rec["verified"] = entry is not None
        rec["pid"] = entry["pid"] if entry else runner
        rec["ppid"] = entry["ppid"] if entry else None
        if "barrier" in rec:  # init kept the barrier: its word, not the process's
            rec["claimed_barrier"] = rec["barrier"]
            held = seen.get(f"b-{key}") if key else None
            # ... for the process that made the call: another one waiting at the barrier
            # with this call's key (a replay, after the call had been made alone) proves
            # nothing about the call.
            if held and entry and held.get("pid") == entry["pid"]:
                rec["barrier"] = held.get("result", "unconfirmed")
            else:
                rec["barrier"] = "unconfirmed"
    return runner


@functools.lru_cache(maxsize=1)
def precompile() -> None:
    """Byte-compile the runner's package once, so sandboxes (read-only) need not."""
    compileall.compile_dir(str(MAIN.parent), quiet=2)
