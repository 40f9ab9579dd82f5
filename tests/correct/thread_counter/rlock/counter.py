# Correct: a re-entrant lock, taken twice by the same thread (a helper also locks).
import threading

num = 0
lock = threading.RLock()


def _add(val):
    global num
    with lock:
        num += val


def worker(val):
    with lock:
        _add(val)


def run_workers(n_threads=2000):
    global num
    num = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
