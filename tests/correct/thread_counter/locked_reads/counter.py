# Correct: the update under a lock, read back through a local before returning.
import threading

num = 0
_lock = threading.Lock()


def worker(val):
    global num
    with _lock:
        current = num
        current += val
        num = current


def run_workers(n_threads=2000):
    global num
    with _lock:
        num = 0
    workers = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(n_threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    with _lock:
        total = num
    return total
