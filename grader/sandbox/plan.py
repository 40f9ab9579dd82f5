"""The plan of one sandbox (what :mod:`grader.sandbox.launcher` carries out): the
interpreter it runs, the folders its private root holds, its limits."""

from __future__ import annotations

import functools
import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grader.sandbox.resources import DISK_ENTRIES, DISK_MAX, MEMORY_MAX, PROCESS_MAX, TASKS_MAX

if TYPE_CHECKING:
    from grader.sandbox.detect import Isolation

LAUNCHER = Path(__file__).resolve().parent / "launcher.py"


def launch_command(plan: dict, scratch: Path) -> list[str]:
    """Write ``plan`` into ``scratch`` and return the command that carries it out."""
    path = scratch / "plan"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # (the grader's alone)
    with os.fdopen(fd, "wb") as f:
        f.write(marshal.dumps(plan))
    return [sys.executable, "-I", "-S", str(LAUNCHER), str(path)]


def sandbox_python() -> str:
    """The interpreter that sandboxes run (always with ``-I -S``, so no site-packages):
    the base interpreter of a venv, by its real path. Then the sandbox needs neither the
    venv nor the symlinks to it, wherever they are."""
    for candidate in (getattr(sys, "_base_executable", None), sys.executable):
        if candidate and os.path.isfile(candidate):
            real = os.path.realpath(candidate)
            if os.access(real, os.X_OK):
                return real
    return os.path.realpath(sys.executable)


# What the runner imports that may map a library of its own (libffi for ctypes, ...).
_RUNNER_EXTENSIONS = "ctypes, _socket, select, _json, _multiprocessing, _posixshmem, resource"


@functools.lru_cache(maxsize=1)
def _library_dirs() -> tuple[str, ...]:
    """The folders of the shared libraries the sandbox's interpreter maps when it runs
    what the runner imports (libpython, libffi, ...), read from that interpreter's own
    ``/proc/self/maps``: one built with an rpath outside its prefix needs them too. (Not
    this process's maps: the grader's pytest has loaded site-packages' libraries.)"""
    code = (f"import {_RUNNER_EXTENSIONS}\n"
            "print(open('/proc/self/maps').read())")
    try:
        done = subprocess.run([sandbox_python(), "-I", "-S", "-c", code], capture_output=True,
                              text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return ()
    dirs = set()
    for line in done.stdout.splitlines():
        parts = line.split(None, 5)
        path = parts[5].strip() if len(parts) == 6 else ""
        if path.startswith("/") and ".so" in os.path.basename(path):
            dirs.add(os.path.dirname(path))
    return tuple(sorted(dirs))


@functools.lru_cache(maxsize=1)
def _python_dirs() -> tuple[str, ...]:
    """Folders the sandbox's interpreter needs: its prefix (stdlib, extension modules),
    the folder of its executable and those of the libraries it loads. Only folders that
    the system folders do not already hold, and none inside another. (Found once per
    process: every sandbox's plan names them.)"""
    python = sandbox_python()
    wanted = [sys.base_prefix, os.path.dirname(python), *_library_dirs()]
    if sys.prefix != sys.base_prefix and python.startswith(os.path.realpath(sys.prefix) + "/"):
        wanted.append(sys.prefix)  # (a venv made with --copies: its python is its own)
    dirs: list[str] = []
    for path in wanted:
        path = os.path.realpath(path)
        if not path or path == "/" or any(path == d or path.startswith(d + "/")
                                          for d in (*SYSTEM_DIRS, *dirs)):
            continue
        dirs = [d for d in dirs if not d.startswith(path + "/")] + [path]
    return tuple(dirs)


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# The machine's folders that every uid may write (the uid level has no private ones).
SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")


def shared_dirs() -> list[str]:
    """:data:`SHARED_DIRS` that this machine has (links left out: their targets are)."""
    return [d for d in SHARED_DIRS if os.path.isdir(d) and not os.path.islink(d)]


def observe_by(iso: Isolation) -> str | None:
    """How the check's processes are told apart in ``/proc`` (:mod:`grader.inside.stalls`,
    for the runner's watchdog and init's barriers), where :attr:`Isolation.stalls_seen`:
    ``pid``, a PID namespace of its own with a private root (its ``/proc`` shows only the
    sandbox); ``uid``, the uid level (the machine's ``/proc``, in which the sandbox's uid
    is its own); else None (the deadlines alone decide)."""
    if not iso.stalls_seen:
        return None
    return "pid" if iso.root else "uid"


def build_plan(iso: Isolation, scratch: Path, *, argv: list[str], env: dict[str, str],
               cwd: str, wall: float, uid: int | None, cgroups: list[str],
               files: dict[str, str],
               tmpfs: list[tuple[str, str]], copy_out: tuple[str, str] | None,
               rlimits: dict[str, int] | None = None,
               witness: tuple[str, str] | None = None,
               runner_fds: tuple[int, ...] = (),
               copies: list[tuple[str, str, str | None]] = ()) -> dict:
    """The plan :mod:`grader.sandbox.launcher` carries out (see there)."""
    plan: dict = {"argv": argv, "env": env, "cwd": cwd, "wall": wall, "uid": uid,
                  "cgroups": cgroups, "namespaces": list(iso.namespaces),
                  "rlimits": rlimits or {}, "copy_out": list(copy_out) if copy_out else None,
                  "runner_fds": list(runner_fds), "userns": iso.userns,
                  "observe": observe_by(iso)}
    if iso.userns:
        # No uid of its own: the sandbox's processes are counted in its user namespace.
        plan["rlimits"] = {"RLIMIT_NPROC": TASKS_MAX, **plan["rlimits"]}
    if "net" not in iso.namespaces and iso.confined:
        plan["unix_only"] = True  # (no network namespace: no sockets but AF_UNIX)
    uid_level = iso.permissions and uid is not None and not iso.root
    if ("pid" in iso.namespaces and iso.root) or uid_level:  # (init's Watch: see the launcher)
        plan["flags"] = str(scratch)
        plan["process_max"] = PROCESS_MAX
        if not (cgroups and iso.cgroup_limits):
            plan["memory_max"] = MEMORY_MAX
    if uid_level:
        # The machine's /tmp, /dev/shm, ... are shared: what the uid leaves there goes.
        plan["sweep"] = shared_dirs()
        # ... and what it may hold there and in its scratch folders, at most (init's watch).
        plan["disk_max"] = DISK_MAX
        plan["disk_entries"] = DISK_ENTRIES
        plan["disk_dirs"] = [*plan["sweep"], str(scratch)]
        if witness:
            plan["witness_socket"], plan["witness_log"] = witness
    if iso.root:
        root_dir = scratch / "root"
        root_dir.mkdir()
        links = [d for d in SYSTEM_DIRS if os.path.islink(d)]
        ro = [(d, d) for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
        ro += [(d, d) for d in _python_dirs()]
        owner = f",uid={uid},gid={uid}" if uid is not None else ""
        plan["root"] = {
            "dir": str(root_dir),
            "symlinks": links,
            "ro": ro,
            "tmpfs": [("/tmp", "size=64m,mode=1777"), ("/dev/shm", "size=64m,mode=1777"),
                      *[(dest, opts + owner) for dest, opts in tmpfs]],
            "copies": [list(c) for c in copies],  # (source, dest, stage): copy_in
            "files": files,
            "own_pid_ns": "pid" in iso.namespaces,
            "witness": witness[0] if witness else None,
        }
        plan["witness_log"] = witness[1] if witness else None
    return plan
