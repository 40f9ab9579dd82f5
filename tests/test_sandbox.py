"""The sandbox itself: what student code can see and do inside it, on this machine.

The properties are checked from inside, by a submission that looks around at import time
and prints what it found (the runner hands stdout back, capped). Tests of the full
confinement are skipped where the machine does not give it (``python -m grader doctor``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers import ROOT, grade, lost, outputs, processes_with, student

sys.path.insert(0, str(ROOT))

from grader import sandbox  # noqa: E402
from grader.checks.judge import describe  # noqa: E402
from grader.sandbox import resources  # noqa: E402

SOLUTION = (ROOT / "solutions" / "thread_counter" / "counter.py").read_text()

LOOK_AROUND = '''
import json as _json, os as _os, socket as _socket, sys as _sys

def _can_connect():
    try:
        with _socket.create_connection(("127.0.0.1", 9), timeout=1):
            return "connected"
    except OSError as exc:
        return type(exc).__name__

def _writable(path):
    try:
        with open(_os.path.join(path, "kit-probe-write"), "w") as f:
            f.write("x")
        return True
    except OSError:
        return False

print("LOOK " + _json.dumps({
    "uid": _os.getuid(), "euid": _os.geteuid(), "groups": _os.getgroups(),
    "root_entries": sorted(_os.listdir("/")),
    "sees_repo": _os.path.exists(REPO),
    "sees_suites": _os.path.exists(REPO + "/grader/suites"),
    "tmp": sorted(_os.listdir("/tmp")),
    "pids": sorted(int(p) for p in _os.listdir("/proc") if p.isdigit()),
    "net": _can_connect(),
    "writable": {p: _writable(p) for p in ("/", "/usr", "/etc", "/sandbox/submission",
                                           "/tmp", "/sandbox/work")},
    "interfaces": sorted(n for _, n in _socket.if_nameindex()),
}))
_sys.stdout.flush()
'''


def looked(folder: Path) -> dict:
    run = sandbox.run("counter_plain", folder, "counter", params={"sizes": [1]}, deadline=20)
    assert run.finished, run
    line = [x for x in run.stdout_tail.splitlines() if x.startswith("LOOK ")][-1]
    return json.loads(line[5:])


needs_full = pytest.mark.skipif(
    not sandbox.isolation().full,
    reason="this machine does not give the full sandbox (see python -m grader doctor)")
needs_uid = pytest.mark.skipif(
    not sandbox.isolation().uid, reason="a uid per sandbox needs root")

FANOUT_4 = {"calls": [{"label": "basic", "n": 4, "length": 5, "barrier": 4,
                       "barrier_timeout": 5, "deadline": 20}]}


@needs_full
@pytest.mark.timeout(120)
def test_student_code_sees_only_its_own_sandbox(tmp_path):
    sub = student(tmp_path, SOLUTION + LOOK_AROUND.replace("REPO", repr(str(ROOT))))
    seen = looked(sub)
    if sandbox.isolation().uid:  # (as root: a uid of its own, no groups)
        assert seen["uid"] == seen["euid"] >= resources.UID_BASE
        assert seen["groups"] == []
    else:  # (rootless: this user's uid, in a user namespace of its own)
        assert seen["uid"] == seen["euid"] == os.geteuid()
    assert not seen["sees_repo"] and not seen["sees_suites"]
    # The interpreter's folder is there (/root for pyenv's, /usr for the system's); the
    # kit's checkout is not (sees_repo).
    assert Path(os.path.realpath(sys.base_prefix)).parts[1] in seen["root_entries"]
    assert seen["tmp"] == []  # a private /tmp, not the host's
    # Its own PID namespace: init (1), the runner and nothing of the host.
    assert seen["pids"][0] == 1 and len(seen["pids"]) < 10
    assert seen["net"] != "connected" and seen["interfaces"] == ["lo"]
    assert seen["writable"] == {"/": False, "/usr": False, "/etc": False,
                                "/sandbox/submission": False, "/tmp": True,
                                "/sandbox/work": True}


@needs_uid
@pytest.mark.timeout(120)
def test_each_concurrent_sandbox_has_its_own_uid(tmp_path):
    slots = [resources.UidSlot.claim() for _ in range(8)]
    try:
        assert len({s.uid for s in slots}) == 8
    finally:
        for s in slots:
            s.release()


@needs_full
@pytest.mark.timeout(120)
def test_patched_getpid_does_not_fake_child_processes(tmp_path):
    """fan_out runs rand_string in threads of the parent and hands out fake pids."""
    source = (ROOT / "solutions" / "process_fanout" / "fanout.py").read_text()
    cheat = source + '''

import itertools as _it, os as _os, threading as _th
_fake = _it.count(90000)
_real_getpid = _os.getpid
_mine = {}
def _getpid():
    if _th.current_thread() is _th.main_thread():
        return _real_getpid()
    return _mine.setdefault(_th.get_ident(), next(_fake))
_os.getpid = _getpid

def fan_out(n, length=8):
    import queue
    output = queue.Queue()
    threads = [_th.Thread(target=rand_string, args=(length, output)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [output.get() for _ in range(n)]
'''
    sub = student(tmp_path, cheat, "fanout")
    run = sandbox.run("fanout", sub, "fanout", start_method="fork", params=FANOUT_4)
    assert run.finished, run
    assert len(run.records) == 4
    assert {r["claimed_pid"] for r in run.records} != {run.pid}  # it did lie
    assert {r["pid"] for r in run.records} == {run.pid}  # the kernel says: the parent
    assert all(r["verified"] for r in run.records)


@needs_full
@pytest.mark.timeout(120)
def test_init_sees_the_children_and_keeps_the_barrier():
    """For a correct fan_out under fork: every call ran in a child of the runner (pids and
    parent pids as init read them from the sandbox's procfs), and init passed the
    barrier for all of them."""
    run = sandbox.run("fanout", ROOT / "solutions" / "process_fanout", "fanout",
                      start_method="fork", params=FANOUT_4)
    assert run.finished and run.witnessed, run
    assert len({r["pid"] for r in run.records}) == 4 and run.pid not in {
        r["pid"] for r in run.records}
    assert {r["ppid"] for r in run.records} == {run.pid}
    assert {r["barrier"] for r in run.records} == {"passed"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("subreaper", "level"), [(False, "process group only"),
                                                  (True, "subreaper init")])
def test_weakest_levels_still_grade_right(tmp_path, monkeypatch, subreaper, level):
    """With every isolation feature that needs root switched off (as for a grader without
    root), the solution keeps full marks and a wrong submission loses its points."""
    monkeypatch.setenv("KIT_ISOLATION", json.dumps(
        {"uid": False, "namespaces": [], "root": False, "cgroup": None,
         "subreaper": subreaper, "missing": ["switched off by the test"]}))
    right = tmp_path / "class" / "right"
    right.mkdir(parents=True)
    (right / "counter.py").write_text(SOLUTION)
    wrong = tmp_path / "class" / "wrong"
    wrong.mkdir()
    (wrong / "counter.py").write_text(
        (ROOT / "tests" / "corpus" / "thread_counter" / "no_lock" / "counter.py").read_text())
    refused = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "thread_counter", str(right), "--out",
         str(tmp_path / "refused")], cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refusing to grade" in refused.stderr and "--allow-weak-sandbox" in refused.stderr
    assert "read the hidden suites" in refused.stderr
    assert not (tmp_path / "refused").exists()
    temp = tmp_path / "temp"  # (the grader's temporary folders: none may stay)
    temp.mkdir()
    results = grade("thread_counter", [right, wrong], tmp_path / "out",
                    options=("--allow-weak-sandbox",),
                    env={**os.environ, "TMPDIR": str(temp)})
    assert sorted(p.name for p in temp.iterdir()) == []
    assert results["right"]["score"] == results["right"]["max_score"]
    assert lost(results["wrong"]) == {"race_free"}, outputs(results["wrong"])
    assert level in results["right"]["output"]
    for result in results.values():
        assert result["output"].startswith("WARNING: graded with a weak sandbox: student "
                                           "code could read the hidden suites")
    for summary in ("summary.md", "summary.html"):
        assert "WARNING: graded with a weak sandbox" in (tmp_path / "out" / summary).read_text()


ESCAPE = SOLUTION + '''
import os, sys
_ready, _say = os.pipe()
os.set_inheritable(_say, True)
if os.fork() == 0:  # a daemon: own session, double fork, no environment, ignores SIGTERM
    os.setsid()
    if os.fork() == 0:
        os.execve(sys.executable, [sys.executable, "-c",
                  "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                  f"os.write({_say}, b'up'); time.sleep(300)  # MARKER"], {})
    os._exit(0)
os.close(_say)
os.read(_ready, 2)  # the import ends once the daemon runs (its token-free environment too)
'''


@pytest.mark.timeout(120)
def test_without_root_the_subreaper_leaves_nothing_behind(tmp_path):
    """The level for a grader without root: the launcher's init is a child subreaper, so
    a daemon that leaves the process group and scrubs its environment (which the process
    group and the environment token cannot find) is still below it, and killed."""
    import uuid

    marker = uuid.uuid4().hex
    sub = student(tmp_path, ESCAPE.replace("MARKER", marker))
    detected = sandbox.isolation()
    try:
        # The contrast: at the process-group level this daemon escapes.
        sandbox.force_isolation(sandbox.Isolation(missing=("test",)))
        run = sandbox.run("counter_plain", sub, "counter", params={"sizes": [3]})
        assert run.finished and processes_with(marker), run
        for pid in processes_with(marker):
            os.kill(pid, 9)
        sandbox.force_isolation(sandbox.Isolation(subreaper=True, missing=("test",)))
        run = sandbox.run("counter_plain", sub, "counter", params={"sizes": [3]})
        assert run.finished and run.data["calls"][0]["value"] == 3, run
        assert processes_with(marker) == []
    finally:
        sandbox.force_isolation(detected)
        for pid in processes_with(marker):
            os.kill(pid, 9)


SHARED_MEMORY = SOLUTION + '''
import multiprocessing as _mp, os as _os, time as _time
from multiprocessing import shared_memory as _sm

def _make(tag):  # semaphores of spawn: named files in /dev/shm until finalizers run
    lock, queue = _mp.get_context("spawn").Lock(), _mp.get_context("spawn").Queue()
    shm = _sm.SharedMemory(create=True, size=4096, name=f"kit-{tag}-MARKER")
    names = [lock._semlock.name, queue._rlock._semlock.name, shm.name]
    with open(NAMES + "." + tag, "w") as f:
        f.write("\\n".join("sem." + n.lstrip("/") if n.startswith("/mp-") else n
                           for n in names))
    return lock, queue, shm

_kept = _make("runner")  # held by the runner, which leaves through os._exit
_ready, _say = _os.pipe()
if _os.fork() == 0:  # held by a child that init kills once the runner has ended
    _child = _make("child")
    _os.write(_say, b"k")
    _time.sleep(300)
    _os._exit(0)
_os.read(_ready, 1)  # (the child's files exist before the import ends)
_time.sleep(float(_os.environ.get("KIT_TEST_STAY", "0")))
'''


@pytest.mark.timeout(180)
def test_the_subreaper_level_leaves_nothing_in_dev_shm(tmp_path):
    """Without a private /dev/shm (the subreaper level) the semaphores of queues and
    locks made under spawn, and shared memory, stay in the machine's /dev/shm when the
    processes holding them are killed or leave through os._exit: the runner removes what
    it maps, init what the processes it kills map or hold open, whether the check ends,
    hangs past its deadline or is cancelled by the grader."""
    import threading
    import uuid

    detected = sandbox.isolation()
    marker = uuid.uuid4().hex
    names = tmp_path / "names"
    sub = student(tmp_path, SHARED_MEMORY.replace("MARKER", marker)
                  .replace("NAMES", repr(str(names))))

    def made() -> list[str]:
        listed = [line for tag in ("runner", "child")
                  if Path(f"{names}.{tag}").is_file()
                  for line in Path(f"{names}.{tag}").read_text().splitlines()]
        return listed

    try:
        sandbox.force_isolation(sandbox.Isolation(subreaper=True, missing=("test",)))
        for how in ("returns", "hangs", "cancelled"):
            for tag in ("runner", "child"):
                Path(f"{names}.{tag}").unlink(missing_ok=True)
            cancel = sandbox.Cancel()
            if how == "cancelled":
                def cancel_once_made(cancel: sandbox.Cancel = cancel) -> None:
                    end = time.monotonic() + 60
                    while len(made()) < 6 and time.monotonic() < end:
                        time.sleep(0.05)
                    cancel.cancel()
                threading.Thread(target=cancel_once_made, daemon=True).start()
            run = sandbox.run("counter_plain", sub, "counter", params={"sizes": [3]},
                              deadline=3 if how == "hangs" else 20, cancel=cancel,
                              env={"KIT_TEST_STAY": "0" if how == "returns" else "100"})
            expected = {"returns": "ok", "hangs": "timeout", "cancelled": "skipped"}[how]
            assert run.status == expected, (how, run)
            listed = made()
            assert len(listed) == 6, (how, listed)
            assert [n for n in listed if os.path.exists(f"/dev/shm/{n}")] == [], how
    finally:
        sandbox.force_isolation(detected)
        for tag in ("runner", "child"):
            for name in (Path(f"{names}.{tag}").read_text().splitlines()
                         if Path(f"{names}.{tag}").is_file() else []):
                Path(f"/dev/shm/{name}").unlink(missing_ok=True)


@pytest.mark.timeout(120)
def test_doctor_says_what_is_in_force():
    done = subprocess.run([sys.executable, "-m", "grader", "doctor"], cwd=ROOT,
                          capture_output=True, text=True, timeout=100,
                          env={**os.environ, "KIT_ISOLATION": ""})
    iso = sandbox.isolation()
    assert done.returncode == (0 if not iso.missing else 1), done.stdout + done.stderr
    assert done.stdout.startswith(iso.summary())
    for row in ("apart from the grader", "PID namespace", "private root file system",
                "network namespace", "cgroup limits"):
        assert row in done.stdout


LEAVE_TRACES = '''
import json as _json, os as _os, subprocess as _sp, sys as _sys
print("SAW " + _json.dumps({
    "tmp": sorted(_os.listdir("/tmp")), "shm": sorted(_os.listdir("/dev/shm")),
    "work": sorted(_os.listdir(".")),
    "pids": len([p for p in _os.listdir("/proc") if p.isdigit()]),
}))
_sys.stdout.flush()
for _folder in ("/tmp", "/dev/shm", "."):
    with open(_os.path.join(_folder, "left-by-a-check"), "w") as _f:
        _f.write("x")
if _os.fork() == 0:  # a daemon that ignores SIGTERM
    _os.setsid()
    _os.execv(_sys.executable, [_sys.executable, "-c",
              "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "time.sleep(600)"])
'''


def saw(run) -> dict:
    return json.loads([x for x in run.stdout_tail.splitlines() if x.startswith("SAW ")][-1][4:])


needs_sessions = pytest.mark.skipif(
    not sandbox.Session(ROOT, "x").enabled,
    reason="sessions need the full sandbox (see python -m grader doctor)")


@needs_sessions
@pytest.mark.timeout(120)
def test_each_check_of_a_session_starts_clean(tmp_path):
    sub = student(tmp_path, SOLUTION + LEAVE_TRACES)
    with sandbox.Session(sub, "counter") as session:
        runs = [session.run("counter_plain", params={"sizes": [3]}) for _ in range(3)]
        assert session.checks_served == 3
    assert all(r.finished and r.data["calls"][0]["value"] == 3 for r in runs), runs
    first = saw(runs[0])
    assert "left-by-a-check" not in first["tmp"] + first["shm"] + first["work"]
    # What one check left (files, a daemon) is gone when the next one starts.
    assert [saw(r) for r in runs[1:]] == [first, first]


@needs_sessions
@pytest.mark.timeout(180)
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGSTOP"])
def test_a_check_that_attacks_the_session_server_is_rerun_alone(tmp_path, signal_name):
    """The check's parent in a session is the server: killing or stopping it ends the
    session; the check is rerun in a sandbox of its own (where its parent is init, which
    it cannot signal) and gets the same result as without sessions."""
    sub = student(tmp_path, SOLUTION + f"\nimport os, signal\ntry:\n"
                  f"    os.kill(os.getppid(), signal.{signal_name})\nexcept OSError:\n    pass\n")
    with sandbox.Session(sub, "counter") as session:
        started = time.monotonic()
        first = session.run("counter_plain", params={"sizes": [5]}, deadline=3)
        # Noticed at once (end of file from a dead server, "T" state of a stopped one),
        # not after the check's deadline.
        assert time.monotonic() - started < 3
        assert not session.enabled  # the session is abandoned, checks go one per sandbox
        second = session.run("counter_plain", params={"sizes": [7]}, deadline=3)
        assert session.checks_served == 0
    assert first.finished and first.data["calls"][0]["value"] == 10
    assert second.finished and second.data["calls"][0]["value"] == 21


@needs_sessions
@pytest.mark.timeout(180)
def test_a_fork_bomb_does_not_reach_the_next_check_of_its_session(tmp_path):
    """run_workers(5) is a fork bomb (every process forks for ever, ignoring errors);
    run_workers(50) is correct. Init's watch stops the bomb (more than PROCESS_MAX
    processes at once) long before the check's deadline, and spares the session's server;
    the checks after the bomb, in the same session, start with nothing of it left: they
    start their threads and get the right sums."""
    sub = student(tmp_path, SOLUTION + """

_correct = run_workers


def run_workers(n_threads=2000):
    import os
    while n_threads == 5:
        try:
            os.fork()
        except BaseException:
            pass
    return _correct(n_threads)
""")
    with sandbox.Session(sub, "counter") as session:
        bomb = session.run("counter_plain", params={"sizes": [5]}, deadline=3)
        after = [session.run("counter_overlap", params={"sizes": [50], "n": 3, "timeout": 15},
                             deadline=30) for _ in range(2)]
        assert session.checks_served == 3
    assert bomb.status == "died" and bomb.too_many_processes, bomb
    assert "more than 256 processes at once" in describe(bomb, "counter")
    for run in after:
        assert run.finished, run
        assert run.data["calls"][0]["value"] == sum(range(50))
        assert run.data["overlap"]["state"] == "passed"


V2_HERE = Path("/sys/fs/cgroup/unified")


@pytest.mark.skipif(os.geteuid() != 0 or not (V2_HERE / "cgroup.procs").exists(),
                    reason="needs root and a cgroup v2 hierarchy at /sys/fs/cgroup/unified")
@pytest.mark.timeout(60)
def test_cgroup_v2_kills_everything_in_it():
    """The v2 code path (most current distributions have only v2), run against the v2
    hierarchy this hybrid machine mounts: a process joins the cgroup by writing "0" (as
    the launcher does), forks a setsid daemon, and cgroup.kill takes both."""
    cg = resources.Cgroup.create("v2", root=V2_HERE)
    try:
        assert cg.version == "v2" and len(cg.dirs) == 1
        # No controller is enabled in this hierarchy: kill only, and it says so.
        controllers = (V2_HERE / "cgroup.subtree_control").read_text().split()
        assert cg.limited == ({"pids", "memory"} <= set(controllers))
        script = ("import os, sys, time\n"
                  f"open({cg.procs_files()[0]!r}, 'w').write('0')\n"
                  "if os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\n"
                  "print('ready', flush=True)\ntime.sleep(600)\n")
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        members = cg.members()
        assert proc.pid in members and len(members) == 2
        cg.kill()
        assert proc.wait(timeout=10) == -9
        assert cg.members() == set()
    finally:
        cg.destroy()
    assert not cg.dirs[0].exists()


@pytest.mark.skipif(sandbox.isolation().cgroup is None, reason="no writable cgroups here")
@pytest.mark.timeout(60)
def test_stale_sandbox_cgroups_are_swept_and_fresh_ones_kept():
    """A grader that was killed leaves empty cgroups; the next one removes those that are
    old, never a fresh one (a grader running now may be about to start a sandbox in it)."""
    iso = sandbox.isolation()
    stale = resources.Cgroup.create(iso.cgroup)
    fresh = resources.Cgroup.create(iso.cgroup)
    try:
        for path in stale.dirs:
            os.utime(path, (1, 1))  # as if created long ago
        resources.sweep_stale_cgroups()
        assert not any(path.exists() for path in stale.dirs)
        assert all(path.exists() for path in fresh.dirs)
    finally:
        stale.destroy()
        fresh.destroy()


def _python_for_nobody():
    """(a system interpreter 3.10+ that uid ``nobody`` can run, its uid) or None: the
    non-root path tested for real (pyenv's interpreters live under /root, mode 0700)."""
    import pwd
    import shutil

    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        return None
    if os.geteuid() != 0 or not shutil.which("su"):
        return None
    for name in ("python3.13", "python3.12", "python3.11", "python3.10", "python3"):
        path = Path("/usr/bin") / name
        if path.exists() and os.stat(path.resolve()).st_mode & 0o001:
            done = subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c",
                                   f"{path} -c 'import sys; assert sys.version_info >= (3, 10)'"],
                                  capture_output=True, timeout=30)
            if done.returncode == 0:
                return str(path), nobody
    return None


@pytest.mark.timeout(120)
@pytest.mark.skipif(_python_for_nobody() is None,
                    reason="needs root, su, the user nobody and a system Python 3.10+")
def test_a_grader_without_root_gets_user_namespaces_and_reaps_for_real():
    """Run as uid ``nobody``: detection finds the rootless sandbox (a user namespace with
    every other namespace and a private root), and a daemon that left its process group
    and scrubbed its environment does not outlive the check, there nor at the subreaper
    level (where user namespaces are refused)."""
    import uuid

    python, _ = _python_for_nobody()
    if any(os.stat(p).st_mode & 0o005 != 0o005 for p in (ROOT, *ROOT.parents)):
        pytest.skip("the kit's folder is not readable by other users")
    import shutil
    import tempfile

    marker = uuid.uuid4().hex
    tmp_path = Path(tempfile.mkdtemp(prefix="kit-nobody-"))  # (pytest's is root's only)
    os.chmod(tmp_path, 0o755)
    sub = student(tmp_path, ESCAPE.replace("MARKER", marker))
    os.chmod(sub, 0o755)
    os.chmod(sub / "counter.py", 0o644)
    script = (f"from grader import sandbox\n"
              f"iso = sandbox.isolation(True)\n"
              f"def check():\n"
              f"    run = sandbox.run('counter_plain', {str(sub)!r}, 'counter', "
              f"params={{'sizes': [3]}})\n"
              f"    print(sandbox.isolation().summary())\n"
              f"    print(run.status, run.data['calls'][0]['value'])\n"
              f"check()\n"
              f"sandbox.force_isolation(sandbox.Isolation(subreaper=True))\n"
              f"check()\n")
    (tmp_path / "as_nobody.py").write_text(script)
    os.chmod(tmp_path / "as_nobody.py", 0o644)
    try:
        done = subprocess.run(
            ["su", "nobody", "-s", "/bin/sh", "-c",
             f"cd /tmp && PYTHONPATH={ROOT} {python} {tmp_path / 'as_nobody.py'}"],
            capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stdout + done.stderr
        rootless, result, reaper, reaped = done.stdout.strip().splitlines()[-4:]
        assert rootless.startswith("sandbox: own user namespace (rootless); namespaces: "
                                   "mount, pid, net, ipc, uts; private root file system")
        assert reaper.startswith("sandbox: a subreaper init")
        assert result == reaped == "ok 3"
        assert processes_with(marker) == []
    finally:
        for pid in processes_with(marker):
            os.kill(pid, 9)
        shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.mark.timeout(120)
def test_two_calls_in_one_check_are_judged_apart():
    """process_fanout's spawn check makes the basic call, then the large one, in one
    process. A submission that joins before reading the queue returns from the first and
    deadlocks in the second: the first is a finished run with its own four records, the
    second a timeout within its own deadline (the watchdog's time starts again; in a PID
    namespace of its own it is seen stuck sooner), where the main thread waits in join()."""
    from grader.checks.judge import call_of, in_function, main_stack

    calls = [{"label": "basic", "n": 4, "length": 5, "barrier": 4, "barrier_timeout": 5,
              "deadline": 20},
             {"label": "large", "n": 2, "length": 1 << 18, "summarize": True,
              "deadline": 3}]
    run = sandbox.run("fanout", ROOT / "tests" / "corpus" / "process_fanout" /
                      "join_before_get", "fanout", start_method="spawn",
                      params={"calls": calls}, deadline=23)
    basic, large = call_of(run, "basic"), call_of(run, "large")
    assert run.status == "timeout", run
    if "pid" in sandbox.isolation().namespaces and sandbox.isolation().root:
        # Seen stuck (grader.inside.stalls), within the second call's own time.
        assert run.timeout["deadlock"] is True and run.timeout["after"] < 3, run.timeout
    else:
        assert run.timeout["after"] == 3, run
    assert basic.finished and len(basic.data["value"]["items"]) == 4, basic
    assert len(basic.records) == 4 and {r["call"] for r in basic.records} == {"basic"}
    assert {r["barrier"] for r in basic.records} <= {"passed", "late", "unconfirmed"}
    assert not large.finished and large.status == "timeout"
    assert large.phase == "calling fan_out(2, 262144)"
    assert in_function(main_stack(large), "join", "multiprocessing/process.py")
    assert {r["call"] for r in large.records} == {"large"} and "done" not in large.data


def test_a_call_that_never_began_is_skipped():
    """If the first call of a check hangs, the second is skipped, not failed; the first
    keeps the run's timeout. The import belongs to the first call."""
    from grader.checks.judge import call_of

    params = {"calls": [{"label": "basic"}, {"label": "large"}]}
    hung = sandbox.Run("fanout", "spawn", "timeout", "calling fan_out(4, 24)",
                       data={"calls": {"basic": {}}}, timeout={"after": 30, "stacks": []},
                       params=params, records=[{"call": "basic"}, {"call": None}])
    assert call_of(hung, "basic").status == "timeout"
    assert len(call_of(hung, "basic").records) == 2  # (an unlabelled record: the first's)
    assert call_of(hung, "large").status == "skipped"
    broken = sandbox.Run("fanout", "spawn", "ok", "importing fanout.py", params=params,
                         error={"type": "SyntaxError", "message": "x"})
    assert call_of(broken, "basic").error and call_of(broken, "large").status == "skipped"


@pytest.mark.timeout(60)
def test_scratch_of_a_killed_grader_is_swept_and_live_ones_kept(tmp_path):
    """A grader killed before it cleaned up leaves its kit-* scratch folders; the next
    grader's start removes those whose owner is gone (pid and start time), never one of
    a live process, nor one without an owner, nor a fresh one."""
    code = ("import sys, tempfile, time; from grader import sandbox; "
            "d = tempfile.mkdtemp(prefix='kit-sandbox-', dir=sys.argv[1]); "
            "sandbox.own_scratch(d); print(d, flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    dead = Path(proc.stdout.readline().strip())
    (dead / "out").mkdir()
    (dead / "out" / "result.json").write_text("{}")
    proc.kill()
    proc.wait()
    live = Path(tempfile.mkdtemp(prefix="kit-pool-", dir=tmp_path))
    resources.own_scratch(live)
    unowned = Path(tempfile.mkdtemp(prefix="kit-grade-", dir=tmp_path))
    for folder in (dead, live, unowned):
        os.utime(folder, (1, 1))  # as if made long ago
    assert resources.sweep_stale_scratch(tmp_path) == 1
    assert not dead.exists() and live.exists() and unowned.exists()
    fresh = Path(tempfile.mkdtemp(prefix="kit-warm-", dir=tmp_path))
    (fresh / resources.SCRATCH_OWNER).write_text(f"{proc.pid} 1")  # a gone owner
    assert resources.sweep_stale_scratch(tmp_path) == 0 and fresh.exists()


PARK = (ROOT / "solutions" / "process_fanout" / "fanout.py").read_text() + '''

_correct = fan_out


def fan_out(n_processes, length=8):
    """Park ~1200 connections at one of init's barriers (two processes, 600 each: the
    student's own descriptor limit is the grader's), then return while they wait."""
    import os, socket
    if n_processes != 7:
        return _correct(n_processes, length)
    for _ in range(2):
        if os.fork() == 0:
            held = []
            try:
                for i in range(600):
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(os.environ["KIT_WITNESS"])
                    s.sendall(f"barrier flood 100000 60000 k{os.getpid()}x{i}\\n".encode())
                    held.append(s)
            finally:
                os._exit(0 if len(held) == 600 else 1)
    return [str(os.waitstatus_to_exitcode(os.wait()[1])) for _ in range(2)]
'''


@needs_sessions
@pytest.mark.timeout(180)
def test_connections_parked_at_a_barrier_cannot_exhaust_init(tmp_path):
    """Under ``ulimit -n 1024`` (init inherits the grader's limit), a check parks 1200
    connections at one of init's barriers and ends. Init holds no more than its
    descriptors allow (the rest wait in the listener's backlog; init does not spin on
    them), lets go of the callers that are gone, and the next check in the same sandbox,
    a correct fan-out, gets its four calls through init's barrier."""
    sub = student(tmp_path, PARK, "fanout")
    script = tmp_path / "park.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from grader import sandbox\n"
        "flood = {'calls': [{'label': 'basic', 'n': 7, 'length': 5, 'deadline': 10}]}\n"
        f"with sandbox.Session({str(sub)!r}, 'fanout') as s:\n"
        "    run = s.run('fanout', start_method='fork', params=flood, deadline=10)\n"
        "    print(run.status, run.data.get('value'))\n"
        "    init = open(f'/proc/{s.jail.proc.pid}/task/{s.jail.proc.pid}/children').read()\n"
        "    try:  # (init is not dumpable: only root can read its descriptors)\n"
        "        print(len(os.listdir(f'/proc/{int(init)}/fd')))\n"
        "    except PermissionError:\n"
        "        print('unreadable')\n"
        f"    run = s.run('fanout', start_method='fork', params={FANOUT_4!r}, deadline=20)\n"
        "    print(run.status, sorted(r['barrier'] for r in run.records), s.checks_served)\n")
    done = subprocess.run(["bash", "-c", f"ulimit -n 1024 && {sys.executable} {script}"],
                          capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr
    flood, held, after = done.stdout.strip().splitlines()[-3:]
    assert flood.startswith("ok"), flood
    # (init's own limit: 1024 descriptors; without root its descriptors cannot be read)
    assert held == "unreadable" if os.geteuid() else int(held) < 1000, held
    assert after == "ok ['passed', 'passed', 'passed', 'passed'] 2", after


KEYS = SOLUTION + '''

_correct = run_workers


def run_workers(n_threads=2000):
    """Tell init 40,000 keys of 100 characters (what init logs for them: ~5 MB)."""
    import os, socket
    if n_threads != 7:
        return _correct(n_threads)
    for i in range(40_000):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(os.environ["KIT_WITNESS"])
            s.sendall(f"{i:0100d}\\n".encode())
            s.recv(16)
    return 0
'''


@needs_sessions
@pytest.mark.timeout(180)
def test_a_flood_of_witness_keys_is_capped_per_check(tmp_path):
    """Init logs at most LOG_LIMIT bytes for one check (then it says so, once): that
    check is judged "oversized", and the student is told why (its probe calls could no
    longer be confirmed); the grader keeps only the current check's keys, and the next
    check of the session is witnessed as before."""
    from grader.checks.judge import describe
    from grader.sandbox.launcher import Witness

    sub = student(tmp_path, KEYS)
    with sandbox.Session(sub, "counter") as session:
        flood = session.run("counter_plain", params={"sizes": [7]}, deadline=60)
        log = session.jail.scratch / "witness.jsonl"
        size = log.stat().st_size
        overflows = log.read_text().count('{"overflow": true}')
        after = session.run("counter_overlap", params={"sizes": [50], "n": 3, "timeout": 15},
                            deadline=30)
        kept = len(session.jail.witness_log.seen)
        assert session.checks_served == 2
    assert flood.status == "oversized" and not flood.finished, flood
    assert "more than 256 KiB of notes in one check" in describe(flood, "counter")
    assert Witness.LOG_LIMIT - 4096 < size < Witness.LOG_LIMIT + 4096
    assert overflows == 1
    assert after.finished and after.data["overlap"]["state"] == "passed", after
    assert after.pid is not None  # the next check's own process was witnessed
    assert kept < 100  # (the flood's 40,000 keys are forgotten)


KERNEL_STATE = SOLUTION + '''

def run_workers(n_threads=2000):
    """Leave a key in the uid's kernel keyring, a POSIX message queue and System V IPC
    objects (all outlive the check's processes); the errno of each attempt."""
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall(248 if os.uname().machine == "x86_64" else 217, b"user", b"kitkey",
                 b"left for the next student", 25, -4)  # add_key(..., KEY_SPEC_USER_KEYRING)
    key = ctypes.get_errno()
    ctypes.set_errno(0)
    libc.mq_open(b"/kit-left", os.O_CREAT | os.O_RDWR, 0o600, None)
    queue = ctypes.get_errno()
    sysv = []
    for call, args in ((libc.shmget, (0, 4096, 0o1600)), (libc.msgget, (0, 0o1600)),
                       (libc.semget, (0, 1, 0o1600))):  # IPC_PRIVATE, IPC_CREAT | 0600
        ctypes.set_errno(0)
        call(*args)
        sysv.append(ctypes.get_errno())
    return [key, queue, *sysv]
'''


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "aarch64"),
                    reason="the filter knows x86_64's and aarch64's call numbers")
@pytest.mark.timeout(120)
def test_kernel_keyrings_and_ipc_objects_are_refused(tmp_path):
    """Keyrings are kept per uid (a sandbox's uid serves the next student), message
    queues and System V IPC per IPC namespace (a session keeps it; the uid level shares
    the machine's): the sandbox refuses them all (EPERM)."""
    import errno

    if not sandbox.isolation().confined:
        pytest.skip("no launcher at this level (see python -m grader doctor)")
    sub = student(tmp_path, KERNEL_STATE)
    run = sandbox.run("counter_plain", sub, "counter", params={"sizes": [3]})
    assert run.finished, run
    assert run.data["calls"][0]["value"]["items"] == [errno.EPERM] * 5


WHERE = SOLUTION + '''

def run_workers(n_threads=2000):
    """What the sandbox shows of the machine: init's command line, the mounts."""
    def read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError as exc:
            return repr(exc)
    import os
    return [read("/proc/1/cmdline"), read("/proc/self/mountinfo"),
            read("/proc/%d/cmdline" % os.getppid()), os.environ.get("PATH", "")]
'''


@pytest.mark.timeout(120)
def test_no_host_path_of_the_kit_or_the_plan_shows_inside(tmp_path):
    """Init's command line (the launcher's path, the plan's) is overwritten, and the
    grader's files come from copies on tmpfs: neither /proc/1/cmdline nor the mount table
    names the kit's folder, a scratch folder or its plan; PATH names the interpreter's
    folder and the system's, not the instructor's."""
    if not sandbox.isolation().root:
        pytest.skip("no private root here (see python -m grader doctor)")
    sub = student(tmp_path, WHERE)
    run = sandbox.run("counter_plain", sub, "counter", params={"sizes": [3]})
    assert run.finished, run
    cmdline, mounts, parent, path = run.data["calls"][0]["value"]["items"]
    assert cmdline.rstrip("\0") == "sandbox-init", cmdline
    from grader.sandbox.plan import sandbox_python
    assert path.split(":") == [os.path.dirname(sandbox_python()), "/usr/local/bin",
                               "/usr/bin", "/bin"], path
    for text in (cmdline, mounts, parent):
        assert str(ROOT) not in text and "/plan" not in text, text
    # The grader's folders reach the sandbox as copies on a tmpfs of their own: no mount
    # names a scratch folder (a bind mount's entry shows its source's path).
    import tempfile
    for line in mounts.splitlines():
        source_path = line.split()[3]
        assert not source_path.startswith(tempfile.gettempdir() + "/"), line
        assert "kit-" not in line, line


@pytest.mark.timeout(30)
def test_init_keeps_no_descriptor_a_caller_passes_along():
    """A caller that passes a descriptor with its line (an abstract socket it wants kept
    open for the next student) gets its line refused, and init holds nothing of it;
    a plain line carries its sender's credentials."""
    import array
    import socket

    from grader.sandbox.launcher import _CREDS_SPACE, _credentials

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    kept = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs, kept:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        theirs.sendmsg([b"key\n"])
        _, ancillary, flags, _ = ours.recvmsg(256, _CREDS_SPACE)
        assert _credentials(ancillary, flags) == (os.getpid(), os.getuid())
        before = set(os.listdir("/proc/self/fd"))
        theirs.sendmsg([b"key\n"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     array.array("i", [kept.fileno()]))])
        _, ancillary, flags, _ = ours.recvmsg(256, _CREDS_SPACE)
        assert _credentials(ancillary, flags) is None
        # Whatever arrived was closed (or never installed): no new descriptor is open.
        assert set(os.listdir("/proc/self/fd")) <= before


STUCK_COUNTER = '''
import threading
num = 0
lock = threading.Lock()

def worker(val):
    global num
    with lock:
        with lock:  # (taken twice: a deadlock)
            num += val

def run_workers(n_threads=2000):
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
'''

BUSY_COUNTER = STUCK_COUNTER.replace("        with lock:  # (taken twice: a deadlock)\n",
                                     "        while True:\n            pass\n")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("serve", [False, True], ids=["own_sandbox", "session"])
def test_a_deadlock_ends_the_check_when_seen_and_a_busy_loop_at_its_deadline(tmp_path, serve):
    """Where the sandbox has its own PID namespace, the watchdog ends a check as soon as
    every thread of it is seen waiting for good (grader.inside.stalls), long before its
    deadline, and says so; a busy loop is not a deadlock and runs to its deadline. In a
    session the server (waiting for its check) is not counted."""
    if "pid" not in sandbox.isolation().namespaces or not sandbox.isolation().root:
        pytest.skip("no PID namespace of its own here: the deadline alone decides")
    stuck = student(tmp_path, STUCK_COUNTER, name="stuck")
    busy = student(tmp_path, BUSY_COUNTER, name="busy")
    runs = []
    for sub, deadline in ((stuck, 60.0), (busy, 3.0)):
        with sandbox.Session(sub, "counter", serve=serve) as session:
            runs.append(session.run("counter_plain", params={"sizes": [3]},
                                    deadline=deadline))
    stuck_run, busy_run = runs
    assert stuck_run.status == "timeout", stuck_run
    assert stuck_run.timeout["deadlock"] is True
    assert stuck_run.timeout["after"] < 60.0  # (ended by what was seen, not the deadline)
    assert busy_run.status == "timeout", busy_run
    assert busy_run.timeout["deadlock"] is False and busy_run.timeout["after"] == 3.0
    assert "(a deadlock)" in describe(stuck_run, "counter")
    assert "did not return within 3 s" in describe(busy_run, "counter")


SERIAL_FANOUT = '''
import multiprocessing as mp
import random
import string


def rand_string(length, output):
    output.put("".join(random.choice(string.ascii_letters) for _ in range(length)))


def fan_out(n, length):
    output = mp.Queue()
    results = []
    for _ in range(n):
        p = mp.Process(target=rand_string, args=(length, output))
        p.start()
        results.append(output.get())
        p.join()  # (inside the start loop: one process at a time)
    return results
'''


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_barrier_no_one_else_can_reach_ends_at_once(tmp_path, method):
    """Init holds the first rand_string call of a serial fan-out at its barrier; the
    parent waits in join and nothing else runs, so no other call can come: init ends the
    barrier ``stuck`` without waiting for its time limit (60 s here), and the later calls
    find it broken. A correct fan-out passes it."""
    if "pid" not in sandbox.isolation().namespaces or not sandbox.isolation().root:
        pytest.skip("no PID namespace of its own here: barriers end at their time limit")
    params = {"calls": [{"label": "basic", "n": 3, "length": 5, "barrier": 3,
                         "barrier_timeout": 60, "deadline": 90}]}
    serial = student(tmp_path, SERIAL_FANOUT, module="fanout", name="serial")
    right = student(tmp_path, (ROOT / "solutions" / "process_fanout" / "fanout.py")
                    .read_text(), module="fanout", name="right")
    outcomes = {}
    for name, sub in (("serial", serial), ("right", right)):
        run = sandbox.run("fanout", sub, "fanout", start_method=method, params=params,
                          deadline=90)
        assert run.finished, run
        calls = [r for r in run.records if "puts" in r]  # (rand_string calls)
        outcomes[name] = [r.get("barrier") for r in sorted(calls, key=lambda r: r["start"])]
    assert outcomes["serial"] == ["stuck", "broken", "broken"], outcomes
    assert outcomes["right"] == ["passed"] * 3, outcomes
