"""Runs one scenario inside a sandbox process and writes what happened as plain JSON.

Contract with :mod:`grader.sandbox` (the trusted side):

* the spec (JSON) names the scenario, the start method, the student's module and folder,
  the probe folder, where to write the result and the phase, and a deadline in seconds;
* the result file holds ``{"pid", "phase", "data", "error", "timeout"}``, all plain data;
* on reaching the deadline a watchdog thread writes the stacks of all threads (where the
  student's code was stuck) as ``timeout`` and ends the process.

The process always leaves through ``os._exit`` so that neither the student's ``atexit``
handlers nor multiprocessing's exit hooks (which join children) can keep it alive.
"""

from __future__ import annotations

import faulthandler
import importlib
import json
import linecache
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

_spec: dict[str, Any] = {}
_result: dict[str, Any] = {}
_write_lock = threading.Lock()
_written = False


def set_phase(phase: str) -> None:
    """Record what the sandbox is doing now (read by the grader if the process dies)."""
    _result["phase"] = phase
    try:
        with open(_spec["phase_path"], "w") as f:
            f.write(phase)
    except OSError:
        pass


def write_result() -> None:
    """Write the result once (the watchdog and the normal path may race)."""
    global _written
    with _write_lock:
        if _written:
            return
        _written = True
        tmp = _spec["result_path"] + ".tmp"
        with open(tmp, "w") as f:
            json.dump(_result, f, default=repr)
        os.replace(tmp, _spec["result_path"])


def student_file(filename: str) -> bool:
    return os.path.dirname(os.path.abspath(filename)) == _spec.get("sub_dir")


def frame_summary(frame, limit: int = 12) -> list[dict[str, Any]]:
    """The innermost ``limit`` frames of a stack, innermost last, as plain data."""
    frames = []
    while frame is not None:
        code = frame.f_code
        frames.append(
            {
                "file": os.path.basename(code.co_filename),
                "path": code.co_filename,
                "line": frame.f_lineno,
                "func": code.co_name,
                "student": student_file(code.co_filename),
                "text": linecache.getline(code.co_filename, frame.f_lineno).strip(),
            }
        )
        frame = frame.f_back
    frames.reverse()
    return frames[-limit:]


FULL_STACKS = 20


def all_stacks() -> list[dict[str, Any]]:
    """Where every thread is. The main thread and the first few others get their innermost
    frames; the rest (there may be 2000) only their innermost student frame and innermost
    frame, which is all the explanation needs and keeps the result small."""
    names = {t.ident: t for t in threading.enumerate()}
    me = threading.get_ident()
    stacks = []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        thread = names.get(ident)
        main = thread is threading.main_thread()
        frames = frame_summary(frame)
        if not main and len(stacks) > FULL_STACKS:
            student = [f for f in frames if f["student"]][-1:]
            frames = student + ([frames[-1]] if frames and frames[-1] not in student else [])
        stacks.append({"thread": thread.name if thread else str(ident), "main": main,
                       "frames": frames})
    return stacks


def error_data(exc: BaseException) -> dict[str, Any]:
    """An exception as plain data, with the student's innermost line."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = None
    for entry in tb:
        if student_file(entry.filename):
            where = {"file": os.path.basename(entry.filename), "line": entry.lineno,
                     "text": (entry.line or "").strip(), "func": entry.name}
    try:
        message = str(exc)[:2000]
    except Exception:  # a hostile __str__
        message = "<unprintable>"
    return {
        "type": type(exc).__name__,
        "message": message,
        "where": where,
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:],
    }


def plain(value: Any, depth: int = 0) -> Any:
    """Student data converted to JSON, keeping only exact built-in types.

    An object that merely claims to be equal to something (``__eq__`` always true) or a
    subclass of ``str``/``int`` is reported by type name, never trusted.
    """
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind in (list, tuple) and depth < 3:
        return {"__type__": kind.__name__, "items": [plain(v, depth + 1) for v in value[:10000]]}
    try:
        text = repr(value)[:200]
    except Exception:
        text = "<unprintable>"
    return {"__type__": kind.__name__, "repr": text}


def _watchdog(deadline: float) -> None:
    time.sleep(deadline)
    _result["timeout"] = {"after": deadline, "stacks": all_stacks()}
    try:
        write_result()
    finally:
        os._exit(3)


def import_student() -> Any:
    """Import the submission as a real, file-backed module (pickling by reference works)."""
    set_phase(f"importing {_spec['module']}.py")
    # The student's folder goes last: their files cannot shadow the standard library
    # or the grader's own modules.
    sys.path.append(_spec["sub_dir"])
    return importlib.import_module(_spec["module"])


def apply_limits() -> None:
    import resource

    limits = _spec.get("limits", {})
    for name, value in limits.items():
        res = getattr(resource, name)
        soft, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY and hard < value:
            value = hard
        resource.setrlimit(res, (value, value))
    # Output beyond the file-size limit fails with EFBIG instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # 2000 threads must fit in the address-space limit.
    threading.stack_size(512 * 1024)


def main(spec_path: str) -> None:
    global _spec
    with open(spec_path) as f:
        _spec = json.load(f)
    _result.update({"pid": os.getpid(), "phase": "starting", "data": {}, "error": None,
                    "timeout": None})
    apply_limits()
    faulthandler.enable(file=sys.stderr)
    os.makedirs(_spec["probe_dir"], exist_ok=True)
    os.environ["KIT_PROBE_DIR"] = _spec["probe_dir"]
    for key, value in _spec.get("env", {}).items():
        os.environ[key] = str(value)
    if _spec.get("start_method"):
        multiprocessing.set_start_method(_spec["start_method"], force=True)
    threading.Thread(target=_watchdog, args=(_spec["deadline"],), daemon=True,
                     name="grader-watchdog").start()

    from grader.inside import scenarios

    scenario = getattr(scenarios, _spec["scenario"])
    try:
        scenario(_spec, _result["data"])
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
        _result["error"] = error_data(exc)
        _result["error"]["phase"] = _result["phase"]
    set_phase("done")
    try:
        write_result()
    finally:
        sys.stdout.flush()
        os._exit(0)
