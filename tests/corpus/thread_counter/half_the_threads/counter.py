# Mistake: only the first half of the threads is started (and joined); the other workers never run.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
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
    half = threadl[:n_threads // 2]
    for t in half:
        t.start()
    for t in half:
        t.join()
    return num
