# Correct: acquire and release by hand, release in finally.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    lock.acquire()
    try:
        num += val
    finally:
        lock.release()


def run_workers(n_threads=2000):
    global num
    num = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
