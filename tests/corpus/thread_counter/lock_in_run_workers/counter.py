# Mistake: the lock is held around starting the threads in run_workers, not around num += val in worker.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    num += val
    return


def run_workers(n_threads=2000):
    global num
    num = 0
    threadl = []
    for i in range(n_threads):
        t = threading.Thread(target=worker, args=(i,))
        threadl.append(t)
    with lock:
        for t in threadl:
            t.start()
    for t in threadl:
        t.join()
    return num
