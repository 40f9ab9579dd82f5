"""The trust boundary: run student code in a separate, limited, killable process tree.

::

    grader (trusted: pytest + hidden suite)       sandbox (untrusted)
    run(scenario, submission, start_method) ───▶  python -I -S grader/inside/main.py spec
    Run(status, data, records, stdout tail) ◀───  result.json + probe records (plain JSON)

Guarantees of :func:`run`:

* the student's module is imported only in the sandbox process (and its children), never
  here; what comes back is parsed as JSON data, never unpickled, and student stdout/stderr
  go to files whose size is capped (``RLIMIT_FSIZE``) and which are never parsed for verdicts;
* the sandbox runs in its own session and process group, in a PID namespace where the
  machine allows it (``unshare --pid --fork --kill-child``): when its first process ends,
  the kernel kills every process it left behind, ``setsid`` daemons included; without a
  namespace every process carrying the sandbox's token in its environment is killed;
* a wall-time limit (the runner's own deadline plus a grace period), limits on CPU time,
  address space and file size; nothing of the sandbox survives :func:`run`;
* the working directory is a fresh scratch folder; the submission is copied there, so a
  submission's ``conftest.py``, ``pytest.ini`` or ``pytest.py`` never reaches pytest.
"""

from __future__ import annotations

import compileall
import functools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.confine import KILLED_AT_LIMIT
from grader.inside.probes import read_records
from grader.isolation import (
    CONFINE,
    TASKS_MAX,
    Cgroup,
    Isolation,
    UidSlot,
    build_plan,
    detect,
)

MAIN = Path(__file__).resolve().parent / "inside" / "main.py"
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
    each thread was), ``"killed"`` (no result within the wall limit) or ``"died"`` (the
    process ended without writing a result: ``os._exit``, a crash, a signal).
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

    @property
    def finished(self) -> bool:
        """The scenario ran to its end without raising."""
        return self.status == "ok" and self.error is None


def isolation(fresh: bool = False) -> Isolation:
    """What this machine allows (see :mod:`grader.isolation`)."""
    return detect(fresh)


def _tail(path: Path, limit: int = 3000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return ("…" + text) if size > limit else text


def _ancestors() -> set[int]:
    """This process and its ancestors (they may carry a token they handed down)."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def kill_marked(name: str, value: str) -> None:
    """Kill every process whose environment has ``name=value`` (the fallback reaper)."""
    needle = f"{name}={value}".encode()
    spare = _ancestors()
    for _ in range(3):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in spare:
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = f.read()
            except OSError:
                continue
            if needle in env.split(b"\0"):
                found = True
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.05)


def copy_submission(submission: Path, dest: Path) -> None:
    """Copy the submission's top-level Python files (nothing else is needed to run it)."""
    dest.mkdir(parents=True)
    for path in sorted(submission.iterdir()):
        if path.suffix == ".py" and path.is_file() and not path.is_symlink():
            shutil.copyfile(path, dest / path.name)


def run(
    scenario: str,
    submission: Path,
    module: str,
    start_method: str | None = None,
    params: dict[str, Any] | None = None,
    deadline: float = 20.0,
    env: dict[str, Any] | None = None,
    workdir: Path | None = None,
) -> Run:
    """Run ``scenario`` on the student's ``module`` from ``submission`` in a fresh sandbox.

    ``deadline`` is the runner's own limit (it then reports where threads were stuck);
    the process tree is killed at ``deadline + GRACE`` whatever happens.
    """
    params = params or {}
    iso = isolation()
    precompile()
    scratch = Path(tempfile.mkdtemp(prefix="kit-sandbox-", dir=workdir))
    os.chmod(scratch, 0o711)
    slot = UidSlot.claim() if iso.uid else None
    cgroup = Cgroup.create(iso.cgroup) if iso.cgroup else None
    try:
        uid = slot.uid if slot else None
        copy_submission(Path(submission), scratch / "submission")
        if iso.root:  # the sandbox sees its own file system (see grader.confine)
            where = {"sub": "/sandbox/submission", "out": "/sandbox/out",
                     "work": "/sandbox/work", "main": "/kit/grader/inside/main.py",
                     "spec": "/kit/spec.json"}
        else:
            where = {"sub": str(scratch / "submission"), "out": str(scratch / "out"),
                     "work": str(scratch / "work"), "main": str(MAIN),
                     "spec": str(scratch / "spec.json")}
            for name in ("out", "work"):
                (scratch / name).mkdir(mode=0o700)
            if uid is not None:
                for name in ("submission", "out", "work"):
                    os.chown(scratch / name, uid, uid)
                    os.chmod(scratch / name, 0o700)
        token = uuid.uuid4().hex
        spec = {
            "scenario": scenario,
            "start_method": start_method,
            "module": module,
            "sub_dir": where["sub"],
            "probe_dir": where["out"] + "/probes",
            "result_path": where["out"] + "/result.json",
            "phase_path": where["out"] + "/phase",
            "deadline": deadline,
            "params": params,
            "limits": DEFAULT_LIMITS,
            "env": {"KIT_MODULE": module, **(env or {})},
        }
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": where["work"],
            "TMPDIR": "/tmp" if iso.root else where["work"],
            "MALLOC_ARENA_MAX": "2",
            "KIT_SANDBOX_TOKEN": token,
        }
        if os.environ.get("KIT_RUN_TOKEN"):
            # Lets the grading command kill everything of a run it had to abandon.
            child_env["KIT_RUN_TOKEN"] = os.environ["KIT_RUN_TOKEN"]
        argv = [sys.executable, "-I", "-S", where["main"], where["spec"]]
        wall = deadline + GRACE
        if iso.confined:
            plan = build_plan(
                iso, scratch, argv=argv, env=child_env, cwd=where["work"], wall=wall, uid=uid,
                cgroups=cgroup.procs_files() if cgroup else [],
                extra_ro=[(str(MAIN.parent), "/kit/grader/inside"),
                          (str(scratch / "submission"), "/sandbox/submission")],
                files={"/kit/grader/__init__.py": "", "/kit/spec.json": json.dumps(spec)},
                tmpfs=[("/sandbox/work", "size=64m,mode=700"),
                       ("/sandbox/out", "size=64m,mode=700")],
                copy_out=("/sandbox/out", str(scratch / "out")),
                rlimits={"RLIMIT_NPROC": TASKS_MAX} if uid is not None else {},
                witness=("/kit/witness.sock", str(scratch / "witness.jsonl")),
            )
            if iso.root:
                child_env["KIT_WITNESS"] = "/kit/witness.sock"
            (scratch / "plan.json").write_text(json.dumps(plan))
            if not iso.root:
                Path(where["spec"]).write_text(json.dumps(spec))
            cmd = [sys.executable, "-I", "-S", str(CONFINE), str(scratch / "plan.json")]
        else:
            Path(where["spec"]).write_text(json.dumps(spec))
            cmd = argv
        started = time.monotonic()
        with open(scratch / "stdout", "wb") as out, open(scratch / "stderr", "wb") as err:
            proc = subprocess.Popen(
                cmd, cwd=scratch if iso.root else where["work"], env=child_env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True,
                close_fds=True,
            )
        try:
            # confine enforces ``wall`` itself; this is the backstop if even that fails.
            exit_code = wait(proc, wall + (10 * GRACE if iso.confined else 0))
            killed = exit_code == KILLED_AT_LIMIT and iso.confined
        except subprocess.TimeoutExpired:
            killed = True
            exit_code = None
        # Whatever happened, nothing of this sandbox may survive.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        if exit_code is None:
            proc.wait()
        if cgroup is not None:
            cgroup.kill()
        if not iso.confined:
            kill_marked("KIT_SANDBOX_TOKEN", token)
        elapsed = time.monotonic() - started
        out_dir = scratch / "out"
        result: dict[str, Any] = {}
        try:
            result = json.loads((out_dir / "result.json").read_text())
            if not isinstance(result, dict):
                result = {}
        except (OSError, ValueError):
            result = {}
        phase = str(result.get("phase") or _read(out_dir / "phase") or "starting")
        if result.get("timeout"):
            status = "timeout"
        elif result and result.get("phase") == "done":
            status = "ok"
        elif killed:
            status = "killed"
        else:
            status = "died"
        probe_dir = out_dir / "probes"
        records = read_records(str(probe_dir)) if probe_dir.is_dir() else []
        pid = result.get("pid")
        if iso.root:
            pid = verify(records, scratch / "witness.jsonl")
        return Run(
            scenario=scenario,
            start_method=start_method,
            status=status,
            phase=phase,
            pid=pid,
            data=result.get("data") or {},
            error=result.get("error"),
            timeout=result.get("timeout"),
            records=records,
            exit_code=exit_code,
            elapsed=elapsed,
            stdout_tail=_tail(scratch / "stdout"),
            stderr_tail=_tail(scratch / "stderr"),
            params=params,
            out_of_memory=cgroup.oom_killed() if cgroup else False,
        )
    finally:
        if cgroup is not None:
            cgroup.destroy()
        if slot is not None:
            slot.release()
        shutil.rmtree(scratch, ignore_errors=True)


def wait(proc: subprocess.Popen, timeout: float) -> int:
    """``proc.wait(timeout)`` without its polling sleeps (up to 50 ms each): a pidfd
    becomes readable the moment the process ends (Linux 5.3+; else the plain wait)."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout=timeout)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    if not ready:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.wait()


def verify(records: list[dict[str, Any]], witness_log: Path) -> int | None:
    """Replace the pids that probes claimed by the pids the sandbox's init saw (kernel
    credentials of the probe's connection); returns the runner's pid as init knows it.

    A record whose caller never reached the witness (the student broke the probe's
    connection, or patched it away) is attributed to the runner: the grader could not
    confirm that it ran anywhere else. ``claimed_pid`` keeps what the process said.
    """
    runner = None
    seen: dict[str, dict[str, Any]] = {}
    try:
        lines = witness_log.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "runner" in entry:
            runner = entry["runner"]
        elif isinstance(entry.get("key"), str):
            seen.setdefault(entry["key"], entry)
    for rec in records:
        if "pid" not in rec:
            continue
        rec["claimed_pid"] = rec.get("pid")
        entry = seen.get(rec.get("key")) if isinstance(rec.get("key"), str) else None
        rec["verified"] = entry is not None
        rec["pid"] = entry["pid"] if entry else runner
        rec["ppid"] = entry["ppid"] if entry else None
    return runner


@functools.lru_cache(maxsize=1)
def precompile() -> None:
    """Byte-compile the runner's package once, so sandboxes (read-only) need not."""
    compileall.compile_dir(str(MAIN.parent), quiet=2)


def _read(path: Path) -> str:
    try:
        return path.read_text()[:500]
    except OSError:
        return ""
