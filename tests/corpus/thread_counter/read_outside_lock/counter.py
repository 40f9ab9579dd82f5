# Mistake: reads num before taking the lock and only writes inside it (the read-add-write is not atomic).
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    current = num
    with lock:
        num = current + val
    return


def run_workers(n_threads=2000):
    global num
    num = 0
    threadl = []
    for i in range(n_threads):
        t = threading.Thread(target=worker, args=(i,))
        threadl.append(t)
    for t in threadl:
        t.start()
    for t in threadl:
        t.join()
    return num
