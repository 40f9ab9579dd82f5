# Mistake: always starts 2000 threads (like the lecture), whatever n_threads says.
import threading

num = 0
lock = threading.Lock()


def worker(val):
    global num
    with lock:
        num += val


def run_workers(n_threads=2000):
    global num
    num = 0
    threadl = []
    for i in range(2000):
        t = threading.Thread(target=worker, args=(i,))
        threadl.append(t)
    for t in threadl:
        t.start()
    for t in threadl:
        t.join()
    return num
