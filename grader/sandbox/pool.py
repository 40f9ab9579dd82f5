"""The class's sandbox pool: warm sandboxes shared by every student's hidden suite.

Grading a class starts one pytest process per student (:mod:`grader.cli`); each of them
would otherwise launch its own sandboxes (a launch costs about two interpreter starts).
Instead the grading command keeps a :class:`Pool` of running sandbox sessions
(:class:`grader.sandbox.Session`) and the suites send it their checks over a unix socket
(``KIT_POOL``), through :class:`Client`:

::

    pytest (one student, trusted)          grading command (trusted)       sandboxes
    Client.run(scenario, ...)  ──JSON──▶  Pool: lease an idle session ──▶ check forked by
    Run  ◀──────────────────────JSON────  (its submission swapped in)  ◀── the server

A session serves one check at a time. Between two checks its server kills every process
of the sandbox, removes System V IPC objects and empties the private folders; only then
does the pool hand it to another check, and, if that check is another student's, replace
the submission's files (the sandbox sees them read-only at ``/sandbox/submission``). So a
check sees exactly what a new sandbox would show it, whoever ran there before. A session
whose server broke, that was cancelled, or that is old is closed, not reused.

The pool is used only where sessions are (the full sandbox: own uid and PID namespace;
``python -m grader doctor``); ``KIT_POOL=0`` for the grading command switches it off.
Only trusted processes talk to it: the socket lives in a folder of the grader's own
(mode 0700), and sandboxes have a root file system of their own without it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from grader import settings
from grader.inside import lines
from grader.sandbox import runs as sandbox

REQUEST_LIMIT = 1 << 20
MAX_AGE = sandbox.SESSION_WALL / 2  # a session's init ends it after SESSION_WALL


class Pool:
    """Up to ``size`` sandbox sessions, leased one check at a time (see the module)."""

    def __init__(self, size: int, run_token: str | None = None,
                 workdir: Path | None = None):
        self.size = max(1, size)
        self.run_token = run_token
        self.workdir = workdir
        self.idle: list[sandbox.Session] = []
        self.busy: list[sandbox.Session] = []
        self.alive = 0
        self.closed = False
        self.cond = threading.Condition()
        self.launched = 0  # sandboxes started (what the pool saves: checks - launched)
        self.warming: list[threading.Thread] = []  # (warm_up's launches)
        self.checks = 0
        self.folder = tempfile.mkdtemp(prefix="kit-pool-")  # mode 0700
        sandbox.own_scratch(self.folder)
        self.path = os.path.join(self.folder, "pool.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(256)
        self.thread = threading.Thread(target=self._accept, name="kit-pool", daemon=True)
        self.thread.start()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def env(self) -> dict[str, str]:
        """What a suite's pytest process needs in its environment to use the pool."""
        return {"KIT_POOL": self.path}

    def warm_up(self, submission: Path, module: str, count: int) -> None:
        """Launch up to ``count`` sessions for ``submission`` now, in the background, and
        keep them idle: the first student's checks then find them ready instead of
        waiting for their launch, which overlaps the start of that student's pytest (one
        core busy importing pytest, the other free). A launch that fails is dropped;
        the check that needs a sandbox then launches one and reports the failure."""
        def launch() -> None:
            with self.cond:
                if self.closed or self.alive >= self.size:
                    return
                self.alive += 1
            session = self._new(submission, module)
            try:
                session.start()
            except Exception:  # noqa: BLE001 (see above)
                self._drop(session)
                return
            with self.cond:
                self.launched += session.launches
            self.release(session)

        for _ in range(count):
            thread = threading.Thread(target=launch, daemon=True, name="kit-pool-warm")
            self.warming.append(thread)
            thread.start()

    # --- leasing -------------------------------------------------------------------------

    def lease(self, submission: Path, module: str) -> sandbox.Session:
        """An idle session switched to ``submission`` (one that served it already if
        there is one), a new one if the pool is not full, else the next one released."""
        with self.cond:
            while True:
                if self.closed:
                    raise RuntimeError("the sandbox pool is closed")
                same = [s for s in self.idle if s.submission == submission]
                if same or self.idle:
                    session = (same or self.idle)[0]
                    self.idle.remove(session)
                    break
                if self.alive < self.size:
                    self.alive += 1
                    session = None
                    break
                self.cond.wait()
        if session is None:
            return self._new(submission, module)
        try:
            session.use(submission, module)
        except BaseException:
            self._drop(session)
            raise
        return session

    def _new(self, submission: Path, module: str) -> sandbox.Session:
        """A session of this pool (counted in ``alive`` by the caller)."""
        return sandbox.Session(submission, module, self.workdir, run_token=self.run_token)

    def release(self, session: sandbox.Session) -> None:
        """Back into the pool, unless it cannot serve another check as a new one would."""
        old = (session.started_at is not None
               and time.monotonic() - session.started_at > MAX_AGE)
        with self.cond:
            # (A cancelled check's sandbox was killed: jail None.)
            keep = (not self.closed and session.enabled and session.jail is not None
                    and not old)
            if keep:
                self.idle.append(session)
                self.cond.notify()
                return
        self._drop(session)

    def _drop(self, session: sandbox.Session) -> None:
        try:
            session.close()
        finally:
            with self.cond:
                self.alive -= 1
                self.cond.notify()

    def run(self, submission: Path, module: str, cancel: sandbox.Cancel | None = None,
            **check: Any) -> sandbox.Run:
        """Run one check (the keyword arguments of :meth:`grader.sandbox.Session.run`)."""
        session = self.lease(submission, module)
        with self.cond:
            self.busy.append(session)
        before = session.launches
        try:
            return session.run(cancel=cancel, **check)
        finally:
            with self.cond:
                self.busy.remove(session)
                self.launched += session.launches - before
                self.checks += 1
            self.release(session)

    def close(self) -> None:
        for thread in self.warming:  # (a launch under way ends in the pool, then closed)
            thread.join()
        with self.cond:
            self.closed = True
            idle, self.idle = self.idle, []
            self.cond.notify_all()
        try:
            self.listener.close()
        except OSError:
            pass
        for session in idle:
            self._drop(session)
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- the socket ----------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name="kit-pool-check").start()

    def _serve(self, conn: socket.socket) -> None:
        """One connection, one check: a JSON request line, then the Run as a JSON line.
        The client may send ``abandon`` and ``cancel`` meanwhile; end of file (its
        process is gone) cancels too."""
        with conn:
            reader = conn.makefile("rb")
            try:
                request = lines.decode(reader.readline(REQUEST_LIMIT))
                submission = Path(request["submission"])
                module = str(request["module"])
                check = dict(request["check"])
            except (ValueError, KeyError, TypeError, OSError):
                return
            cancel = sandbox.Cancel()
            if request.get("abandoned") is True:
                cancel.abandon()

            def watch() -> None:
                try:
                    while reader.readline(64) == lines.ABANDON:
                        cancel.abandon()
                except OSError:
                    pass
                cancel.cancel()  # "cancel", or end of file

            threading.Thread(target=watch, daemon=True, name="kit-pool-cancel").start()
            try:
                run = self.run(submission, module, cancel=cancel, **check)
                # (A shallow dict: a run is plain data already, and asdict's deep copy
                # of its records cost ~3 ms a check.)
                answer: dict[str, Any] = {"run": {f.name: getattr(run, f.name)
                                                  for f in dataclasses.fields(run)}}
            except Exception as exc:  # noqa: BLE001 - the client reports it as a kit error
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            try:
                conn.sendall(lines.encode(answer))
            except OSError:
                pass


class Client:
    """What a suite uses instead of :class:`grader.sandbox.Session` when it runs under a
    grading command with a pool: the same ``run``, served by the pool."""

    def __init__(self, path: str, submission: Path, module: str):
        self.path = path
        self.submission = Path(submission)
        self.module = module

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def run(self, scenario: str, start_method: str | None = None,
            params: dict[str, Any] | None = None, deadline: float = 20.0,
            env: dict[str, Any] | None = None,
            cancel: sandbox.Cancel | None = None) -> sandbox.Run:
        params = params or {}
        if cancel is not None and cancel.cancelled:
            return sandbox.skipped(scenario, start_method, "cancelled", params)
        request = {"submission": str(self.submission), "module": self.module,
                   "check": {"scenario": scenario, "start_method": start_method,
                             "params": params, "deadline": deadline, "env": env},
                   "abandoned": cancel is not None and cancel.abandoned}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(self.path)
            sock.sendall(lines.encode(request))
            if cancel is not None:
                cancel.bind(lambda: _send(sock, lines.CANCEL),
                            lambda: _send(sock, lines.ABANDON))
            try:
                line = sock.makefile("rb").readline()
            finally:
                if cancel is not None:
                    cancel.bind(None)
        try:
            answer = lines.decode(line)
        except ValueError:
            answer = {}
        if "run" not in answer:
            raise RuntimeError("the grading command's sandbox pool failed this check: "
                               + str(answer.get("error") or "no answer"))
        return sandbox.Run(**answer["run"])


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass


def session(submission: Path, module: str, serve: bool = True) -> Any:
    """The class's pool if this process runs under a grading command that has one
    (``KIT_POOL``), else a :class:`grader.sandbox.Session` of its own."""
    path = settings.get("KIT_POOL")
    if path.startswith("/"):  # (the pool's socket; "0", "1": a session of its own)
        return Client(path, submission, module)
    return sandbox.Session(submission, module, serve=serve)


def wanted() -> bool:
    """Whether a grading command should keep a pool (sessions available, not switched
    off with ``KIT_POOL=0``)."""
    return settings.enabled("KIT_POOL") and sandbox.sessions_enabled()
