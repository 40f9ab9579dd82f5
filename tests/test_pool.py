"""The class's pool of warm sandboxes (grader.sandbox.pool): one sandbox serves many students'
checks, so each check must find it exactly as a new sandbox would be, whoever ran there
before; a check that breaks or is cancelled costs its sandbox, never a classmate's grade.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import uuid

import pytest

from helpers import ROOT, processes_with, student

sys.path.insert(0, str(ROOT))

from grader import sandbox  # noqa: E402
from grader.sandbox import pool  # noqa: E402

SOLUTION = (ROOT / "solutions" / "thread_counter" / "counter.py").read_text()

LOOK = '''
import json as _json, os as _os, sys as _sys

def _ipc(kind):
    try:
        with open("/proc/sysvipc/" + kind) as f:
            return len(f.read().splitlines()) - 1
    except OSError:
        return None

def _abstract():
    import socket as _socket
    with _socket.socket(_socket.AF_UNIX) as _s:
        try:
            _s.connect("\\0kit-left-by-ann")
            return True
        except OSError:
            return False

def _others_out():
    """What is in the output folder besides this check's own (a session's check has a
    folder of its own in it; a sandbox of its own writes there directly)."""
    mine = _os.path.dirname(_os.environ["KIT_PROBE_DIR"])
    if mine == "/sandbox/out":
        return []
    return sorted(e for e in _os.listdir("/sandbox/out")
                  if _os.path.join("/sandbox/out", e) != mine)

def _room(folder):
    """Whether 42 MB still fit in ``folder`` (a private tmpfs of 64 MB)."""
    made = []
    try:
        for _i in range(6):  # (files of 7 MB: RLIMIT_FSIZE is 8 MiB)
            made.append(_os.path.join(folder, "room-%s-%d" % (WHO, _i)))
            with open(made[-1], "wb") as _f:
                _f.write(b"\\0" * (7 << 20))
        return True
    except OSError:
        return False
    finally:
        for _path in made:
            try:
                _os.unlink(_path)
            except OSError:
                pass

print("SAW " + _json.dumps({
    "who": WHO, "submission": sorted(_os.listdir("/sandbox/submission")),
    "tmp": sorted(_os.listdir("/tmp")), "shm": sorted(_os.listdir("/dev/shm")),
    "work": sorted(_os.listdir(".")),
    "pids": len([p for p in _os.listdir("/proc") if p.isdigit()]),
    "ipc": {k: _ipc(k) for k in ("shm", "msg", "sem")},
    "abstract": _abstract(), "room": [_room("/tmp"), _room("/dev/shm")],
    "out": _others_out(),
}))
_sys.stdout.flush()
'''

LEAVE = '''
import ctypes as _ctypes, signal as _signal, socket as _socket, subprocess as _sp
for _folder in ("/tmp", "/dev/shm", "."):
    with open(_os.path.join(_folder, "left-by-" + WHO), "w") as _f:
        _f.write("x")
# Read-only folders that hold 42 MB (of a 64 MB tmpfs) and a hard link, in /tmp, /dev/shm
# and the check's output folder.
for _folder in ("/tmp", "/dev/shm", _os.path.dirname(_os.environ["KIT_PROBE_DIR"])):
    _ro = _os.path.join(_folder, "ro-by-" + WHO)
    _os.makedirs(_os.path.join(_ro, "inner"), exist_ok=True)
    for _i in range(6):
        with open(_os.path.join(_ro, "inner", "fill-%d" % _i), "wb") as _f:
            _f.write(b"\\0" * (7 << 20))
    _os.link(_os.path.join(_ro, "inner", "fill-0"), _os.path.join(_ro, "hard-link"))
    _os.chmod(_os.path.join(_ro, "inner"), 0o500)
    _os.chmod(_ro, 0o500)
if _os.fork() == 0:  # a stopped process
    _os.kill(_os.getpid(), _signal.SIGSTOP)
    _os._exit(0)
if _os.fork() == 0:  # a tracer that stays, and its tracee, stopped under trace
    _traced = _os.fork()
    if _traced == 0:
        _ctypes.CDLL(None).ptrace(0, 0, None, None)  # PTRACE_TRACEME
        _os.kill(_os.getpid(), _signal.SIGSTOP)
        _os._exit(0)
    _os.waitpid(_traced, _os.WUNTRACED)
    _os.execv(_sys.executable, [_sys.executable, "-c", "import time; time.sleep(600)"])
_libc = _ctypes.CDLL(None)
_libc.shmat.restype = _ctypes.c_void_p
_shm = _libc.shmget(0, 64 << 20, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600: outlives us
if _shm != -1:  # (the sandbox's filter refuses System V IPC: EPERM)
    _addr = _libc.shmat(_shm, None, 0)
    _ctypes.memset(_ctypes.c_void_p(_addr), 1, 64 << 20)  # 64 MB of the cgroup's memory
_libc.msgget(0, 0o1600)
_libc.semget(0, 1, 0o1600)
if _os.fork() == 0:  # a daemon that ignores SIGTERM, with an abstract socket listening
    _os.setsid()
    _listener = _socket.socket(_socket.AF_UNIX)
    _listener.bind("\\0kit-left-by-" + WHO)
    _listener.listen(8)
    _listener.set_inheritable(True)
    _os.execv(_sys.executable, [_sys.executable, "-c",
              "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "time.sleep(600)"])
'''

needs_sessions = pytest.mark.skipif(
    not sandbox.Session(ROOT, "x").enabled,
    reason="the pool needs sandbox sessions (see python -m grader doctor)")


def saw(run: sandbox.Run) -> dict:
    assert run.finished, run
    return json.loads([x for x in run.stdout_tail.splitlines()
                       if x.startswith("SAW ")][-1][4:])


@needs_sessions
@pytest.mark.timeout(180)
def test_the_next_student_finds_nothing_of_the_last_one(tmp_path):
    """One warm sandbox serves Ann, Ben, Ann, Ben. Ann's checks leave files, read-only
    folders filling most of /tmp, /dev/shm and the output folder (with hard links), a
    daemon that ignores SIGTERM and listens on an abstract socket, a stopped process, a
    process stopped under trace by another that stays, and
    try to leave a 64 MB System V segment, a message queue and a semaphore set (refused);
    she has an extra module. Ben sees none of it: what he sees is what a new sandbox
    shows him (the folders empty, room in them, no socket to connect to). Every check is
    right, and only one sandbox was launched."""
    token = uuid.uuid4().hex
    ann = student(tmp_path, SOLUTION + '\nWHO = "ann"\n' + LOOK + LEAVE, name="ann",
                  extra={"helper.py": "X = 1\n"})
    ben = student(tmp_path, SOLUTION + '\nWHO = "ben"\n' + LOOK, name="ben")
    with pool.Pool(1, run_token=token) as warm:
        runs = [warm.run(who, "counter", scenario="counter_plain", params={"sizes": [n]})
                for who, n in ((ann, 3), (ben, 4), (ann, 5), (ben, 6))]
        assert (warm.launched, warm.checks) == (1, 4)
    fresh = saw(sandbox.run("counter_plain", ben, "counter", params={"sizes": [4]}))
    seen = [saw(r) for r in runs]
    assert [s["who"] for s in seen] == ["ann", "ben", "ann", "ben"]
    assert [r.data["calls"][0]["value"] for r in runs] == [3, 6, 10, 15]
    # Processes: init, the server and the check (a new sandbox: init and the check).
    assert [s.pop("pids") for s in seen] == [3, 3, 3, 3] and fresh.pop("pids") == 2
    assert seen[1] == seen[3] == fresh
    assert fresh["submission"] == ["counter.py"] and fresh["ipc"] == {
        "shm": 0, "msg": 0, "sem": 0}
    assert fresh["tmp"] == fresh["shm"] == fresh["work"] == fresh["out"] == []
    assert fresh["abstract"] is False and fresh["room"] == [True, True]
    # Ann's second check starts clean of her first one too (her own files come back).
    assert seen[2] == seen[0] and seen[0]["submission"] == ["counter.py", "helper.py"]
    assert processes_with(token) == []


HANG = SOLUTION + '''

def run_workers(n_threads=2000):
    while True:
        pass
'''


def _leased(warm: pool.Pool) -> bool:
    """Whether a check has its sandbox (launched, so a cancel must kill it)."""
    with warm.cond:
        return any(s.jail is not None for s in warm.busy)


@needs_sessions
@pytest.mark.timeout(120)
def test_a_cancelled_or_abandoned_check_costs_its_sandbox_only(tmp_path):
    """Through the socket, as the suites use it: a hanging check that the suite cancels
    comes back "skipped" at once; one whose pytest process goes away (end of file) is
    killed too. Each costs its sandbox (killed, not reused), and the next check, in a
    new sandbox, is right."""
    token = uuid.uuid4().hex
    hang = student(tmp_path, HANG, name="hang")
    right = student(tmp_path, SOLUTION, name="right")
    with pool.Pool(1, run_token=token) as warm:
        client = pool.Client(warm.env()["KIT_POOL"], hang, "counter")
        cancel = sandbox.Cancel()
        answer: list = []
        asking = threading.Thread(target=lambda: answer.append(client.run(
            "counter_plain", params={"sizes": [3]}, deadline=60, cancel=cancel)))
        started = time.monotonic()
        asking.start()
        while not _leased(warm):
            time.sleep(0.01)
        cancel.cancel()
        asking.join(30)
        assert answer and answer[0].status == "skipped", answer
        assert time.monotonic() - started < 20  # not the check's 60 s

        # A suite that goes away without a word: its connection's end cancels the check.
        request = {"submission": str(hang), "module": "counter",
                   "check": {"scenario": "counter_plain", "params": {"sizes": [3]},
                             "deadline": 60}}
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(warm.path)
            sock.sendall((json.dumps(request) + "\n").encode())
            while not _leased(warm):
                time.sleep(0.01)
        end = time.monotonic() + 20
        while (warm.alive or warm.checks < 2) and time.monotonic() < end:
            time.sleep(0.05)
        assert warm.alive == 0 and warm.checks == 2  # dropped, not put back

        run = pool.Client(warm.path, right, "counter").run("counter_plain",
                                                           params={"sizes": [7]})
        assert run.finished and run.data["calls"][0]["value"] == 21
        assert warm.launched == 3
    assert processes_with(token) == []


@needs_sessions
@pytest.mark.timeout(120)
def test_a_student_who_kills_the_server_does_not_reach_the_next_student(tmp_path):
    token = uuid.uuid4().hex
    killer = student(tmp_path, SOLUTION + "\nimport os, signal\ntry:\n"
                     "    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError:\n"
                     "    pass\n", name="killer")
    right = student(tmp_path, SOLUTION, name="right")
    with pool.Pool(1, run_token=token) as warm:
        first = warm.run(killer, "counter", scenario="counter_plain",
                         params={"sizes": [5]}, deadline=5)
        second = warm.run(right, "counter", scenario="counter_plain",
                          params={"sizes": [6]}, deadline=5)
        assert warm.launched == 2
    # The killer's check was rerun alone (its own sandbox): same result as without a pool.
    assert first.finished and first.data["calls"][0]["value"] == 10
    assert second.finished and second.data["calls"][0]["value"] == 15
    assert processes_with(token) == []


JOIN_FIRST = ROOT / "tests" / "corpus" / "process_fanout" / "join_before_get"
TWO_CALLS = {"calls": [
    {"label": "basic", "n": 4, "length": 5, "barrier": 4, "barrier_timeout": 5,
     "deadline": 20},
    # (Deadlocks: the children cannot end while their strings fill the pipe.)
    {"label": "large", "n": 2, "length": 1 << 18, "summarize": True, "deadline": 40}]}


def _probe_calls(warm: pool.Pool) -> int:
    """How many probe calls the sandbox's init has seen so far (the pids it notes)."""
    with warm.cond:
        jails = [s.jail for s in warm.busy if s.jail is not None]
    return sum(1 for jail in jails for key in jail.witness()[1]
               if not key.startswith(("runner-", "b-", "t-")))


@needs_sessions
@pytest.mark.timeout(120)
def test_an_abandoned_check_makes_no_further_call(tmp_path):
    """Through the socket, as the suites use it (conftest's ``stops``): a check whose
    second call deadlocks is abandoned while in it. It ends then, not at its deadline,
    and comes back with the first call finished and the second skipped; the sandbox is
    kept for the next check. Abandoned before it begins, it makes its first call only."""
    from grader.checks.judge import call_of

    token = uuid.uuid4().hex
    with pool.Pool(1, run_token=token) as warm:
        client = pool.Client(warm.env()["KIT_POOL"], JOIN_FIRST, "fanout")
        cancel = sandbox.Cancel()
        answer: list = []
        asking = threading.Thread(target=lambda: answer.append(client.run(
            "fanout", "spawn", params=TWO_CALLS, deadline=60, cancel=cancel)))
        asking.start()
        while _probe_calls(warm) < 6:  # the first call's 4, then the second's 2
            time.sleep(0.01)
        cancel.abandon()
        asking.join(60)
        run = answer[0]
        assert run.abandoned and run.timeout is None and run.status == "died", run
        assert run.phase == "calling fan_out(2, 262144)"
        basic, large = call_of(run, "basic"), call_of(run, "large")
        assert basic.finished and len(basic.data["value"]["items"]) == 4
        assert large.status == "skipped" and "abandoned" in large.phase

        early = sandbox.Cancel()
        early.abandon()
        run = client.run("fanout", "forkserver", params=TWO_CALLS, deadline=60,
                         cancel=early)
        assert run.finished and run.abandoned, run
        assert list(run.data["calls"]) == ["basic"]
        assert call_of(run, "basic").finished and call_of(run, "large").status == "skipped"
        assert warm.launched == 1  # (the same sandbox served both)
    assert processes_with(token) == []


def test_what_a_failed_run_stops_under_later_start_methods():
    """The suites' rule (conftest ``stops``): a later run is cancelled when every call it
    makes has failed under an earlier start method, abandoned when every call after its
    first has; a skipped part stops nothing."""
    from grader.suites.conftest import stops
    from grader.suites.process_fanout.test_fanout import SCENARIOS

    def run(status, data=None, params=None):
        return sandbox.Run("fanout", "fork", status, "p", data=data or {}, params=params or {})

    hung = run("timeout")
    failed: dict = {}
    assert stops(SCENARIOS, "large/fork", hung, failed, {}) == [
        ("basic/spawn", "abandon"), ("basic/forkserver", "abandon")]
    failed = {}
    assert stops(SCENARIOS, "basic/fork", hung, failed, {}) == []  # the large calls count
    assert stops(SCENARIOS, "large/fork", hung, failed, {"basic/spawn": hung}) == [
        ("basic/forkserver", "cancel")]
    # basic/spawn: the basic call returned, the large one deadlocked; forkserver's large
    # call no longer counts. A large call that was skipped says nothing.
    two = SCENARIOS["basic/spawn"]["params"]
    spawn = run("timeout", {"calls": {"basic": {"done": True}, "large": {}}}, two)
    assert stops(SCENARIOS, "basic/spawn", spawn, {}, {}) == [("basic/forkserver", "abandon")]
    spawn = run("timeout", {"calls": {"basic": {}}}, two)
    assert stops(SCENARIOS, "basic/spawn", spawn, {}, {}) == []
    # A scenario of one call (pool_variants): its later runs are cancelled, as before.
    pools = {f"map/{m}": {"params": {}} for m in ("fork", "spawn", "forkserver")}
    assert stops(pools, "map/fork", hung, {}, {}) == [("map/spawn", "cancel"),
                                                      ("map/forkserver", "cancel")]
    assert stops(pools, "map/fork", run("skipped"), {}, {}) == []


@pytest.mark.fast
@pytest.mark.timeout(60)
def test_calls_a_stopped_run_never_made_are_made_in_a_run_of_their_own():
    """pool_variants calls its four parallel functions in one check under spawn and
    forkserver (conftest ``rest``): the calls after one that did not return are made in a check of
    their own, unless that call had returned under fork (then it alone already costs
    ``portable``). The decision waits until fork's run of that call is over."""
    from grader.suites.conftest import rest, returned_first, stops
    from grader.suites.pool_variants.test_pools import SCENARIOS

    def run(status, calls=None, key="parallel/spawn", abandoned=False):
        method = key.partition("/")[2]
        return sandbox.Run("pool_variant", method, status, "p", data={"calls": calls or {}},
                           params=SCENARIOS[key]["params"], abandoned=abandoned)

    done = {"map": {"done": True}, "apply_async": {}}
    later = rest(SCENARIOS, "parallel/spawn", run("timeout", done))
    assert later is not None
    label, key, scenario = later
    assert (label, key) == ("apply_async", "parallel+map_async/spawn")
    assert [c["label"] for c in scenario["params"]["calls"]] == [
        "map_async", "imap_unordered"]
    assert scenario["deadline"] == sum(c["deadline"] for c in scenario["params"]["calls"])
    assert scenario["start_method"] == "spawn"
    # Every call made, or none needed any more: nothing to resume.
    everything = {v: {"done": True} for v in
                  ("map", "apply_async", "map_async", "imap_unordered")}
    assert rest(SCENARIOS, "parallel/spawn", run("ok", everything)) is None
    assert rest(SCENARIOS, "parallel/spawn", run("timeout", done, abandoned=True)) is None
    assert rest(SCENARIOS, "parallel/spawn", run("skipped")) is None
    assert rest(SCENARIOS, "map/fork", run("timeout", {"map": {}}, "map/fork")) is None
    # The last call did not return: nothing was left unmade.
    last = dict(everything, imap_unordered={})
    assert rest(SCENARIOS, "parallel/spawn", run("timeout", last)) is None
    # Whether map returned under fork: unknown until its run is over.
    assert returned_first(SCENARIOS, {}, "map") is None
    assert returned_first(SCENARIOS, {"map/fork": run("timeout", {"map": {}}, "map/fork")},
                          "map") is False
    fine = run("ok", {"map": {"done": True}}, "map/fork")
    assert returned_first(SCENARIOS, {"map/fork": fine}, "map") is True
    # One call failing under fork stops nothing of the four-call runs; the three after
    # the first abandon them, all four cancel them.
    hung = run("timeout", {"map": {}}, "map/fork")
    assert stops(SCENARIOS, "map/fork", hung, {}, {}) == []
    assert stops(SCENARIOS, "apply/fork", run("timeout", {"apply": {}}, "apply/fork"), {},
                 {}) == [("apply/spawn", "cancel"), ("apply/forkserver", "cancel")]
    failed: dict = {}
    for v in ("apply_async", "map_async"):
        assert stops(SCENARIOS, f"{v}/fork", run("timeout", {v: {}}, f"{v}/fork"),
                     failed, {}) == []
    assert stops(SCENARIOS, "imap_unordered/fork",
                 run("timeout", {"imap_unordered": {}}, "imap_unordered/fork"), failed,
                 {}) == [("parallel/spawn", "abandon"), ("parallel/forkserver", "abandon")]
    assert stops(SCENARIOS, "map/fork", hung, failed, {}) == [
        ("parallel/spawn", "cancel"), ("parallel/forkserver", "cancel")]


@pytest.mark.fast
@pytest.mark.timeout(60)
def test_where_stalls_are_not_seen_every_call_has_a_check_of_its_own():
    """At the weakest levels a barrier that cannot fill lasts its limit, so the runs
    fixture gives each call of pool_variants' four-call checks a check of its own
    (conftest ``one_call_each``), named as ``rest`` would name it; the rest is unchanged."""
    from grader.sandbox import Isolation
    from grader.suites.conftest import one_call_each
    from grader.suites.pool_variants.test_pools import SCENARIOS

    full = Isolation(uid=True, namespaces=("mount", "pid", "net", "ipc", "uts"), root=True)
    uid_level = Isolation(uid=True, permissions=True)
    assert full.stalls_seen and uid_level.stalls_seen
    assert not Isolation(subreaper=True).stalls_seen and not Isolation().stalls_seen
    split = one_call_each(SCENARIOS)
    assert set(split) == set(SCENARIOS) | {f"parallel+{v}/{m}" for v in (
        "apply_async", "map_async", "imap_unordered") for m in ("spawn", "forkserver")}
    for key, scenario in split.items():
        calls = scenario["params"].get("calls")
        if calls is not None:
            assert len(calls) == 1 and scenario["deadline"] == calls[0]["deadline"], key
        else:
            assert scenario == SCENARIOS[key]
    assert [c["label"] for c in split["parallel/spawn"]["params"]["calls"]] == ["map"]
    assert split["parallel+map_async/forkserver"]["start_method"] == "forkserver"
