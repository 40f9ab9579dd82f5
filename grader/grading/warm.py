"""A warm pytest for the hidden suites: one process per class imports pytest and the grader
once, then forks a fresh pytest run per student.

Starting ``python -m pytest`` costs about 0.25 s (the interpreter, pytest's imports, the
plugins), paid again for every student; a fork of a process that has done it costs a few
milliseconds, and the run it starts sees a pristine copy (no state from another student's
run: each child is forked from the server, never from a sibling). Only the kit's trusted
code runs here: the student's code runs in sandboxes (:mod:`grader.sandbox`), reached
from the suites as before.

``python -m grader.grading.warm`` serves on stdin/stdout, one JSON line each way:

* request ``{"id", "args", "cwd", "log"}``: fork; the child starts a session of its own,
  sends stdout and stderr to ``log``, changes to ``cwd`` and exits with ``pytest.main(args)``;
* answers ``{"id", "pid"}`` right after the fork (the caller may kill the child's process
  group) and ``{"id", "exit"}`` when the child has ended (a negative exit: its signal).

When stdin closes (the grading command ended or died), every child still running is killed.
:class:`WarmPytest` is the grading command's side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from grader.inside import lines

# What every suite run imports, loaded once in the server (tests/benchmarks/bench_class.py
# measures the difference).
PRELOAD = ("pytest", "pytest_timeout", "_pytest.python", "_pytest.runner", "_pytest.terminal",
           "grader.checks.plugin", "grader.checks.judge", "grader.sandbox", "grader.sandbox.pool",
           "grader.inside.probes")


def _child(request: dict[str, Any], close: list[int]) -> None:
    """In the forked child: run pytest as asked (``close``: the server's own descriptors
    besides 0, 1 and 2); never returns."""
    code = 3
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in close:
            os.close(fd)
        # (0, 1 and 2 are open, so these get higher numbers; dup2 replaces the server's
        # request and answer pipes.)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        os.chdir(request["cwd"])
        import pytest

        sys.argv = ["pytest", *request["args"]]
        code = int(pytest.main(list(request["args"])))
    except BaseException:  # noqa: BLE001 - the run's log says what went wrong
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve() -> None:
    import gc
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()  # (the children share these pages instead of copying them on first GC)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    answers = sys.stdout.buffer
    children: dict[int, str] = {}
    buffer = b""
    reading = True

    def answer(data: dict[str, Any]) -> None:
        answers.write(lines.encode(data))
        answers.flush()

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            rid = children.pop(pid, None)
            if rid is not None:
                answer({"id": rid, "exit": os.waitstatus_to_exitcode(status)})

    while reading or children:
        ready = lines.readable([0, wake_r] if reading else [wake_r], 1.0)
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        reap()
        if 0 not in ready:
            continue
        data = os.read(0, 1 << 16)
        if not data:
            reading = False
            for pid in children:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
            continue
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = lines.decode(line)
            pid = os.fork()
            if pid == 0:
                _child(request, [wake_r, wake_w])
            children[pid] = request["id"]
            answer({"id": request["id"], "pid": pid})


class WarmPytest:
    """The grading command's handle on a warm pytest server; thread-safe.

    :meth:`run` returns the run's exit status, or None if the server is gone (the caller
    then starts pytest the cold way)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        # cwd: an empty grader-owned folder (``-m`` puts it first on sys.path).
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.grading.warm"], cwd=cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
        self.lock = threading.Lock()
        self.count = 0
        self.pending: dict[str, dict[str, Any]] = {}
        self.alive = True
        threading.Thread(target=self._read, daemon=True, name="warm-pytest").start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                data = lines.decode(line)
                slot = self.pending[data["id"]]
            except (ValueError, KeyError, TypeError):
                continue
            slot.update(data)
            if "exit" in data:
                slot["done"].set()
        with self.lock:
            self.alive = False
            for slot in self.pending.values():
                slot["done"].set()

    def run(self, args: list[str], cwd: Path, log: Path, timeout: float) -> int | None:
        done = threading.Event()
        with self.lock:
            if not self.alive:
                return None
            self.count += 1
            rid = str(self.count)
            slot: dict[str, Any] = {"done": done}
            self.pending[rid] = slot
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(lines.encode(
                    {"id": rid, "args": args, "cwd": str(cwd), "log": str(log)}))
                self.proc.stdin.flush()
            except OSError:
                self.alive = False
                return None
        try:
            if not done.wait(timeout):
                self._kill(slot)  # (not yet reaped: the group id is still the run's)
                done.wait(10)
            if "exit" not in slot:  # (the server is gone: so must its child be)
                self._kill(slot)
            return slot.get("exit")
        finally:
            with self.lock:
                self.pending.pop(rid, None)

    @staticmethod
    def _kill(slot: dict[str, Any]) -> None:
        if isinstance(slot.get("pid"), int):
            try:
                os.killpg(slot["pid"], signal.SIGKILL)
            except OSError:
                pass

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    serve()
