# Mistake: worker forgets `global num`, so num += val raises UnboundLocalError in every thread.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    with lock:
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
