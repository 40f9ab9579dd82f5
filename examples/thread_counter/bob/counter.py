"""Bob: the lecture's code, without a lock ("it always gave the right answer")."""
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
        t.start()
    for t in threadl:
        t.join()
    return num
