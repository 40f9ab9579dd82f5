"""What this machine lets the sandbox use, and the per-sandbox resources (uid, cgroups).

:func:`detect` tries the strongest confinement first, by really launching
:mod:`grader.confine` with it, and falls back one feature at a time:

========  ==========================================================================
feature   what it buys
========  ==========================================================================
uid       the student runs as a uid of its own (one per concurrent sandbox): it cannot
          signal or read the grader, and ``RLIMIT_NPROC`` bounds its processes
mount     a new root with only the interpreter, the submission and private ``/tmp``:
          hidden suites, solutions, other students and the output folder are absent
pid       a PID namespace: when the sandbox's init ends, the kernel kills the rest
net       a network namespace with no interface but a down loopback: no network
ipc/uts   private System V IPC and host name
cgroup    pids, memory and CPU-share limits for the whole sandbox, and a kill that
          reaches every process in it (``cgroup.kill`` on v2, the member list on v1)
========  ==========================================================================

Without root none of these is available. The launcher's init is then a child subreaper
(``subreaper``): nothing a check starts can leave the tree below it, and init kills that
tree when the check ends. Where even that fails, the sandbox runs in its own session and
process group and is reaped by an environment token (the weakest level; ``doctor`` says
so). The result is cached for the process and handed to child processes in
``KIT_ISOLATION`` so that a class is probed once.
"""

from __future__ import annotations

import fcntl
import json
import marshal
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.confine import stat_fields

CONFINE = Path(__file__).resolve().parent / "confine.py"
NAMESPACES = ("mount", "pid", "net", "ipc", "uts")
UID_BASE = 3_100_000
UID_SLOTS = 4096
CGROUP_ROOT = Path("/sys/fs/cgroup")
ENV = "KIT_ISOLATION"

# Limits of one sandbox (all its processes together, where cgroups allow).
TASKS_MAX = 2500  # processes + threads: 2000 threads must start
MEMORY_MAX = 3 * 1024**3
# Processes at once (threads not counted): a check needs a dozen at most; more is a fork
# bomb, which init ends (without a cgroup's CPU share it would starve the machine).
PROCESS_MAX = 256
CPU_SHARES = 1024


@dataclass(frozen=True)
class Isolation:
    uid: bool = False
    namespaces: tuple[str, ...] = ()
    root: bool = False
    cgroup: str | None = None  # "v1" or "v2"
    missing: tuple[str, ...] = field(default=())
    cgroup_limits: bool = True  # False: the cgroup can kill, but no controller limits it
    # Without root: the launcher's init is a child subreaper that kills every descendant.
    subreaper: bool = False
    # Without root: the namespaces belong to a user namespace of the sandbox's own.
    userns: bool = False
    # Why each missing feature is missing, as the probe found it (feature -> cause).
    causes: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def confined(self) -> bool:
        """Whether sandboxes go through the launcher (:mod:`grader.confine`)."""
        return self.uid or bool(self.namespaces) or self.subreaper

    @property
    def separated(self) -> bool:
        """Whether student code runs apart from the grader: its own uid (root), or its own
        user namespace (without root)."""
        return self.uid or self.userns

    @property
    def full(self) -> bool:
        """The isolation a grade can be trusted with: separated from the grader, in every
        namespace, on a private root file system (hidden suites, solutions, other
        students and reports are not there), bounded in processes and memory."""
        return self.separated and self.root and set(NAMESPACES) <= set(self.namespaces)

    @property
    def sessions(self) -> bool:
        """Whether one sandbox may serve many checks: ``kill(-1)`` inside it must reach
        exactly the student's processes (own uid or user namespace, own PID namespace,
        own root)."""
        return self.separated and self.root and "pid" in self.namespaces

    def weakness(self) -> str:
        """Empty for the full sandbox; else what student code could do here and why (for
        the refusal, and the warning in every report when an instructor grades anyway)."""
        if self.full:
            return ""
        harms = []
        if not self.root:
            harms.append("read the hidden suites, the solutions, other students' files and "
                         "the reports, and write wherever the grader's user may")
        if not self.separated:
            harms.append("signal or trace the grader")
        if "pid" not in self.namespaces and not self.subreaper:
            harms.append("leave processes running after grading")
        if "net" not in self.namespaces:
            harms.append("use the network")
        if not harms:
            harms.append("reach beyond its sandbox")
        return ("student code could " + "; ".join(harms) + ". Missing: "
                + "; ".join(f"{m} ({self.causes[m]})" if self.causes.get(m) else m
                            for m in self.missing or ("namespaces",)) + ".")

    def advice(self) -> str:
        """What an instructor can do to get the full sandbox here."""
        if sys.platform != "linux":
            return "grade on Linux (a VM or a container of your own is fine)."
        if os.geteuid() != 0:
            return ("allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0; "
                    "on Debian's older kernels kernel.unprivileged_userns_clone=1; on Ubuntu "
                    "23.10+ kernel.apparmor_restrict_unprivileged_userns=0 or an AppArmor "
                    "profile that allows userns for this Python), or run the grader as root.")
        return ("in a container, give it CAP_SYS_ADMIN and a seccomp profile that allows "
                "unshare (docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined), "
                "or grade on a Linux machine or VM as root or an ordinary user.")

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    def summary(self) -> str:
        """One line for an instructor (results.json ``output``, ``doctor``)."""
        if not self.confined:
            return ("sandbox: process group only (no uid or user namespace of its own, no "
                    "namespaces; see `python -m grader doctor`)")
        if not self.uid and not self.namespaces:
            return ("sandbox: a subreaper init that kills every process a check started "
                    "(no uid or user namespace of its own, no namespaces; see `python -m "
                    "grader doctor`)")
        parts = []
        if self.uid:
            parts.append("own uid per sandbox")
        if self.userns:
            parts.append("own user namespace (rootless)")
        if self.namespaces:
            parts.append("namespaces: " + ", ".join(self.namespaces))
        if self.root:
            parts.append("private root file system")
        if self.cgroup:
            parts.append(f"cgroup {self.cgroup} limits" if self.cgroup_limits else
                         f"cgroup {self.cgroup} (kill only: no pids/memory controller)")
        elif self.userns:
            parts.append("limits from rlimits and init's watch")
        text = "sandbox: " + "; ".join(parts)
        if self.missing:
            text += " (missing: " + "; ".join(self.missing) + ")"
        return text


def confine_command(plan: dict, scratch: Path) -> list[str]:
    """Write ``plan`` into ``scratch`` and return the command that carries it out."""
    path = scratch / "plan"
    path.write_bytes(marshal.dumps(plan))
    return [sys.executable, "-I", "-S", str(CONFINE), str(path)]


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


def trial(iso: Isolation) -> tuple[bool, str]:
    """Launch confine with ``iso`` on ``pass``-like work in the sandbox's interpreter:
    (whether the runner ran, why not: the launcher's or the interpreter's own words)."""
    scratch = Path(tempfile.mkdtemp(prefix="kit-probe-"))
    own_scratch(scratch)
    slot = None
    cg = None
    try:
        if iso.uid:
            slot = UidSlot.claim()
        if iso.cgroup:
            cg = Cgroup.create(iso.cgroup)
        plan = build_plan(
            iso, scratch, argv=[sandbox_python(), "-I", "-S", "-c", "pass"],
            env={"PATH": "/usr/bin:/bin"}, cwd="/", wall=20.0,
            uid=slot.uid if slot else None, cgroups=cg.procs_files() if cg else [],
            extra_ro=[], files={}, tmpfs=[], copy_out=None,
        )
        with open(scratch / "stderr", "wb") as err:
            proc = subprocess.Popen(confine_command(plan, scratch), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err)
        try:
            code = wait(proc, 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return False, "the trial sandbox did not end within 30 s"
        if code == 0:
            return True, ""
        words = (scratch / "stderr").read_bytes()[-2000:].decode(errors="replace")
        lines = [w.strip() for w in words.splitlines() if w.strip()]
        return False, (lines[-1] if lines else f"the trial sandbox exited {code}")
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    finally:
        if cg is not None:
            cg.destroy()
        if slot is not None:
            slot.release()
        shutil.rmtree(scratch, ignore_errors=True)


def _detect() -> Isolation:
    if sys.platform != "linux":
        return Isolation(missing=("Linux",), causes={"Linux": f"this is {sys.platform}"})
    sweep_stale_scratch()
    if os.geteuid() != 0:
        return _detect_rootless()
    missing: list[str] = []
    causes: dict[str, str] = {}
    sweep_stale_cgroups()
    cgroup, limits = cgroup_version()
    if cgroup is None:
        missing.append("writable cgroups (pids, memory, cpu limits)")
    elif not limits:
        missing.append(f"cgroup {cgroup} controllers for pids and memory (delegate them to "
                       f"the grader's cgroup)")
    full = Isolation(uid=True, namespaces=NAMESPACES, root=True, cgroup=cgroup,
                     cgroup_limits=limits)
    ok, why = trial(full)
    if ok:
        return Isolation(**{**asdict(full), "missing": tuple(missing)})
    causes["full sandbox"] = why
    if cgroup:
        ok, why = trial(Isolation(uid=True, namespaces=NAMESPACES, root=True))
        if ok:
            return Isolation(uid=True, namespaces=NAMESPACES, root=True,
                             missing=(*missing, "cgroups refused a sandbox"),
                             causes={"cgroups refused a sandbox": causes["full sandbox"]})
    usable = []
    for ns in NAMESPACES:
        ok, why = trial(Isolation(uid=True, namespaces=(ns,)))
        if ok:
            usable.append(ns)
        else:
            missing.append(f"{ns} namespace")
            causes[f"{ns} namespace"] = why
    root = False
    if "mount" in usable:
        root, why = trial(Isolation(uid=True, namespaces=("mount",), root=True))
    if not root:
        missing.append("private root file system")
        causes["private root file system"] = why
    uid, why = trial(Isolation(uid=True))
    if not uid:
        missing.append("setuid")
        causes["setuid"] = why
    if not uid and not usable:
        reaper, why = trial(Isolation(subreaper=True))
        if not reaper:
            missing.append("a child subreaper")
            causes["a child subreaper"] = why
        return Isolation(subreaper=reaper, missing=tuple(missing), causes=causes)
    return Isolation(uid=uid, namespaces=tuple(usable), root=root, missing=tuple(missing),
                     causes=causes)


def _detect_rootless() -> Isolation:
    """Without root: a user namespace with every other namespace and a private root, with
    a cgroup where one is delegated to this user; else the subreaper level."""
    cgroup, limits = cgroup_version()
    full = Isolation(userns=True, namespaces=NAMESPACES, root=True, cgroup=cgroup,
                     cgroup_limits=limits)
    ok, why = trial(full)
    if ok:
        return full
    causes = {"user namespaces": why}
    missing = ("user namespaces (namespaces and a private root without root)",)
    reaper, why = trial(Isolation(subreaper=True))
    if reaper:
        return Isolation(subreaper=True, missing=missing, causes=causes)
    return Isolation(missing=(*missing, "a child subreaper"),
                     causes={**causes, "a child subreaper": why})


_detected: Isolation | None = None


def detect(fresh: bool = False) -> Isolation:
    """The strongest isolation this machine allows (probed once, then inherited)."""
    global _detected
    if _detected is not None and not fresh:
        return _detected
    cached = None if fresh else os.environ.get(ENV)
    if cached:
        try:
            data = json.loads(cached)
            data["namespaces"] = tuple(data["namespaces"])
            data["missing"] = tuple(data["missing"])
            data["causes"] = dict(data.get("causes") or {})
            _detected = Isolation(**data)
            return _detected
        except (ValueError, TypeError, KeyError):
            pass
    _detected = _detect()
    return _detected


# --- the sandbox's file system -------------------------------------------------------

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


def _mapped_dirs() -> list[str]:
    """The folders of the shared libraries this interpreter has loaded (libpython, libssl,
    ...), as the kernel maps them: an interpreter built with an rpath outside its prefix
    needs them too."""
    dirs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                path = parts[5].strip() if len(parts) == 6 else ""
                name = os.path.basename(path)
                if path.startswith("/") and name.startswith("lib") and ".so" in name:
                    dirs.add(os.path.dirname(path))
    except OSError:
        pass
    return sorted(dirs)


def _python_dirs() -> list[str]:
    """Folders the sandbox's interpreter needs: its prefix (stdlib, extension modules),
    the folder of its executable and those of the libraries it loads. Only folders that
    the system folders do not already hold, and none inside another."""
    python = sandbox_python()
    wanted = [sys.base_prefix, os.path.dirname(python), *_mapped_dirs()]
    if sys.prefix != sys.base_prefix and python.startswith(os.path.realpath(sys.prefix) + "/"):
        wanted.append(sys.prefix)  # (a venv made with --copies: its python is its own)
    dirs: list[str] = []
    for path in wanted:
        path = os.path.realpath(path)
        if not path or path == "/" or any(path == d or path.startswith(d + "/")
                                          for d in (*SYSTEM_DIRS, *dirs)):
            continue
        dirs = [d for d in dirs if not d.startswith(path + "/")] + [path]
    return dirs


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Marks left in the scratch folder by init's watch (see grader.confine.Watch).
MEMORY_FLAG = "memory-exceeded"
PROCESSES_FLAG = "processes-exceeded"


def build_plan(iso: Isolation, scratch: Path, *, argv: list[str], env: dict[str, str],
               cwd: str, wall: float, uid: int | None, cgroups: list[str],
               extra_ro: list[tuple[str, str]], files: dict[str, str],
               tmpfs: list[tuple[str, str]], copy_out: tuple[str, str] | None,
               rlimits: dict[str, int] | None = None,
               witness: tuple[str, str] | None = None,
               runner_fds: tuple[int, ...] = ()) -> dict:
    """The plan :mod:`grader.confine` carries out (see there)."""
    plan: dict = {"argv": argv, "env": env, "cwd": cwd, "wall": wall, "uid": uid,
                  "cgroups": cgroups, "namespaces": list(iso.namespaces),
                  "rlimits": rlimits or {}, "copy_out": list(copy_out) if copy_out else None,
                  "runner_fds": list(runner_fds), "userns": iso.userns}
    if iso.userns:
        # No uid of its own: the sandbox's processes are counted in its user namespace.
        plan["rlimits"] = {"RLIMIT_NPROC": TASKS_MAX, **plan["rlimits"]}
    if "pid" in iso.namespaces and iso.root:  # (init's Watch: see grader.confine)
        plan["flags"] = str(scratch)
        plan["process_max"] = PROCESS_MAX
        if not (cgroups and iso.cgroup_limits):
            plan["memory_max"] = MEMORY_MAX
    if iso.root:
        root_dir = scratch / "root"
        root_dir.mkdir()
        links = [d for d in SYSTEM_DIRS if os.path.islink(d)]
        ro = [(d, d) for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
        ro += [(d, d) for d in _python_dirs()]
        ro += [(src, dest) for src, dest in extra_ro]
        owner = f",uid={uid},gid={uid}" if uid is not None else ""
        plan["root"] = {
            "dir": str(root_dir),
            "symlinks": links,
            "ro": ro,
            "tmpfs": [("/tmp", "size=64m,mode=1777"), ("/dev/shm", "size=64m,mode=1777"),
                      *[(dest, opts + owner) for dest, opts in tmpfs]],
            "files": files,
            "own_pid_ns": "pid" in iso.namespaces,
            "witness": witness[0] if witness else None,
        }
        plan["witness_log"] = witness[1] if witness else None
    return plan


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
        for _ in range(50):
            pids = self.members()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)

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
