"""Alice: correct, with acquire/release in try/finally."""
import threading

num = 0
num_lock = threading.Lock()


def worker(val):
    global num
    num_lock.acquire()
    try:
        num += val
    finally:
        num_lock.release()


def run_workers(n_threads=2000):
    global num
    num = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
