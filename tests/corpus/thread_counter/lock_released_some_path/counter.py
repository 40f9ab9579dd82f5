# Mistake: an early return (val == 0) leaves the lock held: release happens on one path only (deadlock).
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    lock.acquire()
    if val == 0:
        return  # nothing to add
    num += val
    lock.release()


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
