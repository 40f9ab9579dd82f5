"""Attack: replace ``threading.Thread`` itself by a class that runs the target in ``start()``.

``InlineThread`` is a real ``threading.Thread`` subclass (``isinstance`` checks pass), but
``start()`` runs the target at once in the calling thread and ``join()`` does nothing, so
the workers run one after another and the sum is always right, lock or no lock. To look
like threads, ``threading.current_thread()`` is patched to return the fake thread while
its target runs. Installed into the ``threading`` module at import, it applies to every
``threading.Thread(...)`` created afterwards, anywhere in the process.

Must lose exactly ``overlap`` (the threads never ran at the same time); the sums are right
and nothing can race, so the other checks keep their points.
"""

from __future__ import annotations

import threading

_RealThread = threading.Thread
_real_current_thread = threading.current_thread
_running: list[threading.Thread] = []


class InlineThread(_RealThread):
    def start(self) -> None:
        _running.append(self)
        try:
            self.run()
        finally:
            _running.pop()

    def join(self, timeout: float | None = None) -> None:
        return None

    def is_alive(self) -> bool:
        return False


def _current_thread() -> threading.Thread:
    return _running[-1] if _running else _real_current_thread()


threading.Thread = InlineThread
threading.current_thread = _current_thread

num = 0
lock = threading.Lock()


def worker(val: int) -> None:
    global num
    with lock:
        num += val


def run_workers(n_threads: int = 2000) -> int:
    global num
    num = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return num
