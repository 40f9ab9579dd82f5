"""The resources of one sandbox on the trusted side: its limits, its uid, its cgroup(s),
and the grader's scratch folders (each marked with its owner, so that what a killed grader
left behind is swept by the next one)."""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from grader.sandbox.tree import kill_until_gone, stat_fields

UID_BASE = 3_100_000
UID_SLOTS = 4096
CGROUP_ROOT = Path("/sys/fs/cgroup")

# Limits of one sandbox (all its processes together, where cgroups allow).
TASKS_MAX = 2500  # processes + threads: 2000 threads must start
MEMORY_MAX = 3 * 1024**3
# Processes at once (threads not counted): a check needs a dozen at most; more is a fork
# bomb, which init ends (without a cgroup's CPU share it would starve the machine).
PROCESS_MAX = 256
CPU_SHARES = 1024
# Marks left in the scratch folder by init's watch (see launcher.Watch).
MEMORY_FLAG = "memory-exceeded"
DISK_FLAG = "disk-exceeded"
# The uid level's bound on what a sandbox writes to disk (shared /tmp, /dev/shm, its
# scratch folders; elsewhere size-limited tmpfs folders bound it).
DISK_MAX = 256 * 1024**2  # (as the full sandbox's four private folders of 64 MB)
DISK_ENTRIES = 20000  # (files and folders: a check makes a few dozen)
PROCESSES_FLAG = "processes-exceeded"


# --- one uid per concurrent sandbox ----------------------------------------------------

def _lock_dir() -> Path:
    for base in (Path("/run"), Path(tempfile.gettempdir())):
        folder = base / "kit-grader-uids"
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            return folder
        except OSError:
            continue
    raise OSError("no folder for uid locks")


class UidSlot:
    """A uid held (by ``flock``) for one sandbox at a time, across all grader processes."""

    def __init__(self, uid: int, fd: int):
        self.uid = uid
        self._fd = fd

    @classmethod
    def claim(cls) -> UidSlot:
        folder = _lock_dir()
        start = random.randrange(UID_SLOTS)
        for i in range(UID_SLOTS):
            slot = (start + i) % UID_SLOTS
            fd = os.open(folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            return cls(UID_BASE + slot, fd)
        raise OSError("all sandbox uids are in use")

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# --- cgroups ---------------------------------------------------------------------------

def _own_cgroups() -> dict[str, str]:
    """controller (or "" for v2) -> this process's cgroup path."""
    out = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for name in controllers.split(",") if controllers else [""]:
                out[name] = path
    except (OSError, ValueError):
        pass
    return out


V1_CONTROLLERS = ("pids", "memory", "cpu")


def cgroup_version() -> tuple[str | None, bool]:
    """("v1" or "v2", whether its limits apply) if this process may create cgroups, else
    (None, False). On v2 a cgroup can always be killed as a whole; its pids and memory
    limits need those controllers delegated to the grader's own cgroup."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        version = "v2"
    elif all((CGROUP_ROOT / c / "cgroup.procs").exists() for c in V1_CONTROLLERS):
        version = "v1"
    else:
        return None, False
    try:
        cg = Cgroup.create(version)
    except OSError:
        return None, False
    cg.destroy()
    return version, cg.limited


STALE_AFTER = 3600.0


def _cgroup_parents(root: Path | None = None) -> list[Path]:
    """Where this process creates sandbox cgroups (see :meth:`Cgroup.create`)."""
    root = root or CGROUP_ROOT
    own = _own_cgroups()
    if (root / "cgroup.controllers").exists():
        return [root / own.get("", "/").lstrip("/")]
    return [root / c / own.get(c, "/").lstrip("/") for c in V1_CONTROLLERS]


def sweep_stale_cgroups(root: Path | None = None, older_than: float = STALE_AFTER) -> int:
    """Remove the empty sandbox cgroups a grader that was killed left behind.

    Only those unchanged for ``older_than`` seconds: a fresh empty one may belong to a
    grader running now, about to start its sandbox in it. Returns how many went.
    """
    removed, now = 0, time.time()
    for parent in _cgroup_parents(root):
        try:
            entries = list(parent.glob("kit-*"))
        except OSError:
            continue
        for path in entries:
            try:
                if now - path.stat().st_mtime < older_than:
                    continue
                if (path / "cgroup.procs").read_text().strip():
                    continue
                path.rmdir()
                removed += 1
            except OSError:
                continue
    return removed


SCRATCH_OWNER = ".kit-owner"


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), None if there is none."""
    fields = stat_fields("/proc", pid)  # (from the state on: field 22 is the 20th)
    return fields[19] if fields and len(fields) > 19 else None


def own_scratch(folder: str | Path) -> None:
    """Mark a ``kit-*`` scratch folder as this process's, for :func:`sweep_stale_scratch`."""
    (Path(folder) / SCRATCH_OWNER).write_text(f"{os.getpid()} {_started(os.getpid())}")


def sweep_stale_scratch(base: Path | None = None, older_than: float = 60.0) -> int:
    """Remove the ``kit-*`` scratch folders (of sandboxes, pools, students' pytest runs)
    that a grader killed before it could clean up left in ``base`` (the temp folder).

    Only folders whose owner (:func:`own_scratch`: pid and start time, so a reused pid is
    told apart) is gone, and unchanged for ``older_than`` seconds; a folder without an
    owner is left alone. Returns how many went.
    """
    base = Path(base or tempfile.gettempdir())
    removed, now = 0, time.time()
    try:
        entries = [p for p in base.glob("kit-*") if p.is_dir() and not p.is_symlink()]
    except OSError:
        return 0
    for path in entries:
        try:
            pid, started = (path / SCRATCH_OWNER).read_text().split()
            if _started(int(pid)) == started or now - path.stat().st_mtime < older_than:
                continue
        except (OSError, ValueError):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += not path.exists()
    return removed


class Cgroup:
    """The cgroup(s) of one sandbox: created before it starts, killed and removed after."""

    def __init__(self, version: str, dirs: list[Path], limited: bool = True):
        self.version = version
        self.dirs = dirs
        self.limited = limited  # the pids and memory limits were set

    @classmethod
    def create(cls, version: str, root: Path | None = None) -> Cgroup:
        """A new cgroup for one sandbox below this process's own (``root``: where the
        hierarchy is mounted, for v2 ``/sys/fs/cgroup``)."""
        root = root or CGROUP_ROOT
        own = _own_cgroups()
        name = f"kit-{uuid.uuid4().hex[:16]}"
        dirs: list[Path] = []
        limited = True
        try:
            if version == "v2":
                parent = root / own.get("", "/").lstrip("/")
                path = parent / name
                path.mkdir()
                dirs.append(path)
                limited = (cls._write(path / "pids.max", str(TASKS_MAX), required=False)
                           & cls._write(path / "memory.max", str(MEMORY_MAX), required=False))
                cls._write(path / "memory.swap.max", "0", required=False)
            else:
                for controller in V1_CONTROLLERS:
                    parent = root / controller / own.get(controller, "/").lstrip("/")
                    path = parent / name
                    path.mkdir()
                    dirs.append(path)
                    if controller == "pids":
                        cls._write(path / "pids.max", str(TASKS_MAX))
                    elif controller == "memory":
                        cls._write(path / "memory.limit_in_bytes", str(MEMORY_MAX))
                        cls._write(path / "memory.memsw.limit_in_bytes", str(MEMORY_MAX),
                                   required=False)
                    else:
                        cls._write(path / "cpu.shares", str(CPU_SHARES))
        except OSError:
            cls(version, dirs).destroy()
            raise
        return cls(version, dirs, limited if version == "v2" else True)

    @staticmethod
    def _write(path: Path, value: str, required: bool = True) -> bool:
        try:
            path.write_text(value)
        except OSError:
            if required:
                raise
            return False
        return True

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def members(self) -> set[int]:
        pids: set[int] = set()
        for d in self.dirs:
            try:
                pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                continue
        return pids

    def oom_kills(self) -> int:
        """How many processes of this sandbox the kernel killed for exceeding its memory."""
        for d in self.dirs:
            for name in ("memory.oom_control", "memory.events"):
                try:
                    for line in (d / name).read_text().splitlines():
                        k, _, v = line.partition(" ")
                        if k == "oom_kill":
                            return int(v)
                except (OSError, ValueError):
                    continue
        return 0

    def kill(self) -> None:
        """Kill every process in the sandbox's cgroup (none can leave it on its own)."""
        if self.version == "v2" and self.dirs and (self.dirs[0] / "cgroup.kill").exists():
            try:
                (self.dirs[0] / "cgroup.kill").write_text("1")
            except OSError:
                pass
        kill_until_gone(self.members, limit=0.5, pause=0.01)

    def destroy(self, patience: float = 5.0) -> None:
        """Kill what is in the cgroup and remove it. A cgroup cannot be removed while a
        dying process (thousands, after a fork bomb) is still in it: keep killing and
        retrying for ``patience`` seconds; :func:`sweep_stale_cgroups` gets the rest."""
        self.kill()
        left = list(self.dirs)
        end = time.monotonic() + patience
        while left:
            for d in list(left):
                try:
                    d.rmdir()
                    left.remove(d)
                except FileNotFoundError:
                    left.remove(d)
                except OSError:
                    pass
            if not left or time.monotonic() > end:
                return
            self.kill()
            time.sleep(0.02)
