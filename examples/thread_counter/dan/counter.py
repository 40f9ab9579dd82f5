"""Dan: forgot to reset the counter."""
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    with lock:
        num = num + val


def run_workers(n_threads=2000):
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return num
