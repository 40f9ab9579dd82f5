# Correct: one lock made in run_workers and handed to every thread.
import threading

num = 0


def worker(val, lock=None):
    global num
    with lock:
        num += val


def run_workers(n_threads=2000):
    global num
    num = 0
    lock = threading.Lock()
    threads = [threading.Thread(target=worker, args=(i, lock)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
