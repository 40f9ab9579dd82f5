# Mistake: worker counts with num += 1 instead of adding val.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    with lock:
        num += 1
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
