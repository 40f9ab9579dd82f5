# Mistake: lock.acquire() without lock.release(): the second thread blocks forever (deadlock).
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    lock.acquire()
    num += val
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
