"""What ``python -m grader doctor`` prints about the sandbox this machine gives."""

from __future__ import annotations

from grader.sandbox.detect import Isolation
from grader.sandbox.launcher import Watch
from grader.sandbox.resources import MEMORY_MAX, PROCESS_MAX, TASKS_MAX
from grader.sandbox.runs import DEFAULT_LIMITS, GRACE


def doctor(iso: Isolation) -> str:
    """What ``python -m grader doctor`` prints: every feature, in force or not (and why
    not), the limits, and whether ``grade`` will run here."""

    def line(ok: bool, what: str, why: str) -> str:
        return f"  [{'x' if ok else ' '}] {what:28} {why}"

    rows = [
        line(iso.separated, "apart from the grader",
             ("own uid per sandbox (root)" if iso.uid else "own user namespace (rootless)"
              if iso.userns else "own uid (root) or own user namespace (rootless)")
             + ": students cannot signal or trace the grader; RLIMIT_NPROC bounds their "
               "processes"),
        line("pid" in iso.namespaces, "PID namespace",
             "the kernel kills everything a sandbox left when its init ends"),
        line("mount" in iso.namespaces and iso.root, "private root file system",
             "hidden suites, solutions, other students and reports are not visible"),
        line("net" in iso.namespaces, "network namespace", "no network from student code"),
        line("ipc" in iso.namespaces and "uts" in iso.namespaces, "IPC and UTS namespaces",
             "private System V IPC and host name"),
        line(iso.permissions, "uid level (no namespaces)",
             "the sandbox's uid cannot read the kit, the class or the reports (probed as "
             "that uid; `grade` probes the class and output folders too); sockets but "
             "AF_UNIX and System V IPC refused by a seccomp filter; what the uid leaves in "
             "/tmp, /var/tmp, /dev/shm swept after each check"),
        line(iso.confined, "nothing outlives a check",
             "PID namespace, own uid, or (without root) a child-subreaper init that kills "
             "every descendant, setsid daemons included"),
        line(iso.sessions, "sandbox sessions",
             "a submission's checks share a few sandboxes (a fork per check)"),
        line(iso.cgroup is not None and iso.cgroup_limits,
             f"cgroup limits ({iso.cgroup or 'none'})",
             f"per sandbox: {TASKS_MAX} tasks, {MEMORY_MAX // 2**30} GiB memory, "
             "fair CPU share" + ("" if iso.cgroup or not iso.userns else
                                 f" (rootless without a delegated cgroup: RLIMIT_NPROC "
                                 f"{TASKS_MAX} in the sandbox's user namespace, and init "
                                 f"stops the sandbox when its processes' resident memory "
                                 f"passes {MEMORY_MAX // 2**30} GiB)")),
        line(iso.sessions or iso.permissions, "init's watch",
             f"every {int(Watch.PERIOD * 1000)} ms: more than {PROCESS_MAX} "
             f"processes at once (a fork bomb) stops them all"),
    ]
    limits = ", ".join(f"{k.removeprefix('RLIMIT_')} {v}" for k, v in
                       DEFAULT_LIMITS.items())
    text = [iso.summary(), "", *rows, "", f"  rlimits in every sandbox: {limits}",
            f"  wall limit per check: the check's deadline + {GRACE:g} s"]
    if iso.missing:
        text += ["", "not in force" + (" (the uid level stands in for them):"
                                       if iso.full and iso.permissions else ":")]
        text += [f"  - {m}" + (f": {iso.causes[m]}" if iso.causes.get(m) else "")
                 for m in iso.missing]
        if not iso.full:
            text += ["", f"to get them: {iso.advice()}"]
    if not iso.full:
        text += ["", "`grade` refuses to run here; --allow-weak-sandbox grades anyway, with a "
                     "warning in every report."]
    elif iso.permissions:
        text += ["", "the uid level is in force: grades can be trusted (docs/design.md, "
                     "\"The uid level\", says what it proves and what it does not)."]
    else:
        text += ["", "everything the kit can use is in force."]
    return "\n".join(text)
