# Mistake: no lock at all: num += val is an unprotected read-add-write shared by all threads.
import threading

num = 0


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
    for t in threadl:
        t.start()
    for t in threadl:
        t.join()
    return num
