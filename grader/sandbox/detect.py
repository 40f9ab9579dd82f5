"""What this machine lets the sandbox use, and the per-sandbox resources (uid, cgroups).

:func:`detect` tries the strongest confinement first, by really launching
:mod:`grader.sandbox.launcher` with it, and falls back one feature at a time:

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

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.sandbox.plan import build_plan, launch_command, sandbox_python
from grader.sandbox.resources import (
    Cgroup,
    UidSlot,
    cgroup_version,
    own_scratch,
    sweep_stale_cgroups,
    sweep_stale_scratch,
)
from grader.sandbox.tree import wait

NAMESPACES = ("mount", "pid", "net", "ipc", "uts")
ENV = "KIT_ISOLATION"


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
    # The uid level (root where namespaces are refused: a container): a uid of its own
    # per sandbox, from which file permissions hide the grader's files (probed: see
    # :func:`exposed`); network sockets refused by a seccomp filter, the shared /tmp and
    # /dev/shm swept of what the uid left, its processes watched and killed by uid.
    permissions: bool = False

    @property
    def confined(self) -> bool:
        """Whether sandboxes go through the launcher (:mod:`grader.sandbox.launcher`)."""
        return self.uid or bool(self.namespaces) or self.subreaper

    @property
    def separated(self) -> bool:
        """Whether student code runs apart from the grader: its own uid (root), or its own
        user namespace (without root)."""
        return self.uid or self.userns

    @property
    def stalls_seen(self) -> bool:
        """Whether a check's deadlocks and unreachable barriers are seen when they happen
        (how: :func:`grader.sandbox.plan.observe_by`): with a PID namespace of its own and
        a private root, or at the uid level (a uid of its own per sandbox); elsewhere they
        last until their time limits."""
        return ((self.root and "pid" in self.namespaces)
                or (self.permissions and self.uid and not self.root))

    @property
    def full(self) -> bool:
        """The isolation a grade can be trusted with: separated from the grader, in every
        namespace, on a private root file system (hidden suites, solutions, other
        students and reports are not there), bounded in processes and memory."""
        return (self.separated and self.root and set(NAMESPACES) <= set(self.namespaces)) \
            or (self.uid and self.permissions)

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
        if PERMISSIONS in self.causes:
            return (f"{self.causes[PERMISSIONS]}; then the grader uses the uid level. Or, in "
                    f"a container, give it CAP_SYS_ADMIN and a seccomp profile that allows "
                    f"unshare (docker run --cap-add SYS_ADMIN --security-opt "
                    f"seccomp=unconfined), or grade on a Linux machine or VM.")
        return ("in a container, give it CAP_SYS_ADMIN and a seccomp profile that allows "
                "unshare (docker run --cap-add SYS_ADMIN --security-opt seccomp=unconfined), "
                "or install the kit where root alone may read it, with an interpreter "
                "every user may run (the uid level), or grade on a Linux machine or VM as "
                "root or an ordinary user.")

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
        if self.permissions:
            parts.append("the grader's files hidden by file permissions; no namespaces "
                         "(network sockets refused, shared /tmp and /dev/shm swept after "
                         "each check)")
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
        if self.missing and not self.permissions:  # (the uid level stands in for them)
            text += " (missing: " + "; ".join(self.missing) + ")"
        return text


def trial(iso: Isolation) -> tuple[bool, str]:
    """Launch a sandbox with ``iso`` on ``pass``-like work in the sandbox's interpreter:
    (whether the runner ran, why not: the launcher's or the interpreter's own words)."""
    scratch = Path(tempfile.mkdtemp(prefix="kit-probe-"))
    own_scratch(scratch)
    try:
        code, _, why = _probe(iso, scratch, ["-c", "pass"], wall=20.0)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, str(exc)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if code == 0:
        return True, ""
    return False, why or f"the trial sandbox exited {code}"


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
        if "Permission denied" in why:
            why += (f" (the sandbox's uid cannot run {sandbox_python()}: a folder on its "
                    f"path is private to its owner; grade from an interpreter every user "
                    f"may run, e.g. a venv over /usr/bin/python3)")
        missing.append(OWN_UID)
        causes[OWN_UID] = why
    else:
        level = Isolation(uid=True, permissions=True)
        ok, why = trial(level)
        if ok:
            seen = exposed(kit_secrets(), level)
            if not seen:
                return Isolation(uid=True, permissions=True, missing=tuple(missing),
                                 causes=causes)
            why = f"the sandbox's uid can read {seen[0]}: {hiding_advice()}"
        missing.append(PERMISSIONS)
        causes[PERMISSIONS] = why
    if not uid and not usable:
        reaper, why = trial(Isolation(subreaper=True))
        if not reaper:
            missing.append("a child subreaper")
            causes["a child subreaper"] = why
        return Isolation(subreaper=reaper, missing=tuple(missing), causes=causes)
    return Isolation(uid=uid, namespaces=tuple(usable), root=root, missing=tuple(missing),
                     causes=causes)


OWN_UID = "a uid of its own per sandbox"
PERMISSIONS = "file permissions that hide the grader's files from the sandbox's uid"
KIT = Path(__file__).resolve().parent.parent  # the grader package: its hidden suites


def kit_secrets() -> list[Path]:
    """What student code must not read, whatever the class: the grader's package (the
    hidden suites; sandboxes get a copy of its ``inside`` package) and, in a checkout,
    the reference solutions."""
    return [p for p in (KIT, KIT.parent / "solutions") if p.is_dir()]


EXPOSED_PROBE = r"""
import os, sys
seen = []
for path in open(sys.argv[1], encoding="utf-8", errors="surrogateescape").read().split("\0"):
    if not path:
        continue
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError:
        continue
    seen.append(path)
    if len(seen) >= 5:
        break
sys.stdout.write("\0".join(seen))
"""
PROBE_ENTRIES = 20000


def exposed(paths: list[Path], iso: Isolation | None = None) -> list[str]:
    """Which of ``paths``, or of the files and folders below them, a sandbox's uid can
    read (list a folder, open a file), found by trying as that uid (up to 5; at most
    :data:`PROBE_ENTRIES` entries are tried). Empty where the sandbox has a private
    root (none of them is in there) or runs as the grader's own user (all are)."""
    iso = iso or detect()
    if not (iso.uid and iso.permissions):
        return []
    entries: list[str] = []
    for top in paths:
        top = Path(os.path.abspath(top))
        if not top.exists():
            continue
        entries.append(str(top))
        for folder, dirs, files in os.walk(top):
            entries += [os.path.join(folder, n) for n in (*dirs, *files)]
            if len(entries) > PROBE_ENTRIES:
                break
    if not entries:
        return []
    scratch = Path(tempfile.mkdtemp(prefix="kit-probe-"))
    own_scratch(scratch)
    os.chmod(scratch, 0o711)
    try:
        listing = scratch / "paths"
        listing.write_bytes("\0".join(entries[:PROBE_ENTRIES]).encode("utf-8",
                                                                       "surrogateescape"))
        os.chmod(listing, 0o644)
        code, out, err = _probe(iso, scratch, ["-c", EXPOSED_PROBE, str(listing)])
        if code != 0:
            raise OSError(f"the permission probe failed: {err or code}")
        return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def hiding_advice() -> str:
    """What to do when :func:`exposed` found something the sandbox's uid can read."""
    return ("make it private to the grader's user (chmod 700 on it or on a folder above "
            "it; or `chmod -R go-rwx` on the kit, the class and the output folder)")


def _probe(iso: Isolation, scratch: Path, args: list[str],
           wall: float = 60.0) -> tuple[int | None, bytes, str]:
    """Run the sandbox's interpreter with ``args`` in a sandbox of level ``iso`` (a uid
    slot and a cgroup of its own where ``iso`` has them), in ``scratch``: (exit code,
    stdout, the last line of stderr); the code is None if it did not end in time."""
    slot = cg = None
    try:
        if iso.uid:
            slot = UidSlot.claim()
        if iso.cgroup:
            cg = Cgroup.create(iso.cgroup)
        plan = build_plan(
            iso, scratch, argv=[sandbox_python(), "-I", "-S", *args],
            env={"PATH": "/usr/bin:/bin"}, cwd="/", wall=wall,
            uid=slot.uid if slot else None, cgroups=cg.procs_files() if cg else [],
            files={}, tmpfs=[], copy_out=None)
        with open(scratch / "stdout", "wb") as out, open(scratch / "stderr", "wb") as err:
            proc = subprocess.Popen(launch_command(plan, scratch), stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err)
        try:
            code = wait(proc, wall + 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None, b"", f"the trial sandbox did not end within {wall + 10:g} s"
        words = (scratch / "stderr").read_bytes()[-2000:].decode(errors="replace")
        lines = [w.strip() for w in words.splitlines() if w.strip()]
        return code, (scratch / "stdout").read_bytes()[:1 << 20], lines[-1] if lines else ""
    finally:
        if cg is not None:
            cg.destroy()
        if slot is not None:
            slot.release()


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


def force(iso: Isolation | None) -> None:
    """Use ``iso`` from now on in this process, as if detected (None: detect again). For
    the kit's tests and benchmarks, which compare levels on one machine."""
    global _detected
    _detected = iso


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
