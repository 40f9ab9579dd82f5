# Mistake: `with threading.Lock():` creates a new private lock in every call, which protects nothing.
import threading

num = 0


def worker(val):
    global num
    with threading.Lock():
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
