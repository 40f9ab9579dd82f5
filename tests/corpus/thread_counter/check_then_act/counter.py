# Mistake: checks whether the lock is free, and when another thread holds it, adds without it.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    if not lock.locked():
        with lock:
            num += val
    else:
        num += val


def run_workers(n_threads=2000):
    global num
    num = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
