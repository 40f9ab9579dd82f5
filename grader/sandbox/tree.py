"""Process trees, read from a ``/proc`` and killed to the last process.

Standard library only, and no module that is slow to import: the launcher
(:mod:`grader.sandbox.launcher`, run by path for every sandbox) imports this module as its
sibling. Every loop that kills a set of processes until none is left goes through
:func:`kill_until_gone`; what differs is only how the set is found (a process's
descendants, a cgroup's members, a sandbox's ``/proc``, an environment token). Waiting
on descriptors is :func:`grader.inside.lines.readable` (the launcher's init waits on its
witness's connections as the grader waits on its protocols' lines).
"""

from __future__ import annotations

import _signal as signal  # (the signal module would import enum: 4 ms at every launch)
import os
import sys
import time

try:  # (imported as part of the grader)
    from grader.inside.lines import readable
except ImportError:  # (run by path with the launcher: grader/inside is beside this folder)
    sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))), "inside"))
    from lines import readable

TYPE_CHECKING = False  # (typing is not imported at run time: the launcher's start counts)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


def stat_fields(proc: str, pid: int) -> list[str] | None:
    """The fields of ``proc/pid/stat`` after the command name (state first, then the
    parent pid), or None if the process is gone."""
    try:
        with open(f"{proc}/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def parent_pid(proc: str, pid: int) -> int | None:
    fields = stat_fields(proc, pid)
    try:
        return int(fields[1]) if fields else None
    except (ValueError, IndexError):
        return None


def alive(proc: str, pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (a zombie has)."""
    fields = stat_fields(proc, pid)
    return fields is not None and fields[0] != "Z"


def descendants(pid: int, proc: str = "/proc") -> list[int]:
    """Every live (not zombie) process below ``pid``: the children of each of its threads,
    recursively. Under a child subreaper nothing started below it can leave this tree:
    orphans, ``setsid`` daemons and double forks are re-parented to the subreaper."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"{proc}/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"{proc}/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except (OSError, ValueError):
                continue
            for child in children:
                if child not in found and alive(proc, child):
                    found.append(child)
                    todo.append(child)
    return found


def live_of_uid(uid: int, proc: str = "/proc", spare: int | None = None) -> list[int]:
    """The processes (not zombies) whose real uid is ``uid``, but ``spare``."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit() or int(entry) == spare:
            continue
        try:
            with open(f"{proc}/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid and not fields["State"].strip().startswith("Z"):
                found.append(int(entry))
        except (OSError, ValueError, KeyError, IndexError):
            continue
    return found


def kill_until_gone(find: Callable[[], Iterable[int]], limit: float,
                    pause: float = 0.001) -> bool:
    """SIGKILL every process ``find()`` names, again and again (what a fork bomb forked
    during one round is found by the next), until it names none: True. False if some are
    still there after ``limit`` seconds."""
    end = time.monotonic() + limit
    while True:
        pids = list(find())
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if time.monotonic() > end:
            return False
        time.sleep(pause)


def wait(proc, timeout: float) -> int:
    """``proc.wait(timeout)`` (a :class:`subprocess.Popen`) without its polling sleeps (up
    to 50 ms each): a pidfd becomes readable the moment the process ends (Linux 5.3+; else
    the plain wait). Raises :class:`subprocess.TimeoutExpired` after ``timeout``. (poll,
    not select: a descriptor past 1024 is fine.)"""
    import subprocess

    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout=timeout)
    try:
        ready = readable([fd], timeout)
    finally:
        os.close(fd)
    if not ready:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.wait()
