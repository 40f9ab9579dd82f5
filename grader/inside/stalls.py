"""Whether a check can still make progress, read from the kernel: the watchdog's early
deadlock (:func:`grader.inside.runtime.watchdog`).

A check is **stuck for good** when every thread of every one of its processes sleeps in a
call that only another of them could end, with no time limit: waiting for a child
(``wait4``), for a pipe's data or room (``read``/``write`` on a pipe), for a lock or a
condition (``futex`` without a timeout), for one of several pipes or a listening socket
(``poll``/``epoll_wait`` without a timeout, ``accept``). Nothing outside the check can end
such a wait: in the sandbox's own PID and network namespaces the only other processes are
init and the session's server, and init speaks to a check only over connected sockets,
which never count as stuck. Anything else (a thread on a CPU or ready for one, a sleep, a
wait with a timeout, a connected socket, a stopped process, a handler for ``SIGALRM``)
counts as possible progress. Read from ``/proc``: each thread's state and its
``syscall`` file (the call and its arguments), ``pollfd`` arrays from ``/proc/<pid>/mem``,
what an epoll watches from ``fdinfo``, listening sockets from ``/proc/net/unix``. Seen
stuck, with no thread scheduled (``schedstat``) and none come or gone, over a settle
time: a deadlock.

The sandbox's init uses it too, for its barriers (:class:`grader.sandbox.launcher.Witness`):
callers parked at a barrier wait on a socket for init's answer, which only more callers
could bring; once they and everything else of the check are stuck, init times the
barrier out at once instead of at its time limit (a serial pool never fills it).

Where the check has a PID namespace of its own (the spec's ``observe`` is ``pid``), or a
uid of its own (``uid``: the uid level, whose ``/proc`` is the machine's; the processes of
the sandbox's uid are the check's). Elsewhere the deadline alone decides.
Standard library only, like the rest of :mod:`grader.inside`.
"""

from __future__ import annotations

import os
import struct
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# System call numbers by architecture: the calls that wait with no time limit of their own.
_CALLS = {
    "x86_64": {"read": (0, 17, 19), "write": (1, 18, 20), "poll": (7,), "ppoll": (271,),
               "wait": (61, 247), "futex": (202,), "accept": (43, 288),
               "epoll": (232, 281, 441), "recv": (45, 47)},
    "aarch64": {"read": (63, 65, 67), "write": (64, 66, 68), "poll": (), "ppoll": (73,),
                "wait": (260, 95), "futex": (98,), "accept": (202, 242),
                "epoll": (22, 441), "recv": (207, 212)},
}
_BY_NUMBER = {nr: kind for kind, nrs in _CALLS.get(os.uname().machine, {}).items()
              for nr in nrs}
_FUTEX_CMD_MASK = ~(128 | 256)  # (FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME)
_FUTEX_WAITS = {0, 6, 9, 13}  # WAIT, LOCK_PI, WAIT_BITSET, LOCK_PI2 (arg 3: the timeout)
_SIGALRM_BIT = 1 << 13
_LISTENING = 0x10000  # (__SO_ACCEPTCON in /proc/net/unix's flags)
_POLL_MAX = 64

supported = bool(_BY_NUMBER)


class _Moving(Exception):
    """Something in the check can still move (or could not be read: counted the same)."""


def _read(path: str, size: int = 4096) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise _Moving(path) from exc
    try:
        return os.read(fd, size)
    except OSError as exc:
        raise _Moving(path) from exc
    finally:
        os.close(fd)


class _Listening:
    """The inodes of the listening unix sockets of this network namespace, read once per
    look and only if a wait needs them (the machine's list can be long)."""

    def __init__(self, proc: str):
        self.proc = proc
        self.inodes: set[str] | None = None

    def __contains__(self, inode: str) -> bool:
        if self.inodes is None:
            self.inodes = _listening_sockets(self.proc)
        return inode in self.inodes


class _Process:
    def __init__(self, pid: int, listening: _Listening, proc: str, parked: int):
        self.pid = pid
        self.listening = listening
        self.path = f"{proc}/{pid}"
        self.parked = parked  # (its threads that may wait on init's answer: see snapshot)
        self.kinds: dict[int, str] = {}

    def fd_kind(self, fd: int) -> str:
        """``pipe``, ``listening`` (a socket waiting for connections), ``socket`` (another)
        or ``other``."""
        if fd not in self.kinds:
            try:
                target = os.readlink(f"{self.path}/fd/{fd}")
            except OSError as exc:
                raise _Moving("fd") from exc
            if target.startswith("pipe:"):
                kind = "pipe"
            elif target.startswith("socket:["):
                kind = "listening" if target[8:-1] in self.listening else "socket"
            else:
                kind = "other"
            self.kinds[fd] = kind
        return self.kinds[fd]

    def poll_fds(self, address: int, count: int) -> list[int]:
        if not 0 < count <= _POLL_MAX:
            raise _Moving("poll")
        try:
            fd = os.open(f"{self.path}/mem", os.O_RDONLY)
        except OSError as exc:
            raise _Moving("mem") from exc
        try:
            raw = os.pread(fd, 8 * count, address)
        except (OSError, OverflowError, ValueError) as exc:
            raise _Moving("mem") from exc
        finally:
            os.close(fd)
        if len(raw) != 8 * count:
            raise _Moving("mem")
        return [f for f, _events, _revents in struct.iter_unpack("ihh", raw) if f >= 0]

    def epoll_fds(self, epfd: int) -> list[int]:
        text = _read(f"{self.path}/fdinfo/{epfd}", 16384).decode("ascii", "replace")
        fds = [int(line.split()[1]) for line in text.splitlines() if line.startswith("tfd:")]
        if not fds or len(fds) > _POLL_MAX:
            raise _Moving("epoll")
        return fds


def _waiting_for_good(process: _Process, call: str) -> None:
    """Raise :class:`_Moving` unless the ``syscall`` line ``call`` is a wait without a time
    limit on something only the check's own processes could end."""
    fields = call.split()
    if not fields or fields[0] in ("running", "-1"):
        raise _Moving("running")
    try:
        nr = int(fields[0])
        args = [int(a, 16) for a in fields[1:7]]
    except ValueError as exc:
        raise _Moving("syscall") from exc
    kind = _BY_NUMBER.get(nr)
    if kind is None or len(args) < 6:
        raise _Moving("another call")
    if process.parked and _on_sockets(process, kind, args):
        process.parked -= 1  # (waits for init's answer at a barrier: init decides)
        return
    if kind == "wait":
        return
    if kind == "futex":
        if (args[1] & _FUTEX_CMD_MASK) in _FUTEX_WAITS and args[3] == 0:
            return
        raise _Moving("a timed futex")
    if kind in ("read", "write"):
        if process.fd_kind(args[0]) == "pipe":
            return
        raise _Moving("not a pipe")
    if kind == "recv":
        raise _Moving("a socket")
    if kind == "accept":
        if process.fd_kind(args[0]) == "listening":
            return
        raise _Moving("accept")
    if kind == "poll":
        if struct.unpack("i", struct.pack("I", args[2] & 0xFFFFFFFF))[0] >= 0:
            raise _Moving("a timed poll")
        fds = process.poll_fds(args[0], args[1])
    elif kind == "ppoll":
        if args[2] != 0:
            raise _Moving("a timed ppoll")
        fds = process.poll_fds(args[0], args[1])
    else:  # epoll_wait, epoll_pwait (timeout: arg 3, an int), epoll_pwait2 (a pointer)
        timeout = args[3] if nr == 441 else struct.unpack(
            "i", struct.pack("I", args[3] & 0xFFFFFFFF))[0]
        if (nr == 441 and timeout != 0) or (nr != 441 and timeout >= 0):
            raise _Moving("a timed epoll")
        fds = process.epoll_fds(args[0])
    if not fds or any(process.fd_kind(f) not in ("pipe", "listening") for f in fds):
        raise _Moving("a wait on something else")


def _on_sockets(process: _Process, kind: str, args: list[int]) -> bool:
    """Whether the call waits to read from (connected) sockets only, whatever its time
    limit: how a probe waits for init's answer."""
    try:
        if kind in ("read", "recv"):
            return process.fd_kind(args[0]) == "socket"
        if kind in ("poll", "ppoll"):
            fds = process.poll_fds(args[0], args[1])
            return bool(fds) and all(process.fd_kind(f) == "socket" for f in fds)
    except _Moving:
        return False
    return False


def _listening_sockets(proc: str) -> set[str]:
    """The inodes of the listening unix sockets of this network namespace."""
    found = set()
    try:
        with open(f"{proc}/net/unix") as f:
            next(f, None)
            for line in f:
                parts = line.split()
                if len(parts) >= 7 and int(parts[3], 16) & _LISTENING:
                    found.add(parts[6])
    except (OSError, ValueError):
        pass
    return found


def _ran(task: str, stat_fields: list[str]) -> str:
    """How much the thread has run: its ``schedstat`` (nanoseconds on a CPU, times it was
    scheduled; the same twice means it did not run at all in between), else its user and
    system time in clock ticks (fields 14 and 15 of ``stat``)."""
    try:
        fields = _read(f"{task}/schedstat", 256).split()
        return f"{int(fields[0])}/{int(fields[2])}"
    except (_Moving, ValueError, IndexError):
        return f"{stat_fields[11]}+{stat_fields[12]}"


WATCHDOG = "grader-watchdog"  # (the runner's watchdog thread calls itself so: name_watchdog)


def name_watchdog() -> None:
    """Give the calling thread the name init's :func:`snapshot` leaves out (the
    runner's watchdog: it wakes every so often, and is not the student's)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm", "w") as f:
            f.write(WATCHDOG)
    except OSError:
        pass


def snapshot(skip_pids: set[int], skip_tid: int, only: set[int] | None = None,
             proc: str = "/proc", parked: dict[int, int] | None = None,
             skip_watchdog: bool = False, uid: int | None = None) -> tuple | None:
    """The check's threads (every process in ``proc`` but ``skip_pids``, or ``only``
    those) and the CPU time each has used, if every one of them waits for good (see the
    module's docstring); None as soon as one may move.

    ``parked`` (init's view: pid -> connections it holds at a barrier) lets that many
    threads of each such process wait on sockets, whatever their time limit: they wait
    for init, which answers only when the barrier fills or times out. ``skip_watchdog``:
    leave out threads named :data:`WATCHDOG` (for init, which cannot tell the runner's
    watchdog otherwise; a student's thread named so only makes its own barriers time out
    sooner). ``uid``: only that uid's processes (the uid level, where ``/proc`` shows the
    machine's: the sandbox's uid is its own, so its processes are the check's)."""
    listening = _Listening(proc)
    parked = parked or {}
    seen: list[Any] = []
    try:
        pids = sorted(only if only is not None else
                      (int(p) for p in os.listdir(proc) if p.isdigit()))
    except OSError:
        return None
    try:
        for pid in pids:
            if pid in skip_pids:
                continue
            if uid is not None:
                try:  # (one stat: the machine's other processes cost no reads)
                    if os.stat(f"{proc}/{pid}").st_uid != uid:
                        continue
                except OSError:
                    continue
            try:
                status = _read(f"{proc}/{pid}/status", 8192).decode("ascii", "replace")
            except _Moving:
                if uid is not None:
                    continue  # (gone: another uid's, or ours that ended)
                raise
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            caught = (fields.get("SigCgt", "0").split() or ["0"])[0]
            if int(caught, 16) & _SIGALRM_BIT:
                raise _Moving("an alarm may come")
            process = _Process(pid, listening, proc, parked.get(pid, 0))
            try:
                tids = sorted(int(t) for t in os.listdir(f"{proc}/{pid}/task"))
            except OSError as exc:
                raise _Moving("task") from exc
            for tid in tids:
                if tid == skip_tid or (skip_watchdog and _read(
                        f"{proc}/{pid}/task/{tid}/comm", 64).strip() == WATCHDOG.encode()):
                    continue
                stat = _read(f"{proc}/{pid}/task/{tid}/stat").decode("ascii", "replace")
                after = stat[stat.rfind(")") + 2:].split()
                state = after[0] if after else "?"
                if state in ("Z", "X"):
                    continue  # (ended, not yet reaped: waits for nothing)
                if state != "S":
                    raise _Moving(state)  # running, ready, in I/O, stopped, traced
                _waiting_for_good(process, _read(
                    f"{proc}/{pid}/task/{tid}/syscall").decode("ascii", "replace"))
                seen.append((pid, tid, _ran(f"{proc}/{pid}/task/{tid}", after)))
    except (_Moving, ValueError, IndexError):
        return None
    return tuple(seen) if seen else None


class Stalls:
    """Samples :func:`snapshot` and tells when the same stuck picture has held for
    ``settle`` seconds (:meth:`stuck`)."""

    def __init__(self, skip_pids: set[int], skip_tid: int, settle: float = 0.3,
                 proc: str = "/proc", skip_watchdog: bool = False, uid: int | None = None):
        """See :func:`snapshot` for the arguments."""
        self.skip_pids, self.skip_tid, self.settle = skip_pids, skip_tid, settle
        self.proc, self.skip_watchdog, self.uid = proc, skip_watchdog, uid
        # Set before each look where they change (see snapshot): the processes to look at
        # (else all but skip_pids), and init's parked callers.
        self.only: set[int] | None = None
        self.parked: dict[int, int] | None = None
        self.picture: tuple | None = None
        self.since = 0.0

    def reset(self) -> None:
        self.picture = None

    def stuck(self, now: float) -> bool:
        picture = snapshot(self.skip_pids, self.skip_tid, self.only, self.proc, self.parked,
                           self.skip_watchdog, self.uid)
        if picture is None or picture != self.picture:
            self.picture, self.since = picture, now
            return False
        return now - self.since >= self.settle
