"""Trusted launcher of one sandbox: ``python -I -S launcher.py PLAN``.

Run by :mod:`grader.sandbox.runs` (by path: it imports nothing but the standard library
and its sibling :mod:`grader.sandbox.tree`). It
builds the sandbox around the runner, drops every privilege, and stays alive as the
sandbox's init to reap it. The plan (written by the grader, never visible inside)
says which of these the machine allows; each is applied when asked for:

1. ``cgroups``: join per-sandbox cgroups (pids, memory, cpu share) before anything else,
   so every process the student starts is counted and can be killed as one group;
2. ``namespaces``: new mount, PID, network, IPC and UTS namespaces. The first child is
   the PID namespace's init: when it ends, the kernel kills everything left inside;
3. ``root``: a new root file system in memory that holds only what the runner needs:
   the interpreter and system libraries (read-only), the grader's ``inside`` package
   (read-only), the submission (read-only), and size-limited private ``/tmp``,
   ``/dev/shm`` and ``/sandbox/out``. Hidden suites, solutions, other students' work, the
   grader's output folder and the host's ``/tmp`` do not exist in there;
4. ``uid``: the runner runs as its own unprivileged uid (one per concurrent sandbox),
   with no supplementary groups and ``no_new_privs``; ``RLIMIT_NPROC`` then bounds it.
   Or, without root, ``userns``: the namespaces belong to a user namespace of the
   sandbox's own (:func:`enter_user_namespace`), and the runner keeps the user's uid
   but no capability;
5. a seccomp filter refuses what would keep state in the kernel past the check
   (:func:`deny_kernel_state`);
6. init enforces the wall-clock limit itself, stops a fork bomb or (without a cgroup)
   a memory bomb (:class:`Watch`), kills whatever is left when the runner ends, and
   copies the runner's outputs (result, phase, probe records; size-capped) out of the
   sandbox into the grader's scratch folder, which the student cannot reach.

The plan is in :mod:`marshal` format and the imports are kept to built-in modules (no
``json``, ``socket``, ``shutil`` at start-up): the launcher's own start is part of every
sandbox's cost.

The init's exit status says how the runner ended: its exit code, ``128 + signal`` if a
signal ended it, or :data:`KILLED_AT_LIMIT` if init had to kill it at the wall limit.
"""

from __future__ import annotations

import _signal as signal  # (the signal module would import enum: 4 ms)
import _socket
import ctypes
import marshal
import os
import resource
import stat
import struct
import sys
import time

try:  # (imported as part of the grader)
    from grader.sandbox.tree import (
        alive,
        descendants,
        kill_until_gone,
        live_of_uid,
        parent_pid,
        readable,
    )
except ImportError:  # (run by path, python -I -S launcher.py: its sibling)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from tree import alive, descendants, kill_until_gone, live_of_uid, parent_pid, readable

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = {"mount": CLONE_NEWNS, "uts": CLONE_NEWUTS, "ipc": CLONE_NEWIPC,
                   "pid": CLONE_NEWPID, "net": CLONE_NEWNET}

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
# statvfs flags of a mount (os.ST_*) -> the mount flags that keep them
_KEPT_FLAGS = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
               (os.ST_RDONLY, MS_RDONLY), (os.ST_NOATIME, MS_NOATIME),
               (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

KILLED_AT_LIMIT = 250  # not 128 + a signal: a runner killed by SIGKILL (OOM) ends 137
SETUP_FAILED = 125
OUT_FILE_LIMIT = 16 * 1024 * 1024
OUT_TOTAL_LIMIT = 64 * 1024 * 1024
OUT_FILES_LIMIT = 25_000  # (past the grader's cap on probe records: it then says so)
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text):
    return text.encode() if text is not None else None


def mount(source, target, fstype, flags, data=None) -> None:
    _check(libc().mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           f"mount {target}")


def unshare(flags: int) -> None:
    _check(libc().unshare(ctypes.c_int(flags)), "unshare")


def prctl(option: int, value: int) -> None:
    _check(libc().prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                        ctypes.c_ulong(0), ctypes.c_ulong(0)), f"prctl {option}")


# --- the new root ------------------------------------------------------------------------

def _inside(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _make_target(target: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()


def _source_flags(source: str) -> int:
    """The flags of the mount that holds ``source``. In a user namespace a bind mount
    must keep them (the kernel locks them: EPERM otherwise), so they are carried over."""
    try:
        have = os.statvfs(source).f_flag
    except OSError:
        return 0
    flags = 0
    for st_flag, ms_flag in _KEPT_FLAGS:
        if have & st_flag:
            flags |= ms_flag
    if not flags & (MS_NOATIME | MS_RELATIME):
        flags |= MS_STRICTATIME
    return flags


def bind(source: str, target: str, writable: bool = False) -> None:
    _make_target(target, os.path.isdir(source))
    mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if writable else MS_RDONLY)
    if not source.startswith("/dev/"):  # device nodes keep working only without nodev
        flags |= MS_NODEV
    mount(None, target, None, flags | _source_flags(source))


COPY_MOUNT = "size=8m,nr_inodes=1024,mode=755"  # (a submission: 4 MiB, 200 files at most)


def copy_in(source: str, target: str, stage: str | None) -> None:
    """Give the sandbox a copy of the grader's folder ``source`` at ``target``, on a tmpfs
    of its own, read-only: its mount then names no folder of the machine (a bind mount's
    entry in /proc/self/mountinfo shows its source's path). With ``stage`` the tmpfs is
    mounted there (outside the sandbox's root, in this mount namespace only) and bound
    read-only at ``target``: the grader replaces the files through
    ``/proc/<launcher>/root/<stage>`` (another submission for a warm sandbox)."""
    where = stage or target
    os.makedirs(where, mode=0o755, exist_ok=True)
    mount("tmpfs", where, "tmpfs", MS_NOSUID | MS_NODEV, COPY_MOUNT)
    copy_tree(source, where)
    if stage:
        bind(stage, target)
    else:
        mount(None, where, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, COPY_MOUNT)


def copy_tree(source: str, dest: str) -> None:
    """Copy ``source``'s folders and regular files (no links), readable by every uid,
    with their times (a module's byte code in ``__pycache__`` stays valid only for a
    source of the same modification time)."""
    for folder, dirs, files in os.walk(source, followlinks=False):
        into = os.path.join(dest, os.path.relpath(folder, source))
        os.makedirs(into, mode=0o755, exist_ok=True)
        os.chmod(into, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                _copy(path, os.path.join(into, name), 0o644)
                os.utime(os.path.join(into, name), ns=(st.st_atime_ns, st.st_mtime_ns))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]


def build_root(spec: dict) -> str:
    """Assemble the sandbox's file system under ``spec["dir"]`` (in this mount namespace)."""
    root = spec["dir"]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    for link in spec.get("symlinks", []):
        if os.path.islink(link):
            os.symlink(os.readlink(link), _inside(root, link))
    # The private folders first: what is bound below one of them (an interpreter in a
    # venv under /tmp) is then mounted on top of it, not hidden by it.
    for dest, options in spec.get("tmpfs", []):
        target = _inside(root, dest)
        os.makedirs(target, mode=0o755, exist_ok=True)
        mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for source, dest in spec.get("ro", []):
        if os.path.exists(source) and not os.path.islink(dest):
            bind(source, _inside(root, dest))
    for source, dest, stage in spec.get("copies", []):
        copy_in(source, _inside(root, dest), stage)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            bind(f"/dev/{name}", _inside(root, f"/dev/{name}"), writable=True)
    for dest, text in spec.get("files", {}).items():
        target = _inside(root, dest)
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        with open(target, "w") as f:
            f.write(text)
    if spec.get("witness"):
        spec["witness_socket"] = Witness.listen(_inside(root, spec["witness"]))
    proc = _inside(root, "/proc")
    os.makedirs(proc, exist_ok=True)
    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
          None if spec.get("own_pid_ns") else "hidepid=2")
    # The skeleton itself becomes read-only: the student writes only where it was given room.
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4m,mode=755")
    return root


def copy_out(source: str, dest: str) -> None:
    """Copy the runner's regular output files (not links, size-capped, at most
    :data:`OUT_FILES_LIMIT` of them) to the grader."""
    total = count = 0
    for folder, _dirs, files in os.walk(source, followlinks=False):
        rel = os.path.relpath(folder, source)
        os.makedirs(os.path.join(dest, rel), exist_ok=True)
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode) or st.st_size > OUT_FILE_LIMIT:  # no links
                continue
            total += st.st_size
            count += 1
            if total > OUT_TOTAL_LIMIT or count > OUT_FILES_LIMIT:
                return
            try:
                _copy(path, os.path.join(dest, rel, name))
            except OSError:
                continue


def _copy(source: str, dest: str, mode: int = 0o600) -> None:
    src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(out, mode)  # (whatever the umask)
            while True:
                chunk = os.read(src, 1 << 20)
                if not chunk:
                    break
                while chunk:
                    chunk = chunk[os.write(out, chunk):]
        finally:
            os.close(out)
    finally:
        os.close(src)


def _key(raw: bytes) -> str:
    """A probe's key, reduced to characters that need no escaping in JSON."""
    return "".join(c for c in raw.decode("ascii", "replace")
                   if c.isascii() and (c.isalnum() or c in "-_"))[:100]


# --- the witness -------------------------------------------------------------------------

class Witness:
    """Who really called a probe: the kernel's credentials of the caller's message
    (``SCM_CREDENTIALS``), not the student's getpid.

    A probe connects to the socket and sends a key (one line); init, which the student's
    uid can neither signal nor trace, notes the pid of the process that sent the line and
    its parent pid as the kernel reports them and answers ``ok``. The log (JSON lines) is
    written outside the sandbox.

    Barriers are kept here too: ``barrier NAME N MS KEY`` holds the caller's connection
    until ``N`` callers of ``NAME`` wait at once (answer ``passed``; later callers get
    ``late``), or until ``MS`` milliseconds after the first arrival (``timeout`` to those
    waiting, ``broken`` to later ones), or until no further caller can come
    (:class:`BarrierStalls`: ``stuck``, then ``broken``). That ``N`` calls, from these
    pids, were waiting at the same time is then init's observation, logged under
    ``b-KEY``.
    """

    MAX_CLIENTS = 4096
    MAX_BARRIERS = 1024  # (names a check may use; later ones are "broken" at once)
    # What one check may have init write to the log (a check logs a few dozen lines of
    # about 100 bytes, a fan-out of many children a few hundred): past it, init answers
    # but notes nothing, so the grader confirms nothing more. Small, so that a flood
    # reaches it within a fraction of a second, also on a busy machine.
    LOG_LIMIT = 256 << 10

    def __init__(self, listener, log_path: str, runner: int, proc: str = "/proc",
                 uid: int | None = None):
        self.listener = listener
        self.proc = proc  # the sandbox's own procfs: the credentials' pids are its pids
        # Where the socket is on the machine's file system (the uid level), only the
        # sandbox's uid is heard: another sandbox's student cannot help at its barriers.
        self.uid = uid
        self.clients: dict = {}  # connection -> what it sent so far (being read)
        self.barriers: dict = {}
        self.parked: dict = {}  # connection -> the barrier it waits at
        # Connections held at once (read or parked at a barrier): within init's own
        # descriptor limit, whatever the grader was started with (ulimit -n 1024).
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.most = max(16, min(self.MAX_CLIENTS, (soft if soft > 0 else 1024) - 64))
        self.log = os.fdopen(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600),
                             "a", buffering=1)
        self.log.write(f'{{"runner": {int(runner)}}}\n')
        self.runner = runner
        self.check = None  # (the session's check whose budget is in use)
        self.written, self.overflowed = 0, False

    @staticmethod
    def listen(path: str):
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        sock = _socket.socket(_socket.AF_UNIX,
                              _socket.SOCK_STREAM | _socket.SOCK_NONBLOCK | _socket.SOCK_CLOEXEC)
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
        sock.bind(path)
        os.chmod(path, 0o666)
        sock.listen(512)
        return sock

    def _held(self) -> int:
        return len(self.clients) + len(self.parked)

    def fds(self) -> list:
        """What init waits on: the connections being read, those parked at a barrier (to
        notice a caller that is gone), and, while it may hold more, the listener (at the
        limit, new callers wait in its backlog)."""
        return [*([self.listener] if self._held() < self.most else []), *self.clients,
                *self.parked]

    def handle(self, ready: list) -> None:
        for sock in ready:
            if sock is self.listener:
                self._accept()
            elif sock in self.clients:
                self._read(sock)
            elif sock in self.parked:
                self._hung_up(sock)

    def _hung_up(self, conn) -> None:
        """A parked caller closed its end (its process ended: the check is over), or sent
        more than its line (discarded). A caller that is gone no longer waits: it cannot
        count towards its barrier, and its descriptor is freed."""
        try:
            if conn.recv(256):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        barrier = self.parked.pop(conn)
        barrier["waiting"] = [w for w in barrier["waiting"] if w[0] is not conn]
        conn.close()

    def _accept(self) -> None:
        while self._held() < self.most:
            try:
                fd, _ = self.listener._accept()
            except OSError:
                return
            conn = _socket.socket(fileno=fd)
            conn.setblocking(False)
            conn.setsockopt(_socket.SOL_SOCKET, _socket.SO_PASSCRED, 1)
            self.clients[conn] = (b"", None)
            # Its line is often there already: read it now, not after another poll (a
            # flood of callers then costs init one wakeup per batch, not two per caller).
            self._read(conn)

    def _read(self, conn) -> None:
        """Read what a caller sent; once its line is whole, act on it as coming from the
        process that *sent* it: the kernel's credentials of each message
        (``SCM_CREDENTIALS``), not the connection's (``SO_PEERCRED`` names whoever
        connected, and a connection can be handed to another process). A line whose
        parts came from different processes, or without credentials, is dropped."""
        try:
            chunk, ancillary, msg_flags, _ = conn.recvmsg(256, _CREDS_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk, ancillary, msg_flags = b"", [], 0
        data, sender = self.clients[conn]
        if chunk:
            creds = _credentials(ancillary, msg_flags)
            if creds is None or (sender is not None and creds != sender):
                del self.clients[conn]
                conn.close()
                return
            sender = creds
        data += chunk
        if chunk and b"\n" not in data and len(data) < 256:
            self.clients[conn] = (data, sender)
            return
        del self.clients[conn]
        if b"\n" not in data or sender is None:
            conn.close()
            return
        line = data.split(b"\n", 1)[0]
        pid, uid = sender
        if self.uid is not None and uid != self.uid:
            conn.close()
            return
        if line.startswith(b"barrier "):
            self._barrier(conn, pid, line.split())
            return
        if line.startswith(b"threads "):  # how many threads the caller's process has
            parts = line.split()
            self._note(f"t-{_key(parts[1]) if len(parts) > 1 else ''}", pid,
                       threads=_threads(self.proc, pid))
            self._reply(conn, "ok")
            return
        self._note(_key(line), pid)
        self._reply(conn, "ok")

    def _note(self, key: str, pid: int, result: str | None = None,
              threads: int | None = None) -> None:
        if self.overflowed and not key.startswith("runner-"):
            return  # (nothing more is noted for this check: no need to look it up)
        ppid = parent_pid(self.proc, pid)
        if key.startswith("runner-") and ppid == self.runner and pid != self.check:
            # A session's next check (its process is the server's child, which only the
            # server forks): the log's budget starts again.
            self.check, self.written, self.overflowed = pid, 0, False
        extra = f', "result": "{result}"' if result else ""
        if threads is not None:
            extra += f', "threads": {int(threads)}'
        line = (f'{{"key": "{key}", "pid": {int(pid)}, '
                f'"ppid": {"null" if ppid is None else int(ppid)}{extra}}}\n')
        if self.written + len(line) > self.LOG_LIMIT:
            if not self.overflowed:  # (said once: the grader tells the student)
                self.overflowed = True
                self.log.write('{"overflow": true}\n')
            return
        self.written += len(line)
        self.log.write(line)

    @staticmethod
    def _reply(conn, text: str) -> None:
        try:
            conn.send(text.encode() + b"\n")
        except OSError:
            pass
        conn.close()

    def _barrier(self, conn, pid: int, parts: list) -> None:
        try:
            name, n, ms, key = (_key(parts[1]), int(parts[2]), int(parts[3]),
                                _key(parts[4]))
        except (IndexError, ValueError):
            conn.close()
            return
        if name not in self.barriers and len(self.barriers) >= self.MAX_BARRIERS:
            # Forget the oldest barriers that are over (earlier checks' in a session);
            # if every one is still open, a check is flooding: it gets no more.
            for old in [k for k, b in self.barriers.items() if b["state"] != "open"][
                    :len(self.barriers) - self.MAX_BARRIERS + 1]:
                del self.barriers[old]
            if len(self.barriers) >= self.MAX_BARRIERS:
                self._note(f"b-{key}", pid, "broken")
                self._reply(conn, "broken")
                return
        barrier = self.barriers.setdefault(name, {
            "n": max(1, min(n, self.most)), "state": "open", "waiting": [],
            "end": time.monotonic() + max(0, min(ms, 600_000)) / 1000})
        if barrier["state"] != "open":
            result = "late" if barrier["state"] == "passed" else "broken"
            self._note(f"b-{key}", pid, result)
            self._reply(conn, result)
            return
        barrier["waiting"].append((conn, pid, key))
        self.parked[conn] = barrier
        if len(barrier["waiting"]) >= barrier["n"]:
            self._release(barrier, "passed")

    def _release(self, barrier: dict, result: str) -> None:
        barrier["state"] = "passed" if result == "passed" else "broken"
        for conn, pid, key in barrier["waiting"]:
            self.parked.pop(conn, None)
            self._note(f"b-{key}", pid, result)
            self._reply(conn, result)
        barrier["waiting"] = []

    def parked_pids(self) -> dict:
        """pid -> how many of its connections wait at an open barrier."""
        counts: dict = {}
        for barrier in self.barriers.values():
            if barrier["state"] == "open":
                for _conn, pid, _key in barrier["waiting"]:
                    counts[pid] = counts.get(pid, 0) + 1
        return counts

    def release_stuck(self) -> None:
        """End every barrier with callers waiting, now: nothing else of the check can run
        (:class:`BarrierStalls`). Its callers get ``stuck``, later ones ``broken``, as
        after a timeout."""
        for barrier in self.barriers.values():
            if barrier["state"] == "open" and barrier["waiting"]:
                self._release(barrier, "stuck")

    def tick(self) -> float:
        """Time out the barriers whose time is up; seconds until the next one may."""
        now, soonest = time.monotonic(), 1.0
        for barrier in self.barriers.values():
            if barrier["state"] == "open" and barrier["waiting"]:
                if now >= barrier["end"]:
                    self._release(barrier, "timeout")
                else:
                    soonest = min(soonest, barrier["end"] - now)
        return soonest


_CREDS = struct.Struct("3i")
_CREDS_SPACE = _socket.CMSG_SPACE(_CREDS.size)


class BarrierStalls:
    """A barrier that no one else can reach is timed out at once, not at its time limit.

    While callers are parked at a barrier, init looks at the check's threads every
    :data:`EVERY` seconds (``grader.inside.stalls``, on the sandbox's own ``/proc`` with a
    PID namespace of its own, or the processes of its uid at the uid level); once every
    thread is stuck for good, the parked callers waiting for init's answer, for
    :data:`SETTLE` seconds, no further caller can come, and the barriers end as at their
    limit (answer and log ``stuck``, where a time limit gives ``timeout``; the suites count
    both as not passed). A serial pool or fan-out then costs a fraction of a second per
    barrier instead of its limit (8 to 16 s)."""

    EVERY, SETTLE = 0.05, 0.15

    def __init__(self, witness: Witness, proc: str, skip: set, uid: int | None = None):
        self.witness = witness
        self.proc, self.skip, self.uid = proc, skip, uid
        self.stalls = None
        self.due = 0.0

    def due_in(self) -> float:
        if not self.witness.parked or self.due == float("inf"):
            return 1.0
        return max(0.0, self.due - time.monotonic())

    def tick(self) -> None:
        """Look again if it is time; never fails (init must go on): whatever goes wrong
        in a look ends the looking, and the barriers end at their time limits."""
        if self.due == float("inf"):
            return
        try:
            self._tick()
        except Exception:  # noqa: BLE001
            self.due = float("inf")

    def _tick(self) -> None:
        if not self.witness.parked:
            if self.stalls is not None:
                self.stalls.reset()
            return
        now = time.monotonic()
        if now < self.due:
            return
        self.due = now + self.EVERY
        if self.stalls is None:
            self.stalls = _stalls_module().Stalls(self.skip, -1, self.SETTLE, self.proc,
                                                  skip_watchdog=True, uid=self.uid)
        self.stalls.parked = self.witness.parked_pids()
        if self.stalls.stuck(now):
            self.witness.release_stuck()
            self.stalls.reset()


def _stalls_module():
    """:mod:`grader.inside.stalls` (standard library only), also when run by path."""
    try:
        from grader.inside import stalls
    except ImportError:
        inside = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "inside")
        if inside not in sys.path:
            sys.path.insert(0, inside)
        import stalls
    return stalls


def _credentials(ancillary: list, msg_flags: int = 0) -> tuple[int, int] | None:
    """(pid, uid) of the process that sent a message, from its ``SCM_CREDENTIALS``. A
    message that also passed descriptors is refused: the buffer leaves no room for them
    (the kernel then closes them and says so, ``MSG_CTRUNC``), and any that did arrive
    are closed. Init must hold nothing of a check past it (an abstract socket kept open
    for the next student)."""
    found, passed = None, bool(msg_flags & _socket.MSG_CTRUNC)
    for level, kind, data in ancillary:
        if level != _socket.SOL_SOCKET:
            continue
        if kind == _socket.SCM_CREDENTIALS and len(data) >= _CREDS.size:
            pid, uid, _ = _CREDS.unpack(data[:_CREDS.size])
            found = (pid, uid)
        elif kind == _socket.SCM_RIGHTS:
            passed = True
            for (fd,) in struct.iter_unpack("i", data[:len(data) - len(data) % 4]):
                try:
                    os.close(fd)
                except OSError:
                    pass
    return None if passed else found


def _threads(proc: str, pid: int) -> int | None:
    try:
        with open(f"{proc}/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


# --- the runner ---------------------------------------------------------------------------

def _watched(plan: dict) -> bool:
    """Whether init watches the sandbox (:class:`Watch`): then it needs its CPU share."""
    return "pid" in plan.get("namespaces", []) or bool(plan.get("process_max"))


def _own_cpu_share() -> None:
    """Give init a share of the CPU of its own, so that its watch keeps its pace while a
    fork bomb spins in thousands of processes: a session of its own (the kernel's
    autogroups share the CPU fairly between sessions, where no cpu cgroup does; the
    runner makes a session of its own too), and the highest priority where allowed (as
    root). Best effort: without either, the watch only reacts later."""
    try:
        os.setsid()
    except OSError:
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -20)
    except OSError:
        pass


# System calls that keep state in the kernel beyond a check's processes and its
# namespaces' wipe: kernel keyrings (per uid, and a sandbox's uid serves the next student),
# POSIX message queues and System V IPC (in the IPC namespace, which a session keeps and
# which the uid level shares with the machine). No exercise uses them; refused with EPERM.
# (machine -> audit arch, add_key, request_key, keyctl, mq_open, shmget, semget, msgget)
KERNEL_STATE_CALLS = {"x86_64": (0xC000003E, 248, 249, 250, 240, 29, 64, 68),
                      "aarch64": (0xC00000B7, 217, 218, 219, 180, 194, 190, 186)}
# Where the sandbox has no network namespace (the uid level): sockets of any family but
# AF_UNIX are refused (no network), and io_uring, which could open them past the filter.
# (machine -> socket, io_uring_setup)
NETWORK_CALLS = {"x86_64": (41, 425), "aarch64": (198, 425)}
AF_UNIX = 1
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
X32_BIT = 0x40000000  # (x86_64's other ABI: its numbers are refused whole)


def filter_program(machine: str, unix_only: bool) -> bytes | None:
    """The classic BPF program of :func:`deny_kernel_state` (None: unknown machine)."""
    spec = KERNEL_STATE_CALLS.get(machine)
    if spec is None:
        return None
    arch, *calls = spec
    socket_call = None
    if unix_only:
        socket_call, io_uring = NETWORK_CALLS[machine]
        calls.append(io_uring)

    # Verdicts at the end: ALLOW, REFUSE; jumps are relative to the next instruction.
    body: list = [("ld", 4), ("jeq_else_allow", arch), ("ld", 0), ("jge_refuse", X32_BIT)]
    body += [("jeq_refuse", nr) for nr in calls]
    if socket_call is not None:
        body += [("jeq_else_allow", socket_call), ("ld", 16), ("jeq_allow_else_refuse", AF_UNIX)]
    allow, refuse = len(body), len(body) + 1
    prog = []  # (code, jump if true, jump if false, k)
    for i, (op, k) in enumerate(body):
        to_allow, to_refuse = allow - i - 1, refuse - i - 1
        if op == "ld":
            prog.append((0x20, 0, 0, k))
        elif op == "jeq_else_allow":
            prog.append((0x15, 0, to_allow, k))
        elif op == "jge_refuse":
            prog.append((0x35, to_refuse, 0, k))
        elif op == "jeq_refuse":
            prog.append((0x15, to_refuse, 0, k))
        else:  # jeq_allow_else_refuse
            prog.append((0x15, to_allow, to_refuse, k))
    prog += [(0x06, 0, 0, 0x7FFF0000),              # allow
             (0x06, 0, 0, 0x00050000 | 1)]          # refuse: EPERM
    return b"".join(struct.pack("HBBI", *i) for i in prog)


def deny_kernel_state(unix_only: bool = False) -> None:
    """Install a seccomp filter (after ``no_new_privs``) that refuses
    :data:`KERNEL_STATE_CALLS` in this process and all it starts, and with ``unix_only``
    the :data:`NETWORK_CALLS` too. On another machine architecture nothing is installed."""
    code = filter_program(os.uname().machine, unix_only)
    if code is None:
        return
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxQ", len(code) // 8, ctypes.addressof(buf))
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    _check(libc().prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                        ctypes.c_void_p(ctypes.addressof(fbuf)), ctypes.c_ulong(0),
                        ctypes.c_ulong(0)), "seccomp")


def exec_runner(plan: dict, root: str | None) -> None:
    """In the runner child: enter the root, drop privileges, apply limits, exec."""
    try:
        if _watched(plan):
            os.setsid()  # (apart from init's session: see _own_cpu_share)
            os.setpriority(os.PRIO_PROCESS, 0, 0)  # (not init's priority)
        if root is not None:
            os.chroot(root)
        os.chdir(plan["cwd"])
        uid = plan.get("uid")
        for name, value in plan.get("rlimits", {}).items():
            resource.setrlimit(getattr(resource, name), (value, value))
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        deny_kernel_state(plan.get("unix_only", False))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        os.execve(plan["argv"][0], plan["argv"], plan["env"])
    except BaseException as exc:  # noqa: BLE001 - report and never return into init
        try:
            os.write(2, f"sandbox setup failed: {exc}\n".encode())
        finally:
            os._exit(SETUP_FAILED)


def kill_uid(uid: int, limit: float = 5.0) -> None:
    """Kill every process of ``uid`` (it is this sandbox's alone): ``kill(-1)`` as that uid,
    again while any is alive (what forked during one round; zombies do not count), for
    at most ``limit`` seconds."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setresuid(uid, uid, uid)
            me, end = os.getpid(), time.monotonic() + limit
            while True:
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
                if time.monotonic() > end or not live_of_uid(uid, spare=me):
                    break
                time.sleep(0.001)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def hide_command_line(title: bytes = b"sandbox-init") -> None:
    """Overwrite this process's command line in its own memory (``/proc/self/mem``), as
    ``/proc/PID/cmdline`` shows it: the launcher's and the plan's paths are the host's,
    and a student's code reads init's command line (or, at the uid level, every
    launcher's). Best effort."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(start)
            mem.write(title[:end - start - 1].ljust(end - start, b"\0"))
    except (OSError, ValueError, IndexError, OverflowError):
        pass


def init(plan: dict) -> int:
    """The sandbox's init: build the root, run the runner, reap, enforce the wall limit."""
    root = None
    hide_command_line()  # (while dumpable: /proc/self/mem is then this user's to open)
    # Not dumpable: a student's process of the same uid (without root) cannot trace init
    # or open what it holds through /proc.
    prctl(PR_SET_DUMPABLE, 0)
    if _watched(plan):
        _own_cpu_share()
    if plan.get("root"):
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        root = build_root(plan["root"])
    if "pid" not in plan.get("namespaces", []):
        # Whatever the runner starts stays below init, however it detaches (see
        # descendants); init waits for all of it, so nothing outlives the sandbox.
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    # SIGCHLD wakes the wait below through a pipe (no status is ever read by a handler).
    wake, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    stop: list = []
    if "pid" not in plan.get("namespaces", []):
        # The grader's cancel (grader.sandbox.runs): end the check as at the wall limit,
        # killing and cleaning up after its processes (a SIGKILL would skip the cleanup).
        signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    listener = None
    if root is None and plan.get("witness_socket"):  # (the uid level: on the host's files)
        listener = Witness.listen(plan["witness_socket"])
    runner = os.fork()
    if runner == 0:
        exec_runner(plan, root)
    _close_runners_fds(plan)
    witness = None
    if root is not None and plan["root"].get("witness_socket") is not None:
        witness = Witness(plan["root"]["witness_socket"], plan["witness_log"], runner,
                          _inside(root, "/proc"), uid=plan.get("uid"))
    elif listener is not None:
        witness = Witness(listener, plan["witness_log"], runner, "/proc", uid=plan.get("uid"))
    barriers = None
    if witness is not None and plan.get("observe") == "pid" and root is not None:
        # Init is pid 1 in there; a session's server (the runner) is not part of a check.
        barriers = BarrierStalls(witness, _inside(root, "/proc"),
                                 {1, runner} if plan.get("serves") else {1})
    elif witness is not None and plan.get("observe") == "uid":
        # The uid level: the machine's /proc, in which the sandbox's uid is the check.
        barriers = BarrierStalls(witness, "/proc", set(), uid=plan["uid"])
    end = time.monotonic() + plan["wall"]
    status = None
    killed = False
    if root and plan["root"].get("own_pid_ns"):
        watch = Watch(plan, _inside(root, "/proc"))
    elif plan.get("process_max"):  # (the uid level: the processes below this init)
        watch = Watch(plan, "/proc", below=os.getpid())
    else:
        watch = Watch({}, "/proc")
    while True:
        try:
            pid, wstatus = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == runner:
            status = wstatus
            _kill_all(plan, runner)  # the runner has ended: nothing it started may go on
        if pid:
            continue
        left = end - time.monotonic()
        if stop and not killed:
            stop.clear()
            left = 0.0
        if left <= 0:
            if killed:
                break  # something survives even SIGKILL (D state): the launcher gives up
            killed = status is None
            _kill_all(plan, runner)
            end = time.monotonic() + 5.0
            continue
        if watch.exceeded():
            if plan.get("serves"):  # the server goes on to the next check
                watch.stop_all(spare=runner)
            else:
                _kill_all(plan, runner)  # (the runner's status tells: killed by SIGKILL)
        wait = min(left, watch.due_in(), witness.tick() if witness else 1.0,
                   barriers.due_in() if barriers else 1.0)
        ready = readable([wake, *(witness.fds() if witness else [])], max(wait, 0.0))
        if witness is not None:
            witness.handle(ready)
        if barriers is not None:
            barriers.tick()
        try:
            while os.read(wake, 512):
                pass
        except BlockingIOError:
            pass
    if killed or status is None:
        code = KILLED_AT_LIMIT
    elif os.WIFSIGNALED(status):
        code = 128 + os.WTERMSIG(status)
    else:
        code = os.WEXITSTATUS(status)
    if plan.get("sweep"):
        sweep_uid(plan["uid"], plan["sweep"])
    if plan.get("copy_out"):
        source, dest = plan["copy_out"]
        copy_out(_inside(root, source) if root is not None else source, dest)
    return code


def owned_entries(uid: int, folders: list[str], depth: int = 4):
    """``(path, lstat)`` of every entry owned by ``uid`` directly in ``folders`` or in the
    world-writable folders of other owners below them (``depth`` levels down: the uid
    may write there too). The uid level has no private ``/tmp``: this is how what it
    wrote to the machine's shared folders is found. Links are never followed."""
    todo = [(folder, 0) for folder in folders]
    while todo:
        folder, level = todo.pop()
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for name in entries:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if st.st_uid == uid:
                yield path, st
            elif stat.S_ISDIR(st.st_mode) and st.st_mode & 0o002 and level < depth:
                todo.append((path, level + 1))


def sweep_uid(uid: int, folders: list[str]) -> None:
    """Remove what the sandbox's uid left in the machine's shared folders (the same uid
    serves the next student): whole, whatever its modes (init is root)."""
    import shutil

    for path, st in list(owned_entries(uid, folders)):
        try:
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            continue


def disk_use(uid: int, folders: list[str], most: int) -> tuple[int, int]:
    """(bytes, entries) that ``uid`` holds in ``folders`` (see :func:`owned_entries`),
    counting at most ``most`` entries."""
    used = count = 0
    for path, st in owned_entries(uid, folders):
        todo = [(path, st)]
        while todo:
            path, st = todo.pop()
            used += st.st_blocks * 512
            count += 1
            if count >= most:
                return used, count
            if stat.S_ISDIR(st.st_mode):
                try:
                    names = os.listdir(path)
                except OSError:
                    continue
                for name in names:
                    try:
                        todo.append((os.path.join(path, name),
                                     os.lstat(os.path.join(path, name))))
                    except OSError:
                        continue
    return used, count


class Watch:
    """Init's own look at the sandbox, every :attr:`PERIOD` seconds, where it has a PID
    namespace of its own (its ``/proc`` then lists exactly the sandbox's processes):

    * more than ``plan["process_max"]`` processes (threads not counted): a fork bomb;
    * where no cgroup bounds the memory (without root), more than ``plan["memory_max"]``
      bytes resident in all of them together (pages shared by forked processes count once
      per process: more, never less).

    Either way init kills every process of the sandbox and leaves a mark in the grader's
    scratch folder (``plan["flags"]``: ``processes-exceeded``, ``memory-exceeded``), so the
    student is told why. ``RLIMIT_NPROC`` bounds the tasks and ``RLIMIT_AS`` each
    process's memory in the meantime: between two looks a sandbox can outgrow these bounds
    only by what it forks or touches in that time."""

    PERIOD = 0.05
    DISK_PERIOD = 0.1

    def __init__(self, plan: dict, proc: str, below: int | None = None):
        self.below = below  # (no PID namespace: the processes below this one are the sandbox's)
        self.processes = plan.get("process_max")
        self.memory = plan.get("memory_max")
        self.flags = plan.get("flags")
        self.proc = proc
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.next = 0.0  # (monotonic time of the next look)
        # The uid level (the machine's shared folders, no size-limited tmpfs): what the
        # uid holds there, looked at every DISK_PERIOD seconds.
        self.disk = plan.get("disk_max")
        self.disk_entries = plan.get("disk_entries") or 0
        self.disk_dirs = plan.get("disk_dirs") or []
        self.uid = plan.get("uid")
        self.next_disk = 0.0

    def due_in(self) -> float:
        """Seconds until the next look (init may sleep that long for it)."""
        if not (self.processes or self.memory):
            return 1.0
        return max(0.0, self.next - time.monotonic())

    def exceeded(self) -> bool:
        """Look, if a look is due (init wakes for every child and every probe call: a
        flood of calls must not make it list the sandbox's processes for each)."""
        now = time.monotonic()
        if not (self.processes or self.memory) or now < self.next:
            return False
        self.next = now + self.PERIOD
        me = str(os.getpid())
        if self.below is not None:
            pids = [str(p) for p in descendants(self.below, self.proc)]
        else:
            try:
                pids = [e for e in os.listdir(self.proc) if e.isdigit() and e != me]
            except OSError:
                return False
        if self.processes and len(pids) > self.processes:
            return self._flag("processes-exceeded")
        if self.disk and now >= self.next_disk:
            self.next_disk = now + self.DISK_PERIOD
            used, entries = disk_use(self.uid, self.disk_dirs, self.disk_entries)
            if used > self.disk or entries >= self.disk_entries:
                return self._flag("disk-exceeded")
        if not self.memory:
            return False
        total = 0
        for pid in pids:
            try:
                with open(f"{self.proc}/{pid}/statm", "rb") as f:
                    total += int(f.read().split()[1]) * self.page
            except (OSError, ValueError, IndexError):
                continue
        return total > self.memory and self._flag("memory-exceeded")

    def _flag(self, name: str) -> bool:
        """Count the event in the mark's size (a session's checks tell theirs apart)."""
        if self.flags:
            try:
                fd = os.open(os.path.join(self.flags, name),
                             os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, b"x")
                finally:
                    os.close(fd)
            except OSError:
                pass
        return True

    def stop_all(self, spare: int) -> None:
        """Kill every process of the sandbox but init and ``spare`` (a session's server,
        which never runs student code), again and again while a fork bomb still forks.
        (The dead turn into zombies, which init's loop reaps.)"""
        me = os.getpid()

        def victims() -> list[int]:
            try:
                pids = [int(e) for e in os.listdir(self.proc) if e.isdigit()]
            except OSError:
                return []
            return [p for p in pids if p not in (me, spare) and alive(self.proc, p)]

        kill_until_gone(victims, limit=2.0)


def _close_runners_fds(plan: dict) -> None:
    """Descriptors meant for the runner alone (a session's answer pipe): once the runner
    has them, nobody else holds them, so the grader sees end-of-file when it dies."""
    for fd in plan.get("runner_fds", []):
        try:
            os.close(fd)
        except OSError:
            pass


def _kill_all(plan: dict, runner: int) -> None:
    if "pid" in plan.get("namespaces", []):
        try:
            os.kill(-1, signal.SIGKILL)  # in a PID namespace: everything but init
        except ProcessLookupError:
            pass
    elif plan.get("uid") is not None:
        kill_uid(plan["uid"])
        kill_descendants(limit=2.0)  # (what forked between the kill -1 rounds)
    else:
        held: set = set()
        kill_descendants(held=held)
        release_shared_memory(held)


def kill_descendants(limit: float = 10.0, held: set | None = None) -> bool:
    """The subreaper level (no PID namespace, no uid of its own): SIGKILL everything below
    this process, reaping as it goes, until nothing is left. False if something is left
    after ``limit`` seconds. ``held`` gathers the machine's /dev/shm files that the
    processes mapped or held open (see :func:`shared_memory_of`)."""
    def find() -> list[int]:
        pids = descendants(os.getpid())
        if held is not None:
            for pid in pids:
                held.update(shared_memory_of(pid))
        return pids
    return kill_until_gone(find, limit)


SHM = "/dev/shm"


def shared_memory_of(pid: int, proc: str = "/proc") -> set:
    """The inodes of the files in /dev/shm that process ``pid`` maps or holds open:
    multiprocessing's semaphores (``sem.mp-*``) and shared memory (``psm_*``) under spawn
    and forkserver live there until their owner's finalizers remove them, which a process
    that is killed (or leaves through ``os._exit``) never runs. By inode: glibc maps a
    new semaphore under a temporary name, which it then links to the real one."""
    found = set()
    try:
        with open(f"{proc}/{pid}/maps", "rb") as f:
            for line in f:
                fields = line.split(None, 5)
                if len(fields) == 6 and fields[5].startswith(b"/dev/shm/"):
                    found.add(int(fields[4]))
    except (OSError, ValueError):
        pass
    try:
        for fd in os.listdir(f"{proc}/{pid}/fd"):
            try:
                if os.readlink(f"{proc}/{pid}/fd/{fd}").startswith("/dev/shm/"):
                    found.add(os.stat(f"{proc}/{pid}/fd/{fd}").st_ino)
            except OSError:
                pass
    except OSError:
        pass
    return found


def release_shared_memory(inodes: set) -> None:
    """Remove the files of /dev/shm whose inodes are ``inodes`` (:func:`shared_memory_of`):
    at the subreaper level the sandbox shares the machine's /dev/shm, and nothing a check
    made may stay there. Only this user's regular files."""
    if not inodes:
        return
    try:
        names = os.listdir(SHM)
    except OSError:
        return
    for name in names:
        path = f"{SHM}/{name}"
        try:
            info = os.lstat(path)
            if info.st_ino in inodes and stat.S_ISREG(info.st_mode) \
                    and info.st_uid == os.geteuid():
                os.unlink(path)
        except OSError:
            pass


def enter_user_namespace(flags: int) -> None:
    """Without root: a new user namespace that owns the other new namespaces (``flags``).

    This process's own uid and gid are mapped to themselves, the only mapping an ordinary
    user may write, so inside it stays the instructor's uid, with every capability in the
    new namespace (to build the root, mount ``/proc``, chroot) and none outside it. The
    runner loses them all when it executes the interpreter (a non-zero uid keeps no
    capability across ``execve``): it cannot remount, unmount or trace init, and, being
    chrooted, cannot make a user namespace of its own. Pid namespace init ignores the
    signals it has no handler for, so the student's processes cannot kill it either.
    """
    uid, gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER | flags)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def join_cgroups(paths: list[str]) -> None:
    for path in paths:
        with open(path, "w") as f:
            f.write("0")


def main(plan_path: str) -> int:
    with open(plan_path, "rb") as f:
        plan = marshal.load(f)
    try:
        join_cgroups(plan.get("cgroups", []))
        flags = 0
        for name in plan.get("namespaces", []):
            flags |= NAMESPACE_FLAGS[name]
        if plan.get("userns"):
            enter_user_namespace(flags)
        elif flags:
            unshare(flags)
    except OSError as exc:
        os.write(2, f"sandbox setup failed: {exc}\n".encode())
        return SETUP_FAILED
    if "pid" not in plan.get("namespaces", []):
        try:
            return init(plan)
        except OSError as exc:
            os.write(2, f"sandbox setup failed: {exc}\n".encode())
            return SETUP_FAILED
    child = os.fork()
    if child == 0:
        code = SETUP_FAILED
        try:
            # If the launcher is killed, so is init, and with it the namespace. (getppid()
            # is 0 in here, so the window before this call is covered by the grader's
            # process-group and cgroup kills instead.)
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            code = init(plan)
        except BaseException as exc:  # noqa: BLE001
            os.write(2, f"sandbox setup failed: {exc}\n".encode())
        finally:
            os._exit(code)
    _close_runners_fds(plan)
    _, wstatus = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(wstatus)
    # (No kill_uid here: this process cannot fork into the dead namespace, and nothing of
    # the sandbox's uid can exist outside it.)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    os._exit(main(sys.argv[1]))
